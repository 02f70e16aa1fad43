"""RL-step benchmark: one k-SCST step split into generation, scoring and update; PAMA's weighting against MGDA's.

    python benchmarks/rl_step.py [--env morl/Counsel-v1] [--prompts 16] [--k 3] [--max-new-tokens 48] [--repeats 1]

At the default sizes (SmolLM2-135M-Instruct with LoRA r 8 on every linear layer, 16 prompts x k = 3 replies, 48 new
tokens; REFERENCE.md section 3) it times, on the same rollout:

- generation: one batched ``generate`` of the N = 48 replies (tokens per second reported too);
- scoring: the environment's reward models, one batched call each (``env.score``);
- update: log-probabilities under policy and reference, the loss, backward, clipping and the AdamW step, with the
  linear scalarizer (one backward pass), PAMA (one backward pass) and MGDA (one backward pass per objective);
- weighting alone: PAMA's ``combine`` on the (B, k, n) advantages, against MGDA's ``coefficients`` on n gradients
  of the LoRA parameters' size (O(n) per reply against O(n^2 d)); the gradients are random vectors of the real
  size, since the min-norm solver's cost depends on their size, not their values.

Runs on the GPU in bf16 when there is one, else on the CPU in float32; the results are stored per device kind in
benchmarks/results/rl_step.json (a CPU run and a GPU run can share the file).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import torch
from bench_timing import device_name, save_record, timed
from stand_in import on_stand_ins

import morl_envs
from agents.config import PolicyConfig, TrainConfig
from agents.policy import CausalLMPolicy, Generation
from agents.rl import leave_one_out, make_policy, update
from agents.scalarizers import make_scalarizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="morl/Counsel-v1")
    parser.add_argument("--model", default=None, help="policy LM (default: SmolLM2-135M-Instruct)")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--weighting-repeats", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "rl_step.json")
    args = parser.parse_args()

    config = TrainConfig(env_id=args.env, prompts_per_step=args.prompts, k=args.k, out_dir="unused",
                         policy=PolicyConfig(model=args.model, max_new_tokens=args.max_new_tokens))
    env = morl_envs.make(config.env_id, **config.env_kwargs)
    score, objectives = env.unwrapped.score, env.unwrapped.objectives
    prompts = [p.text for p in env.unwrapped.prompt_set.split("train")][: args.prompts]
    repeated = [p for p in prompts for _ in range(args.k)]  # (N,)
    policy = make_policy(config)
    device = policy.device
    print(f"device {device}, {len(repeated)} replies x {args.max_new_tokens} tokens, objectives {objectives}",
          flush=True)
    policy.generate(repeated[:2])  # warm-up: kernels, caches
    score(repeated[:2], ["warm-up"] * 2)

    gen_s, gen = timed(lambda: policy.generate(repeated, temperature=config.policy.temperature), args.repeats, device)
    score_s, rewards = timed(lambda: score(repeated, gen.texts), args.repeats, device)
    rewards = torch.from_numpy(rewards).to(device).reshape(args.prompts, args.k, -1)  # (B, k, n)
    print(f"generation {gen_s:.2f} s ({gen.n_tokens / gen_s:.0f} tokens/s), scoring {score_s:.2f} s", flush=True)

    updates = time_updates(policy, gen, rewards, config, args.repeats)
    weighting = time_weighting(policy, rewards, args.weighting_repeats)
    n_params = sum(p.numel() for p in policy.trainable_parameters())

    record = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "device": device_name(device),
        "stand_in_assets": on_stand_ins(), "dtype": str(policy.dtype).replace("torch.", ""), "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(), "env": args.env, "objectives": list(objectives),
        "model": str(policy.path), "prompts": args.prompts, "k": args.k, "replies": len(repeated),
        "max_new_tokens": args.max_new_tokens, "tokens_generated": gen.n_tokens, "lora_parameters": n_params,
        "seconds": {"generation": gen_s, "scoring": score_s, "update_linear": updates["linear"],
                    "update_pama": updates["pama"], "update_mgda": updates["mgda"],
                    "step_linear": gen_s + score_s + updates["linear"]},
        "generation_tokens_per_second": gen.n_tokens / gen_s,
        "weighting": {**weighting, "update_mgda_over_pama": updates["mgda"] / updates["pama"]},
    }
    save_record(args.out, device.type, record)


def time_updates(policy: CausalLMPolicy, gen: Generation, rewards: torch.Tensor, config: TrainConfig,
                 repeats: int) -> dict[str, float]:
    """Seconds of one update on the rollout with the linear, PAMA and MGDA scalarizers (after a warm-up)."""
    n_obj, k = rewards.shape[-1], rewards.shape[1]
    warm = torch.optim.AdamW(policy.trainable_parameters(), lr=0.0)  # warm-up of the backward pass (lr 0)
    update(policy, warm, make_scalarizer("linear", n_obj), _first(gen, k), rewards[:1], config)
    updates = {}
    for name in ("linear", "pama", "mgda"):
        optimizer = torch.optim.AdamW(policy.trainable_parameters(), lr=config.learning_rate)
        scalarizer = make_scalarizer(name, n_obj)
        updates[name], _ = timed(lambda: update(policy, optimizer, scalarizer, gen, rewards, config),  # noqa: B023
                                 repeats, policy.device)
        print(f"update ({name}) {updates[name]:.2f} s", flush=True)
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


def _first(gen: Generation, k: int) -> Generation:
    """The k replies to the first prompt."""
    return Generation(gen.prompt_ids[:k], gen.prompt_mask[:k], gen.reply_ids[:k], gen.reply_mask[:k], gen.texts[:k])


if __name__ == "__main__":
    main()
