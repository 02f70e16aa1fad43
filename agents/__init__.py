"""Agents that act on the morl environments: the causal-LM policy, the k-SCST RL core, single-policy, multi-policy
and meta-policy agents, and the untrained baselines.

- :class:`CausalLMPolicy` (``agents.policy``): SmolLM2-135M-Instruct by default, LoRA adapters, reference policy.
- :class:`TrainConfig`, :class:`PolicyConfig` (``agents.config``): validated settings with the papers' defaults.
- :func:`train` (``agents.rl``): one policy trained with multi-objective k-SCST; checkpoints in ``agents.checkpoint``.
- :class:`ScalarizedAgent` (``agents.single_policy``): linear / Chebyshev / DynaOpt / PAMA / MGDA agents; scalarizers
  (one registry, :data:`~agents.scalarizers.SCALARIZERS`) in ``agents.scalarizers``.
- :class:`MetaPolicyAgent` (``agents.meta_policy``): EMORL's aggregations and Rewarded Soups over trained experts.
- :class:`DefaultPolicyAgent`, :class:`RandomChoiceAgent` (``agents.baselines``): the untrained baselines.
- :data:`AGENTS` (``agents.registry``): what the command line can build, by name.
"""

from __future__ import annotations

from agents.baselines import DefaultPolicyAgent, RandomChoiceAgent
from agents.config import PolicyConfig, TrainConfig
from agents.meta_policy import MetaPolicyAgent
from agents.policy import CausalLMPolicy
from agents.registry import AGENTS, agent_entry, agent_names, register_agent
from agents.rl import train
from agents.scalarizers import SCALARIZERS, make_scalarizer, register_scalarizer
from agents.single_policy import ScalarizedAgent

__all__ = ["AGENTS", "SCALARIZERS", "CausalLMPolicy", "DefaultPolicyAgent", "MetaPolicyAgent", "PolicyConfig",
           "RandomChoiceAgent", "ScalarizedAgent", "TrainConfig", "agent_entry", "agent_names", "make_scalarizer",
           "register_agent", "register_scalarizer", "train"]
