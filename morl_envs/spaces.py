"""Text spaces for natural language: any printable Unicode, whitespace included.

Gymnasium's ``spaces.Text`` only contains strings made of its charset, whose default has no space or punctuation,
and listing every printable Unicode character as a charset would cost megabytes per space. ``NaturalText``
contains any ``str`` within the length bounds whose characters are printable or whitespace (emoji and curly quotes
included) and samples from a readable alphabet of ASCII letters, digits, punctuation and spaces.
"""

from __future__ import annotations

import string
from typing import Any

from gymnasium import spaces

SAMPLE_CHARSET = string.ascii_letters + string.digits + string.punctuation + " " * 12


class NaturalText(spaces.Text):
    """A ``spaces.Text`` that accepts natural-language strings of ``min_length`` to ``max_length`` characters."""

    def __init__(self, max_length: int, *, min_length: int = 1, seed: int | None = None) -> None:
        super().__init__(max_length, min_length=min_length, charset=SAMPLE_CHARSET, seed=seed)

    def contains(self, x: Any) -> bool:
        return (isinstance(x, str) and self.min_length <= len(x) <= self.max_length
                and all(c.isprintable() or c.isspace() for c in x))

    def __repr__(self) -> str:
        return f"NaturalText({self.min_length}, {self.max_length})"

    def __eq__(self, other: Any) -> bool:
        return (isinstance(other, NaturalText) and self.min_length == other.min_length
                and self.max_length == other.max_length)
