"""Agents that act on the morl environments: the causal-LM policy, the k-SCST RL core and the single-policy agents.

- :class:`CausalLMPolicy` (``agents.policy``): SmolLM2-135M-Instruct by default, LoRA adapters, reference policy.
- :class:`TrainConfig`, :class:`PolicyConfig` (``agents.config``): validated settings with the papers' defaults.
- :func:`train` (``agents.rl``): one policy trained with multi-objective k-SCST; checkpoints in ``agents.checkpoint``.
- :class:`ScalarizedAgent` (``agents.single_policy``): linear / Chebyshev / DynaOpt / PAMA / MGDA agents for the
  leaderboard; scalarizers in ``agents.scalarizers``.

``train`` and ``ScalarizedAgent`` are imported on first use, so ``import agents`` stays light.
"""

from __future__ import annotations

from typing import Any

from agents.config import PolicyConfig, TrainConfig
from agents.policy import CausalLMPolicy

__all__ = ["CausalLMPolicy", "PolicyConfig", "ScalarizedAgent", "TrainConfig", "train"]


def __getattr__(name: str) -> Any:
    if name == "train":
        from agents.rl import train

        return train
    if name == "ScalarizedAgent":
        from agents.single_policy import ScalarizedAgent

        return ScalarizedAgent
    raise AttributeError(f"module 'agents' has no attribute {name!r}")
