"""Reward-scorer throughput benchmark: a RoBERTa-base-size encoder's scoring rate against the dense matrix rate.

    python benchmarks/scorer.py [--batches 64 256] [--tokens 128] [--repeats 5] [--matmul-size N]

Issue target (GPU only): "Reward models in bf16, batched: a RoBERTa-base-size scorer at batch 256 reaches at least
40% of the bf16 matrix rate measured in the same run."

In one run: (1) the matrix rate, a square ``n x n`` matmul (bf16, n 8192 on CUDA; float32, n 2048 on CPU), TFLOP/s =
2 n^3 / t, timed before and after the scorer (the higher is the reference, so a slow moment on a shared machine does
not flatter the scorer); (2) a randomly initialised encoder of RoBERTa-base size (12 layers, hidden 768, 12 heads,
intermediate 3072; real weights need not travel) saved into a temporary folder as a ``BertConfig`` with a WordPiece
tokenizer over 30,522 synthetic words (BERT's vocabulary size: only the embedding table differs from RoBERTa-base,
and it costs no FLOPs),
loaded by the project's scorer path ``reward_models.encoder.SentenceEncoder`` (bf16 on CUDA, float32 on CPU). For
each batch B, on texts that tokenise to exactly ``--tokens`` T tokens (no padding), it times (a) the raw model
forward on the pre-tokenised B x T inputs under ``torch.inference_mode`` and (b) the end-to-end
``SentenceEncoder._embed`` (tokenisation, forward, mean pooling, copy to the host) with the encoder's ``batch_size``
set to B, so B is one forward; for B above the encoder's default ``batch_size`` it also times (b) at that default
(B split into chunks).

FLOPs per sample are counted analytically: 2 x weights of every linear layer x T (the pooler on one token), plus
the attention scores and weighted values, 2 x 2 x T^2 x hidden per layer. Achieved TFLOP/s and its ratio to the
matmul rate of the same run are reported for (a) and (b). Results go to benchmarks/results/scorer.json per device.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_timing import device_name, save_record, timed  # noqa: E402

from reward_models.encoder import MAX_TOKENS, SentenceEncoder, default_device  # noqa: E402

ROBERTA_BASE = {"num_hidden_layers": 12, "hidden_size": 768, "num_attention_heads": 12, "intermediate_size": 3072}


def matmul_rate(device: torch.device, dtype: torch.dtype, n: int, repeats: int) -> dict:
    """Seconds and TFLOP/s (2 n^3 / t) of one square ``n x n`` matmul: the dense rate the scorer is measured against,
    taken in the same run so that clocks, library and thermal state are shared."""
    gen = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, device=device, dtype=dtype, generator=gen)
    b = torch.randn(n, n, device=device, dtype=dtype, generator=gen)
    for _ in range(3):  # warm-up: library initialisation, kernel choice, clocks
        a @ b
    seconds, _ = timed(lambda: a @ b, repeats, device)
    return {"size": n, "dtype": str(dtype).replace("torch.", ""), "seconds": seconds,
            "tflops": 2 * n**3 / seconds / 1e12}


def save_random_encoder(folder: Path, seed: int = 0, vocab_size: int = 30522) -> None:
    """Write a randomly initialised RoBERTa-base-size ``BertModel`` and a WordPiece tokenizer over ``vocab_size``
    synthetic lowercase words into ``folder``: a transformers folder that ``SentenceEncoder`` loads offline, built
    from nothing (the GPU machine has no hub, no real weights and no asset packages)."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = ["x" + "".join(chr(97 + i // 26**k % 26) for k in range(4)) for i in range(vocab_size - len(specials))]
    tokenizer = BertTokenizerFast(vocab={w: i for i, w in enumerate(specials + words)})
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(tokenizer), max_position_embeddings=512, **ROBERTA_BASE)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def flops_per_sample(config: object, tokens: int) -> int:
    """Forward FLOPs of one sample of ``tokens`` tokens: 2 x linear weights x tokens per layer (Q, K, V, output,
    two feed-forward layers) and 2 x 2 x T^2 x hidden for the attention products, plus the pooler on one token.
    Biases, norms, softmax and activations are left out (a fraction of a percent)."""
    h, inter, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    linear = 4 * h * h + 2 * h * inter
    return layers * (2 * linear * tokens + 4 * tokens * tokens * h) + 2 * h * h


def word_texts(tokenizer: object, count: int, tokens: int, seed: int = 0) -> list[str]:
    """``count`` distinct texts of random whole vocabulary words that each tokenise to exactly ``tokens`` tokens
    ([CLS] and [SEP] included), so every token of the batch is real and nothing is padded."""
    words = sorted(w for w in tokenizer.get_vocab() if w.isascii() and w.isalpha() and w.islower() and len(w) > 2)
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(words, size=tokens - 2)) for _ in range(count)]
    lengths = {len(ids) for ids in tokenizer(texts)["input_ids"]}
    if lengths != {tokens}:
        raise RuntimeError(f"texts tokenise to {sorted(lengths)} tokens, expected {tokens}")
    return texts


def scoring_row(encoder: SentenceEncoder, texts: list[str], flops: int, repeats: int, default_batch: int) -> dict:
    """Raw forward and end-to-end ``_embed`` of ``texts`` as one batch: seconds, samples/s and TFLOP/s; plus the
    host tokenisation alone and, above ``default_batch``, end-to-end at that chunk size."""
    batch = len(texts)

    def rates(seconds: float) -> dict:
        """Throughput of one timed batch."""
        return {"seconds": seconds, "samples_per_s": batch / seconds, "tflops": batch * flops / seconds / 1e12}

    def tokenise() -> dict:
        """The tokenizer call of ``_embed``, alone: the host-side cost the end-to-end time adds."""
        return encoder.tokenizer(texts, None, padding=True, truncation=True, max_length=MAX_TOKENS,
                                 return_tensors="pt")

    inputs = tokenise().to(encoder.device)
    with torch.inference_mode():
        encoder.model(**inputs)  # warm-up
        raw, _ = timed(lambda: encoder.model(**inputs).last_hidden_state, repeats, encoder.device)
    tokenise_s, _ = timed(tokenise, repeats)
    encoder.batch_size = batch  # one forward for the whole batch
    encoder._embed(texts, None)  # warm-up
    e2e, _ = timed(lambda: encoder._embed(texts, None), repeats, encoder.device)
    row = {"batch": batch, "tokens": int(inputs["input_ids"].shape[1]), "raw": rates(raw),
           "end_to_end": rates(e2e), "tokenise_s": tokenise_s}
    if batch > default_batch:
        encoder.batch_size = default_batch
        chunked, _ = timed(lambda: encoder._embed(texts, None), repeats, encoder.device)
        row["end_to_end_default_batch"] = {"batch_size": default_batch, **rates(chunked)}
    return row


def main() -> None:
    """Measure the matrix rate, then the scorer at every batch size, and merge the record into ``--out`` under this
    device kind (the file holds one record per kind, like the other benchmarks' results)."""
    import transformers

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--tokens", type=int, default=128, help="tokens per text, [CLS] and [SEP] included")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--matmul-size", type=int, default=None, help="default: 8192 on CUDA, 2048 on CPU")
    parser.add_argument("--matmul-repeats", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "scorer.json")
    args = parser.parse_args()
    if not 3 <= args.tokens <= MAX_TOKENS:
        parser.error(f"--tokens must be in [3, {MAX_TOKENS}] (SentenceEncoder truncates at {MAX_TOKENS})")

    device = default_device()
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32  # what SentenceEncoder runs in
    size = args.matmul_size or (8192 if device.type == "cuda" else 2048)
    before = matmul_rate(device, dtype, size, args.matmul_repeats)
    print(f"matmul {size}^3 {before['dtype']}: {before['tflops']:.3f} TFLOP/s", flush=True)

    default_batch = inspect.signature(SentenceEncoder.__init__).parameters["batch_size"].default
    with tempfile.TemporaryDirectory(prefix="scorer-bench-") as folder:
        save_random_encoder(Path(folder))
        encoder = SentenceEncoder(folder, device, batch_size=max(args.batches))
    flops = flops_per_sample(encoder.model.config, args.tokens)
    texts = word_texts(encoder.tokenizer, max(args.batches), args.tokens)
    rows = []
    for b in args.batches:
        rows.append(r := scoring_row(encoder, texts[:b], flops, args.repeats, default_batch))
        print(f"batch {b} x {r['tokens']}: raw {r['raw']['samples_per_s']:.1f} samples/s "
              f"({r['raw']['tflops']:.3f} TFLOP/s), end-to-end {r['end_to_end']['samples_per_s']:.1f} samples/s "
              f"({r['end_to_end']['tflops']:.3f} TFLOP/s), tokenise {1e3 * r['tokenise_s']:.1f} ms", flush=True)
    after = matmul_rate(device, dtype, size, args.matmul_repeats)
    matmul = {**max(before, after, key=lambda m: m["tflops"]), "tflops_before": before["tflops"],
              "tflops_after": after["tflops"]}
    print(f"matmul again: {after['tflops']:.3f} TFLOP/s; reference {matmul['tflops']:.3f}", flush=True)
    for r in rows:
        for key in ("raw", "end_to_end", "end_to_end_default_batch"):
            if key in r:
                r[key]["over_matmul"] = r[key]["tflops"] / matmul["tflops"]
        print(f"batch {r['batch']}: raw {r['raw']['over_matmul']:.1%} of matmul, end-to-end "
              f"{r['end_to_end']['over_matmul']:.1%}", flush=True)
    record = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "device": device_name(device),
              "dtype": str(encoder.model.dtype).replace("torch.", ""), "torch": torch.__version__,
              "transformers": transformers.__version__, "torch_threads": torch.get_num_threads(),
              "attention": encoder.model.config._attn_implementation, "encoder": ROBERTA_BASE,
              "parameters": sum(p.numel() for p in encoder.model.parameters()), "flops_per_sample": flops,
              "default_batch_size": default_batch, "repeats": args.repeats, "matmul": matmul, "rows": rows}
    save_record(args.out, device.type, record)


if __name__ == "__main__":
    main()
