"""The board's metrics, one registry: each metric's name, column, direction, cell format and computation.

``submit`` computes every registered metric from a result (:func:`compute_all`) and stores them; the boards show
them in registration order (:func:`metric_columns`) and render each cell with the metric's own format. Adding a
metric is one :func:`register_metric` call: storage, ranking tables, markdown and HTML pick it up.

Metrics are computed per seed on the (m, d) per-preference mean vectors R_s and averaged over seeds (the challenges
of Kong et al., 2025, arXiv 2509.21613): hypervolume against the reference point (Zitzler & Thiele, 1999), its 95%
bootstrap interval over the test prompts (percentiles of 1,000 seeded resamples; where per-prompt vectors were
scored, as ``submit`` scores them), its std over training seeds (stability; a result may bundle several trained
models, each evaluated on the same evaluation seeds) and, apart, over evaluation seeds (sampling noise), EUM over
the preference set (Zintgraf et al., 2015), cardinality, balance (the worst objective's mean over the Pareto front),
controllability (Spearman correlation between w_i and r_i over the preference set, averaged over objectives); where
the environment's fronts are known, IGD to the Pareto front and MUL to the convex coverage set; and the costs the
result reports (training costs marked self-reported).

>>> [m.name for m in metric_columns(known_fronts=False)][:3]
['hv_mean', 'hv_ci_low', 'hv_ci_high']
>>> METRICS.get("inference_cost").format(1.5)
'1.50x'
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import rankdata

from leaderboards.indicators import cardinality, expected_utility, hypervolume, igd, maximum_utility_loss
from leaderboards.pareto import pareto_front
from morl_core.registry import Registry
from morl_core.simplex import simplex_lattice
from morl_envs.choice_env import CCS_GRID_STEPS  # the grid the known coverage sets are computed on

__all__ = ["DIRECTIONS", "METRICS", "KnownFronts", "Metric", "MetricInput", "compute_all", "metric_columns",
           "register_metric"]

#: what "better" means for a metric: "higher", "lower", or "" (a count or a report, not a quality)
DIRECTIONS = ("higher", "lower", "")
BOOTSTRAP_RESAMPLES = 1000  # resamples of the test prompts behind the HV interval
BOOTSTRAP_SEED = 0


@dataclass(frozen=True, eq=False)
class KnownFronts:
    """The known answers of an environment's test split: its Pareto front (m, d) and convex coverage set (c, d)."""

    pareto_front: np.ndarray
    convex_coverage_set: np.ndarray


@dataclass(frozen=True, eq=False)
class MetricInput:
    """What every metric is computed from: a validated result's arrays and, where known, the true fronts."""

    rewards: np.ndarray  # (T * S, m, d) per-seed, per-preference mean reward vectors, training-seed major
    weights: np.ndarray  # (m, d) the preference set
    reference_point: np.ndarray  # (d,)
    costs: dict
    known: KnownFronts | None = None
    prompt_rewards: np.ndarray | None = None  # (T * S, m, n, d) the vectors per test prompt, where scored
    training_runs: int = 1  # T: trained models bundled, each evaluated on the same S evaluation seeds

    @functools.cached_property
    def fronts(self) -> list[np.ndarray]:
        """The Pareto front of each seed's vectors."""
        return [pareto_front(block) for block in self.rewards]

    def per_seed(self, value: Callable[[int], float]) -> float:
        """The mean over seeds of ``value(s)``."""
        return float(np.mean([value(s) for s in range(len(self.rewards))]))

    @functools.cached_property
    def hv_bootstrap(self) -> np.ndarray | None:
        """The HV mean of :data:`BOOTSTRAP_RESAMPLES` resamples of the test prompts (drawn with replacement, the same
        draw for every seed and preference; seeded, so reproducible), or None without per-prompt vectors."""
        if self.prompt_rewards is None:
            return None
        n = self.prompt_rewards.shape[2]
        draws = np.random.default_rng(BOOTSTRAP_SEED).integers(0, n, size=(BOOTSTRAP_RESAMPLES, n))
        counts = np.stack([np.bincount(row, minlength=n) for row in draws]) / n  # (B, n)
        means = np.einsum("bn,smnd->bsmd", counts, self.prompt_rewards)  # (B, S, m, d)
        return np.array([np.mean([hypervolume(pareto_front(block), self.reference_point) for block in sample])
                         for sample in means])


def _fixed(digits: int, suffix: str = "") -> Callable[[float], str]:
    return lambda value: f"{value:.{digits}f}{suffix}"


@dataclass(frozen=True)
class Metric:
    """One board metric: ``name`` (its key in stored entries), ``header`` (its column), ``direction``
    (:data:`DIRECTIONS`), ``compute`` (from a :class:`MetricInput`; None when it does not apply), ``format`` (a
    cell's text; None is shown as "n/a"), ``known_fronts`` (True: computed and shown only where the environment's
    fronts are known)."""

    name: str
    header: str
    direction: str
    compute: Callable[[MetricInput], float | int | None]
    format: Callable[[float], str] = field(default=_fixed(4))
    known_fronts: bool = False


#: name -> :class:`Metric`, in board column order
METRICS: Registry[Metric] = Registry("metric")


def register_metric(metric: Metric) -> Metric:
    """Add ``metric`` to :data:`METRICS` (its direction checked)."""
    if metric.direction not in DIRECTIONS:
        raise ValueError(f"`direction` must be one of {DIRECTIONS}; got {metric.direction!r}")
    return METRICS.register(metric.name, metric)


def metric_columns(known_fronts: bool) -> list[Metric]:
    """The metrics a board shows: all of them where the fronts are known, else those that need no known front."""
    return [m for _, m in METRICS.items() if known_fronts or not m.known_fronts]


def compute_all(data: MetricInput) -> dict[str, float | int | None]:
    """Every registered metric of ``data``, in registration order (known-front metrics are None without fronts)."""
    return {name: (None if metric.known_fronts and data.known is None else metric.compute(data))
            for name, metric in METRICS.items()}


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties); 0.0 when either input is constant (undefined)."""
    rx, ry = rankdata(x) - (len(x) + 1) / 2, rankdata(y) - (len(y) + 1) / 2
    denom = math.sqrt(float(rx @ rx) * float(ry @ ry))
    return float(rx @ ry) / denom if denom > 1e-12 else 0.0


def _hypervolumes(data: MetricInput) -> list[float]:
    return [hypervolume(front, data.reference_point) for front in data.fronts]


def _hv_interval(data: MetricInput, percentile: float) -> float | None:
    """A percentile of the bootstrap HV means (the 95% interval's ends: 2.5 and 97.5), None without prompts."""
    sample = data.hv_bootstrap
    return None if sample is None else float(np.percentile(sample, percentile))


def _per_run(data: MetricInput) -> np.ndarray:
    """The hypervolumes as (T, S): one row per trained model, one column per evaluation seed."""
    return np.asarray(_hypervolumes(data)).reshape(data.training_runs, -1)


def _controllability(data: MetricInput, s: int) -> float:
    block = data.rewards[s]
    return float(np.mean([_spearman(data.weights[:, i], block[:, i]) for i in range(block.shape[1])]))


def _mul(data: MetricInput, s: int) -> float:
    grid = simplex_lattice(data.rewards.shape[2], CCS_GRID_STEPS)  # (g, d): the grid the coverage set is on
    return maximum_utility_loss(data.rewards[s], data.known.convex_coverage_set, grid)


def _cardinality_text(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


register_metric(Metric("hv_mean", "HV mean", "higher", lambda d: float(np.mean(_hypervolumes(d)))))
register_metric(Metric("hv_ci_low", "HV 95% CI low", "", lambda d: _hv_interval(d, 2.5)))
register_metric(Metric("hv_ci_high", "HV 95% CI high", "", lambda d: _hv_interval(d, 97.5)))
register_metric(Metric("hv_std", "HV std over training seeds (stability)", "lower",
                       lambda d: float(np.std(_per_run(d).mean(axis=1))) if d.training_runs > 1 else None))
register_metric(Metric("hv_eval_std", "HV std over eval seeds", "lower",
                       lambda d: float(np.mean(np.std(_per_run(d), axis=1)))))
register_metric(Metric("eum", "EUM", "higher",
                       lambda d: d.per_seed(lambda s: expected_utility(d.rewards[s], d.weights))))
register_metric(Metric("cardinality", "cardinality", "", lambda d: d.per_seed(lambda s: cardinality(d.fronts[s])),
                       _cardinality_text))
register_metric(Metric("balance", "balance", "higher",
                       lambda d: d.per_seed(lambda s: float(d.fronts[s].mean(axis=0).min()))))
register_metric(Metric("controllability", "controllability", "higher",
                       lambda d: d.per_seed(lambda s: _controllability(d, s))))
register_metric(Metric("igd", "IGD (known front)", "lower",
                       lambda d: d.per_seed(lambda s: igd(d.rewards[s], d.known.pareto_front)), known_fronts=True))
register_metric(Metric("mul", "MUL (known CCS)", "lower", lambda d: d.per_seed(lambda s: _mul(d, s)),
                       known_fronts=True))
# training costs are the submitter's word: no board can check them, and their headers say so
register_metric(Metric("env_samples", "env samples (self-reported)", "lower", lambda d: d.costs["env_samples"],
                       "{:,}".format))
register_metric(Metric("train_seconds", "train s (self-reported)", "lower", lambda d: d.costs["train_seconds"],
                       _fixed(1)))
register_metric(Metric("inference_cost", "inference cost (x untrained)", "lower",
                       lambda d: d.costs["eval_seconds_per_reply"] / d.costs["baseline_seconds_per_reply"],
                       _fixed(2, "x")))
