"""Stand-in text environments for the board's tests: their reward models read the rewards off the reply.

``submit`` scores every reply again with the installed environment's reward models, so a test that needs hand-made
reward vectors (to compute a hypervolume by hand) needs replies that score exactly those vectors. On these
environments the reply ``"0.2 0.9"`` scores 0.2 on the first objective and 0.9 on the second: a test double of
the learned models, registered only while a test module uses it (:func:`stub_envs`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

import morl_envs
from leaderboards.answers import AnswerTable, pack_answers
from reward_models import REWARD_MODELS
from reward_models.base import RewardModel

OBJECTIVES = ("stub-first", "stub-second")
#: id -> relationship: one family ("morl/Stub") with a competing and a correlated variant, as the report needs
STUB_ENVS = {"morl/Stub-Competing-v2": "competing", "morl/Stub-Correlated-v2": "correlated"}


class _ReadNumber(RewardModel):
    """Objective k scores a reply by the k-th number written in it (clipped to [0, 1] by the base class)."""

    position = 0

    def __init__(self, device: str | None = None) -> None:
        del device

    def identity(self) -> dict:
        return {"reads": "the number at this position of the reply", "position": self.position}

    def _score(self, prompts: list[str], responses: list[str]) -> np.ndarray:
        return np.array([self._read(r) for r in responses], dtype=np.float64)

    def _read(self, reply: str) -> float:
        """The number at :attr:`position`; 0 where the reply has none there (any text scores, as with a real model)."""
        try:
            value = float(reply.split()[self.position])
        except (IndexError, ValueError):
            return 0.0
        return value if np.isfinite(value) else 0.0


class FirstNumber(_ReadNumber):
    name, position = "stub-first", 0


class SecondNumber(_ReadNumber):
    name, position = "stub-second", 1


@contextmanager
def stub_envs() -> Iterator[None]:
    """Register the stub reward models and :data:`STUB_ENVS` (text, Counsel prompts) for the block's duration."""
    REWARD_MODELS.register("stub-first", "tests.stub_env:FirstNumber")
    REWARD_MODELS.register("stub-second", "tests.stub_env:SecondNumber")
    for env_id, relationship in STUB_ENVS.items():
        morl_envs.register_env(env_id, "text", OBJECTIVES, {"dataset": "counsel", "objectives": OBJECTIVES},
                               relationship)
    try:
        yield
    finally:
        for env_id in STUB_ENVS:
            morl_envs.unregister_env(env_id)
        for name in OBJECTIVES:
            REWARD_MODELS.unregister(name)


def reply_for(vector: list[float]) -> str:
    """The reply that scores ``vector`` on a stub environment."""
    return " ".join(repr(float(x)) for x in vector)


def answers_for(rewards: list, n_prompts: int, per_prompt: np.ndarray | None = None) -> dict:
    """The packed answers of a result whose every reply to every prompt scores ``rewards[s][i]`` (S, m, 2), or
    whose reply to prompt k scores ``per_prompt[s, i, k]`` (S, m, n, 2) when that is given."""
    if per_prompt is None:
        per_prompt = np.repeat(np.asarray(rewards, dtype=np.float64)[:, :, None, :], n_prompts, axis=2)
    table = AnswerTable()
    index = [[table.add([reply_for(vector) for vector in row]) for row in block] for block in per_prompt]
    return pack_answers(table.answers, np.asarray(index))
