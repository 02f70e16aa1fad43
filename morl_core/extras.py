"""Optional extras: import a module that only an extra installs, or say which extra to install.

The project's optional parts (``pyproject.toml``'s extras: ``morl`` for morl-baselines, ``ray`` for sweeps on
Ray, ``trl`` for TRL's trainers) are imported where they are used, through :func:`require_extra`, so that a
missing one is one clear line instead of a bare ``ModuleNotFoundError``.

>>> require_extra("json", "dev").__name__
'json'
>>> require_extra("no_such_module_here", "trl")
Traceback (most recent call last):
...
morl_core.extras.MissingExtraError: `no_such_module_here` is not installed: it comes with the optional extra `trl`; ...
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["MissingExtraError", "require_extra"]


class MissingExtraError(ImportError):
    """A module of an optional extra is not installed; the message names the extra and how to install it."""


def require_extra(module: str, extra: str) -> ModuleType:
    """``importlib.import_module(module)``, or a :class:`MissingExtraError` naming ``extra`` when the module (or
    one of its own dependencies) is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or module
        raise MissingExtraError(f"`{missing}` is not installed: it comes with the optional extra `{extra}`; install "
                                f"it with pip install 'morl-llm-bench[{extra}]' (or pip install -e '.[{extra}]' in "
                                f"a clone)") from None
