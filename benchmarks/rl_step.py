"""RL-step benchmark: one k-SCST step, float32 against the fast path in the same run; PAMA's weighting against MGDA's.

    python benchmarks/rl_step.py [--env morl/Counsel-v2] [--prompts 16] [--k 3] [--max-new-tokens 48] [--repeats 1]
                                 [--lora-layers 8] [--lora-dropout 0] [--profile] [--equivalence-prompts 32]

At the default sizes (SmolLM2-135M-Instruct with LoRA r 8, 16 prompts x k = 3 replies, 48 new tokens; EMORL's step)
it builds two policies and times each on its own rollout of the same prompts:

- ``fp32``: the float32 path as it was before the fast path existed: ``generate()``, LoRA on every layer with
  EMORL's dropout 0.05, float32 reward models, and the output head fed a strided slice (the policy's contiguous-input
  hook removed; that fix alone speeds the float32 update up too);
- ``fast``: ``precision="auto"`` (bf16 on a GPU or on a CPU with bf16 units), the static-cache decoder with
  inverse-CDF sampling on a CPU, the reward models under bf16 autocast, and the CPU tier's adapters (LoRA on the top
  ``--lora-layers`` layers, the frozen trunk shared by the policy and reference passes, no LoRA dropout).

For each: generation (one batched rollout of the N = 48 replies), scoring (``env.score``) and the update with the
linear scalarizer (log-probabilities under policy and reference, loss, backward, clipping, AdamW); on the fast path
also PAMA and MGDA (one backward pass per objective), and the weighting alone: PAMA's ``combine`` against MGDA's
``coefficients`` on n LoRA-sized gradients. ``--profile`` writes each phase's ``torch.profiler`` table (top rows by
self CPU time) to ``results/rl_step_profile_<device kind>_<path>.txt``.

Equivalence (``--equivalence-prompts``, 0 to skip): the untrained policy's mean validation rewards on that many
validation prompts, one sampled reply each, for ``--equivalence-seeds`` seeds per path; the difference of the two
paths' means per objective against the seeds' spread (the evaluation noise).

Results per device kind in benchmarks/results/rl_step.json (a CPU run and a GPU run can share the file).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from bench_timing import device_name, save_record, timed
from stand_in import on_stand_ins

import morl_envs
from agents.config import PolicyConfig, TrainConfig
from agents.policy import CausalLMPolicy, Generation
from agents.rl import leave_one_out, make_policy, update, validate
from agents.scalarizers import make_scalarizer
from morl_core.precision import autocast

RESULTS = Path(__file__).parent / "results"


def path_configs(args: argparse.Namespace) -> dict[str, PolicyConfig]:
    """The two policies compared: float32 as before, and the fast path with the CPU tier's adapters."""
    base = PolicyConfig(model=args.model, max_new_tokens=args.max_new_tokens)
    return {"fp32": dataclasses.replace(base, precision="fp32", fast_decode="off"),
            "fast": dataclasses.replace(base, precision="auto", lora_layers=args.lora_layers,
                                        lora_dropout=args.lora_dropout)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="morl/Counsel-v2")
    parser.add_argument("--model", default=None, help="policy LM (default: SmolLM2-135M-Instruct)")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--weighting-repeats", type=int, default=20)
    parser.add_argument("--lora-layers", type=int, default=8, help="the fast path's adapted top layers (0: all)")
    parser.add_argument("--lora-dropout", type=float, default=0.0, help="the fast path's LoRA dropout")
    parser.add_argument("--profile", action="store_true", help="write torch.profiler tables of every phase")
    parser.add_argument("--scan-lora-layers", type=int, nargs="*", default=[],
                        help="also time the fast path's update with LoRA on the top L layers for each L given (0: all)")
    parser.add_argument("--equivalence-prompts", type=int, default=32)
    parser.add_argument("--equivalence-seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "rl_step.json")
    args = parser.parse_args()

    env = morl_envs.make(args.env)
    base = env.unwrapped
    prompts = [p.text for p in base.prompt_set.split("train")][: args.prompts]
    val_prompts = [p.text for p in base.prompt_set.split("validation")][: args.equivalence_prompts]
    paths, kind = {}, "cpu"
    for name, policy_config in path_configs(args).items():
        config = TrainConfig(env_id=args.env, prompts_per_step=args.prompts, k=args.k, out_dir="unused",
                             policy=policy_config)
        policy = make_policy(config)
        if name == "fp32" and policy.head_hook is not None:
            policy.head_hook.remove()  # the float32 path exactly as it was, before the output head's contiguous input
        kind = policy.device.type
        paths[name] = time_path(name, policy, base.score, prompts, config, args)
        if val_prompts:
            paths[name]["validation_rewards"] = [
                validate(policy, base.score, val_prompts, config.policy.temperature, seed)[0].tolist()
                for seed in range(args.equivalence_seeds)]  # (seeds, n)
        if name == "fast":
            record = base_record(args, policy, base.objectives, paths)
            rollout = paths[name].pop("_rollout")
        else:
            paths[name].pop("_rollout")
        del policy
        gc.collect()
    if args.scan_lora_layers:
        record["lora_layers_scan"] = scan_lora_layers(args, rollout)
    record["speedup"] = {phase: paths["fp32"]["seconds"][phase] / paths["fast"]["seconds"][phase]
                         for phase in ("generation", "scoring", "update_linear", "step_linear")}
    if val_prompts:
        record["equivalence"] = equivalence(paths, base.objectives)
    print("speed-up, fast over fp32: " + ", ".join(f"{k} {v:.2f}x" for k, v in record["speedup"].items()), flush=True)
    save_record(args.out, kind, record)


def base_record(args: argparse.Namespace, policy: CausalLMPolicy, objectives: tuple[str, ...],
                paths: dict[str, dict]) -> dict[str, Any]:
    """The stored record: the fast path's figures at the top level (as earlier records had them), both paths."""
    fast = paths["fast"]
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "device": device_name(policy.device),
            "stand_in_assets": on_stand_ins(), "dtype": str(policy.dtype).replace("torch.", ""),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "env": args.env,
            "objectives": list(objectives), "model": str(policy.path), "prompts": args.prompts, "k": args.k,
            "replies": args.prompts * args.k, "max_new_tokens": args.max_new_tokens,
            "lora_layers": args.lora_layers, "lora_dropout": args.lora_dropout,
            "tokens_generated": fast["tokens_generated"], "lora_parameters": fast["lora_parameters"],
            "seconds": fast["seconds"], "generation_tokens_per_second": fast["generation_tokens_per_second"],
            "weighting": fast["weighting"], "paths": paths}


def time_path(name: str, policy: CausalLMPolicy, score: Callable, prompts: list[str], config: TrainConfig,
              args: argparse.Namespace) -> dict[str, Any]:
    """Generation, scoring and update seconds of one path (the fast one also times PAMA, MGDA and the weighting)."""
    device, k = policy.device, args.k
    repeated = [p for p in prompts for _ in range(k)]  # (N,)
    policy.generate(repeated[:2])  # warm-up: kernels, caches
    with autocast(policy.dtype, device):
        score(repeated[:2], ["warm-up"] * 2)
    torch.manual_seed(0)
    gen_s, gen = timed(lambda: policy.generate(repeated, temperature=config.policy.temperature), args.repeats, device)

    def scored() -> np.ndarray:
        with autocast(policy.dtype, device):
            return score(repeated, gen.texts)

    score_s, rewards = timed(scored, args.repeats, device)
    rewards = torch.from_numpy(rewards).to(device).reshape(len(prompts), k, -1)  # (B, k, n)
    print(f"[{name}] generation {gen_s:.2f} s ({gen.n_tokens / gen_s:.0f} tokens/s), scoring {score_s:.2f} s",
          flush=True)
    scalarizers = ("linear", "pama", "mgda") if name == "fast" else ("linear",)
    updates = time_updates(name, policy, gen, rewards, config, args.repeats, scalarizers)
    out = {"dtype": str(policy.dtype).replace("torch.", ""), "policy": dataclasses.asdict(config.policy),
           "tokens_generated": gen.n_tokens, "generation_tokens_per_second": gen.n_tokens / gen_s,
           "lora_parameters": sum(p.numel() for p in policy.trainable_parameters()),
           "seconds": {"generation": gen_s, "scoring": score_s,
                       **{f"update_{s}": t for s, t in updates.items()},
                       "step_linear": gen_s + score_s + updates["linear"]}}
    if name == "fast":
        out["weighting"] = {**time_weighting(policy, rewards, args.weighting_repeats),
                            "update_mgda_over_pama": updates["mgda"] / updates["pama"]}
    if args.profile:
        profile_phases(name, policy, repeated, scored, gen, rewards, config)
    out["_rollout"] = (gen, rewards)  # for the LoRA-layers scan; not stored
    return out


def scan_lora_layers(args: argparse.Namespace, rollout: tuple[Generation, torch.Tensor]) -> list[dict[str, Any]]:
    """The fast path's linear update on the same rollout with LoRA on the top L layers, for each L of the scan:
    seconds and trainable parameters (what choosing the CPU tier's L weighs)."""
    gen, rewards = rollout
    rows = []
    for layers in args.scan_lora_layers:
        policy_config = dataclasses.replace(path_configs(args)["fast"], lora_layers=layers)
        config = TrainConfig(env_id=args.env, prompts_per_step=args.prompts, k=args.k, out_dir="unused",
                             policy=policy_config)
        policy = make_policy(config)
        seconds = time_updates(f"fast, L={layers}", policy, gen, rewards, config, args.repeats, ("linear",))["linear"]
        rows.append({"lora_layers": layers, "update_linear": seconds,
                     "lora_parameters": sum(p.numel() for p in policy.trainable_parameters())})
        del policy
        gc.collect()
    return rows


def time_updates(name: str, policy: CausalLMPolicy, gen: Generation, rewards: torch.Tensor, config: TrainConfig,
                 repeats: int, scalarizers: tuple[str, ...]) -> dict[str, float]:
    """Seconds of one update on the rollout with each scalarizer (after a warm-up)."""
    n_obj, k = rewards.shape[-1], rewards.shape[1]
    warm = torch.optim.AdamW(policy.trainable_parameters(), lr=0.0)  # warm-up of the backward pass (lr 0)
    update(policy, warm, make_scalarizer("linear", n_obj), _first(gen, k), rewards[:1], config)
    updates = {}
    for scalarizer_name in scalarizers:
        optimizer = torch.optim.AdamW(policy.trainable_parameters(), lr=config.learning_rate)
        scalarizer = make_scalarizer(scalarizer_name, n_obj)
        updates[scalarizer_name], _ = timed(
            lambda: update(policy, optimizer, scalarizer, gen, rewards, config),  # noqa: B023
            repeats, policy.device)
        print(f"[{name}] update ({scalarizer_name}) {updates[scalarizer_name]:.2f} s", flush=True)
    return updates


def time_weighting(policy: CausalLMPolicy, rewards: torch.Tensor, repeats: int) -> dict[str, float]:
    """Milliseconds of PAMA's combine on the (B, k, n) advantages and of MGDA's coefficients on n LoRA-sized
    gradients, and their ratio."""
    n_obj = rewards.shape[-1]
    advantages = leave_one_out(rewards)  # (B, k, n)
    pama = make_scalarizer("pama", n_obj)
    pama_s, _ = timed(lambda: pama.combine(rewards, advantages), repeats, policy.device)
    n_params = sum(p.numel() for p in policy.trainable_parameters())
    grads = list(torch.randn(n_obj, n_params, device=policy.device))  # n gradients of the LoRA size
    mgda = make_scalarizer("mgda", n_obj)
    mgda_s, _ = timed(lambda: mgda.coefficients(grads), repeats, policy.device)
    print(f"weighting: PAMA {pama_s * 1e3:.3f} ms, MGDA {mgda_s * 1e3:.3f} ms (x{mgda_s / pama_s:.0f})", flush=True)
    return {"pama_combine_ms": pama_s * 1e3, "mgda_coefficients_ms": mgda_s * 1e3, "mgda_over_pama": mgda_s / pama_s}


def profile_phases(name: str, policy: CausalLMPolicy, repeated: list[str], scored: Callable, gen: Generation,
                   rewards: torch.Tensor, config: TrainConfig, rows: int = 12) -> None:
    """One more run of each phase under ``torch.profiler``; the top ``rows`` operators by self CPU time."""
    from torch.profiler import ProfilerActivity, profile

    optimizer = torch.optim.AdamW(policy.trainable_parameters(), lr=config.learning_rate)
    phases = {"generation": lambda: policy.generate(repeated, temperature=config.policy.temperature),
              "scoring": scored,
              "update (linear)": lambda: update(policy, optimizer, make_scalarizer("linear", rewards.shape[-1]), gen,
                                                rewards, config)}
    tables = []
    for phase, fn in phases.items():
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            fn()
        table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows, max_name_column_width=44)
        tables.append(f"== {name}: {phase}\n{table}")
    out = RESULTS / f"rl_step_profile_{policy.device.type}_{name}.txt"
    out.write_text("\n".join(tables))
    print(f"wrote {out}", flush=True)


def equivalence(paths: dict[str, dict], objectives: tuple[str, ...]) -> dict[str, Any]:
    """Per objective: each path's mean validation reward over seeds, the difference, and the evaluation noise
    (the root of the summed squared standard errors); ``within_noise``: |difference| <= 2 x noise everywhere."""
    fp32, fast = (np.asarray(paths[p]["validation_rewards"]) for p in ("fp32", "fast"))  # (seeds, n) each
    se = np.sqrt(fp32.var(axis=0, ddof=1) / len(fp32) + fast.var(axis=0, ddof=1) / len(fast))  # (n,)
    diff = fast.mean(axis=0) - fp32.mean(axis=0)
    rows = {o: {"fp32": float(fp32[:, i].mean()), "fast": float(fast[:, i].mean()), "difference": float(diff[i]),
                "noise": float(se[i])} for i, o in enumerate(objectives)}
    within = bool(np.all(np.abs(diff) <= 2 * se))
    print("step-0 validation rewards, fast - fp32: " + ", ".join(
        f"{o} {r['difference']:+.4f} (noise {r['noise']:.4f})" for o, r in rows.items())
        + f"; within 2 x noise: {within}", flush=True)
    return {"per_objective": rows, "within_noise": within, "seeds": len(fp32)}


def _first(gen: Generation, k: int) -> Generation:
    """The k replies to the first prompt."""
    return Generation(gen.prompt_ids[:k], gen.prompt_mask[:k], gen.reply_ids[:k], gen.reply_mask[:k], gen.texts[:k])


if __name__ == "__main__":
    main()
