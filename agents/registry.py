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

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agents.baselines import DefaultPolicyAgent, RandomChoiceAgent
from agents.canaries import CANARIES, CannedAgent, reference_agent
from agents.scalarizers import SCALARIZERS
from morl_core.agent import BaseAgent
from morl_core.errors import MorlError, did_you_mean
from morl_core.registry import Registry

__all__ = ["AGENTS", "PREFERENCE_MODES", "AgentEntry", "agent_entry", "agent_names", "import_agent", "is_agent_spec",
           "register_agent"]

#: how an agent's trained preferences are chosen
PREFERENCE_MODES = ("given", "free", "grid", "experts", "untrained")
#: "package.module:Name", a user's own agent class (or factory)
_SPEC = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*")


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


def is_agent_spec(text: object) -> bool:
    """Whether ``text`` has the form ``package.module:Name`` (a user's agent class or factory to import).

    >>> is_agent_spec("my_agents.echo:EchoAgent"), is_agent_spec("runs/model")
    (True, False)
    """
    return isinstance(text, str) and _SPEC.fullmatch(text) is not None


def import_agent(spec: str, kwargs: dict[str, Any] | None = None) -> BaseAgent:
    """The agent that ``package.module:Name(**kwargs)`` builds: ``Name`` is a class implementing the agent interface
    (:class:`~morl_core.agent.Agent` or :class:`~morl_core.agent.ChoiceAgent`) or a function returning one. Each
    way this can fail is a :class:`MorlError` naming ``agent`` (or ``agent_kwargs``) and what went wrong.

    >>> import_agent("agents.baselines:RandomChoiceAgent", {"n_actions": 4}).name
    'random-choice'
    """
    module_name, _, attribute = str(spec).partition(":")
    if not is_agent_spec(spec):
        raise MorlError.of("agent", "must be a registered name or 'package.module:Name' (a class or function in an "
                                    "importable module)", spec)
    if kwargs is not None and not isinstance(kwargs, dict):
        raise MorlError.of("agent_kwargs", "must be a JSON object of keyword arguments", kwargs)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise MorlError.of("agent", f"must name an importable module; importing {module_name!r} failed", spec,
                           f"{type(exc).__name__}: {exc} (is it on PYTHONPATH, or installed?)") from None
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise MorlError.of("agent", f"must name a class or function of {module_name!r}", spec,
                           did_you_mean(attribute, [n for n in dir(module) if not n.startswith("_")]))
    try:
        agent = factory(**(kwargs or {}))
    except TypeError as exc:
        raise MorlError.of("agent_kwargs", f"must be the keyword arguments {attribute} takes", kwargs,
                           f"{type(exc).__name__}: {exc}") from None
    if not isinstance(agent, BaseAgent):
        raise MorlError.of("agent", "must build an Agent (text) or ChoiceAgent (choice) of morl_core.agent",
                           spec, f"it built a {type(agent).__name__}")
    return agent
