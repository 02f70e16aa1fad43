"""Text features the reward models share: repetition, and typographic punctuation made plain.

Repetition: the share of a reply's word trigrams that already occurred earlier in it.

A language model finds a loop very predictable (the second copy of a sentence is easy to guess from the first), so
the fluency objective multiplies its predictability term by ``1 - repeated_trigrams``: a sentence said six times
keeps about a sixth of its score. Repetition is a known way to game text rewards (TRL added a repetition-penalty
reward for it).

Typographic punctuation (curly quotes, the ellipsis character, dashes) is turned into its plain ASCII form before
fluency scores a reply (:func:`plain_punctuation`): a language model and a sentence encoder trained mostly on plain
text find "don’t" and "…" rarer than "don't" and "...", and a reply should not lose fluency for its typesetting.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

__all__ = ["plain_punctuation", "repeated_trigrams"]

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


_PLAIN = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
                        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"', "\u2026": "...",
                        "\u2012": "-", "\u2013": "-", "\u00a0": " "})
_DASH = re.compile("\\s*[\u2014\u2015]\\s*")  # em dash and horizontal bar, with the spaces around them


def plain_punctuation(text: str) -> str:
    """``text`` with typographic quotes, ellipses, dashes and no-break spaces in their plain ASCII form.

    >>> print(plain_punctuation("You\u2019re tired\u2026 \u201cdone\u201d \u2014 really\u2014truly."))
    You're tired... "done" - really - truly.
    """
    return _DASH.sub(" - ", text).translate(_PLAIN)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


def _repeated_share(items: list) -> float:
    """Share of ``items`` equal to an earlier item."""
    seen: set = set()
    repeats = 0
    for item in items:
        repeats += item in seen
        seen.add(item)
    return repeats / len(items) if items else 0.0


def repeated_trigrams(replies: Sequence[str]) -> np.ndarray:
    """The share of each reply's word trigrams seen earlier in it, shape (B,), float32 in [0, 1).

    >>> repeated_trigrams(["I am here. I am here. I am here.", "You feel stuck."]).tolist()
    [0.5714285969734192, 0.0]
    """
    out = []
    for reply in replies:
        words = _words(reply)
        out.append(_repeated_share(list(zip(words, words[1:], words[2:]))))
    return np.asarray(out, dtype=np.float32)
