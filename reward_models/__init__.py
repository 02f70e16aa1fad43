"""Reward models: one objective, one batched scorer ``scorer(prompts, responses) -> np.ndarray`` in [0, 1].

>>> import reward_models
>>> reward_models.available()
('reflection', 'empathy', 'fluency', 'conciseness')
>>> scorer = reward_models.load("conciseness")
>>> scorer(["I can't sleep."], ["You are exhausted."]).tolist()
[1.0]

``load`` also takes a local checkpoint directory or a hub id (see :mod:`reward_models.checkpoint`). Loaded models
are shared within a process (scoring is stateless), so many environments cost one copy of each model.
"""

from __future__ import annotations

from reward_models.base import NonFiniteRewardError, RewardModel
from reward_models.loading import REWARD_MODELS, available, load

__all__ = ["REWARD_MODELS", "NonFiniteRewardError", "RewardModel", "available", "load"]
