"""The registry of environments: each id with its kind, constructor arguments and evaluation facts.

Two registries, one per extension point:

- :data:`ENV_KINDS`: what kind of environment an id is. ``text`` (the agent writes the reply; an
  :class:`~morl_core.agent.Agent` answers it) and ``choice`` (the agent picks one of K fixed candidates; a
  :class:`~morl_core.agent.ChoiceAgent` answers it). The evaluation protocol and the board read the kind from here
  instead of hard-coding the split.
- :data:`ENVS`: every registered id (:class:`EnvEntry`). :func:`register_env` adds one here and to Gymnasium.

An entry's facts (objectives, reference point, preference set, test split) are known without building the
environment or loading any reward model; the fingerprints of data and models need the built environment
(``env.unwrapped.eval_spec``). :func:`make` is the one way the project builds an environment.

>>> describe("morl/Counsel-v2").preferences.shape
(15, 3)
>>> describe("morl/Counsel-Choice-v2").kind
'choice'
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import register
from gymnasium.envs.registration import registry as gym_registry

from morl_core.agent import Agent, BaseAgent, ChoiceAgent
from morl_core.errors import MorlError
from morl_core.registry import Registry
from morl_core.simplex import preference_set

__all__ = ["ENVS", "ENV_KINDS", "EnvEntry", "EnvKind", "describe", "env_ids", "make", "register_env",
           "relationship_variants", "unregister_env"]


@dataclass(frozen=True)
class EnvKind:
    """One kind of environment: the classes that build it and the agent interface that answers it."""

    name: str
    entry_point: str  # "module:Class" of the single environment
    agent_interface: type[BaseAgent]  # what an agent of this kind implements
    vector_entry_point: str | None = None  # "module:Class" of a native batched env, if any
    known_fronts: bool = False  # the env gives its exact Pareto front and convex coverage set (IGD, MUL on the board)
    answer_type: type = str  # what an agent answers a prompt with: a reply (str) or a candidate index (int)
    description: str = ""


#: kind name -> :class:`EnvKind`
ENV_KINDS: Registry[EnvKind] = Registry("kind")
ENV_KINDS.register("text", EnvKind(
    "text", "morl_envs.counsel_env:CounselEnv", Agent, vector_entry_point="morl_envs.vector_env:CounselVectorEnv",
    description="the agent writes the reply (text actions); learned reward models score it"))
ENV_KINDS.register("choice", EnvKind(
    "choice", "morl_envs.choice_env:ChoiceEnv", ChoiceAgent, known_fronts=True, answer_type=int,
    description="the agent picks one of K candidate replies (Discrete actions); rewards are a table, fronts known"))


@dataclass(frozen=True)
class EnvEntry:
    """A registered environment id and the facts of its evaluation that need no model."""

    env_id: str
    kind: str
    objectives: tuple[str, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    relationship: str | None = None  # "competing" / "correlated" for the objective-relationship variants
    test_split: str = "test"

    @property
    def reference_point(self) -> tuple[float, ...]:
        """The hypervolume reference point: the origin (every reward lies in [0, 1])."""
        return (0.0,) * len(self.objectives)

    @property
    def preferences(self) -> np.ndarray:
        """The leaderboard's preference set, shape (m, n_objectives)."""
        return preference_set(len(self.objectives))


#: env id -> :class:`EnvEntry`
ENVS: Registry[EnvEntry] = Registry("env_id")


_VERSIONED = re.compile(r"^(.+)-v(\d+)$")


def register_env(env_id: str, kind: str, objectives: tuple[str, ...], kwargs: dict[str, Any] | None = None,
                 relationship: str | None = None) -> EnvEntry:
    """Register ``env_id`` of ``kind`` with Gymnasium (constructor ``kwargs``) and in :data:`ENVS`. ``objectives``
    are the names of the reward components the environment returns, in order."""
    env_kind = ENV_KINDS.get(kind)
    kwargs = dict(kwargs or {})
    entry = ENVS.register(env_id, EnvEntry(env_id, kind, tuple(objectives), kwargs, relationship))
    # No passive env checker: it warns on every vector reward ("must be a float"), which is this project's design
    # (MO-Gymnasium's own make() turns it off too); the environments' own tests check the spaces.
    register(id=env_id, entry_point=env_kind.entry_point, vector_entry_point=env_kind.vector_entry_point,
             kwargs=dict(kwargs), disable_env_checker=True)
    return entry


def unregister_env(env_id: str) -> EnvEntry:
    """Take ``env_id`` out of :data:`ENVS` and Gymnasium's registry again (for stand-in environments of tests)."""
    entry = ENVS.unregister(env_id)
    gym_registry.pop(env_id, None)
    return entry


def successor(env_id: str) -> str | None:
    """The newest registered version of a retired id (``morl/Counsel-v0`` -> ``morl/Counsel-v2``), or None when
    ``env_id`` is registered or no newer version of its name is.

    >>> successor("morl/Counsel-v0"), successor("morl/Counsel-v2")
    ('morl/Counsel-v2', None)
    """
    match = _VERSIONED.match(env_id) if isinstance(env_id, str) else None
    if match is None or env_id in ENVS:
        return None
    newer = [(int(m.group(2)), i) for i in ENVS.names() if (m := _VERSIONED.match(i)) and m.group(1) == match.group(1)
             and int(m.group(2)) > int(match.group(2))]
    return max(newer)[1] if newer else None


def describe(env_id: str, kind: str | None = None, **env_kwargs: Any) -> EnvEntry:
    """The registry entry of ``env_id`` (no model is loaded), as ``make(env_id, **env_kwargs)`` would build it (an
    ``objectives`` override changes the objectives and so the preference set); with ``kind``, an id of another
    kind is refused with a message naming its kind. A retired version is refused with a message naming the id that
    replaces it (Gymnasium's ``gym.make`` does the same with its ``DeprecatedEnv``)."""
    newer = successor(env_id)
    if newer is not None:
        raise MorlError.of("env_id", f"must be a current environment id; this version is retired, use {newer!r} "
                           f"(its reward models replace ones that the adversarial suite shows easier to game)", env_id)
    entry = ENVS.get(env_id, "env_id")
    if kind is not None and entry.kind != kind:
        raise MorlError.of("env_id", f"must be a registered {kind} environment id {env_ids(kind)}", env_id,
                           f"{env_id!r} is a {entry.kind} environment")
    if "objectives" in env_kwargs:
        entry = dataclasses.replace(entry, objectives=tuple(env_kwargs["objectives"]),
                                    kwargs={**entry.kwargs, **env_kwargs})
    return entry


def env_ids(kind: str | None = None) -> list[str]:
    """The registered ids (of ``kind`` only, when given), sorted."""
    return sorted(i for i, e in ENVS.items() if kind is None or e.kind == kind)


def relationship_variants() -> dict[str, str]:
    """Env id -> relationship ("competing" / "correlated") of every objective-relationship variant."""
    return {i: e.relationship for i, e in ENVS.items() if e.relationship is not None}


def make(env_id: str, **kwargs: Any) -> gym.Env:
    """``gymnasium.make(env_id, **kwargs)`` for a registered id, the one way the project builds an environment.

    The Psych8k fallback notice is silenced here (the environment's data fingerprint records the fallback)."""
    describe(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return gym.make(env_id, **kwargs)
