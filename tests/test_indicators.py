"""Tests for leaderboards.indicators and leaderboards.pareto (rewards maximised)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from leaderboards import indicators as ind
from leaderboards.indicators import (
    HIGHER_IS_BETTER,
    INDICATORS,
    cardinality,
    expected_utility,
    hypervolume,
    igd,
    maximum_utility_loss,
    sparsity,
)
from leaderboards.pareto import pareto_front, pareto_mask, validate_points

FRONT_2D = [[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]]
W3 = [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]


# ---------------------------------------------------------------- brute force
def brute_hv(points: np.ndarray, ref: np.ndarray) -> float:
    """Exact HV by grid decomposition over the distinct coordinates.

    Every cell of the grid spanned by ``ref`` and the point coordinates is
    either fully dominated or not; it is dominated iff some point is >= its
    upper corner in every objective.  Independent of any Pareto filtering.
    """
    pts = points[np.all(points > ref, axis=1)]
    if len(pts) == 0:
        return 0.0
    axes = [np.unique(np.concatenate(([ref[k]], pts[:, k]))) for k in range(len(ref))]
    uppers = np.stack(np.meshgrid(*[a[1:] for a in axes], indexing="ij"), -1)
    widths = np.stack(np.meshgrid(*[np.diff(a) for a in axes], indexing="ij"), -1)
    uppers = uppers.reshape(-1, len(ref))
    vols = widths.reshape(-1, len(ref)).prod(axis=1)
    covered = np.any(np.all(pts[None, :, :] >= uppers[:, None, :], axis=2), axis=1)
    return float(vols[covered].sum())


def brute_mask(pts: np.ndarray) -> np.ndarray:
    """O(n^2) pairwise dominance check with plain Python loops."""
    dom = lambda q, p: bool(np.all(q >= p) and np.any(q > p))  # noqa: E731
    return np.array([not any(dom(q, p) for q in pts) for p in pts])


# ---------------------------------------------------------------- pareto
def test_pareto_mask_and_front_with_duplicates():
    pts = [[1, 3], [2, 2], [2, 2], [1, 1], [3, 1], [0, 3], [3, 1]]
    assert pareto_mask(pts).tolist() == [True, True, True, False, True, False, True]
    assert pareto_front(pts).tolist() == [[1, 3], [2, 2], [3, 1]]
    assert pareto_front(pts).dtype == np.float64


def test_pareto_mask_matches_brute_force():
    rng = np.random.default_rng(0)
    for d in (1, 2, 3, 4):
        pts = rng.integers(0, 4, size=(25, d)).astype(float)  # many ties
        np.testing.assert_array_equal(pareto_mask(pts), brute_mask(pts))


def quadratic_mask(pts: np.ndarray) -> np.ndarray:
    """The former O(n^2) pareto_mask, vectorised over all pairs (the reference for bigger random sets)."""
    ge = np.all(pts[:, None, :] >= pts[None, :, :], axis=2)  # (n, n): q >= p everywhere
    gt = np.any(pts[:, None, :] > pts[None, :, :], axis=2)  # (n, n): q > p somewhere
    return ~np.any(ge & gt, axis=0)


@pytest.mark.parametrize("d", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pareto_mask_matches_quadratic_on_ties_and_duplicates(d, seed):
    rng = np.random.default_rng(seed)
    grid = rng.integers(0, 5, size=(300, d)).astype(float)  # ties in every objective
    simplex = rng.dirichlet(np.ones(d), size=150) if d > 1 else rng.random((150, 1))  # mutually non-dominated
    pts = np.concatenate([grid, simplex, simplex[:40], grid[:40]])  # exact duplicates of both kinds
    pts = pts[rng.permutation(len(pts))]
    np.testing.assert_array_equal(pareto_mask(pts), quadratic_mask(pts))
    np.testing.assert_array_equal(pareto_mask(-pts), quadratic_mask(-pts))  # negative values


@pytest.mark.parametrize("d", [2, 3])
def test_pareto_mask_is_fast_on_a_large_front(d):
    import time

    pts = np.random.default_rng(0).dirichlet(np.ones(d), size=100_000)  # every point non-dominated: O(n^2) worst case
    start = time.perf_counter()
    mask = pareto_mask(pts)
    assert mask.all() and time.perf_counter() - start < 5.0  # the pairwise version took minutes


def test_pareto_empty_and_single():
    assert pareto_mask(np.empty((0, 3))).shape == (0,)
    assert pareto_front(np.empty((0, 3))).shape == (0, 3)
    assert pareto_front([[1.0, 2.0]]).tolist() == [[1.0, 2.0]]


def test_validate_points_returns_float64_copy():
    src = np.array([[1, 2]], dtype=np.int32)
    out = validate_points(src)
    assert out.dtype == np.float64 and out.shape == (1, 2)
    out[0, 0] = 99
    assert src[0, 0] == 1


@pytest.mark.parametrize(
    "bad, exc, fragment",
    [
        ([1.0, 2.0], ValueError, "`points` must be a 2-D array of shape (n_points, n_objectives); got shape (2,)"),
        ([], ValueError, "got shape (0,)"),
        (np.zeros((2, 2, 2)), ValueError, "got shape (2, 2, 2)"),
        (np.empty((3, 0)), ValueError, "`points` must have at least 1 objective column; got shape (3, 0)"),
        ([[1.0, 2.0], [3.0, np.nan]], ValueError, "`points` must contain only finite values; got nan at row 1, column 1"),
        ([[np.inf, 2.0]], ValueError, "got inf at row 0"),
        ([[1.0], [2.0, 3.0]], ValueError, "ragged"),
        ([["a", "b"]], TypeError, "`points` must contain real numbers"),
    ],
)
def test_validate_points_errors(bad, exc, fragment):
    with pytest.raises(exc) as info:
        validate_points(bad)
    assert fragment in str(info.value)


def test_validate_points_uses_name():
    with pytest.raises(ValueError, match="^`front` must contain only finite"):
        hypervolume([[1.0, np.nan]], [0.0, 0.0])


# ---------------------------------------------------------------- hypervolume
def test_hv_2d_staircase():
    assert hypervolume(FRONT_2D, [0.0, 0.0]) == pytest.approx(6.0, abs=1e-12)


def test_hv_3d_overlapping_boxes():
    # boxes 8 (2,2,2) + 3 (3,1,1) + 3 (1,1,3); pairwise overlaps 2, 2, 1; triple 1
    pts = [[2.0, 2.0, 2.0], [3.0, 1.0, 1.0], [1.0, 1.0, 3.0]]
    assert hypervolume(pts[:2], [0, 0, 0]) == pytest.approx(9.0, abs=1e-12)
    assert hypervolume(pts, [0, 0, 0]) == pytest.approx(10.0, abs=1e-12)


def test_hv_dominated_and_duplicate_points_do_not_change_value():
    assert hypervolume(FRONT_2D + [[1.0, 1.0], [2.0, 2.0]], [0, 0]) == pytest.approx(6.0)


def test_hv_points_not_dominating_ref_contribute_nothing():
    # (-1, 5) and (4, 0) are not strictly above ref (0, 0) in every objective
    assert hypervolume(FRONT_2D + [[-1.0, 5.0], [4.0, 0.0]], [0, 0]) == pytest.approx(6.0)
    assert hypervolume([[-1.0, 5.0]], [0, 0]) == 0.0
    assert hypervolume([[1.0, 1.0]], [1.0, 0.0]) == 0.0


def test_hv_empty_front_is_zero():
    assert hypervolume(np.empty((0, 3)), [0, 0, 0]) == 0.0


def test_hv_shifted_reference():
    # only (2, 2) is strictly above (1, 1); (1, 3) and (3, 1) touch the box edge
    assert hypervolume(FRONT_2D, [1.0, 1.0]) == pytest.approx(1.0)
    assert hypervolume(FRONT_2D, [0.5, 0.5]) == pytest.approx(3.25)
    assert hypervolume([[-1.0, -2.0]], [-3.0, -3.0]) == pytest.approx(2.0)


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("seed", range(6))
def test_hv_random_matches_brute_force(d, seed):
    rng = np.random.default_rng(1000 * d + seed)
    n = int(rng.integers(5, 31))
    # mix of points near a concave front and dominated / out-of-box points
    dirs = np.abs(rng.normal(size=(n, d)))
    pts = dirs / np.linalg.norm(dirs, axis=1, keepdims=True) * rng.uniform(0.5, 1.0, (n, 1))
    pts = pts * 10 - 1.0
    ref = np.full(d, -0.5)
    expected = brute_hv(pts, ref)
    assert expected > 0
    assert hypervolume(pts, ref) == pytest.approx(expected, abs=1e-9)


def test_hv_pymoo_fallback(monkeypatch):
    rng = np.random.default_rng(7)
    pts = rng.uniform(0, 1, size=(12, 3))
    monkeypatch.setattr(ind, "_moocore", None)
    assert hypervolume(pts, [0, 0, 0]) == pytest.approx(brute_hv(pts, np.zeros(3)), abs=1e-9)
    assert hypervolume(pts, [2, 2, 2]) == 0.0


@pytest.mark.parametrize(
    "ref, exc, fragment",
    [
        ([0.0, 0.0], ValueError, "`ref_point` must have 3 entries, one per objective; got 2"),
        ([[0.0, 0.0, 0.0]], ValueError, "`ref_point` must be a 1-D vector with one entry per objective; got shape (1, 3)"),
        ([0.0, np.nan, 0.0], ValueError, "`ref_point` must contain only finite values; got nan at index 1"),
        (["a", "b", "c"], TypeError, "`ref_point` must contain real numbers"),
    ],
)
def test_hv_bad_ref_point(ref, exc, fragment):
    with pytest.raises(exc) as info:
        hypervolume([[1.0, 1.0, 1.0]], ref)
    assert fragment in str(info.value)


# ---------------------------------------------------------------- EUM / MUL
def test_eum_hand_computed():
    assert expected_utility(FRONT_2D, W3) == pytest.approx(8.0 / 3.0)
    assert expected_utility([[2.0, 2.0]], W3) == pytest.approx(2.0)
    # dominated points never change the max of a non-negative linear utility
    assert expected_utility(FRONT_2D + [[0.0, 0.0]], W3) == pytest.approx(8.0 / 3.0)


def test_eum_empty_front_raises():
    with pytest.raises(ValueError, match=r"`front` must contain at least one point; got 0 \(the utility"):
        expected_utility(np.empty((0, 2)), W3)


@pytest.mark.parametrize(
    "weights, fragment",
    [
        ([[0.5, 0.6]], "`weights` rows must sum to 1 within 1e-06 (probability simplex); got row 0 summing to 1.1"),
        ([[1.0, 0.0], [0.2, 0.2]], "got row 1 summing to 0.4"),
        ([[1.5, -0.5]], "`weights` must be non-negative (each row on the probability simplex); got -0.5 at row 0, column 1"),
        ([[0.2, 0.3, 0.5]], "`weights` must have 2 columns, one per objective; got 3"),
        ([0.5, 0.5], "`weights` must be a 2-D array"),
        (np.empty((0, 2)), "`weights` must contain at least one weight vector; got 0"),
        ([[np.nan, 1.0]], "`weights` must contain only finite values"),
    ],
)
def test_weights_validation(weights, fragment):
    for call in (
        lambda: expected_utility(FRONT_2D, weights),
        lambda: maximum_utility_loss(FRONT_2D, FRONT_2D, weights),
    ):
        with pytest.raises(ValueError) as info:
            call()
        assert fragment in str(info.value)


def test_weights_within_tolerance_accepted():
    assert expected_utility(FRONT_2D, [[0.5, 0.5 + 5e-7]]) == pytest.approx(2.0, abs=1e-5)


def test_mul_hand_computed():
    ref = [[1.0, 3.0], [3.0, 1.0]]
    assert maximum_utility_loss([[2.0, 2.0]], ref, W3) == pytest.approx(1.0)
    assert maximum_utility_loss(ref, ref, W3) == pytest.approx(0.0)
    # a front better than the reference for every weight gives a negative loss
    assert maximum_utility_loss([[4.0, 4.0]], ref, W3) == pytest.approx(-1.0)


def test_mul_shape_mismatch():
    with pytest.raises(ValueError, match="`reference_front` must have 2 columns, one per objective of `front`; got 3"):
        maximum_utility_loss(FRONT_2D, [[1.0, 1.0, 1.0]], W3)


# ---------------------------------------------------------------- cardinality / sparsity
def test_cardinality():
    assert cardinality(FRONT_2D + [[2.0, 2.0], [1.0, 1.0]]) == 3
    assert cardinality(np.empty((0, 2))) == 0
    assert isinstance(cardinality(FRONT_2D), int)


def test_sparsity_hand_computed():
    # per objective sorted gaps (1, 1) -> squares 2 + 2 = 4, / (3 - 1) = 2
    assert sparsity(FRONT_2D) == pytest.approx(2.0)
    assert sparsity(FRONT_2D + [[1.0, 1.0], [2.0, 2.0]]) == pytest.approx(2.0)
    # gaps: obj0 (0,4) -> 16 ; obj1 (0,1) -> 1 ; / 1
    assert sparsity([[0.0, 1.0], [4.0, 0.0]]) == pytest.approx(17.0)
    # 3-D: obj0 0,1,3 -> 1+4 ; obj1 0,2,2 -> 4+0 ; obj2 1,2,5 -> 1+9 ; total 19 / 2
    pts = [[0.0, 2.0, 5.0], [1.0, 2.0, 1.0], [3.0, 0.0, 2.0]]
    assert sparsity(pts) == pytest.approx(9.5)


def test_sparsity_fewer_than_two_points():
    assert sparsity([[1.0, 2.0]]) == 0.0
    assert sparsity([[1.0, 2.0], [1.0, 2.0], [0.0, 0.0]]) == 0.0
    assert sparsity(np.empty((0, 2))) == 0.0


# ---------------------------------------------------------------- IGD
def test_igd_hand_computed():
    assert igd([[0.0, 3.0], [3.0, 0.0]], [[0.0, 4.0], [4.0, 0.0]]) == pytest.approx(1.0)
    assert igd([[0.0, 0.0]], [[0.0, 0.0], [3.0, 4.0]]) == pytest.approx(2.5)
    assert igd(FRONT_2D, FRONT_2D) == 0.0


def test_igd_matches_loop_across_chunks(monkeypatch):
    rng = np.random.default_rng(3)
    front, ref = rng.normal(size=(7, 3)), rng.normal(size=(11, 3))
    monkeypatch.setattr(ind, "_IGD_CHUNK", 4)
    expected = np.mean([min(np.linalg.norm(r - p) for p in front) for r in ref])
    assert igd(front, ref) == pytest.approx(expected, abs=1e-12)


def test_igd_errors():
    with pytest.raises(ValueError, match="`front` must contain at least one point; got 0"):
        igd(np.empty((0, 2)), FRONT_2D)
    with pytest.raises(ValueError, match="`reference_front` must contain at least one point; got 0"):
        igd(FRONT_2D, np.empty((0, 2)))
    with pytest.raises(ValueError, match="`reference_front` must contain only finite values; got inf at row 0"):
        igd(FRONT_2D, [[np.inf, 0.0]])


# ---------------------------------------------------------------- registry
def test_indicator_registry():
    assert set(INDICATORS) == {"hypervolume", "eum", "cardinality", "sparsity", "igd", "mul"}
    assert set(HIGHER_IS_BETTER) == set(INDICATORS)
    assert INDICATORS[ind.EUM] is expected_utility
    assert INDICATORS["mul"] is maximum_utility_loss
    with pytest.raises(TypeError):
        INDICATORS["new"] = len  # read-only mapping


def test_inputs_not_mutated():
    front = np.array(FRONT_2D + [[1.0, 1.0]])
    before = front.copy()
    for name, fn in INDICATORS.items():
        args = {
            "hypervolume": (front, [0.0, 0.0]),
            "eum": (front, W3),
            "igd": (front, front),
            "mul": (front, front, W3),
        }.get(name, (front,))
        fn(*args)
    np.testing.assert_array_equal(front, before)


def test_brute_hv_inclusion_exclusion_agrees():
    """Sanity-check the grid brute force itself against inclusion-exclusion."""
    rng = np.random.default_rng(11)
    pts = rng.uniform(0, 1, size=(6, 3))
    total = 0.0
    for k in range(1, len(pts) + 1):
        for subset in itertools.combinations(pts, k):
            total += (-1) ** (k + 1) * np.prod(np.min(subset, axis=0))
    assert brute_hv(pts, np.zeros(3)) == pytest.approx(total, abs=1e-12)
