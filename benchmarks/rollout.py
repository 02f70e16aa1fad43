"""Rollout benchmark: tokens per second of the fast decoder against plain ``generate()``, and whether they agree.

    python benchmarks/rollout.py [--model synthetic] [--batches 8 64 256] [--new-tokens 64] [--repeats 3]

``--model synthetic`` (default) is a random-init LM of SmolLM2-135M's size (``synthetic_lm.py``; the real weights
do not reach the GPU machine, and a decode step costs the same whatever the weights hold); any other value is a
transformers folder or hub id. Prompts are 40 random words (~60 tokens with the template); every configuration
decodes exactly ``--new-tokens`` tokens per row (end of sequence disabled), sampling at temperature 1, bf16 on CUDA:

- ``generate``: ``CausalLMPolicy.generate`` through transformers' ``generate()`` (the baseline of the ratios);
- ``fast``: ``agents.fast_decode.FastDecoder`` (static cache; on CUDA the decode step is a replayed CUDA graph);
- ``generate_lora`` / ``fast_lora``: the same with a LoRA adapter active and unmerged (the RL agents' rollouts);
- ``experts_fast``: hidden-state mixture of three LoRA experts in one stacked forward per token, per token of the
  mixture (the meta-policy); its ratio is against ``generate_lora``.

Each figure is the median of ``--repeats`` runs after a warm-up (which captures the graphs). Before timing, the
script checks at the smallest batch that greedy tokens and seeded sampled tokens of ``fast`` equal ``generate``'s
(recorded as ``same_greedy`` / ``same_sampled``; on a GPU bf16 kernels may legitimately differ in the last bit).
Writes benchmarks/results/rollout.json per device kind. Issue target (GPU): ``fast`` >= 10x ``generate`` at batch 64.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_timing import device_name, save_record, timed  # noqa: E402
from moe_decode import make_experts  # noqa: E402
from synthetic_lm import resolve_model, synthetic_prompts  # noqa: E402

from agents.fast_decode import FastDecoder  # noqa: E402
from agents.policy import CausalLMPolicy  # noqa: E402


def agreement(policy: CausalLMPolicy, fast: FastDecoder, prompts: list[str]) -> dict[str, bool]:
    """Whether the fast decoder's greedy tokens, and its sampled tokens for the same seed, equal ``generate()``'s."""
    out = {}
    for name, do_sample in (("same_greedy", False), ("same_sampled", True)):
        torch.manual_seed(0)
        plain = policy.generate(prompts, do_sample=do_sample).reply_ids
        torch.manual_seed(0)
        out[name] = bool(torch.equal(plain, fast.generate(prompts, do_sample=do_sample).reply_ids))
    return out


def configurations(policy: CausalLMPolicy, fast: FastDecoder, experts: list[str]) -> dict[str, Callable]:
    """Name -> fn(prompts) that decodes them and returns the generated tokens per row."""
    mixture = [1.0 / len(experts)] * len(experts)

    def plain(prompts: list[str]) -> int:
        return policy.generate(prompts).reply_ids.shape[1]

    def quick(prompts: list[str]) -> int:
        return fast.generate(prompts).reply_ids.shape[1]

    def without_adapters(fn: Callable[[list[str]], int]) -> Callable[[list[str]], int]:
        def run(prompts: list[str]) -> int:
            with policy.model.disable_adapter():
                return fn(prompts)
        return run

    def with_adapter(fn: Callable[[list[str]], int]) -> Callable[[list[str]], int]:
        def run(prompts: list[str]) -> int:
            policy.set_adapter(experts[0])
            return fn(prompts)
        return run

    def mixed(prompts: list[str]) -> int:
        return fast.generate(prompts, experts=experts, mixture=mixture).reply_ids.shape[1]

    return {"generate": without_adapters(plain), "fast": without_adapters(quick), "generate_lora": with_adapter(plain),
            "fast_lora": with_adapter(quick), "experts_fast": mixed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="synthetic", help="'synthetic' (SmolLM2-135M-size, random) or a folder")
    parser.add_argument("--batches", type=int, nargs="+", default=[8, 64, 256])
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "rollout.json")
    args = parser.parse_args()

    policy = CausalLMPolicy(resolve_model(args.model), max_new_tokens=args.new_tokens, temperature=1.0,
                            fast_decode=False)
    experts = make_experts(policy, 3)
    prompts_all = synthetic_prompts(max(args.batches))
    with policy.model.disable_adapter():
        check = agreement(policy, FastDecoder(policy), prompts_all[: min(args.batches)])
    print(f"fast vs generate at batch {min(args.batches)}: {check}", flush=True)
    policy.eos_token_ids = []  # from here on every run decodes exactly --new-tokens tokens
    fast = FastDecoder(policy)
    runs = configurations(policy, fast, experts)
    rows = {}
    for b in args.batches:
        prompts, row = prompts_all[:b], {}
        for name, fn in runs.items():
            fn(prompts)  # warm-up: captures this shape's graph
            seconds, steps = timed(lambda fn=fn, prompts=prompts: fn(prompts), args.repeats, policy.device)
            row[name] = {"seconds": round(seconds, 4), "tokens_per_s": round(b * steps / seconds, 1)}
        for name, base in (("fast", "generate"), ("fast_lora", "generate_lora"), ("experts_fast", "generate_lora")):
            row[name]["x_baseline"] = round(row[name]["tokens_per_s"] / row[base]["tokens_per_s"], 2)
        rows[str(b)] = row
        print(f"batch {b}: " + ", ".join(f"{k} {v['tokens_per_s']:.0f} tok/s" for k, v in row.items()), flush=True)
    record = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "device": device_name(policy.device),
              "dtype": str(policy.dtype).replace("torch.", ""), "torch": torch.__version__,
              "torch_threads": torch.get_num_threads(), "model": args.model, "new_tokens": args.new_tokens,
              "repeats": args.repeats, "graphs": fast.graphs, "captures": fast.captures, **check, "batches": rows}
    save_record(args.out, policy.device.type, record)


if __name__ == "__main__":
    main()
