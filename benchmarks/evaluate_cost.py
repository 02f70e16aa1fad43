"""Evaluation cost: the protocol's seconds for the default policy and a canned agent, before and after, in one run.

    python benchmarks/evaluate_cost.py [--env morl/Counsel-v2] [--seeds 0 1 2] [--max-prompts N]

Evaluation is half of every training run's cost. This times ``leaderboards.evaluate`` (3 seeds, the whole test
split, the environment built once beforehand) on:

- the untrained default policy: ``before`` in float32 with the output head fed a strided slice (the path as it was),
  ``after`` on the fast path (``precision="auto"``: bf16 base weights and the static-cache decoder on a CPU with bf16
  units); both sample, so their rewards differ by sampling noise only;
- the ``echo`` canary: ``before`` asked and scored once per seed, ``after`` once in all (``seed_independent``).

Scoring is float32 in both (the protocol never autocasts). Results in benchmarks/results/evaluate_cost.json.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path

import torch
from bench_timing import device_name, save_record
from stand_in import on_stand_ins

import morl_envs
from agents.baselines import DefaultPolicyAgent
from agents.canaries import CANARIES, CannedAgent
from leaderboards.protocol import evaluate


class _AskEverySeed(CannedAgent):
    """The canary as the protocol treated it before ``seed_independent``: asked and scored once per seed."""

    seed_independent = False


def timed_evaluation(agent: object, env: object, env_id: str, seeds: list[int], max_prompts: int | None) -> dict:
    """Seconds of one evaluation and its mean HV (the result's claimed metric)."""
    start = time.perf_counter()
    result = evaluate(agent, env_id, seeds=seeds, max_prompts=max_prompts, env=env, progress=False)
    seconds = time.perf_counter() - start
    metrics = result["claimed_metrics"]
    print(f"{agent.name}: {seconds:.1f} s, HV {metrics['hv_mean']:.4f} +- {metrics['hv_eval_std']:.4f}", flush=True)
    return {"seconds": seconds, "hv_mean": metrics["hv_mean"], "hv_eval_std": metrics.get("hv_eval_std")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="morl/Counsel-v2")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-prompts", type=int, default=None, help="default: the whole test split")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "evaluate_cost.json")
    args = parser.parse_args()

    env = morl_envs.make(args.env)
    before = DefaultPolicyAgent(precision="fp32", fast_decode=False)
    before.policy.head_hook.remove()  # the float32 path exactly as it was
    after = DefaultPolicyAgent()
    runs = {"default_before": before, "default_after": after,
            "echo_before": _AskEverySeed("echo", CANARIES["echo"]), "echo_after": CannedAgent("echo", CANARIES["echo"])}
    record = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "device": device_name(torch.device("cpu")),
              "stand_in_assets": on_stand_ins(), "torch": torch.__version__,
              "torch_threads": torch.get_num_threads(), "env": args.env, "seeds": args.seeds,
              "prompts": env.unwrapped.split_size(env.unwrapped.eval_spec.test_split) if args.max_prompts is None
              else args.max_prompts, "after_dtype": str(after.policy.dtype).replace("torch.", "")}
    for key, agent in runs.items():
        record[key] = timed_evaluation(agent, env, args.env, args.seeds, args.max_prompts)
    record["default_speedup"] = record["default_before"]["seconds"] / record["default_after"]["seconds"]
    record["echo_speedup"] = record["echo_before"]["seconds"] / record["echo_after"]["seconds"]
    print(f"default policy: {record['default_speedup']:.2f}x; echo: {record['echo_speedup']:.2f}x", flush=True)
    env.close()
    save_record(args.out, "cpu", record)


if __name__ == "__main__":
    main()
