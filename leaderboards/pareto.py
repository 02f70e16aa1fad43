"""Pareto-dominance utilities for reward vectors that are MAXIMISED.

Definitions follow morl-baselines ``morl_baselines/common/pareto.py``
(``get_non_pareto_dominated_inds`` / ``filter_pareto_dominated``): a point
``p`` is dominated when another point ``q`` satisfies ``q >= p`` in every
objective and ``q > p`` in at least one.  Exact duplicates do not dominate
each other; :func:`pareto_front` keeps one copy of each.
"""

from __future__ import annotations

import moocore
import numpy as np
import numpy.typing as npt

__all__ = ["validate_points", "pareto_mask", "pareto_front"]


def validate_points(points: npt.ArrayLike, *, name: str = "points") -> npt.NDArray[np.float64]:
    """Check that ``points`` is a finite ``(n, d)`` matrix and return it as float64.

    An empty set with a known number of objectives (shape ``(0, d)``) is
    accepted.  ``name`` is the parameter name used in error messages.

    Raises:
        TypeError: if the entries are not real numbers.
        ValueError: if the array is not 2-D, has no objective column, or
            contains NaN/inf (the first offending row is reported).

    >>> validate_points([[1, 2], [3, 4]]).dtype
    dtype('float64')
    >>> validate_points([1.0, 2.0], name="front")
    Traceback (most recent call last):
    ...
    ValueError: `front` must be a 2-D array of shape (n_points, n_objectives); got shape (2,)...
    """
    try:
        arr = np.asarray(points)
    except ValueError as exc:  # ragged nested sequences
        raise ValueError(
            f"`{name}` must be a 2-D array of shape (n_points, n_objectives); "
            f"got a ragged sequence ({exc})"
        ) from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"`{name}` must contain real numbers; got dtype {arr.dtype}. "
            "Hint: convert rewards to floats before scoring"
        )
    if arr.ndim != 2:
        raise ValueError(
            f"`{name}` must be a 2-D array of shape (n_points, n_objectives); "
            f"got shape {arr.shape}. Hint: wrap a single point as [[...]]; "
            "use np.empty((0, d)) for an empty set"
        )
    if arr.shape[1] < 1:
        raise ValueError(
            f"`{name}` must have at least 1 objective column; got shape {arr.shape}"
        )
    arr = arr.astype(np.float64, copy=True)
    finite = np.isfinite(arr)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        raise ValueError(
            f"`{name}` must contain only finite values; got {arr[row, col]} "
            f"at row {row}, column {col}"
        )
    return arr


def pareto_mask(points: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Boolean mask of the non-dominated rows of ``points`` (maximisation).

    Duplicated non-dominated rows are all marked ``True``; use
    :func:`pareto_front` to obtain each distinct point once.  Uses moocore's
    ``is_nondominated`` (Kung, Luccio and Preparata's dimension sweep:
    O(n log n) for d <= 3, O(n log^(d-2) n) beyond), so ~10^5 points take
    milliseconds where a pairwise check takes minutes.

    >>> pareto_mask([[1, 3], [2, 2], [2, 2], [1, 1], [3, 1]]).tolist()
    [True, True, True, False, True]
    """
    pts = validate_points(points)
    if pts.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    return np.asarray(moocore.is_nondominated(pts, maximise=True, keep_weakly=True), dtype=bool)


def pareto_front(points: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Distinct non-dominated points, in order of first appearance.

    Always returns a float64 ``(k, d)`` array (``k`` may be 0).

    >>> pareto_front([[1, 3], [2, 2], [2, 2], [1, 1], [3, 1]]).tolist()
    [[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]]
    """
    pts = validate_points(points)
    nd = pts[pareto_mask(pts)]
    if nd.shape[0] < 2:
        return nd
    _, first = np.unique(nd, axis=0, return_index=True)
    return nd[np.sort(first)]
