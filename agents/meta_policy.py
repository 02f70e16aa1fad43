"""Meta-policy and Pareto-set agents built on per-objective experts: EMORL, Rewarded Soups, the gated mixture.

The lower level trains one LoRA expert per objective **once** (k-SCST at the one-hot preference e_i, a
:class:`~agents.single_policy.ScalarizedAgent` over the identity preferences); the upper level combines the experts
at inference for any preference (``agents.aggregation``), so a whole front costs the experts' training plus, for
the gate, its bandit rounds. The agents:

- :class:`MetaPolicyAgent` (family "meta-policy"): EMORL's aggregation (``hidden``, ``logit`` or ``parameter``) with
  a mixture per preference from a :class:`MixtureMap`: the preference itself (``identity``: expert i weighted by
  w_i) or mixtures found by EMORL's hierarchical grid search (:func:`hierarchical_grid_search`) for the preferences
  of the set, the nearest searched preference answering the others. With a :class:`GatedMixture` the mixture is
  chosen per prompt by the contextual-bandit gate instead.
- Rewarded Soups (family "multi-policy"): the same agent with the ``soup`` aggregation (the experts' adapter
  parameters interpolated with w; Rame et al., 2023, arXiv 2306.04488).

``training_costs`` are the experts' (every preference served by the same experts) plus the gate's bandit rounds;
``details`` records it (``experts_trained_once``), with the aggregation and the mixture of every preference.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from agents.aggregation import AGGREGATIONS, generate_with
from agents.gate import ContextProjection, LinUCBGate, SharedLinUCBGate, gate_features, run_bandit
from agents.mixing import check_mixture
from agents.rl import Scorer
from agents.single_policy import ScalarizedAgent
from morl_core.agent import Agent, TrainingCosts
from morl_core.simplex import simplex_lattice
from reward_models.encoder import shared_encoder

EMBEDDING_DIM = 384  # all-MiniLM-L6-v2
GATE_MODELS = ("shared", "disjoint")

__all__ = ["MixtureMap", "hierarchical_grid_search", "GatedMixture", "MetaPolicyAgent"]


@dataclass
class MixtureMap:
    """Preference -> mixture. ``preferences`` (m, n) and their ``mixtures`` (m, E); a preference not in the table
    takes the mixture of the nearest one (Euclidean, first on ties). Empty: the identity (mixture = preference)."""

    preferences: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    mixtures: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def __call__(self, preference: npt.ArrayLike) -> np.ndarray:
        w = np.asarray(preference, dtype=np.float64)
        if len(self.preferences) == 0:
            return w
        return self.mixtures[int(np.argmin(np.linalg.norm(self.preferences - w, axis=1)))]

    @property
    def kind(self) -> str:
        return "identity" if len(self.preferences) == 0 else "searched"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "preferences": self.preferences.tolist(), "mixtures": self.mixtures.tolist()}


def hierarchical_grid_search(score: Callable[[np.ndarray], float], n_experts: int, rounds: int = 5,
                             points: int = 3) -> tuple[np.ndarray, float, int]:
    """EMORL's search for the mixture maximising ``score``: a ``points``^n grid over [0, 1]^n, keep the best, zoom
    into the cube of half the spacing around it, ``rounds`` times (3 points, 3 experts, 5 rounds: at most 135
    evaluations). Grid points are normalised onto the simplex (the all-zero point is skipped) and each distinct
    mixture is scored once. Returns the best mixture, its score and the number of distinct evaluations.

    >>> best, value, n = hierarchical_grid_search(lambda m: -abs(m[0] - 0.3), 2, rounds=4)
    >>> abs(float(best[0]) - 0.3) < 0.02, n <= 4 * 9
    (True, True)
    """
    if not isinstance(rounds, int) or rounds < 1 or not isinstance(points, int) or points < 2:
        raise ValueError(f"`rounds` must be >= 1 and `points` >= 2 (integers); got {rounds!r} and {points!r}")
    seen: dict[tuple[float, ...], float] = {}
    low, high = np.zeros(n_experts), np.ones(n_experts)
    best, best_value = np.full(n_experts, 1.0 / n_experts), -np.inf
    for _ in range(rounds):
        axes = [np.linspace(lo, hi, points) for lo, hi in zip(low, high)]
        for corner in itertools.product(*axes):
            x = np.asarray(corner)
            if x.sum() <= 0:
                continue
            key = tuple(np.round(x / x.sum(), 12))
            if key not in seen:
                seen[key] = float(score(np.asarray(key)))
            if seen[key] > best_value:
                best_value, best_raw = seen[key], x
                best = np.asarray(key)
        half = (high - low) / (points - 1) / 2
        low, high = np.clip(best_raw - half, 0, 1), np.clip(best_raw + half, 0, 1)
    return best, best_value, len(seen)


class GatedMixture:
    """The contextual-bandit gate of a meta-policy: LinUCB over a lattice of mixtures on the features
    ``w (x) [1, P x]`` of the preference w and the prompt's MiniLM embedding x projected by P; ``model`` is
    ``shared`` (one regression over all mixtures, :class:`~agents.gate.SharedLinUCBGate`) or ``disjoint`` (one
    per mixture, :class:`~agents.gate.LinUCBGate`)."""

    def __init__(self, n_experts: int, n_objectives: int, divisions: int = 4, context_dim: int = 8,
                 alpha: float = 0.5, seed: int = 0, model: str = "shared") -> None:
        if model not in GATE_MODELS:
            raise ValueError(f"`model` must be one of {GATE_MODELS}; got {model!r}")
        self.arms = simplex_lattice(n_experts, divisions)  # (K, E)
        self.projection = ContextProjection(EMBEDDING_DIM, context_dim, seed)  # MiniLM embeddings are 384-d
        dim = n_objectives * (context_dim + 1)
        self.model = model
        self.bandit = (SharedLinUCBGate(self.arms, dim, alpha=alpha) if model == "shared"
                       else LinUCBGate(len(self.arms), dim, alpha=alpha))
        self.env_samples = 0

    def context(self, prompts: list[str]) -> np.ndarray:
        """The projected MiniLM embeddings (B, context_dim) of prompts."""
        return self.projection(shared_encoder().encode(list(prompts)))

    def features(self, prompts: list[str], preference: npt.ArrayLike) -> np.ndarray:
        """Gate features (B, d) of prompts under one preference."""
        w = np.asarray(preference, np.float64)
        return gate_features(self.context(prompts), np.repeat(w[None], len(prompts), axis=0))

    def choose(self, prompts: list[str], preference: npt.ArrayLike, explore: bool = False) -> np.ndarray:
        """The arm (mixture index) per prompt; greedy unless ``explore``."""
        return self.bandit.select(self.features(prompts, preference), explore=explore)


class MetaPolicyAgent(Agent):
    """Experts trained once, combined at inference by ``aggregation`` (see the module docstring).

    ``experts``: the trained per-objective experts (a ScalarizedAgent over the one-hot preferences, in objective
    order); ``mixtures``: preference -> mixture (default: identity); ``gate``: choose the mixture per prompt.
    """

    def __init__(self, experts: ScalarizedAgent, aggregation: str = "hidden", mixtures: MixtureMap | None = None,
                 gate: GatedMixture | None = None, name: str | None = None) -> None:
        if aggregation not in AGGREGATIONS:
            raise ValueError(f"`aggregation` must be one of {AGGREGATIONS}; got {aggregation!r}")
        prefs = experts.trained_preferences
        if prefs is None or not np.array_equal(prefs, np.eye(len(prefs))):
            raise ValueError(f"`experts` must be trained at the one-hot preferences (one expert per objective, in "
                             f"objective order); got trained preferences {None if prefs is None else prefs.tolist()}")
        self.experts, self.aggregation = experts, aggregation
        self.mixtures, self.gate = mixtures or MixtureMap(), gate
        self._name = name or ("rewarded-soups" if aggregation == "soup" else f"emorl-{aggregation}")
        self.used: dict[tuple[float, ...], list[float]] = {}  # evaluated preference -> mixture (or gate arm mean)
        self.search_samples = 0  # replies scored by the mixture search (a training cost)
        self.bandit_report: Any = None  # the gate's BanditReport once fitted

    @property
    def name(self) -> str:
        return self._name

    @property
    def family(self) -> str:
        return "multi-policy" if self.aggregation == "soup" else "meta-policy"

    @property
    def config(self) -> Any:
        """The experts' :class:`~agents.config.TrainConfig` (environment, policy, folder)."""
        return self.experts.config

    @property
    def expert_names(self) -> list[str]:
        """The experts' adapter names on the shared base model, in objective order."""
        return [self.experts._adapter_name(i) for i in range(len(self.experts.trained_preferences))]

    def mixture_for(self, preference: npt.ArrayLike) -> np.ndarray:
        """The mixture the agent uses for ``preference`` (without the gate)."""
        return check_mixture(self.mixtures(preference), len(self.expert_names), "mixture of the preference")

    def generate(self, prompts: list[str], mixture: npt.ArrayLike) -> list[str]:
        """Replies to ``prompts`` from one mixture (sampled from torch's global RNG)."""
        return generate_with(self.experts.policy, self.expert_names, mixture, list(prompts), self.aggregation).texts

    def respond(self, prompts: list[str], preference: np.ndarray, seed: int) -> list[str]:
        torch.manual_seed(seed)
        key = tuple(float(x) for x in np.asarray(preference))
        if self.gate is None:
            mixture = self.mixture_for(preference)
            self.used[key] = mixture.tolist()
            return self.generate(prompts, mixture)
        arms = self.gate.choose(list(prompts), preference)  # (B,)
        replies = [""] * len(prompts)
        for arm in np.unique(arms):  # one batch per chosen mixture
            rows = np.flatnonzero(arms == arm)
            for row, text in zip(rows, self.generate([prompts[i] for i in rows], self.gate.arms[arm])):
                replies[row] = text
        self.used[key] = self.gate.arms[arms].mean(axis=0).tolist()
        return replies

    def training_costs(self) -> TrainingCosts:
        costs = self.experts.training_costs()
        extra = self.search_samples + (self.gate.env_samples if self.gate is not None else 0)
        return TrainingCosts(costs.env_samples + extra, costs.tokens_generated, costs.train_seconds, costs.device,
                             costs.peak_memory_bytes)

    def details(self) -> dict[str, Any]:
        experts = self.experts.details()
        return {"method": "rewarded-soups" if self.aggregation == "soup" else "emorl", "aggregation":
                self.aggregation, "experts_trained_once": True, "n_experts": len(self.expert_names),
                "expert_steps": experts["steps"], "mixture_map": self.mixtures.to_json(),
                "search_samples": self.search_samples, "gate": self._gate_details(),
                "mixtures_used": [{"preference": list(w), "mixture": m} for w, m in self.used.items()]}


    def _gate_details(self) -> dict[str, Any] | None:
        if self.gate is None:
            return None
        out: dict[str, Any] = {"model": self.gate.model, "arms": len(self.gate.arms),
                               "env_samples": self.gate.env_samples}
        if self.bandit_report is not None:
            r = self.bandit_report
            out.update(rounds=len(r.regret_curve), gate_reward=r.gate_reward, best_fixed_reward=r.best_fixed_reward,
                       best_fixed_mixture=self.gate.arms[r.best_fixed_arm].tolist(),
                       best_per_preference_reward=r.best_per_preference_reward, oracle_reward=r.oracle_reward,
                       regret_vs_best_fixed=r.regret)
        return out


def arm_table(agent: MetaPolicyAgent, prompts: list[str], arms: np.ndarray, score: Scorer, seed: int) -> np.ndarray:
    """The reward vector of every mixture's reply to every prompt, (P, K, n): one batched generation per mixture
    (seeded ``seed + k``), scored by the environment's ``score``."""
    table = []
    for k, mixture in enumerate(arms):
        torch.manual_seed(seed + k)
        table.append(score(prompts, agent.generate(prompts, mixture)))  # (P, n)
    return np.stack(table, axis=1)


def fit_gate(agent: MetaPolicyAgent, prompts: list[str], preferences: npt.ArrayLike, score: Scorer, seed: int = 0,
             batch_size: int = 8) -> Any:
    """Train ``agent.gate`` on (prompt, preference) rounds: every pair of ``prompts`` and ``preferences`` once, in
    a seeded random order, as a bandit (the gate sees only its chosen mixture's reward ``w . r``). Every arm's
    replies are generated and scored once up front (:func:`arm_table`; counted in the gate's ``env_samples``) so
    that the regret against the best fixed mixture can be computed; returns the :class:`~agents.gate.BanditReport`.
    """
    if agent.gate is None:
        raise ValueError("`agent.gate` must be a GatedMixture to fit; got None")
    prefs = np.asarray(preferences, dtype=np.float64)  # (m, n)
    table = arm_table(agent, prompts, agent.gate.arms, score, seed)  # (P, K, n)
    agent.gate.env_samples += table.shape[0] * table.shape[1]
    pairs = np.random.default_rng(seed).permutation(len(prompts) * len(prefs))  # round -> (prompt, preference)
    p_idx, w_idx = pairs // len(prefs), pairs % len(prefs)
    features = gate_features(agent.gate.context(prompts)[p_idx], prefs[w_idx])  # (rounds, d), prompts embedded once
    return run_bandit(agent.gate.bandit, features, table[p_idx], prefs[w_idx], batch_size)


def search_mixtures(agent: MetaPolicyAgent, prompts: list[str], preferences: npt.ArrayLike, score: Scorer,
                    seed: int = 0, rounds: int = 2) -> tuple[MixtureMap, int]:
    """EMORL's hierarchical grid search for every preference w: the mixture maximising the mean of ``w . r`` over
    ``prompts`` (common random numbers: every candidate is sampled with ``seed``). Distinct mixtures are generated
    once and shared across preferences. Returns the map and the number of replies scored."""
    cache: dict[tuple[float, ...], np.ndarray] = {}

    def mean_rewards(mixture: np.ndarray) -> np.ndarray:
        key = tuple(mixture.tolist())
        if key not in cache:
            torch.manual_seed(seed)
            cache[key] = score(prompts, agent.generate(prompts, mixture)).mean(axis=0)  # (n,)
        return cache[key]

    prefs = np.asarray(preferences, dtype=np.float64)
    found = [hierarchical_grid_search(lambda m, w=w: float(w @ mean_rewards(m)), len(agent.expert_names),
                                      rounds)[0] for w in prefs]
    return MixtureMap(prefs, np.stack(found)), len(cache) * len(prompts)
