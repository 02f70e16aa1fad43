"""Conciseness: a length-based objective that competes with content objectives such as empathy.

    conciseness = clip((LONG - words) / (LONG - SHORT), 0, 1), and 0 for an empty reply

with SHORT = 8 and LONG = 64 words: replies of at most 8 words score 1, replies of 64 words or more score 0, and the
score falls linearly in between. Words are maximal runs of non-space characters. Like PAMA's length reward on IMDb,
it is a rule, not a learned model; it exists so that the suite has an objective that is cheap, exact and in tension
with the learned ones.
"""

from __future__ import annotations

import numpy as np

from reward_models.base import RewardModel

SHORT, LONG = 8, 64


class ConcisenessModel(RewardModel):
    """Linear length penalty between 8 and 64 words."""

    name = "conciseness"

    def __init__(self, device: str | None = None) -> None:
        del device  # a rule, not a network: runs anywhere

    def identity(self) -> dict:
        return {"short_words": SHORT, "long_words": LONG}

    def _score(self, prompts: list[str], responses: list[str]) -> np.ndarray:
        words = np.array([len(r.split()) for r in responses], dtype=np.float32)
        score = np.clip((LONG - words) / (LONG - SHORT), 0.0, 1.0)
        return np.where(words == 0, 0.0, score)
