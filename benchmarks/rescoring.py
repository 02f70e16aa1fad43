"""Re-scoring benchmark: what ``submit`` pays to score a whole entry's replies again, against evaluating it.

    python benchmarks/rescoring.py [--env morl/Counsel-v2] [--seeds 0 1 2]

Since result schema 2, ``submit`` scores every distinct (prompt, reply) pair of a result with the installed
environment's reward models (:func:`leaderboards.answers.rescore`) instead of trusting the submitted reward vectors.
In one run this measures:

1. ``evaluate``: the untrained default policy evaluated on the whole test split (generation and scoring), seeds
   ``--seeds``: the baseline;
2. ``submit`` of that result (decode, validate, re-score, metrics, store), and the re-scoring step alone: a
   preference-independent agent gives one reply per seed and prompt, so this is 3 x 55 pairs on Counsel;
3. the worst case of the same size: a preference-dependent agent whose every reply differs (3 seeds x 15
   preferences x 55 prompts = 2,475 pairs), made from the default policy's replies with a distinct ending each (the
   cost depends on the number and length of the pairs, not on who wrote them).

Ratios are against (1). Writes benchmarks/results/rescoring.json.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from bench_timing import device_name, save_record
from stand_in import on_stand_ins

import morl_envs
from agents import DefaultPolicyAgent
from leaderboards.answers import AnswerTable, pack_answers, rescore, unpack_answers
from leaderboards.protocol import evaluate
from leaderboards.submission import submit, write_result
from morl_core.device import default_device

ENDINGS = ("That matters.", "I hear you.", "Go on.", "Tell me more.", "Say more.")


def worst_case(result: dict, env: object) -> tuple[list[str], np.ndarray]:
    """Table and index of a preference-dependent result of the same shape as ``result`` whose replies all differ."""
    table, index = unpack_answers(result["answers"])
    n_seeds, n_prompts = len(result["seeds"]), result["evaluation"]["n_prompts"]
    m = len(result["preferences"])
    distinct = AnswerTable()
    rows = np.zeros((n_seeds, m, n_prompts), dtype=np.int64)
    for s in range(n_seeds):
        for i in range(m):
            ending = f"{ENDINGS[i % len(ENDINGS)]} ({i})"
            rows[s, i] = distinct.add([f"{table[k]} {ending}" for k in index[s][i]])
    return distinct.answers, rows


def distinct_pairs(index: np.ndarray) -> int:
    """The number of distinct (prompt, reply) pairs an index array (S, m, n) asks the reward models to score."""
    n = index.shape[2]
    return int(len(np.unique(index.reshape(-1) * n + np.tile(np.arange(n), index.size // n))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="morl/Counsel-v2")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "rescoring.json")
    args = parser.parse_args()

    env = morl_envs.make(args.env).unwrapped
    agent = DefaultPolicyAgent()
    start = time.perf_counter()
    result = evaluate(agent, args.env, seeds=args.seeds, env=env)
    evaluate_s = time.perf_counter() - start
    table, index = unpack_answers(result["answers"])
    with tempfile.TemporaryDirectory() as folder:
        path = write_result(result, Path(folder) / "result.json")
        start = time.perf_counter()
        submit(path, Path(folder) / "board")
        submit_s = time.perf_counter() - start
    split = env.eval_spec.test_split
    start = time.perf_counter()
    rescore(env, table, np.asarray(index), split)
    rescore_s = time.perf_counter() - start
    big_table, big_index = worst_case(result, env)
    start = time.perf_counter()
    rescore(env, big_table, big_index, split)
    worst_s = time.perf_counter() - start
    packed = len(pack_answers(big_table, big_index)["data"])
    rows = {"evaluate_s": round(evaluate_s, 2), "submit_s": round(submit_s, 2),
            "rescore_s": round(rescore_s, 2), "rescore_pairs": distinct_pairs(np.asarray(index)),
            "worst_case_pairs": distinct_pairs(big_index), "worst_case_rescore_s": round(worst_s, 2),
            "worst_case_packed_bytes": packed,
            "ratio_submit_over_evaluate": round(submit_s / evaluate_s, 3),
            "ratio_worst_rescore_over_evaluate": round(worst_s / evaluate_s, 3)}
    print(rows, flush=True)
    device = default_device()
    save_record(args.out, device.type, {"env": args.env, "seeds": args.seeds, "device": device_name(device),
                                        "stand_in_assets": on_stand_ins(), "threads": torch.get_num_threads(),
                                        "date": datetime.now(UTC).isoformat(timespec="seconds"), "rows": rows})


if __name__ == "__main__":
    main()
