"""The agent interfaces every board entry implements, and what training an agent cost.

An agent declares a name and a family and answers prompts for a preference: :class:`Agent` with replies (text
environments), :class:`ChoiceAgent` with candidate indices (choice environments). Agents live in ``agents`` (or in
a user's own code); the evaluation protocol in ``leaderboards`` takes any of them through these interfaces alone.

>>> class Echo(Agent):
...     name, family = "echo", "single-policy"
...     def respond(self, prompts, preference, seed):
...         return ["I hear you." for _ in prompts]
>>> Echo().family
'single-policy'
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

__all__ = ["AGENT_NAME_RE", "FAMILIES", "Agent", "BaseAgent", "ChoiceAgent", "TrainingCosts", "check_agent"]

#: the families of agents the board compares (Kong et al., 2025, arXiv 2509.21613), and "reference": rows that are
#: no agent but a yardstick (what a person writes, what a reward hack gets), marked as such on every board
FAMILIES = ("single-policy", "multi-policy", "meta-policy", "reference")
#: a board-safe agent name (it names the board entry's file)
AGENT_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class TrainingCosts:
    """What training an agent cost. ``peak_memory_bytes``: ``torch.cuda.max_memory_allocated`` on a GPU, else the
    process's peak resident set size."""

    env_samples: int  # rewarded replies drawn from the environment during training
    tokens_generated: int  # policy tokens generated during training
    train_seconds: float  # wall-clock training time
    device: str  # e.g. "cuda:NVIDIA H100 80GB HBM3" or "cpu"
    peak_memory_bytes: int


class BaseAgent(ABC):
    """What every board entry's agent declares: a name, a family, and optionally its training costs and details.

    ``name`` must match ``[A-Za-z0-9][A-Za-z0-9._-]{0,63}`` (it names the board entry's file); ``family`` is one of
    ``FAMILIES``. Set ``preference_independent = True`` when the agent's answers ignore the preference (e.g. the
    untrained policy): the protocol then asks once per seed and reuses the answers for every w, and records it.
    Set ``seed_independent = True`` when they ignore the seed too (fixed or canned replies): the protocol then
    asks once in all and reuses the answers for every seed.
    Text environments take an :class:`Agent` (replies), choice environments a :class:`ChoiceAgent` (candidate
    indices).
    """

    preference_independent: bool = False
    seed_independent: bool = False

    @property
    @abstractmethod
    def name(self) -> str:
        """The agent's name on the board."""

    @property
    @abstractmethod
    def family(self) -> str:
        """"single-policy", "multi-policy" or "meta-policy"."""

    def training_costs(self) -> TrainingCosts | None:
        """Training costs, or None when not reported (recorded as null and shown as "n/a" on the board)."""
        return None

    def details(self) -> dict | None:
        """How the agent was built (a JSON object, e.g. the trained preference set when it was reduced), recorded
        in the result as ``agent.details``; None records nothing."""
        return None


class Agent(BaseAgent):
    """An agent of the text environments: replies for a preference (see :class:`BaseAgent` for the rest)."""

    @abstractmethod
    def respond(self, prompts: list[str], preference: np.ndarray, seed: int) -> list[str]:
        """One reply per prompt for preference ``preference`` (shape (n_objectives,), sums to 1), seeded by
        ``seed`` so the same call gives the same replies."""


class ChoiceAgent(BaseAgent):
    """An agent of the choice environments: one candidate index per observation for a preference (see
    :class:`BaseAgent` for the name, family, costs and details)."""

    @abstractmethod
    def act(self, observations: np.ndarray, preference: np.ndarray, seed: int) -> np.ndarray:
        """One candidate index in [0, K) per row of ``observations`` (n, D) for ``preference`` (shape
        (n_objectives,), sums to 1), as an integer array of shape (n,); seeded by ``seed``."""


def check_agent(agent: object, kind: type[BaseAgent] = Agent) -> None:
    """``agent`` is a ``kind`` with a board-safe name and a known family, or a TypeError / ValueError saying
    which rule it broke."""
    if not isinstance(agent, kind):
        raise TypeError(f"`agent` must be a {kind.__module__}.{kind.__name__}; got {type(agent).__name__}")
    if not isinstance(agent.name, str) or AGENT_NAME_RE.fullmatch(agent.name) is None:
        raise ValueError(f"`agent.name` must be 1 to 64 characters from [A-Za-z0-9._-], starting with a letter or "
                         f"digit; got {agent.name!r}")
    if agent.family not in FAMILIES:
        raise ValueError(f"`agent.family` must be one of {FAMILIES}; got {agent.family!r}")
