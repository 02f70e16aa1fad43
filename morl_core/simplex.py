"""Weights on the probability simplex: the lattices every part of the benchmark draws them from, and their checks.

A preference, a mixture of experts, a linear utility's weights: each is a vector of non-negative numbers summing to
1. :func:`simplex_lattice` lists every such vector whose entries are multiples of ``1 / steps`` (in lexicographic
order), :func:`preference_set` is the leaderboard's fixed choice of lattice, and :func:`check_weights` /
:func:`check_weight_rows` are the one place that decides whether a vector or a set of vectors is on the simplex.

>>> simplex_lattice(2, 2).tolist()
[[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]]
>>> preference_set(3).shape
(15, 3)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from morl_core.errors import MorlError, message

__all__ = ["SIMPLEX_ATOL", "check_weight_rows", "check_weights", "preference_set", "simplex_lattice"]

SIMPLEX_ATOL = 1e-6  # tolerance on a sum of weights


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise MorlError.of(name, "must be an integer >= 1", value)
    return int(value)


def simplex_lattice(n: int, steps: int) -> np.ndarray:
    """Every weight vector ``c / steps`` with non-negative integers ``c`` summing to ``steps``, in lexicographic
    order: float64 of shape (C(steps + n - 1, n - 1), n).

    >>> simplex_lattice(3, 1).tolist()
    [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    """
    n, steps = _positive_int(n, "n"), _positive_int(steps, "steps")
    rows = [[steps]]
    for _ in range(n - 1):
        rows = [row[:-1] + [c, row[-1] - c] for row in rows for c in range(row[-1] + 1)]
    grid = np.array(rows, dtype=np.float64) / steps
    return grid[np.lexsort(grid.T[::-1])]


def preference_set(n_objectives: int) -> np.ndarray:
    """The leaderboard's preference set: 11 evenly spaced weights for 2 objectives; for more, the simplex lattice
    with step 1/4 (15 weights for 3 objectives). Rows sum to 1, shape (m, n_objectives).

    >>> preference_set(2)[:3].tolist()
    [[0.0, 1.0], [0.1, 0.9], [0.2, 0.8]]
    """
    if isinstance(n_objectives, bool) or not isinstance(n_objectives, int) or n_objectives < 1:
        raise MorlError.of("n_objectives", "must be a positive int", n_objectives)
    if n_objectives == 1:
        return np.ones((1, 1))
    return simplex_lattice(n_objectives, 10 if n_objectives == 2 else 4)


def check_weights(weights: npt.ArrayLike, n: int | None, name: str = "preference",
                  unit: str = "objective") -> np.ndarray:
    """``weights`` as a float64 (n,) array on the simplex, or an error naming the rule and the value: a TypeError
    when it is not numbers, a :class:`MorlError` (a ValueError) when it has the wrong length, a non-finite or
    negative entry, or does not sum to 1. ``n=None`` accepts any non-empty vector (its length defines n);
    ``unit`` names what each entry weighs ("objective", "expert").

    >>> check_weights([0.5, 0.5, 0.5], 3)
    Traceback (most recent call last):
    ...
    morl_core.errors.MorlError: `preference` must sum to 1; got [0.5, 0.5, 0.5] (sum 1.5): divide it by its sum
    """
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(message(name, f"must be a sequence of numbers, one per {unit}", weights)) from error
    if n is None and w.ndim == 1 and w.shape[0] >= 1:
        n = w.shape[0]
    if w.ndim != 1 or w.shape[0] != n:
        got = w.shape[0] if w.ndim == 1 else f"shape {w.shape}"
        raise MorlError(f"`{name}` must have {n} entries, one per {unit}; got {got}")
    if not np.isfinite(w).all():
        raise MorlError.of(name, "must be finite", w.tolist())
    if (w < 0).any():
        raise MorlError.of(name, "must be non-negative", w.tolist())
    if abs(w.sum() - 1.0) > SIMPLEX_ATOL:
        raise MorlError(f"`{name}` must sum to 1; got {w.tolist()} (sum {w.sum():.6g}): divide it by its sum")
    return w


def check_weight_rows(rows: npt.ArrayLike, d: int | None, name: str = "preferences", max_rows: int | None = None,
                      vector_is_row: bool = False) -> np.ndarray:
    """``rows`` as a float64 (m, d) array of simplex rows (1 <= m, and m <= ``max_rows`` when given), or an error
    naming the rule and, for a bad entry, its row and column; ``d=None`` accepts any number of columns >= 1 and
    ``vector_is_row`` a 1-D vector as one row.

    >>> check_weight_rows([[0.5, 0.6]], 2, "weights")
    Traceback (most recent call last):
    ...
    morl_core.errors.MorlError: `weights` rows must sum to 1 within 1e-06 (probability simplex); got row 0 summing...
    """
    try:
        w = np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(message(name, "must be rows of real numbers, one column per objective", rows)) from error
    if vector_is_row and w.ndim == 1:
        w = w[None, :]
    if w.ndim != 2 or w.shape[1] < 1:
        raise MorlError(f"`{name}` must be a 2-D array of shape (m, {d or 'n_objectives'}), one row per weight "
                        f"vector; got shape {w.shape}")
    if w.shape[0] == 0:
        raise MorlError(f"`{name}` must contain at least one weight vector; got 0")
    if max_rows is not None and w.shape[0] > max_rows:
        raise MorlError(f"`{name}` must have at most {max_rows} rows; got {w.shape[0]}")
    if d is not None and w.shape[1] != d:
        raise MorlError(f"`{name}` must have {d} columns, one per objective; got {w.shape[1]}")
    if not np.isfinite(w).all():
        row, col = np.argwhere(~np.isfinite(w))[0]
        raise MorlError(f"`{name}` must contain only finite values; got {w[row, col]} at row {row}, column {col}")
    if (w < 0).any():
        row, col = np.argwhere(w < 0)[0]
        raise MorlError(f"`{name}` must be non-negative (each row on the probability simplex); got {w[row, col]} "
                        f"at row {row}, column {col}")
    sums = w.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > SIMPLEX_ATOL)
    if bad.size:
        raise MorlError(f"`{name}` rows must sum to 1 within {SIMPLEX_ATOL:g} (probability simplex); got row "
                        f"{bad[0]} summing to {float(sums[bad[0]])!r}. Hint: divide each row by its sum")
    return w
