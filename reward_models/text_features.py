"""Surface features of a (prompt, reply) pair that sentence embeddings blur: copying, repetition, length.

A mean-pooled sentence embedding of a reply that repeats the client's words is close to the client's own embedding,
and one of a sentence said six times is close to the sentence said once; a head on embeddings alone therefore has
to guess. These features say it outright, so a head trained with such replies as negatives can rank a copy, a loop
or an empty reply below a genuine reflection wherever they occur (the families of reward hacks in Gao et al., 2022;
Singhal et al., 2023; the "smart copier" of Ziegler et al., 2019).

Every feature lies in [0, 1]:

| name | meaning |
|---|---|
| ``copied_words`` | share of the reply's words that occur in the prompt |
| ``copied_content`` | the same over content words (stop words left out) |
| ``copied_bigrams`` | share of the reply's word bigrams that occur in the prompt |
| ``longest_copy`` | longest run of words shared with the prompt (first 128 reply words), over the reply's length |
| ``longest_copy_prompt`` | the same run over the prompt's length (how much of the client is handed back) |
| ``repeated_trigrams`` | share of the reply's word trigrams that occur earlier in the reply |
| ``repeated_sentences`` | share of the reply's sentences that repeat an earlier one |
| ``length`` | ``log(1 + words) / log(1 + 128)``, capped at 1 |
| ``empty`` | 1 for a reply without a word |
| ``question`` | share of the reply's sentences that end in "?" |

>>> names = list(FEATURE_NAMES)
>>> row = copy_features(["I lost my job and I feel useless."], ["I lost my job and I feel useless."])[0]
>>> float(row[names.index("copied_words")]), float(row[names.index("longest_copy")])
(1.0, 1.0)
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

__all__ = ["FEATURE_NAMES", "copy_features", "repeated_trigrams"]

FEATURE_NAMES = ("copied_words", "copied_content", "copied_bigrams", "longest_copy", "longest_copy_prompt",
                 "repeated_trigrams", "repeated_sentences", "length", "empty", "question")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_LENGTH_SCALE = math.log(1 + 128)
MAX_RUN_WORDS = 128  # words of a reply searched for the longest copied run (the prompt: twice as many)
#: function words that copying them says nothing about (pronouns are left in: a reflection turns them round)
STOP_WORDS = frozenset(
    "a an the and or but if so of to in on at for with from by as is are was were be been being am do does did "
    "have has had it its this that these those there then than not no just very really also too about into out "
    "up down over again all any some such what which who when where why how can could would should will shall may "
    "might must".split())


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


def _longest_common_run(a: list[str], b: list[str]) -> int:
    """Length of the longest run of consecutive words shared by ``a`` and ``b`` (dynamic programme, O(|a| |b|))."""
    best, previous = 0, [0] * (len(b) + 1)
    for word in a:
        current = [0] * (len(b) + 1)
        for j, other in enumerate(b, start=1):
            if word == other:
                current[j] = previous[j - 1] + 1
                best = max(best, current[j])
        previous = current
    return best


def _repeated_share(items: list) -> float:
    """Share of ``items`` equal to an earlier item."""
    seen: set = set()
    repeats = 0
    for item in items:
        repeats += item in seen
        seen.add(item)
    return repeats / len(items) if items else 0.0


def _pair_row(prompt: str, reply: str) -> list[float]:
    words, source = _words(reply), _words(prompt)
    if not words:
        return [0.0] * 7 + [0.0, 1.0, 0.0]
    vocabulary = set(source)
    content = [w for w in words if w not in STOP_WORDS]
    bigrams = list(zip(words, words[1:]))
    prompt_bigrams = set(zip(source, source[1:]))
    run = _longest_common_run(words[:MAX_RUN_WORDS], source[:2 * MAX_RUN_WORDS])  # bounded: O(128 x 256)
    sentences = [s.strip().lower() for s in _SENTENCE_END.split(reply.strip()) if s.strip()]
    return [
        sum(w in vocabulary for w in words) / len(words),
        sum(w in vocabulary for w in content) / len(content) if content else 0.0,
        sum(b in prompt_bigrams for b in bigrams) / len(bigrams) if bigrams else 0.0,
        run / len(words),
        run / len(source) if source else 0.0,
        _repeated_share(list(zip(words, words[1:], words[2:]))),
        _repeated_share(sentences),
        min(1.0, math.log(1 + len(words)) / _LENGTH_SCALE),
        0.0,
        sum(s.endswith("?") for s in sentences) / len(sentences),
    ]


def repeated_trigrams(replies: Sequence[str]) -> np.ndarray:
    """The ``repeated_trigrams`` feature alone (share of each reply's word trigrams seen earlier in it), shape (B,).

    >>> repeated_trigrams(["I am here. I am here. I am here.", "You feel stuck."]).tolist()
    [0.5714285969734192, 0.0]
    """
    out = []
    for reply in replies:
        words = _words(reply)
        out.append(_repeated_share(list(zip(words, words[1:], words[2:]))))
    return np.asarray(out, dtype=np.float32)


def copy_features(prompts: Sequence[str], replies: Sequence[str]) -> np.ndarray:
    """The features of :data:`FEATURE_NAMES` for each (prompt, reply) pair: float32 of shape (B, 10).

    String work on short texts (prompts and replies are cut to 4,096 and 2,048 characters upstream); it costs well
    under a millisecond per pair, against the encoder's forward passes."""
    return np.array([_pair_row(p, r) for p, r in zip(prompts, replies)], dtype=np.float32).reshape(-1,
                                                                                                  len(FEATURE_NAMES))
