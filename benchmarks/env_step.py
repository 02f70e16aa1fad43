"""Env-step benchmark: replies scored per second, and the vector env's overhead over its raw reward models.

    python benchmarks/env_step.py [--env morl/Counsel-v2] [--batches 1 16 64] [--repeats 3]

For each batch size B: (1) the raw batched forward passes, i.e. every reward model's own scoring call on B
(prompt, reply) pairs, summed; (2) one step of the native vector env (``gym.make_vec(...,
"vector_entry_point")``) on the same pairs. The ratio (2)/(1) is the env's overhead (target: at most 1.3x).
Embedding caches are cleared before every timed call, so neither side reuses the other's work; within one env step
the shared encoder still embeds each text once for both learned heads (the raw sum embeds it once per model).
Replies come from the default policy, generated once before timing. Writes benchmarks/results/env_step.json.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import gymnasium as gym
import torch
from bench_timing import device_name, save_record, timed
from stand_in import on_stand_ins

import morl_envs  # noqa: F401  (registers the envs)
from agents import CausalLMPolicy
from morl_core.device import default_device, shared_encoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="morl/Counsel-v2")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "env_step.json")
    args = parser.parse_args()

    largest = max(args.batches)
    envs = gym.make_vec(args.env, num_envs=largest, vectorization_mode="vector_entry_point")
    pool = [p.text for p in envs.unwrapped.prompt_set.split("train")]
    prompts = [pool[i % len(pool)] for i in range(largest)]
    replies = CausalLMPolicy().respond(prompts, seed=0)
    rows = []
    for batch in args.batches:
        envs = gym.make_vec(args.env, num_envs=batch, vectorization_mode="vector_entry_point")
        models = envs.unwrapped.reward_models
        p, r = prompts[:batch], replies[:batch]
        for model in models:  # warm-up
            model(p, r)
        clear = shared_encoder().clear_cache  # neither side may reuse the other's embeddings
        raw = {m.name: timed(lambda m=m, p=p, r=r: m._score(p, r), args.repeats, before=clear)[0] for m in models}
        step = timed(lambda envs=envs, p=p, r=r: (envs.reset(options={"prompts": p}), envs.step(r)), args.repeats,
                     before=clear)[0]
        rows.append({"batch": batch, "env_step_s": round(step, 4), "raw_forward_s": round(sum(raw.values()), 4),
                     "raw_per_model_s": {k: round(v, 4) for k, v in raw.items()},
                     "replies_per_s": round(batch / step, 1), "ratio_env_over_raw": round(step / sum(raw.values()), 3)})
        print(f"batch {batch:3d}: env step {step:.3f} s ({batch / step:.1f} replies/s), raw forwards "
              f"{sum(raw.values()):.3f} s {rows[-1]['raw_per_model_s']}, ratio {rows[-1]['ratio_env_over_raw']:.2f}x",
              flush=True)
    device = default_device()
    result = {"env": args.env, "device": device_name(device), "stand_in_assets": on_stand_ins(),
              "threads": torch.get_num_threads(),
              "date": datetime.now(UTC).isoformat(timespec="seconds"), "rows": rows}
    save_record(args.out, device.type, result)


if __name__ == "__main__":
    main()
