"""Registered multi-objective text environments: importing this package registers every id.

>>> import gymnasium as gym, morl_envs
>>> sorted(i for i in gym.registry if i.startswith("morl/"))[:3]
['morl/Counsel-Choice-v2', 'morl/Counsel-EmpathyFluency-v2', 'morl/Counsel-FluencyConciseness-v2']
>>> morl_envs.env_ids("choice")
['morl/Counsel-Choice-v2', 'morl/PAIR-Choice-v2']
"""

from __future__ import annotations

from morl_core.simplex import preference_set
from morl_envs.choice_env import ChoiceEnv
from morl_envs.counsel_env import DEFAULT_OBJECTIVES, CounselEnv
from morl_envs.registry import (
    ENV_KINDS,
    ENVS,
    EnvEntry,
    EnvKind,
    describe,
    env_ids,
    make,
    register_env,
    relationship_variants,
    unregister_env,
)
from morl_envs.spec import EvalSpec
from morl_envs.vector_env import CounselVectorEnv

__all__ = ["ENVS", "ENV_KINDS", "ChoiceEnv", "CounselEnv", "CounselVectorEnv", "EnvEntry", "EnvKind", "EvalSpec",
           "describe", "env_ids", "make", "preference_set", "register_env", "relationship_variants",
           "unregister_env"]

# Text environments: the agent writes the reply.
register_env("morl/Counsel-v2", "text", DEFAULT_OBJECTIVES, {"dataset": "counsel"})
register_env("morl/PAIR-v2", "text", DEFAULT_OBJECTIVES, {"dataset": "pair"})
register_env("morl/Psych8k-v2", "text", DEFAULT_OBJECTIVES, {"dataset": "psych8k"})
# Objective-relationship variants, chosen from the measured Spearman table (docs/objective_relationships.md).
register_env("morl/Counsel-FluencyConciseness-v2", "text", ("fluency", "conciseness"),
             {"dataset": "counsel", "objectives": ("fluency", "conciseness")}, "competing")  # Spearman rho -0.68 on v2
register_env("morl/Counsel-EmpathyFluency-v2", "text", ("empathy", "fluency"),
             {"dataset": "counsel", "objectives": ("empathy", "fluency")}, "correlated")  # rho +0.27 on v2
# Choice environments: contextual bandits over fixed candidate replies, with known Pareto fronts (Box observations
# and Discrete actions for classic MORL agents).
register_env("morl/Counsel-Choice-v2", "choice", DEFAULT_OBJECTIVES, {"dataset": "counsel"})
register_env("morl/PAIR-Choice-v2", "choice", DEFAULT_OBJECTIVES, {"dataset": "pair"})
