"""Reward cost: scoring one batch with the shipped reward models against the compute of the v0 models, in the same run.

    python benchmarks/reward_cost.py [--batches 16 64] [--repeats 3]

For each batch size B, B (Counsel test prompt, default-policy reply) pairs are scored, every cache cleared before
each timed call:

- ``shipped``: the shipped (v2) reflection, empathy and fluency models, as an environment step calls them (the
  cross-encoder trunk runs once for both learned objectives; fluency reads the reply alone);
- ``v0``: the v0 models' computation, rebuilt from its recipe (their weights are retired): MiniLM embeddings of
  prompts and replies, two heads of the v0 shapes on ``[u, v, u*v, |u-v|]`` (1,536 -> 256 -> 1 and three
  1,536 -> 256 -> 3, random weights: the cost does not depend on them), and SmolLM2's NLL of the reply *given the
  prompt* (at most 64 prompt tokens, vocabulary projections of the reply tokens only).

Target: shipped / v0 at most 1.5 at batch 64. Writes ``benchmarks/results/reward_cost.json``.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import torch
from bench_timing import device_name, save_record, timed

import reward_models
from agents import CausalLMPolicy
from morl_core.device import default_device
from morl_envs.datasets import load_counsel
from reward_models.cross_encoder import shared_trunk
from reward_models.encoder import shared_encoder
from reward_models.heads import PairHead, pair_features

V0_PROMPT_TOKENS = 64


@torch.inference_mode()
def v0_fluency_nll(model, tokenizer, prompts: list[str], replies: list[str]) -> torch.Tensor:
    """The v0 fluency computation: the LM over prompt (last 64 tokens) + newline + reply, the vocabulary projection
    over the reply tokens only, one padded batch of 32 at a time."""
    losses = []
    for start in range(0, len(prompts), 32):
        ids, reply_lengths = [], []
        for prompt, reply in zip(prompts[start:start + 32], replies[start:start + 32]):
            context = tokenizer(prompt + "\n", add_special_tokens=False)["input_ids"][-V0_PROMPT_TOKENS:]
            answer = tokenizer(reply, add_special_tokens=False)["input_ids"][:128]
            ids.append([tokenizer.bos_token_id or 0] + context + answer)
            reply_lengths.append(len(answer))
        width = max(map(len, ids))
        batch = torch.zeros(len(ids), width, dtype=torch.long)
        mask = torch.zeros_like(batch)
        target = torch.zeros(len(ids), width, dtype=torch.bool)
        for row, seq in enumerate(ids):
            batch[row, :len(seq)], mask[row, :len(seq)] = torch.tensor(seq), 1
            target[row, len(seq) - reply_lengths[row] - 1: len(seq) - 1] = True
        hidden = model.base_model(input_ids=batch, attention_mask=mask).last_hidden_state
        logits = model.get_output_embeddings()(hidden[target]).float()
        losses.append(torch.nn.functional.cross_entropy(logits, batch[:, 1:][target[:, :-1]], reduction="none"))
    return torch.cat(losses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "reward_cost.json")
    args = parser.parse_args()

    pool = [p.text for p in load_counsel().split("test")]
    prompts = [pool[i % len(pool)] for i in range(max(args.batches))]
    replies = CausalLMPolicy().respond(prompts, seed=0)
    models = [reward_models.load(name) for name in ("reflection", "empathy", "fluency")]
    encoder, trunk, fluency = shared_encoder(), shared_trunk(), models[2]
    torch.manual_seed(0)
    v0_heads = [PairHead(4 * encoder.dim, 256, 1)] + [PairHead(4 * encoder.dim, 256, 3) for _ in range(3)]

    def clear() -> None:
        encoder.clear_cache()
        trunk.clear_cache()

    def v0(p: list[str], r: list[str]) -> None:
        with torch.inference_mode():
            features = pair_features(encoder.encode(p), encoder.encode(r))
            for head in v0_heads:
                head(features)
        v0_fluency_nll(fluency.model, fluency.tokenizer, p, r)

    rows = []
    for batch in args.batches:
        p, r = prompts[:batch], replies[:batch]
        for model in models:  # warm-up
            model(p, r)
        v0(p, r)
        new = timed(lambda p=p, r=r: [model(p, r) for model in models], args.repeats, before=clear)[0]
        old = timed(lambda p=p, r=r: v0(p, r), args.repeats, before=clear)[0]
        rows.append({"batch": batch, "shipped_s": round(new, 4), "v0_s": round(old, 4),
                     "ratio_shipped_over_v0": round(new / old, 3)})
        print(f"batch {batch:3d}: shipped {new:.3f} s, v0 {old:.3f} s, ratio {new / old:.2f}x", flush=True)
    device = default_device()
    save_record(args.out, device.type, {"device": device_name(device), "threads": torch.get_num_threads(),
                                        "date": datetime.now(UTC).isoformat(timespec="seconds"), "rows": rows})


if __name__ == "__main__":
    main()
