"""Indicator benchmark: the board's hypervolume and Pareto filter against pymoo's, on the same random fronts.

    python benchmarks/hypervolume.py [--sizes 100 1000 10000] [--objectives 2 3] [--repeats 5]

For each number of objectives n and size N: N points on the positive part of the unit sphere (all non-dominated,
the worst case for both filtering and hypervolume), reference point the origin (as on the board). Timed:
``leaderboards.indicators.hypervolume`` (filters, validates, then moocore) against ``pymoo.indicators.hv.HV`` on the
negated points (pymoo minimises; >= 0.6.2 also calls moocore), and ``leaderboards.pareto.pareto_mask`` against
pymoo's ``NonDominatedSorting`` first front. The two hypervolumes must agree to 1e-9 (checked). Results go to
benchmarks/results/hypervolume.json.
"""

from __future__ import annotations

import argparse
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_timing import save_record, timed  # noqa: E402

from leaderboards.indicators import hypervolume  # noqa: E402
from leaderboards.pareto import pareto_mask  # noqa: E402


def sphere_front(n_points: int, n_objectives: int, seed: int = 0) -> np.ndarray:
    """``n_points`` mutually non-dominated points on the positive unit sphere, shape (N, n)."""
    x = np.abs(np.random.default_rng(seed).standard_normal((n_points, n_objectives)))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def main() -> None:
    from pymoo.indicators.hv import HV
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--objectives", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "hypervolume.json")
    args = parser.parse_args()
    rows = []
    for n in args.objectives:
        for size in args.sizes:
            points = sphere_front(size, n)
            ours_s, ours = timed(lambda p=points, m=n: hypervolume(p, np.zeros(m)), args.repeats)
            pymoo_s, theirs = timed(lambda p=points, m=n: HV(ref_point=np.zeros(m))(-p), args.repeats)
            if abs(float(ours) - float(theirs)) > 1e-9:
                raise RuntimeError(f"hypervolumes disagree on n={n}, N={size}: {ours} vs {theirs}")
            mask_s, _ = timed(lambda p=points: pareto_mask(p), args.repeats)
            nds_s, _ = timed(lambda p=points: NonDominatedSorting().do(-p, only_non_dominated_front=True),
                                      args.repeats)
            rows.append({"objectives": n, "points": size, "hypervolume_ms": 1e3 * ours_s,
                         "pymoo_hv_ms": 1e3 * pymoo_s, "hv_over_pymoo": ours_s / pymoo_s,
                         "pareto_mask_ms": 1e3 * mask_s, "pymoo_nds_ms": 1e3 * nds_s,
                         "pareto_mask_over_pymoo": mask_s / nds_s})
            r = rows[-1]
            print(f"n={n} N={size}: HV {r['hypervolume_ms']:.2f} ms ({r['hv_over_pymoo']:.2f}x pymoo), Pareto mask "
                  f"{r['pareto_mask_ms']:.2f} ms ({r['pareto_mask_over_pymoo']:.2f}x pymoo)", flush=True)
    record = {"date": datetime.now(UTC).isoformat(timespec="seconds"),
              "device": f"cpu:{platform.machine()}", "repeats": args.repeats, "rows": rows}
    save_record(args.out, "cpu", record)


if __name__ == "__main__":
    main()
