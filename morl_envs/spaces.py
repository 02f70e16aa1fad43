"""Text spaces for natural language: any printable Unicode, whitespace included.

Gymnasium's ``spaces.Text`` only contains strings made of its charset, whose default has no space or punctuation,
and listing every printable Unicode character as a charset would cost megabytes per space. ``NaturalText``
contains any ``str`` within the length bounds whose characters are printable or whitespace (emoji and curly quotes
included) and samples from a readable alphabet of ASCII letters, digits, punctuation and spaces.
:func:`check_natural_text` applies the same rule to a text an environment is handed (a reset prompt, a step's
reply) and says which character broke it.
"""

from __future__ import annotations

import string
from typing import Any

from gymnasium import spaces

SAMPLE_CHARSET = string.ascii_letters + string.digits + string.punctuation + " " * 12
#: the one non-printable character natural text keeps: the zero-width joiner inside emoji sequences
_ALLOWED_FORMAT = "\u200d"


def _bad_char(text: str) -> int | None:
    """Index of the first character that is neither printable nor whitespace (NUL and other controls, bidi
    overrides, lone surrogates), or None."""
    for i, c in enumerate(text):
        if not (c.isprintable() or c.isspace() or c in _ALLOWED_FORMAT):
            return i
    return None


def check_natural_text(text: Any, name: str, min_length: int, max_length: int) -> str:
    """``text`` if :class:`NaturalText` would contain it, else a TypeError or ValueError naming ``name``, the rule
    and the offending character."""
    if not isinstance(text, str):
        raise TypeError(f"`{name}` must be a str; got {type(text).__name__}: {text!r:.60}")
    if not min_length <= len(text) <= max_length:
        raise ValueError(f"`{name}` must have {min_length} to {max_length} characters; got {len(text)}")
    bad = _bad_char(text)
    if bad is not None:
        raise ValueError(f"`{name}` must hold printable characters and whitespace only (no NUL, control or bidi "
                         f"characters, no lone surrogates); got {text[bad]!r} at position {bad}")
    return text


class NaturalText(spaces.Text):
    """A ``spaces.Text`` that accepts natural-language strings of ``min_length`` to ``max_length`` characters."""

    def __init__(self, max_length: int, *, min_length: int = 1, seed: int | None = None) -> None:
        super().__init__(max_length, min_length=min_length, charset=SAMPLE_CHARSET, seed=seed)

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length and _bad_char(x) is None

    def __repr__(self) -> str:
        return f"NaturalText({self.min_length}, {self.max_length})"

    def __eq__(self, other: Any) -> bool:
        return (isinstance(other, NaturalText) and self.min_length == other.min_length
                and self.max_length == other.max_length)
