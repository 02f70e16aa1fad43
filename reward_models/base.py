"""The reward-model contract: one objective, one batched scorer.

``scorer(prompts, responses) -> np.ndarray`` of shape (B,), float32, every value in [0, 1]. The base class checks
the inputs and the outputs once for every scorer, so a model that returns NaN or a value out of range is caught
here with a clear error instead of corrupting a training run.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from morl_core.errors import MorlError
from morl_core.rewards import check_texts
from reward_models.loading import reload


class NonFiniteRewardError(MorlError):
    """A reward model produced NaN or an infinite score."""


class RewardModel(ABC):
    """Base of every scorer. Subclasses implement :meth:`_score` on validated lists of equal length."""

    #: objective name, e.g. "reflection"
    name: str = ""
    #: version of the scoring formula; bump when scores could change
    version: int = 1

    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """Scores of ``responses`` to ``prompts``: float32 array of shape (B,), values in [0, 1]."""
        prompts = check_texts(prompts, "prompts")
        responses = check_texts(responses, "responses")
        if len(prompts) != len(responses):
            raise ValueError(f"`responses` must have one entry per prompt ({len(prompts)}); got {len(responses)}")
        if not prompts:
            return np.zeros(0, dtype=np.float32)
        scores = np.asarray(self._score(prompts, responses), dtype=np.float32).reshape(-1)
        if scores.shape != (len(prompts),):
            raise RuntimeError(f"reward model {self.name!r} returned shape {scores.shape}; "
                               f"expected ({len(prompts)},)")
        bad = np.flatnonzero(~np.isfinite(scores))
        if bad.size:
            raise NonFiniteRewardError(
                f"reward model {self.name!r} returned a non-finite score {scores[bad[0]]} for batch entry "
                f"{bad[0]} (response {responses[bad[0]]!r:.80}); scores must be finite numbers in [0, 1]")
        return np.clip(scores, 0.0, 1.0)

    @abstractmethod
    def _score(self, prompts: list[str], responses: list[str]) -> np.ndarray:
        """Raw scores for validated inputs, shape (B,)."""

    @abstractmethod
    def identity(self) -> dict:
        """What determines this model's scores (weights digests, formula version): hashed into the fingerprint."""

    def fingerprint(self) -> str:
        """sha256 of :meth:`identity`: equal fingerprints mean equal scores for equal inputs."""
        blob = json.dumps({"name": self.name, "version": self.version, **self.identity()}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def __reduce__(self):
        """Pickle as "load this model again" (weights are not copied; the process-wide cache is reused)."""
        key = getattr(self, "_load_key", None)
        if key is None:
            raise TypeError(f"{type(self).__name__} was not created by reward_models.load and cannot be pickled")
        return reload, (key,)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, fingerprint={self.fingerprint()[:12]})"
