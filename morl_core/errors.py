"""One error base class and one message shape for every mistake a user can make.

Every message names the parameter, states the rule and shows the value it got, then suggests a fix where one is
known: "`weights` must have 3 entries, one per objective; got 2". :func:`message` builds that text,
:func:`did_you_mean` the suggestion for an unknown name, and :class:`MorlError` (a ``ValueError``, so callers that
catch ``ValueError`` keep working) is the base of the project's own error classes.

>>> message("k", "must be >= 2 for the leave-one-out baseline", 1)
'`k` must be >= 2 for the leave-one-out baseline; got 1'
>>> did_you_mean("linaer", ["linear", "chebyshev"])
" Did you mean 'linear'?"
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["DataNotFoundError", "MorlError", "did_you_mean", "message", "require", "shown"]

MAX_SHOWN = 120  # characters of a value shown in a message


def shown(value: object, limit: int = MAX_SHOWN) -> str:
    """``repr(value)``, cut to ``limit`` characters with "..." so that a huge value cannot flood a message."""
    try:
        text = repr(value)
    except ValueError:  # an integer past Python's 4,300-digit limit on int -> str
        text = f"<an integer of {value.bit_length()} bits>" if isinstance(value, int) else f"<a {type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def message(field: str, rule: str, value: object, hint: str = "") -> str:
    """The project's error text: "`field` rule; got value[. hint]"."""
    hint = hint.strip()
    return f"`{field}` {rule}; got {shown(value)}" + (f". {hint}" if hint else "")


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A " Did you mean 'x'?" suffix for an unknown name, or "" when nothing is close (case is ignored)."""
    originals = {str(c).lower(): str(c) for c in choices}
    close = difflib.get_close_matches(str(name).lower(), list(originals), n=1)
    return f" Did you mean {originals[close[0]]!r}?" if close else ""


class MorlError(ValueError):
    """Base of the project's errors for bad input. ``field``, ``rule``, ``value`` and ``hint`` are kept as
    attributes when the error was built from them (:meth:`of`); the message is the text either way."""

    def __init__(self, text: str, *, field: str | None = None, rule: str | None = None, value: object = None,
                 hint: str = "") -> None:
        super().__init__(text)
        self.field, self.rule, self.value, self.hint = field, rule, value, hint

    @classmethod
    def of(cls, field: str, rule: str, value: object, hint: str = "") -> MorlError:
        """The error whose text is :func:`message` of these parts."""
        return cls(message(field, rule, value, hint), field=field, rule=rule, value=value, hint=hint)


def require(ok: bool, field: str, rule: str, value: object, hint: str = "", error: type[MorlError] = MorlError) -> None:
    """Raise ``error.of(field, rule, value, hint)`` unless ``ok``."""
    if not ok:
        raise error.of(field, rule, value, hint)


class DataNotFoundError(MorlError, FileNotFoundError):
    """A third-party data set is not where the caller was told to look."""
