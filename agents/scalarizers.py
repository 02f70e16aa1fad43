"""Scalarizers of the single-policy agents: k replies per prompt, n objectives, one advantage per reply.

The RL loop (k-SCST, ``docs/methods.md``) samples k replies per prompt, scores each on n objectives and computes
per-objective leave-one-out advantages ``A = r - mean of the other k - 1 replies of the same prompt``. A scalarizer
turns them into one advantage per reply:

    combine(rewards (B, k, n), advantages (B, k, n)) -> (B, k)

| name        | combine                                              | changes during training          |
|-------------|------------------------------------------------------|----------------------------------|
| `linear`    | ``A @ w``                                            | no                               |
| `chebyshev` | leave-one-out baseline of ``-max_i w_i (z_i - r_i)`` | no                               |
| `dynaopt`   | ``A @ w_t``                                          | Exp3 bandit, on validation       |
| `pama`      | ``min_i max(A_i, 0)`` per reply                      | per batch (reported by weights)  |
| `mgda`      | none: ``coefficients(grads)`` on gradients           | per step (min-norm coefficients) |

Scalarizers that adapt on validation results set ``adapts_on_validation = True`` and define ``update``; the others
have no ``update`` at all (a silent no-op would hide a wiring mistake). MGDA sets ``uses_gradients = True``.

>>> import torch
>>> s = make_scalarizer("linear", 2, preference=[0.75, 0.25])
>>> s.combine(torch.zeros(1, 2, 2), torch.tensor([[[0.5, -0.5], [-0.5, 0.5]]])).tolist()
[[0.25, -0.25]]
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from agents.mgda import min_norm_coefficients
from morl_core.errors import did_you_mean
from morl_core.registry import Registry
from morl_core.simplex import check_weights

__all__ = ["SCALARIZERS", "ChebyshevScalarizer", "DynaOptScalarizer", "LinearScalarizer", "MGDAScalarizer",
           "PAMAScalarizer", "Scalarizer", "make_scalarizer", "register_scalarizer"]


def _check_positive_int(value: object, name: str, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum`` (bools rejected), or a ValueError."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}; got {value!r}")
    return int(value)


#: name -> class: the registry of :func:`make_scalarizer` (and, through it, of the single-policy agents)
SCALARIZERS: Registry[type[Scalarizer]] = Registry("name")


def register_scalarizer(cls: type[Scalarizer]) -> type[Scalarizer]:
    """Class decorator: register a :class:`Scalarizer` subclass under its ``name``."""
    return SCALARIZERS.register(cls.name, cls)


class Scalarizer(ABC):
    """Base: turns per-objective advantages of k replies per prompt into one advantage per reply.

    A subclass declares its ``name``, whether it ``takes_preference`` (False: its weights come from each batch, so
    one policy serves every preference) and the keyword ``options`` its constructor accepts, and is registered with
    :func:`register_scalarizer`; :func:`make_scalarizer` then builds it through :meth:`build`.
    """

    name: ClassVar[str]
    #: False when the weights come from each batch (PAMA, MGDA): such a scalarizer refuses a preference
    takes_preference: ClassVar[bool] = True
    #: keyword options of the constructor that ``make_scalarizer`` passes through
    options: ClassVar[tuple[str, ...]] = ()
    #: True when the scalarizer combines per-objective gradients (``coefficients``) instead of advantages.
    uses_gradients: ClassVar[bool] = False
    #: True when the RL loop must call ``update(validation_rewards)`` after each validation.
    adapts_on_validation: ClassVar[bool] = False

    def __init__(self, n_objectives: int | None) -> None:
        self.n_objectives: int | None = None
        self._weights = np.zeros(0)
        if n_objectives is not None:
            self._set_n(n_objectives)

    def _set_n(self, n_objectives: int) -> None:
        self.n_objectives = _check_positive_int(n_objectives, "n_objectives")
        self._weights = np.full(self.n_objectives, 1.0 / self.n_objectives)

    @classmethod
    def build(cls, n_objectives: int, preference: np.ndarray | None, **options: Any) -> Scalarizer:
        """The scalarizer for ``n_objectives`` at ``preference`` (checked, or None: uniform) with ``options``.
        Preference-free scalarizers are built from the number of objectives alone."""
        if not cls.takes_preference:
            return cls(n_objectives, **options)
        return cls(np.full(n_objectives, 1.0 / n_objectives) if preference is None else preference, **options)

    @abstractmethod
    def combine(self, rewards: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
        """rewards: (B, k, n) raw reward vectors of the k sampled replies per prompt; advantages: (B, k, n)
        per-objective leave-one-out advantages. Returns (B, k): one advantage per reply."""

    def weights(self) -> np.ndarray:
        """The current (n,) weights, for logging (a copy)."""
        if self.n_objectives is None:
            raise RuntimeError(f"{type(self).__name__} was built without `n_objectives` and has seen no batch yet, "
                               "so it has no weights: pass n_objectives or call it on a batch first")
        return self._weights.copy()

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable state for checkpoints."""
        weights = [] if self.n_objectives is None else self.weights().tolist()
        return {"name": self.name, "n_objectives": self.n_objectives, "weights": weights}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output; the scalarizer kind and the number of objectives must match."""
        if state.get("name") != self.name:
            raise ValueError(f"`state['name']` must be {self.name!r} to load into {type(self).__name__}; "
                             f"got {state.get('name')!r}")
        if self.n_objectives is None and state.get("n_objectives") is not None:
            self._set_n(state["n_objectives"])  # built without n (PAMA, MGDA): adopt the checkpoint's
        if state.get("n_objectives") != self.n_objectives:
            raise ValueError(f"`state['n_objectives']` must be {self.n_objectives}; got {state.get('n_objectives')!r}")
        if self.n_objectives is not None:
            self._weights = np.asarray(state["weights"], dtype=np.float64).copy()

    def _check(self, rewards: torch.Tensor, advantages: torch.Tensor) -> None:
        """Both (B, k, n) tensors of the same shape with n = n_objectives (learnt here if unset), finite."""
        if self.n_objectives is None and isinstance(rewards, torch.Tensor) and rewards.dim() == 3:
            self._set_n(rewards.shape[-1])
        for label, tensor in (("rewards", rewards), ("advantages", advantages)):
            if not isinstance(tensor, torch.Tensor):
                raise TypeError(f"`{label}` must be a torch.Tensor of shape (B, k, {self.n_objectives}); "
                                f"got {type(tensor).__name__}")
            if tensor.dim() != 3 or tensor.shape[-1] != self.n_objectives:
                raise ValueError(f"`{label}` must have shape (B, k, {self.n_objectives}): prompts, replies per "
                                 f"prompt, objectives; got {tuple(tensor.shape)}")
        if rewards.shape != advantages.shape:
            raise ValueError(f"`rewards` and `advantages` must have the same shape (B, k, n); got "
                             f"{tuple(rewards.shape)} and {tuple(advantages.shape)}")
        if not (torch.isfinite(rewards).all() and torch.isfinite(advantages).all()):
            raise ValueError("`rewards` and `advantages` must be finite; got NaN or inf")

    def _linear(self, advantages: torch.Tensor) -> torch.Tensor:
        w = torch.as_tensor(self._weights, dtype=advantages.dtype, device=advantages.device)  # (n,)
        return advantages @ w  # (B, k)


@register_scalarizer
class LinearScalarizer(Scalarizer):
    """Linear scalarization ``A @ w`` with a fixed preference w on the simplex (the MORLHF baseline).

    Because the leave-one-out baseline is linear, this equals the leave-one-out advantage of ``r @ w``.
    """

    name = "linear"

    def __init__(self, weights: Sequence[float] | np.ndarray) -> None:
        w = check_weights(weights, None, "weights")
        super().__init__(w.shape[0])
        self._weights = w

    def combine(self, rewards: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
        self._check(rewards, advantages)
        return self._linear(advantages)


@register_scalarizer
class ChebyshevScalarizer(Scalarizer):
    """Weighted Chebyshev (Tchebycheff) scalarization ``s = -max_i w_i (z_i - r_i)`` on the raw rewards.

    z is the ideal (utopia) point: by default 1.0 per objective, the upper end of every reward in this project
    (rewards lie in [0, 1]); a reward above z still gives a well-defined s, but z should dominate every reward for
    the usual Pareto guarantees (Miettinen, "Nonlinear Multiobjective Optimization", 1999). The maximum is not
    linear, so the baseline is applied to s itself: ``s_j - mean of the other k - 1 replies of the same prompt``,
    which needs k >= 2 replies per prompt. The per-objective advantages are not used.
    """

    name = "chebyshev"
    options = ("ideal",)

    def __init__(self, weights: Sequence[float] | np.ndarray,
                 ideal: Sequence[float] | np.ndarray | None = None) -> None:
        w = check_weights(weights, None, "weights")
        super().__init__(w.shape[0])
        self._weights = w
        z = np.ones(self.n_objectives) if ideal is None else np.asarray(ideal, dtype=np.float64)
        if z.shape != (self.n_objectives,) or not np.isfinite(z).all():
            raise ValueError(f"`ideal` must be {self.n_objectives} finite numbers, one per objective; "
                             f"got {np.asarray(ideal).tolist()}")
        self.ideal = z

    def combine(self, rewards: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
        self._check(rewards, advantages)
        k = rewards.shape[1]
        if k < 2:
            raise ValueError(f"`rewards` must hold k >= 2 replies per prompt for the Chebyshev leave-one-out "
                             f"baseline; got k={k} (shape {tuple(rewards.shape)}): sample at least 2 replies")
        w = torch.as_tensor(self._weights, dtype=rewards.dtype, device=rewards.device)  # (n,)
        z = torch.as_tensor(self.ideal, dtype=rewards.dtype, device=rewards.device)  # (n,)
        s = -(w * (z - rewards)).amax(dim=-1)  # (B, k)
        return s - (s.sum(dim=1, keepdim=True) - s) / (k - 1)  # (B, k)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "ideal": self.ideal.tolist()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.ideal = np.asarray(state["ideal"], dtype=np.float64)


@register_scalarizer
class DynaOptScalarizer(Scalarizer):
    """DynaOpt (Min et al., "Dynamic Reward Adjustment in Multi-Reward Reinforcement Learning for Counselor
    Reflection Generation", LREC-COLING 2024, arXiv 2403.13578): linear weights moved by an Exp3 bandit.

    The weights start uniform. The bandit has n + 1 arms: arm i < n raises objective i's weight by ``step`` and
    renormalises (``w_i += step; w /= sum(w)``), arm n leaves the weights unchanged. Exp3 (Auer et al. 2002) with
    exploration ``gamma`` (0.07, as in the authors' code) draws an arm from ``p = (1 - gamma) W / sum(W) + gamma /
    (n + 1)`` and, once its reward x in [0, 1] is known, multiplies ``W_arm`` by ``exp(gamma x / (p_arm (n + 1)))``.

    Protocol, one call of :meth:`update` per validation (mean validation reward vector, shape (n,)):

    * the first call only records the baseline mean, then pulls the first arm and applies it;
    * every later call rewards the previously pulled arm with the improvement of the mean validation reward
      (mean over objectives) since the previous call, mapped to [0, 1] as Exp3 requires:
      ``x = clip((new - old) / reward_scale + 0.5, 0, 1)`` (so no change gives 0.5 and an improvement of
      ``reward_scale / 2`` or more gives 1), updates Exp3, pulls the next arm and applies it.

    The authors' code (MichiganNLP/dynaopt) feeds the raw improvement to Exp3 (negative values included) and raises
    weight i multiplicatively through a second Exp3; this class uses the additive ``step`` and the explicit [0, 1]
    mapping above. Arms are drawn with the scalarizer's own ``np.random.Generator`` (``seed``), saved in
    :meth:`state_dict`, so a resumed run pulls the same arms as an uninterrupted one (``last_arm``: the arm in use).
    """

    name = "dynaopt"
    options = ("gamma", "step", "seed", "reward_scale")
    adapts_on_validation = True

    @classmethod
    def build(cls, n_objectives: int, preference: np.ndarray | None, **options: Any) -> DynaOptScalarizer:
        """The bandit over ``n_objectives`` starting from ``preference`` (None: uniform, as in the paper)."""
        return cls(n_objectives, initial_weights=preference, **options)

    def __init__(self, n: int, gamma: float = 0.07, step: float = 0.1, seed: int = 0, reward_scale: float = 0.1,
                 initial_weights: Sequence[float] | np.ndarray | None = None) -> None:
        super().__init__(n)
        for label, value, rule in (("gamma", gamma, "in (0, 1]"), ("step", step, "a finite number > 0"),
                                   ("reward_scale", reward_scale, "a finite number > 0")):
            if not (np.isfinite(value) and value > 0 and (label != "gamma" or value <= 1)):
                raise ValueError(f"`{label}` must be {rule}; got {value!r}")
        self.gamma, self.step, self.reward_scale = float(gamma), float(step), float(reward_scale)
        if initial_weights is not None:
            self._weights = check_weights(initial_weights, self.n_objectives, "initial_weights")
        self.n_arms = self.n_objectives + 1
        self._log_arm_weights = np.zeros(self.n_arms)  # log of Exp3's W, kept in logs against overflow
        self._rng = np.random.default_rng(seed)
        self.last_arm: int | None = None  # the arm pulled at the last update (n: "no change"), None before any
        self.last_mean: float | None = None  # mean validation reward at the last update
        self.n_updates = 0

    def arm_probabilities(self) -> np.ndarray:
        """Exp3's current distribution over the n + 1 arms."""
        w = np.exp(self._log_arm_weights - self._log_arm_weights.max())
        return (1.0 - self.gamma) * w / w.sum() + self.gamma / self.n_arms

    def combine(self, rewards: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
        self._check(rewards, advantages)
        return self._linear(advantages)

    def update(self, validation_rewards: np.ndarray | Sequence[float]) -> None:
        """Feed the (n,) mean validation reward vector; pulls and applies the next arm (``last_arm``)."""
        v = np.asarray(validation_rewards, dtype=np.float64)
        if v.shape != (self.n_objectives,) or not np.isfinite(v).all():
            raise ValueError(f"`validation_rewards` must be {self.n_objectives} finite numbers, the mean validation "
                             f"reward per objective; got {v.tolist()}")
        mean = float(v.mean())
        if self.last_arm is not None and self.last_mean is not None:
            x = float(np.clip((mean - self.last_mean) / self.reward_scale + 0.5, 0.0, 1.0))
            p = self.arm_probabilities()[self.last_arm]
            self._log_arm_weights[self.last_arm] += self.gamma * x / (p * self.n_arms)
            self._log_arm_weights -= self._log_arm_weights.max()
        self.last_mean = mean
        arm = int(self._rng.choice(self.n_arms, p=self.arm_probabilities()))
        if arm < self.n_objectives:
            w = self._weights.copy()
            w[arm] += self.step
            self._weights = w / w.sum()
        self.last_arm = arm
        self.n_updates += 1

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "gamma": self.gamma, "step": self.step, "reward_scale": self.reward_scale,
                "log_arm_weights": self._log_arm_weights.tolist(), "rng": self._rng.bit_generator.state,
                "last_arm": self.last_arm, "last_mean": self.last_mean, "n_updates": self.n_updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.gamma, self.step, self.reward_scale = state["gamma"], state["step"], state["reward_scale"]
        self._log_arm_weights = np.asarray(state["log_arm_weights"], dtype=np.float64)
        self._rng = np.random.default_rng()
        self._rng.bit_generator.state = state["rng"]
        self.last_arm, self.last_mean, self.n_updates = state["last_arm"], state["last_mean"], state["n_updates"]


@register_scalarizer
class PAMAScalarizer(Scalarizer):
    """PAMA (He & Maghsudi, "Pareto Multi-Objective Alignment for Language Models", arXiv 2508.07768).

    Each per-objective advantage is clipped at zero ("Noon": ``A_i = max(A_i, 0)``); the combined advantage is the
    projection of 0 onto ``[min_i A_i, max_i A_i]``, which after clipping is ``min_i A_i``: O(n) per sample instead
    of MGDA's O(n^2 d). A reply is reinforced only as much as its weakest objective beats the baseline.

    The paper does not say whether the combination is applied per token or per batch; here it is applied per reply
    (one sequence-level advantage per sampled reply, matching k-SCST's sequence-level advantages). :meth:`weights`
    reports, over the last batch, the fraction of replies in which each objective was the active minimum, ties
    (e.g. several objectives clipped to 0) split equally, so the fractions sum to 1; uniform before any batch.
    """

    name = "pama"
    takes_preference = False

    def __init__(self, n_objectives: int | None = None) -> None:
        super().__init__(n_objectives)
        self._shares: torch.Tensor | None = None  # (n,) active-minimum fractions of the last batch, on its device

    def combine(self, rewards: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
        self._check(rewards, advantages)
        clipped = advantages.clamp(min=0.0)  # (B, k, n): Noon clipping
        low, high = clipped.amin(dim=-1), clipped.amax(dim=-1)  # (B, k)
        combined = torch.maximum(low, torch.minimum(torch.zeros_like(high), high))  # projection of 0 on [low, high]
        active = (clipped == low.unsqueeze(-1)).to(torch.float64)  # (B, k, n)
        shares = active / active.sum(dim=-1, keepdim=True)  # (B, k, n), each reply's shares sum to 1
        if shares.numel():
            self._shares = shares.reshape(-1, shares.shape[-1]).mean(dim=0).detach()  # read lazily: no device sync
        return combined

    def weights(self) -> np.ndarray:
        if self._shares is not None:
            self._weights = self._shares.cpu().numpy().copy()
            self._shares = None
        return super().weights()


@register_scalarizer
class MGDAScalarizer(Scalarizer):
    """MGDA (Désidéri 2012; Sener & Koltun, NeurIPS 2018, arXiv 1810.04650): min-norm combination of gradients.

    MGDA does not combine advantages: the RL loop builds one loss per objective from ``advantages[..., i]``,
    backpropagates each (one backward pass per objective), and combines the gradients with :meth:`coefficients`.
    :meth:`combine` therefore raises (it would otherwise have to invent a combination the method does not have).
    """

    name = "mgda"
    takes_preference = False
    options = ("iters", "tol")
    uses_gradients = True

    def __init__(self, n_objectives: int | None = None, iters: int = 250, tol: float = 1e-10) -> None:
        super().__init__(n_objectives)
        self.iters, self.tol = iters, tol

    def combine(self, rewards: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
        raise TypeError("MGDAScalarizer combines per-objective gradients, not advantages (`uses_gradients` is True): "
                        "backpropagate one loss per objective (from advantages[..., i]) and combine the gradients "
                        "with `scalarizer.coefficients(grads)`")

    def gradient_rows(self, advantages: torch.Tensor) -> torch.Tensor:
        """One advantage row per loss whose gradient enters the min-norm combination: (n, N), one per objective
        (rows of the (B, k, n) advantages flattened as b * k + j)."""
        n_rows = advantages.shape[0] * advantages.shape[1]
        return advantages.reshape(n_rows, -1).T

    def coefficients(self, grads: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
        """Min-norm coefficients (n,) of the per-objective gradients (list of n tensors or an (n, d) tensor)."""
        n = grads.shape[0] if isinstance(grads, torch.Tensor) else len(grads)
        if self.n_objectives is None:
            self._set_n(n)
        if n != self.n_objectives:
            raise ValueError(f"`grads` must hold {self.n_objectives} gradients, one per objective; got {n}")
        c = min_norm_coefficients(grads, iters=self.iters, tol=self.tol)
        self._weights = c.detach().to(device="cpu", dtype=torch.float64).numpy().copy()
        return c


@register_scalarizer
class AnchoredMGDAScalarizer(MGDAScalarizer):
    """MGDA between a preference and "the rest": the lower-level expert of the seed paper's open question 1
    (Kong et al., 2025, arXiv 2509.21613): an expert for objective i that keeps the other objectives up.

    The two directions are the preference w (for an expert, the one-hot e_i) and the uniform weights over the
    objectives w leaves out (all objectives when it leaves none out). Each direction gives one policy-gradient loss
    from ``advantages @ direction``; the two gradients are combined by the exact two-objective min-norm solution, so
    the step never trades the rest away for w when a common descent direction exists. ``weights()`` reports the
    effective objective weights ``c_0 w + c_1 rest``.

    >>> AnchoredMGDAScalarizer([1.0, 0.0, 0.0]).directions.tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]]
    """

    name = "mgda-anchor"
    takes_preference = True

    def __init__(self, preference: Sequence[float] | np.ndarray, iters: int = 250, tol: float = 1e-10) -> None:
        w = check_weights(preference, None)
        super().__init__(len(w), iters, tol)
        left_out = (w == 0).astype(np.float64)
        rest = left_out / left_out.sum() if left_out.any() else np.full(len(w), 1.0 / len(w))
        self.directions = torch.tensor(np.stack([w, rest]))  # (2, n)
        self._weights = w.copy()

    def gradient_rows(self, advantages: torch.Tensor) -> torch.Tensor:
        n_rows = advantages.shape[0] * advantages.shape[1]
        return (advantages.reshape(n_rows, -1) @ self.directions.to(advantages).T).T  # (2, N)

    def coefficients(self, grads: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
        """Min-norm coefficients (2,) of the gradients of the preference's loss and of the rest's loss."""
        n = grads.shape[0] if isinstance(grads, torch.Tensor) else len(grads)
        if n != 2:
            raise ValueError(f"`grads` must hold 2 gradients (the preference's and the rest's); got {n}")
        c = min_norm_coefficients(grads, iters=self.iters, tol=self.tol)
        self._weights = (c.detach().cpu().double() @ self.directions.double()).numpy().copy()
        return c


def make_scalarizer(name: str, n_objectives: int, preference: Sequence[float] | np.ndarray | None = None,
                    **kw: Any) -> Scalarizer:
    """Build the registered scalarizer ``name``, validated before any training starts.

    ``preference`` (on the simplex, one entry per objective) is the fixed weight vector of `linear` and
    `chebyshev` (uniform when None) and the starting weights of `dynaopt` (uniform when None, as in the paper).
    Scalarizers that choose their weights themselves (``takes_preference = False``: `pama`, `mgda`) reject a
    preference rather than ignore it. ``kw`` are the scalarizer's ``options`` (chebyshev ``ideal``; dynaopt
    ``gamma``, ``step``, ``seed``, ``reward_scale``; mgda ``iters``, ``tol``).

    >>> make_scalarizer("pama", 3).weights().tolist()
    [0.3333333333333333, 0.3333333333333333, 0.3333333333333333]
    """
    cls = SCALARIZERS.get(name, "name")
    n = _check_positive_int(n_objectives, "n_objectives")
    unknown = sorted(set(kw) - set(cls.options))
    if unknown:
        raise TypeError(f"unknown option(s) {unknown} for scalarizer {name!r}; it accepts {list(cls.options)}"
                        f"{did_you_mean(unknown[0], cls.options)}")
    w = None if preference is None else check_weights(preference, n)
    if not cls.takes_preference and w is not None:
        raise ValueError(f"`preference` is not used by {name!r}, which sets its own weights from each batch; "
                         f"got {w.tolist()}: pass preference=None (or use 'linear'/'chebyshev')")
    return cls.build(n, w, **kw)
