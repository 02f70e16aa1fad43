"""The bottom layer: contracts and utilities that every other package shares, importing none of them.

- ``errors``: :class:`MorlError` (the base of the project's errors), the one message shape, ``did_you_mean``.
- ``agent``: the agent interfaces (:class:`Agent`, :class:`ChoiceAgent`) and :class:`TrainingCosts`.
- ``rewards``: the reward contract (texts in, a float32 (B, n) matrix in [0, 1] out).
- ``simplex``: preference lattices and simplex-weight checks.
- ``registry``: :class:`Registry`, the shape of every extension point.
- ``files``: atomic writes and environment folder names.
- ``device``: the default torch device and peak-memory figures (imports torch; not imported here).
- ``precision``: bf16 or float32 per device (CPU bf16 units detected), and the training-only scoring autocast
  (imports torch; not imported here).

The layers above: ``reward_models``, then ``morl_envs``, then ``agents`` and ``leaderboards`` side by side, then the
command line (``morl_cli``). Imports point down only (``tests/test_layers.py``).
"""

from morl_core.agent import FAMILIES, Agent, BaseAgent, ChoiceAgent, TrainingCosts, check_agent
from morl_core.errors import MorlError, did_you_mean, message, require
from morl_core.files import env_slug, write_atomic
from morl_core.registry import Registry
from morl_core.rewards import check_texts, reward_matrix
from morl_core.simplex import check_weight_rows, check_weights, preference_set, simplex_lattice

__all__ = ["FAMILIES", "Agent", "BaseAgent", "ChoiceAgent", "MorlError", "Registry", "TrainingCosts", "check_agent",
           "check_texts", "check_weight_rows", "check_weights", "did_you_mean", "env_slug", "message",
           "preference_set", "require", "reward_matrix", "simplex_lattice", "write_atomic"]
