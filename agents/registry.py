"""The registry of agents the command line can train or evaluate: name -> how it is built.

Every registered :class:`~agents.scalarizers.Scalarizer` is a single-policy agent of the same name (one k-SCST
policy scalarized by it), so a new scalarizer needs no entry here. The other agents are entries of :data:`AGENTS`:

| name | family | trained preferences |
|---|---|---|
| a scalarizer's name | single-policy | ``--preference`` (default uniform); none for PAMA / MGDA |
| ``weight-grid`` | multi-policy | every preference of the evaluation set (linear) |
| ``emorl`` | meta-policy | one expert per objective, combined at inference (``--aggregation``) |
| ``rewarded-soups`` | multi-policy | one expert per objective, parameters interpolated |
| ``default`` | single-policy | untrained: the default policy (text environments) |
| ``random`` | single-policy | untrained: random candidate picks (choice environments) |
| ``reference``, ``echo``, ``opener-echo``, ... | reference | untrained yardsticks (:mod:`agents.canaries`) |

>>> agent_entry("pama").preferences, agent_entry("linear").preferences
('free', 'given')
>>> agent_names(trained=False)
('default', 'reference', 'echo', 'opener-echo', 'generic-sentence', 'generic-question', 'random')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agents.baselines import DefaultPolicyAgent, RandomChoiceAgent
from agents.canaries import CANARIES, CannedAgent, reference_agent
from agents.scalarizers import SCALARIZERS
from morl_core.agent import BaseAgent
from morl_core.errors import MorlError, did_you_mean
from morl_core.registry import Registry

__all__ = ["AGENTS", "PREFERENCE_MODES", "AgentEntry", "agent_entry", "agent_names", "register_agent"]

#: how an agent's trained preferences are chosen
PREFERENCE_MODES = ("given", "free", "grid", "experts", "untrained")


@dataclass(frozen=True)
class AgentEntry:
    """One agent: its board family, how its policies' preferences are chosen (:data:`PREFERENCE_MODES`), the
    kind of environment it answers, and what builds it.

    ``scalarizer``: the scalarizer its policies train with (None for experts: ``--expert-scalarizer``).
    ``aggregation``: for experts, how they are combined (None: ``--aggregation``). ``build``: for untrained agents,
    ``build(env) -> agent`` given the built environment."""

    name: str
    family: str
    preferences: str
    kind: str = "text"
    scalarizer: str | None = None
    aggregation: str | None = None
    build: Callable[[Any], BaseAgent] | None = None
    help: str = ""

    @property
    def trained(self) -> bool:
        """True for agents that ``morl-bench train`` trains."""
        return self.preferences != "untrained"


#: name -> :class:`AgentEntry` of the agents that are not a plain scalarizer
AGENTS: Registry[AgentEntry] = Registry("agent")


def register_agent(entry: AgentEntry) -> AgentEntry:
    """Add ``entry`` to :data:`AGENTS`, refusing a preference mode outside :data:`PREFERENCE_MODES`."""
    if entry.preferences not in PREFERENCE_MODES:
        raise MorlError.of("preferences", f"must be one of {PREFERENCE_MODES}", entry.preferences)
    return AGENTS.register(entry.name, entry)


def agent_entry(name: str) -> AgentEntry:
    """The entry of agent ``name``: a registered agent, or the single-policy agent of a registered scalarizer."""
    if name in AGENTS:
        return AGENTS.get(name)
    if name in SCALARIZERS:
        cls = SCALARIZERS.get(name)
        return AgentEntry(name, "single-policy", "given" if cls.takes_preference else "free", scalarizer=name,
                          help=(cls.__doc__ or "").strip().splitlines()[0])
    known = agent_names()
    raise MorlError.of("agent", f"must be one of {list(known)}", name, did_you_mean(str(name), known))


def agent_names(trained: bool | None = None) -> tuple[str, ...]:
    """Every agent name (the scalarizers' first), or only the trained (``True``) / untrained (``False``) ones."""
    names = [*SCALARIZERS, *(n for n in AGENTS if n not in SCALARIZERS)]
    return tuple(n for n in names if trained is None or agent_entry(n).trained == trained)


register_agent(AgentEntry("weight-grid", "multi-policy", "grid", scalarizer="linear",
                          help="one linear policy per preference of the evaluation set (the MORLHF front)"))
register_agent(AgentEntry("emorl", "meta-policy", "experts",
                          help="one linear expert per objective, combined at inference (EMORL; --aggregation)"))
register_agent(AgentEntry("rewarded-soups", "multi-policy", "experts", aggregation="soup",
                          help="one linear expert per objective, parameters interpolated (Rewarded Soups)"))
register_agent(AgentEntry("default", "single-policy", "untrained", build=lambda env: DefaultPolicyAgent(),
                          help="the untrained default policy (text environments)"))
register_agent(AgentEntry("reference", "reference", "untrained", build=reference_agent,
                          help="the written reflection of each test prompt: what a person writes (Counsel, PAIR)"))
for _name, _reply in CANARIES.items():
    register_agent(AgentEntry(_name, "reference", "untrained", build=lambda env, n=_name, r=_reply: CannedAgent(n, r),
                              help=f"canary: a reward hack without a model ({_name})"))
register_agent(AgentEntry("random", "single-policy", "untrained", kind="choice",
                          build=lambda env: RandomChoiceAgent(int(env.action_space.n)),
                          help="uniformly random candidate picks (choice environments)"))
