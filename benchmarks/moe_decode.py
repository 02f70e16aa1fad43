"""Meta-policy decoding benchmark: time per generated token with 3 experts, batched against one after another,
against the single policy.

    python benchmarks/moe_decode.py [--batches 1 8 32] [--new-tokens 32] [--experts 3] [--repeats 2]

The policy is SmolLM2-135M-Instruct (offline default) with ``--experts`` LoRA adapters (r 8, every linear layer but
the head) whose B matrices are random, so every expert really computes. Every configuration decodes exactly
``--new-tokens`` tokens per sequence (end-of-sequence disabled), sampling at temperature 1, on the first test prompts
of morl/Counsel-v2; the time per decode step (prefill included, divided by the steps) is the median of
``--repeats`` runs after a warm-up:

- ``single``: one adapter, ``generate()`` (the single-policy agent's decoding, LoRA branch unmerged);
- ``single_merged``: the same adapter merged into the base weights (what the trained single policy costs);
- ``experts_batched``: hidden-state aggregation of the experts, all of them in one mixed-adapter forward per token
  (``agents.aggregation.mixture_generate``);
- ``experts_sequential``: the same decoding with the experts run one after another, each with its own KV cache.

Ratios are against ``single`` in the same run. Results go to benchmarks/results/moe_decode.json per device kind.
Issue target (GPU only): batched experts at most 1.3x the single policy per token at batch <= 8.
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
from synthetic_lm import resolve_model, synthetic_prompts  # noqa: E402

from agents.aggregation import mixture_generate  # noqa: E402
from agents.policy import CausalLMPolicy  # noqa: E402


def make_experts(policy: CausalLMPolicy, n: int) -> list[str]:
    """``n`` LoRA adapters with random B (std 0.02) on the policy, named e0, e1, ..."""
    names = []
    for i in range(n):
        torch.manual_seed(i)
        name = f"e{i}"
        policy.add_lora(name=name)
        with torch.no_grad():
            for key, p in policy.model.named_parameters():
                if f"lora_B.{name}." in key:
                    p.normal_(0.0, 0.02)
        names.append(name)
    policy.model.eval()
    return names


def single(policy: CausalLMPolicy, prompts: list[str], tokens: int) -> int:
    """``generate()`` with the active adapter, exactly ``tokens`` new tokens; returns the decode steps."""
    batch = policy.encode(prompts)
    out = policy.model.generate(**batch, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=True,
                                temperature=1.0, top_k=0, top_p=1.0, pad_token_id=policy.tokenizer.pad_token_id)
    return out.shape[1] - batch["input_ids"].shape[1]


def configurations(policy: CausalLMPolicy, experts: list[str], tokens: int) -> dict[str, Callable[[list[str]], int]]:
    mixture = [1.0 / len(experts)] * len(experts)

    def merged(prompts: list[str]) -> int:
        with policy.merged():
            return single(policy, prompts, tokens)

    def experts_run(prompts: list[str], batched: bool) -> int:
        return mixture_generate(policy, experts, mixture, prompts, "hidden", temperature=1.0,
                                batched=batched).reply_ids.shape[1]

    def one(prompts: list[str]) -> int:
        policy.set_adapter(experts[0])
        return single(policy, prompts, tokens)

    def first_merged(prompts: list[str]) -> int:
        policy.set_adapter(experts[0])
        return merged(prompts)

    return {"single": one, "single_merged": first_merged,
            "experts_batched": lambda p: experts_run(p, True), "experts_sequential": lambda p: experts_run(p, False)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="policy LM (default: SmolLM2-135M-Instruct; 'synthetic': "
                                                          "a random-init LM of its size, for the GPU machine)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--experts", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "moe_decode.json")
    args = parser.parse_args()

    policy = CausalLMPolicy(resolve_model(args.model), max_new_tokens=args.new_tokens, temperature=1.0,
                            fast_decode=False)  # peft's mixed-adapter batches; the fast path: rollout.py
    policy.eos_token_ids = []  # mixture_generate: never stop early, every run decodes --new-tokens steps
    experts = make_experts(policy, args.experts)
    if args.model == "synthetic":  # the GPU machine has the repository, not its environments' dependencies
        prompts_all = synthetic_prompts(max(args.batches))
    else:
        from morl_envs.datasets import load_counsel

        prompts_all = [p.text for p in load_counsel().split("test")]
    runs = configurations(policy, experts, args.new_tokens)
    rows = {}
    for b in args.batches:
        prompts = (prompts_all * (b // len(prompts_all) + 1))[:b]
        row = {}
        for name, fn in runs.items():
            fn(prompts[:1])  # warm-up
            seconds, steps = timed(lambda fn=fn, prompts=prompts: fn(prompts), args.repeats, policy.device)
            row[name] = {"ms_per_step": 1e3 * seconds / steps, "tokens_per_s": b * steps / seconds}
        base = row["single"]["ms_per_step"]
        for entry in row.values():
            entry["x_single"] = entry["ms_per_step"] / base
        rows[str(b)] = row
        print(f"batch {b}: " + ", ".join(f"{k} {v['ms_per_step']:.1f} ms/step ({v['x_single']:.2f}x)"
                                         for k, v in row.items()), flush=True)
    record = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "device": device_name(policy.device),
              "dtype": str(policy.dtype).replace("torch.", ""), "torch": torch.__version__,
              "torch_threads": torch.get_num_threads(), "model": str(policy.path), "experts": args.experts,
              "new_tokens": args.new_tokens, "repeats": args.repeats, "batches": rows}
    save_record(args.out, policy.device.type, record)


if __name__ == "__main__":
    main()
