"""Sentence encoder: texts run in order of length against texts run in the order given, in the same run.

    python benchmarks/encoder_order.py [--data-dir DIR] [--texts 512] [--repeats 1]

The shared MiniLM encoder (``reward_models.encoder``) pads each chunk of 64 texts to its longest. Training encodes
thousands of EPITOME posts and responses of very different lengths (the bi-encoder view of every training pair), so
``SentenceEncoder._embed`` runs the texts in order of length and returns them in the order given. The baseline
embeds the same texts chunk by chunk in the order given (each chunk padded as before the change). Reports both
times, their ratio and the largest difference between the two embeddings. Writes
``benchmarks/results/encoder_order.json``.
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from bench_timing import save_record, timed

from reward_models.encoder import shared_encoder
from reward_models.training_data import read_epitome


def main() -> None:
    """Time both orders on the first ``--texts`` distinct EPITOME posts and responses."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("MORL_DATA_DIR"))
    parser.add_argument("--texts", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    if args.data_dir is None or not (Path(args.data_dir) / "epitome").is_dir():
        parser.error(f"--data-dir must be a folder holding epitome/ (or set MORL_DATA_DIR); got {args.data_dir!r}")
    _, posts, replies, _ = read_epitome(Path(args.data_dir))
    texts = list(dict.fromkeys(posts[:4000] + replies[:4000]))[:args.texts]
    encoder = shared_encoder(device="cpu")
    given, base = timed(lambda: np.concatenate([encoder._embed(texts[k:k + encoder.batch_size])
                                                for k in range(0, len(texts), encoder.batch_size)]), args.repeats)
    sorted_s, new = timed(lambda: encoder._embed(texts), args.repeats)
    record = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "texts": len(texts),
              "given_order_s": round(given, 2), "length_order_s": round(sorted_s, 2),
              "ratio_given_over_length": round(given / sorted_s, 2),
              "max_abs_difference": float(np.abs(base - new).max())}
    print(record)
    save_record(Path(__file__).resolve().parent / "results" / "encoder_order.json", "cpu", record)


if __name__ == "__main__":
    main()
