"""What an agent answered, carried in a result so that the board can score it itself (result schema version 2).

A text agent answers each test prompt with a reply, a choice agent with a candidate index. A result holds them as
one table of distinct answers plus an index array ``(seeds, preferences, prompts)`` into it, so a reply that does
not depend on the preference or the seed is stored once, and the whole is JSON compressed with zlib and written
as base64 (``ENCODING``). ``submit`` decodes it within fixed bounds (a decompression bomb is refused, not
inflated), then :func:`rescore` scores every distinct (prompt, answer) pair once with the installed environment
(``score_answers``: one batched pass per reward model on a text environment, a table look-up on a choice one);
their means per seed and preference are the reward vectors the board ranks: computed here, never read from the
result.

>>> table = AnswerTable()
>>> table.add(["It sounds hard.", "You feel alone."]), table.add(["It sounds hard.", "You feel alone."])
([0, 1], [0, 1])
>>> packed = pack_answers(table.answers, np.array([[[0, 1]], [[0, 1]]]))
>>> unpack_answers(packed)
(['It sounds hard.', 'You feel alone.'], [[[0, 1]], [[0, 1]]])
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["ENCODING", "MAX_DECODED_BYTES", "AnswerTable", "pack_answers", "unpack_answers", "rescore"]

ENCODING = "json+zlib+base64"
MAX_DECODED_BYTES = 32_000_000  # the most a result's answers may inflate to


class AnswerTable:
    """Distinct answers in first-seen order; :meth:`add` returns each answer's index into :attr:`answers`."""

    def __init__(self) -> None:
        self.answers: list[Any] = []
        self._index: dict[Any, int] = {}

    def add(self, answers: Sequence[Any]) -> list[int]:
        """Indices of ``answers`` (replies or candidate indices), adding the ones not seen yet."""
        out = []
        for answer in answers:
            key = answer if isinstance(answer, str) else int(answer)
            if key not in self._index:
                self._index[key] = len(self.answers)
                self.answers.append(key)
            out.append(self._index[key])
        return out


def pack_answers(answers: Sequence[Any], index: np.ndarray) -> dict:
    """The result's ``answers`` field: the distinct ``answers`` and the (S, m, n) ``index`` into them, as JSON
    compressed with zlib (level 9) and written as base64."""
    payload = json.dumps({"table": list(answers), "index": np.asarray(index, dtype=np.int64).tolist()},
                         ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    data = base64.b64encode(zlib.compress(payload.encode("utf-8"), 9)).decode("ascii")
    return {"encoding": ENCODING, "data": data}


def unpack_answers(packed: dict) -> tuple[list, list]:
    """(table, index) from a result's ``answers`` field, as parsed JSON (unchecked: ``submit`` checks them). Raises
    ``ValueError`` with the reason when the data is not base64, not zlib, inflates past
    :data:`MAX_DECODED_BYTES` or is not the JSON object ``{"table": [...], "index": [...]}``."""
    try:
        raw = base64.b64decode(packed["data"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not base64 ({exc})") from None
    inflate = zlib.decompressobj()
    try:
        text = inflate.decompress(raw, MAX_DECODED_BYTES)
    except zlib.error as exc:
        raise ValueError(f"not zlib data ({exc})") from None
    if inflate.unconsumed_tail:
        raise ValueError(f"inflates past {MAX_DECODED_BYTES} bytes")
    if not inflate.eof or inflate.unused_data:
        raise ValueError("not one complete zlib stream")
    try:
        decoded = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, RecursionError, ValueError) as exc:
        raise ValueError(f"not UTF-8 JSON ({type(exc).__name__})") from None
    if not isinstance(decoded, dict) or set(decoded) != {"table", "index"}:
        raise ValueError('not the JSON object {"table": [...], "index": [...]}')
    return decoded["table"], decoded["index"]


def rescore(env: Any, table: Sequence[Any], index: np.ndarray, split: str) -> np.ndarray:
    """The reward vectors (S, m, n, d), float64, of the answers ``table[index[s, p, i]]`` to prompt i of ``split``,
    scored by ``env.score_answers``: each distinct (prompt, answer) pair once, in one call. The board's mean vectors
    are their mean over prompts (axis 2); the per-prompt vectors give the bootstrap intervals."""
    n_seeds, m, n = index.shape
    pair = index.reshape(-1).astype(np.int64) * n + np.tile(np.arange(n, dtype=np.int64), n_seeds * m)
    distinct, inverse = np.unique(pair, return_inverse=True)
    scores = np.asarray(env.score_answers([table[k] for k in (distinct // n).tolist()], distinct % n, split),
                        dtype=np.float64)  # (U, d)
    return scores[inverse].reshape(n_seeds, m, n, -1)
