"""Reset options: the one check of ``reset(options=...)`` shared by the text and choice environments."""

from __future__ import annotations

from typing import Any


def reset_options(options: Any, allowed: tuple[str, ...], why: str = "") -> dict[str, Any]:
    """``options`` as a new dict, or a TypeError / ValueError naming ``options``: it must be None or a dict whose
    keys are str and among ``allowed`` (``why`` is appended to the unknown-key message)."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise TypeError(f"reset `options` must be a dict or None; got {type(options).__name__}: {options!r:.60}")
    wrong = next((k for k in options if not isinstance(k, str)), None)
    if wrong is not None:
        raise TypeError(f"reset `options` keys must be str among {allowed}; got {wrong!r:.60}")
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"reset `options` keys must be among {allowed}; got {unknown}{why}")
    return dict(options)
