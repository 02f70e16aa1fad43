"""Multi-objective performance indicators for Pareto fronts of reward vectors.

REWARDS ARE MAXIMISED everywhere.  Names and definitions follow morl-baselines
``morl_baselines/common/performance_indicators.py``; every function is pure
and validates its inputs (see :func:`leaderboards.pareto.validate_points`).
Indicator names live once, in the constants below and in :data:`INDICATORS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from leaderboards.pareto import pareto_front, validate_points
from morl_core.simplex import check_weight_rows

try:  # moocore is a dependency of pymoo >= 0.6.2; pymoo's HV is the fallback.
    import moocore as _moocore
except ImportError:  # pragma: no cover - depends on the environment
    _moocore = None

__all__ = [
    "HYPERVOLUME", "EUM", "CARDINALITY", "SPARSITY", "IGD", "MUL",
    "INDICATORS", "HIGHER_IS_BETTER", "hypervolume", "expected_utility",
    "cardinality", "sparsity", "igd", "maximum_utility_loss",
]

HYPERVOLUME = "hypervolume"
EUM = "eum"
CARDINALITY = "cardinality"
SPARSITY = "sparsity"
IGD = "igd"
MUL = "mul"

_IGD_CHUNK = 1024  # reference rows per distance block in igd()


def _same_d(points: np.ndarray, d: int, name: str, other: str) -> None:
    if points.shape[1] != d:
        raise ValueError(
            f"`{name}` must have {d} columns, one per objective of `{other}`; "
            f"got {points.shape[1]}"
        )


def _non_empty(points: np.ndarray, name: str, why: str) -> None:
    if points.shape[0] == 0:
        raise ValueError(f"`{name}` must contain at least one point; got 0 ({why})")


def _validate_weights(weights: npt.ArrayLike, d: int) -> npt.NDArray[np.float64]:
    """Weights of shape (m, d), m >= 1, each row on the probability simplex."""
    return check_weight_rows(weights, d, "weights")


def hypervolume(front: npt.ArrayLike, ref_point: npt.ArrayLike) -> float:
    """Hypervolume dominated by ``front`` and bounded below by ``ref_point``.

    Paper: E. Zitzler and L. Thiele, "Multiobjective Evolutionary Algorithms:
    A Comparative Case Study and the Strength Pareto Approach", IEEE
    Transactions on Evolutionary Computation 3(4), 1999 (the S-metric).

    Only points that strictly dominate the reference point (``p > ref`` in
    every objective) contribute; the others are dropped before calling
    moocore (or pymoo's ``HV`` on the negated points when moocore is
    unavailable).  Dominated points and duplicates add no volume and both
    backends accept them, so they are not filtered first (filtering cost
    more than the hypervolume itself: ``benchmarks/hypervolume.py``).  An
    empty front gives 0.0.

    >>> hypervolume([[1, 3], [2, 2], [3, 1]], ref_point=[0, 0])
    6.0
    """
    pts = validate_points(front, name="front")
    d = pts.shape[1]
    ref = np.asarray(ref_point)
    if ref.dtype.kind not in "biuf":
        raise TypeError(f"`ref_point` must contain real numbers; got dtype {ref.dtype}")
    if ref.ndim != 1:
        raise ValueError(
            f"`ref_point` must be a 1-D vector with one entry per objective; "
            f"got shape {ref.shape}"
        )
    if ref.shape[0] != d:
        raise ValueError(
            f"`ref_point` must have {d} entries, one per objective; got {ref.shape[0]}"
        )
    ref = ref.astype(np.float64)
    if not np.isfinite(ref).all():
        idx = int(np.flatnonzero(~np.isfinite(ref))[0])
        raise ValueError(
            f"`ref_point` must contain only finite values; got {ref[idx]} at index {idx}"
        )
    pts = pts[np.all(pts > ref, axis=1)]
    if pts.shape[0] == 0:
        return 0.0
    if _moocore is not None:
        return float(_moocore.hypervolume(pts, ref=ref, maximise=True))
    from pymoo.indicators.hv import HV  # pragma: no cover - fallback path

    return float(HV(ref_point=-ref)(-pts))


def expected_utility(front: npt.ArrayLike, weights: npt.ArrayLike) -> float:
    """Expected Utility Metric (EUM) under linear utilities ``w . r``.

    Paper: L. M. Zintgraf, T. V. Kanters, D. M. Roijers, F. A. Oliehoek and
    P. Beau, "Quality Assessment of MORL Algorithms: A Utility-Based
    Approach", Benelearn 2015.

    Returns ``mean_k max_i weights[k] . front[i]``.  ``weights`` has shape
    ``(m, d)``; every row must be non-negative and sum to 1 within 1e-6.
    An empty front raises ``ValueError``: its utility is undefined.

    >>> expected_utility([[1, 3], [2, 2], [3, 1]], [[1, 0], [0.5, 0.5], [0, 1]])
    2.6666666666666665
    """
    pts = validate_points(front, name="front")
    w = _validate_weights(weights, pts.shape[1])
    _non_empty(pts, "front", "the utility of an empty front is undefined")
    return float(np.mean(np.max(w @ pts.T, axis=1)))


def cardinality(front: npt.ArrayLike) -> int:
    """Number of distinct non-dominated points in ``front``.

    Cardinality as reported by morl-baselines (there: ``len(front)`` of an
    already filtered front); here filtering and de-duplication are applied.

    >>> cardinality([[1, 3], [2, 2], [2, 2], [1, 1]])
    2
    """
    return int(pareto_front(front).shape[0])


def sparsity(front: npt.ArrayLike) -> float:
    """Sparsity of the non-dominated front (lower means denser).

    Paper: J. Xu, Y. Tian, P. Ma, D. Rus, S. Sueda and W. Matusik,
    "Prediction-Guided Multi-Objective Reinforcement Learning for Continuous
    Robot Control" (PGMORL), ICML 2020.

    On the distinct non-dominated points ``P`` (``n = |P|``), each objective
    is sorted independently and the squared gaps between neighbours are
    summed over all objectives, then divided by ``n - 1``.  Returns 0.0
    when ``n < 2``.

    >>> sparsity([[1, 3], [2, 2], [3, 1], [1, 1]])
    2.0
    """
    pts = pareto_front(front)
    n = pts.shape[0]
    if n < 2:
        return 0.0
    gaps = np.diff(np.sort(pts, axis=0), axis=0)
    return float(np.sum(gaps**2) / (n - 1))


def igd(front: npt.ArrayLike, reference_front: npt.ArrayLike) -> float:
    """Inverted Generational Distance of ``front`` to ``reference_front``.

    Paper: C. A. Coello Coello and N. Cruz Cortes, "Solving Multiobjective
    Optimization Problems Using an Artificial Immune System", Genetic
    Programming and Evolvable Machines 6(2), 2005.

    Mean over reference points of the Euclidean distance to the closest
    point of ``front`` (as pymoo's ``IGD``; lower is better).  No dominance
    filtering is applied.  Both sets must be non-empty.

    >>> igd([[0, 0]], reference_front=[[0, 0], [3, 4]])
    2.5
    """
    pts = validate_points(front, name="front")
    ref = validate_points(reference_front, name="reference_front")
    _same_d(ref, pts.shape[1], "reference_front", "front")
    _non_empty(pts, "front", "distance to an empty front is undefined")
    _non_empty(ref, "reference_front", "IGD averages over reference points")
    nearest = np.empty(ref.shape[0])
    for start in range(0, ref.shape[0], _IGD_CHUNK):
        block = ref[start : start + _IGD_CHUNK]
        dist = np.linalg.norm(block[:, None, :] - pts[None, :, :], axis=-1)
        nearest[start : start + block.shape[0]] = dist.min(axis=1)
    return float(nearest.mean())


def maximum_utility_loss(
    front: npt.ArrayLike, reference_front: npt.ArrayLike, weights: npt.ArrayLike
) -> float:
    """Maximum Utility Loss (MUL) of ``front`` relative to ``reference_front``.

    Paper: L. M. Zintgraf, T. V. Kanters, D. M. Roijers, F. A. Oliehoek and
    P. Beau, "Quality Assessment of MORL Algorithms: A Utility-Based
    Approach", Benelearn 2015 (maximum utility loss).

    Returns ``max_k (max_j w_k . ref_j - max_i w_k . front_i)`` with the same
    weight rules as :func:`expected_utility`.  Negative when ``front`` beats
    the reference for every weight.  Both sets must be non-empty.

    >>> maximum_utility_loss([[2, 2]], [[1, 3], [3, 1]], [[1, 0], [0.5, 0.5], [0, 1]])
    1.0
    """
    pts = validate_points(front, name="front")
    ref = validate_points(reference_front, name="reference_front")
    _same_d(ref, pts.shape[1], "reference_front", "front")
    w = _validate_weights(weights, pts.shape[1])
    _non_empty(pts, "front", "the utility of an empty front is undefined")
    _non_empty(ref, "reference_front", "the reference utility is undefined")
    loss = np.max(w @ ref.T, axis=1) - np.max(w @ pts.T, axis=1)
    return float(np.max(loss))


#: Indicator name -> function.  Signatures differ: hypervolume needs
#: ``ref_point``, EUM ``weights``, IGD ``reference_front`` and MUL both.
INDICATORS: Mapping[str, Callable[..., float]] = MappingProxyType(
    {
        HYPERVOLUME: hypervolume,
        EUM: expected_utility,
        CARDINALITY: cardinality,
        SPARSITY: sparsity,
        IGD: igd,
        MUL: maximum_utility_loss,
    }
)

#: Ranking direction of each indicator (True: larger values rank higher).
HIGHER_IS_BETTER: Mapping[str, bool] = MappingProxyType(
    {
        HYPERVOLUME: True,
        EUM: True,
        CARDINALITY: True,
        SPARSITY: False,
        IGD: False,
        MUL: False,
    }
)
