"""The untrained agents every board compares against: the default policy (text) and random picks (choice).

They are also the baselines of the relative inference cost: the command line hands them to the evaluation protocol
(``leaderboards.protocol.evaluate(..., baseline=DefaultPolicyAgent())``), which itself never builds an agent.

>>> RandomChoiceAgent(8).act(np.zeros((3, 4)), np.array([0.5, 0.5]), seed=0).tolist()
[6, 5, 4]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.policy import CausalLMPolicy
from morl_core.agent import Agent, ChoiceAgent, TrainingCosts

__all__ = ["DefaultPolicyAgent", "RandomChoiceAgent"]


class DefaultPolicyAgent(Agent):
    """The untrained default policy (:class:`~agents.policy.CausalLMPolicy`, SmolLM2-135M-Instruct): the same
    replies for every preference, sampled with the seed. It is the baseline of the relative inference cost."""

    preference_independent = True

    def __init__(self, name: str = "default-policy", policy: CausalLMPolicy | None = None,
                 **policy_kwargs: Any) -> None:
        self._name = name
        self._policy, self._policy_kwargs = policy, policy_kwargs

    @property
    def name(self) -> str:
        return self._name

    @property
    def family(self) -> str:
        return "single-policy"

    @property
    def policy(self) -> CausalLMPolicy:
        """The wrapped policy, loaded on first use."""
        if self._policy is None:
            self._policy = CausalLMPolicy(**self._policy_kwargs)
        return self._policy

    def respond(self, prompts: list[str], preference: np.ndarray, seed: int) -> list[str]:
        return self.policy.respond(list(prompts), seed=seed, do_sample=True)

    def training_costs(self) -> TrainingCosts:
        return TrainingCosts(0, 0, 0.0, str(self.policy.device), 0)


class RandomChoiceAgent(ChoiceAgent):
    """Uniformly random candidates, drawn from ``seed``: the untrained policy of a choice environment, and its
    inference-cost baseline."""

    name, family, preference_independent = "random-choice", "single-policy", True

    def __init__(self, n_actions: int) -> None:
        if isinstance(n_actions, bool) or not isinstance(n_actions, int) or n_actions < 1:
            raise ValueError(f"`n_actions` must be an int >= 1 (the env's number of candidates); got {n_actions!r}")
        self.n_actions = n_actions

    def act(self, observations: np.ndarray, preference: np.ndarray, seed: int) -> np.ndarray:
        return np.random.default_rng(seed).integers(self.n_actions, size=len(observations))

    def training_costs(self) -> TrainingCosts:
        return TrainingCosts(0, 0, 0.0, "cpu", 0)
