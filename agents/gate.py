"""A contextual-bandit gate that picks the experts' mixture from the prompt and the user's preference.

The seed paper's open question 2 (Kong et al., 2025, arXiv 2509.21613): instead of one fixed mixture per preference,
learn online which mixture of the experts serves a (prompt, preference) pair best, from the environment's reward
vectors alone (bandit feedback: only the chosen mixture's reply is scored). Arms are the mixtures of a simplex
lattice (:func:`morl_core.simplex.simplex_lattice`); the reward of an arm is the scalarized reward ``w . r`` of
its reply.

The gate is disjoint LinUCB (Li et al., 2010, arXiv 1003.0146): one ridge regression per arm on the features
``phi(x, w) = w (x) [1, x]`` (the Kronecker product of the preference and the context with a bias). This is the
right linear class: if objective i's reward of arm a is roughly affine in the context, ``r_i(a, x) = c_ai + d_ai . x``,
then ``w . r(a, x) = sum_i w_i (c_ai + d_ai . x)`` is exactly linear in ``phi``. The context ``x`` is the prompt's
sentence embedding (MiniLM, 384-d) through a fixed seeded random projection (:class:`ContextProjection`), so that the
per-arm models stay small (default 8-d: 27 features for 3 objectives) and learn from a few hundred rounds.

:func:`run_bandit` replays a full-information table (every arm's reward vector on every round's prompt, computed
once) as a bandit, and reports the gate's regret against the best fixed mixture and against the best mixture per
preference chosen in hindsight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["gate_features", "ContextProjection", "LinUCBGate", "SharedLinUCBGate", "BanditReport",
           "run_bandit"]


def gate_features(contexts: npt.ArrayLike, preferences: npt.ArrayLike) -> np.ndarray:
    """``phi = w (x) [1, x]`` row by row: contexts (B, d) and preferences (B, n) -> features (B, n (d + 1))."""
    x = np.asarray(contexts, dtype=np.float64)
    w = np.asarray(preferences, dtype=np.float64)
    if x.ndim != 2 or w.ndim != 2 or len(x) != len(w):
        raise ValueError(f"`contexts` and `preferences` must be 2-D with one row per round; got shapes {x.shape} "
                         f"and {w.shape}")
    x1 = np.concatenate([np.ones((len(x), 1)), x], axis=1)  # (B, d + 1)
    return (w[:, :, None] * x1[:, None, :]).reshape(len(x), -1)


class ContextProjection:
    """A fixed random projection of sentence embeddings (B, D) to ``dim`` unit-scale coordinates (B, dim): Gaussian
    directions drawn from ``seed``, scaled by 1/sqrt(D) so that unit-norm embeddings give coordinates of order 1."""

    def __init__(self, input_dim: int, dim: int = 8, seed: int = 0) -> None:
        if dim < 1 or input_dim < 1:
            raise ValueError(f"`dim` and `input_dim` must be >= 1; got {dim} and {input_dim}")
        self.matrix = np.random.default_rng(seed).standard_normal((input_dim, dim)) * np.sqrt(dim / input_dim)

    def __call__(self, embeddings: npt.ArrayLike) -> np.ndarray:
        e = np.asarray(embeddings, dtype=np.float64)
        if e.ndim != 2 or e.shape[1] != self.matrix.shape[0]:
            raise ValueError(f"`embeddings` must have shape (B, {self.matrix.shape[0]}); got {e.shape}")
        return e @ self.matrix


class LinUCBGate:
    """Disjoint LinUCB over ``n_arms`` mixtures: per arm a ridge estimate ``theta_a = A_a^-1 b_a`` and the upper
    confidence bound ``theta_a . phi + alpha sqrt(phi^T A_a^-1 phi)``. ``A_a^-1`` is kept by Sherman-Morrison
    updates (O(d^2) per observation). Ties go to the lowest arm index."""

    def __init__(self, n_arms: int, dim: int, alpha: float = 0.5, ridge: float = 1.0) -> None:
        if n_arms < 1 or dim < 1:
            raise ValueError(f"`n_arms` and `dim` must be >= 1; got {n_arms} and {dim}")
        if not (np.isfinite(alpha) and alpha >= 0) or not (np.isfinite(ridge) and ridge > 0):
            raise ValueError(f"`alpha` must be >= 0 and `ridge` > 0, both finite; got {alpha} and {ridge}")
        self.alpha, self.ridge = float(alpha), float(ridge)
        self.a_inv = np.repeat(np.eye(dim)[None] / ridge, n_arms, axis=0)  # (K, d, d)
        self.b = np.zeros((n_arms, dim))  # (K, d)
        self.counts = np.zeros(n_arms, dtype=np.int64)

    @property
    def theta(self) -> np.ndarray:
        """Ridge estimates (K, d)."""
        return np.einsum("kij,kj->ki", self.a_inv, self.b)

    def scores(self, features: npt.ArrayLike, explore: bool = True) -> np.ndarray:
        """(B, K): the estimated reward of every arm, plus the exploration bonus when ``explore``."""
        phi = self._check(features)
        mean = phi @ self.theta.T  # (B, K)
        if not explore or self.alpha == 0:
            return mean
        var = np.einsum("bi,kij,bj->bk", phi, self.a_inv, phi)  # (B, K)
        return mean + self.alpha * np.sqrt(np.maximum(var, 0.0))

    def select(self, features: npt.ArrayLike, explore: bool = True) -> np.ndarray:
        """The arm (B,) with the highest score per row."""
        return self.scores(features, explore).argmax(axis=1)

    def update(self, features: npt.ArrayLike, arms: npt.ArrayLike, rewards: npt.ArrayLike) -> None:
        """Add the observations: features (B, d), chosen arms (B,), rewards (B,)."""
        phi = self._check(features)
        arms = np.asarray(arms, dtype=np.int64).reshape(-1)
        rewards = np.asarray(rewards, dtype=np.float64).reshape(-1)
        if not len(arms) == len(rewards) == len(phi):
            raise ValueError(f"`arms` and `rewards` must have one entry per feature row ({len(phi)}); got "
                             f"{len(arms)} and {len(rewards)}")
        if ((arms < 0) | (arms >= len(self.b))).any() or not np.isfinite(rewards).all():
            raise ValueError(f"`arms` must lie in [0, {len(self.b)}) and `rewards` must be finite; got arms "
                             f"{arms.tolist()!r:.80} and rewards {rewards.tolist()!r:.80}")
        self._add(phi, arms, rewards)
        np.add.at(self.counts, arms, 1)

    def _add(self, phi: np.ndarray, models: np.ndarray, rewards: np.ndarray) -> None:
        """Sherman-Morrison updates of ``A^-1`` and ``b`` of the given regression models, one observation at a time."""
        for x, a, r in zip(phi, models, rewards):
            ax = self.a_inv[a] @ x  # (d,)
            self.a_inv[a] -= np.outer(ax, ax) / (1.0 + x @ ax)
            self.b[a] += r * x

    def _check(self, features: npt.ArrayLike) -> np.ndarray:
        phi = np.asarray(features, dtype=np.float64)
        if phi.ndim != 2 or phi.shape[1] != self.b.shape[1] or not np.isfinite(phi).all():
            raise ValueError(f"`features` must be finite with shape (B, {self.b.shape[1]}); got shape {phi.shape}")
        return phi

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume the gate (lists, JSON-serialisable)."""
        return {"alpha": self.alpha, "ridge": self.ridge, "a_inv": self.a_inv.tolist(), "b": self.b.tolist(),
                "counts": self.counts.tolist()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` (same number of arms and feature size)."""
        a_inv = np.asarray(state["a_inv"], dtype=np.float64)
        if a_inv.shape != self.a_inv.shape:
            raise ValueError(f"`state['a_inv']` must have shape {self.a_inv.shape}; got {a_inv.shape}")
        self.alpha, self.ridge = float(state["alpha"]), float(state["ridge"])
        self.a_inv, self.b = a_inv, np.asarray(state["b"], dtype=np.float64)
        self.counts = np.asarray(state["counts"], dtype=np.int64)


class SharedLinUCBGate(LinUCBGate):
    """LinUCB with one model shared by all arms: the reward of mixture m is ``theta . (phi (x) q(m))`` with the
    quadratic mixture features ``q(m) = [m_e, m_e m_f (e < f)]``: each expert's contribution is affine in the
    context and weighted by its share, and the pairwise terms let a mixture beat both of its experts (a model
    linear in m would only ever pick single experts). One observation of any mixture informs every other, so it
    learns from far fewer rounds than one model per arm (:class:`LinUCBGate`). ``arms``: the (K, E) mixtures."""

    def __init__(self, arms: npt.ArrayLike, dim: int, alpha: float = 0.5, ridge: float = 1.0) -> None:
        self.arms = np.asarray(arms, dtype=np.float64)  # (K, E)
        upper = np.triu_indices(self.arms.shape[1], k=1)
        pairs = self.arms[:, upper[0]] * self.arms[:, upper[1]]  # (K, E (E - 1) / 2)
        self.arm_features = np.concatenate([self.arms, pairs], axis=1)  # (K, Q)
        super().__init__(1, dim * self.arm_features.shape[1], alpha, ridge)
        self.feature_dim = dim
        self.counts = np.zeros(len(self.arms), dtype=np.int64)

    def _joint(self, phi: np.ndarray) -> np.ndarray:
        """(B, K, dim * Q): every row's features crossed with every arm's mixture features."""
        q = self.arm_features
        return (phi[:, None, :, None] * q[None, :, None, :]).reshape(len(phi), len(q), -1)

    def scores(self, features: npt.ArrayLike, explore: bool = True) -> np.ndarray:
        z = self._joint(self._check_phi(features))  # (B, K, D)
        mean = z @ self.theta[0]  # (B, K)
        if not explore or self.alpha == 0:
            return mean
        var = np.einsum("bki,ij,bkj->bk", z, self.a_inv[0], z)
        return mean + self.alpha * np.sqrt(np.maximum(var, 0.0))

    def update(self, features: npt.ArrayLike, arms: npt.ArrayLike, rewards: npt.ArrayLike) -> None:
        phi = self._check_phi(features)
        arms = np.asarray(arms, dtype=np.int64).reshape(-1)
        rewards = np.asarray(rewards, dtype=np.float64).reshape(-1)
        if ((arms < 0) | (arms >= len(self.arms))).any() or not len(arms) == len(rewards) == len(phi) \
                or not np.isfinite(rewards).all():
            raise ValueError(f"`arms` must lie in [0, {len(self.arms)}) and `rewards` must be finite, one of each "
                             f"per feature row; got arms {arms.tolist()!r:.80} and rewards {rewards.tolist()!r:.80}")
        self._add(self._joint(phi)[np.arange(len(phi)), arms], np.zeros(len(arms), dtype=np.int64), rewards)
        np.add.at(self.counts, arms, 1)

    def _check_phi(self, features: npt.ArrayLike) -> np.ndarray:
        phi = np.asarray(features, dtype=np.float64)
        if phi.ndim != 2 or phi.shape[1] != self.feature_dim or not np.isfinite(phi).all():
            raise ValueError(f"`features` must be finite with shape (B, {self.feature_dim}); got shape {phi.shape}")
        return phi


@dataclass
class BanditReport:
    """The outcome of :func:`run_bandit` over T rounds (rewards are scalarized, ``w . r``)."""

    gate_reward: float  # mean over rounds of the gate's chosen arm
    best_fixed_arm: int  # the single mixture with the highest mean reward in hindsight
    best_fixed_reward: float
    best_per_preference_reward: float  # the best mixture for each distinct preference, chosen in hindsight
    regret_curve: np.ndarray  # (T,) cumulative regret against the best fixed mixture
    oracle_reward: float  # the best arm of every round (an upper bound)

    @property
    def regret(self) -> float:
        """Cumulative regret against the best fixed mixture after the last round (negative: the gate beat it)."""
        return float(self.regret_curve[-1])


def run_bandit(gate: LinUCBGate, features: npt.ArrayLike, arm_rewards: npt.ArrayLike, preferences: npt.ArrayLike,
               batch_size: int = 1) -> BanditReport:
    """Replay T rounds as a bandit: features (T, d), the full table of arm reward vectors (T, K, n) and the rounds'
    preferences (T, n). In batches of ``batch_size`` rounds the gate picks arms (with exploration), observes only
    the chosen arms' ``w . r`` and updates; the comparators see the whole table."""
    phi = np.asarray(features, dtype=np.float64)
    table = np.asarray(arm_rewards, dtype=np.float64)
    w = np.asarray(preferences, dtype=np.float64)
    if table.ndim != 3 or table.shape[0] != len(phi) or w.shape != (len(phi), table.shape[2]):
        raise ValueError(f"`arm_rewards` must have shape (T, K, n) and `preferences` (T, n) with T = {len(phi)} "
                         f"rounds; got {table.shape} and {w.shape}")
    utility = np.einsum("tkn,tn->tk", table, w)  # (T, K) scalarized reward of every arm
    chosen = np.zeros(len(phi), dtype=np.int64)
    for start in range(0, len(phi), batch_size):
        rows = slice(start, start + batch_size)
        chosen[rows] = gate.select(phi[rows])
        gate.update(phi[rows], chosen[rows], utility[rows][np.arange(len(chosen[rows])), chosen[rows]])
    gained = utility[np.arange(len(phi)), chosen]  # (T,)
    best = int(utility.sum(axis=0).argmax())
    per_pref = 0.0
    for pref in np.unique(w, axis=0):
        rows = np.all(w == pref, axis=1)
        per_pref += float(utility[rows].sum(axis=0).max())
    return BanditReport(float(gained.mean()), best, float(utility[:, best].mean()), per_pref / len(phi),
                        np.cumsum(utility[:, best] - gained), float(utility.max(axis=1).mean()))
