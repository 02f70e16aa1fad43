"""Registered multi-objective text environments: importing this package registers every id.

>>> import gymnasium as gym, morl_envs
>>> sorted(i for i in gym.registry if i.startswith("morl/"))[:3]
['morl/Counsel-Choice-v0', 'morl/Counsel-EmpathyFluency-v0', 'morl/Counsel-FluencyConciseness-v0']
"""

from __future__ import annotations

from gymnasium.envs.registration import register

from morl_envs.choice_env import ChoiceEnv
from morl_envs.counsel_env import CounselEnv
from morl_envs.spec import EvalSpec, preference_set
from morl_envs.vector_env import CounselVectorEnv

__all__ = ["CHOICE_ENV_IDS", "ChoiceEnv", "CounselEnv", "CounselVectorEnv", "EvalSpec", "ENV_IDS",
           "RELATIONSHIP_VARIANTS", "preference_set"]

_ENTRY = "morl_envs.counsel_env:CounselEnv"
_VECTOR_ENTRY = "morl_envs.vector_env:CounselVectorEnv"

#: id -> constructor kwargs of every registered environment
ENV_IDS: dict[str, dict] = {
    "morl/Counsel-v0": {"dataset": "counsel"},
    "morl/PAIR-v0": {"dataset": "pair"},
    "morl/Psych8k-v0": {"dataset": "psych8k"},
    # Objective-relationship variants, chosen from the measured Spearman table (docs/objective_relationships.md).
    "morl/Counsel-FluencyConciseness-v0": {"dataset": "counsel", "objectives": ("fluency", "conciseness")},
    "morl/Counsel-EmpathyFluency-v0": {"dataset": "counsel", "objectives": ("empathy", "fluency")},
}

#: relationship of each two-objective variant, as measured
RELATIONSHIP_VARIANTS = {
    "morl/Counsel-FluencyConciseness-v0": "competing",  # Spearman rho -0.59 under the default policy
    "morl/Counsel-EmpathyFluency-v0": "correlated",  # rho +0.35
}

for _id, _kwargs in ENV_IDS.items():
    register(id=_id, entry_point=_ENTRY, vector_entry_point=_VECTOR_ENTRY, kwargs=dict(_kwargs))

#: id -> constructor kwargs of the choice environments (contextual bandits over fixed candidate replies, with known
#: Pareto fronts; Box observations and Discrete actions for classic MORL agents). Kept apart from ENV_IDS, whose
#: envs take text actions.
CHOICE_ENV_IDS: dict[str, dict] = {
    "morl/Counsel-Choice-v0": {"dataset": "counsel"},
    "morl/PAIR-Choice-v0": {"dataset": "pair"},
}

for _id, _kwargs in CHOICE_ENV_IDS.items():
    register(id=_id, entry_point="morl_envs.choice_env:ChoiceEnv", kwargs=dict(_kwargs))
