"""Quality checks of the shipped reward models on the development data, shared by the tests and the command line.

    python -m reward_models.checks --data-dir $MORL_DATA_DIR

prints the reflection model's held-out ranking accuracy (complex reflections above non-reflections of the same PAIR
prompt, on the prompts it never saw in training) and the fluency model's shuffle rate (the share of PAIR's first
complex reflections that score lower once their words are shuffled). The tests assert thresholds on the same
functions (85% and 95%).
"""

from __future__ import annotations

import argparse
import os
import random
from pathlib import Path

import numpy as np

import reward_models
from morl_core.pair_data import read_pair_rows


def reflection_ranking_accuracy(data_dir: Path) -> float:
    """Share of (complex reflection, non-reflection) pairs of a held-out PAIR prompt ranked in that order."""
    scorer = reward_models.load("reflection")
    rows, held = read_pair_rows(data_dir), scorer.facts["held_out_prompts"]
    prompts = [rows[g][0] for g in held for _ in range(7)]
    replies = [rows[g][c] for g in held for c in (1, 2, 4, 5, 6, 7, 8)]  # hq1, hq2, lq1..lq5
    scores = scorer(prompts, replies).reshape(len(held), 7)
    return float((scores[:, :2, None] > scores[:, None, 2:]).mean())


def shuffle_words(text: str, rng: random.Random) -> str:
    """``text`` with its words in another order (unchanged only for one-word texts)."""
    words = text.split()
    while len(words) > 1 and words == text.split():
        rng.shuffle(words)
    return " ".join(words)


def fluency_shuffle_rate(data_dir: Path, seed: int = 0) -> float:
    """Share of PAIR's first complex reflections (multi-word) whose fluency drops when their words are shuffled."""
    scorer = reward_models.load("fluency")
    rows, rng = read_pair_rows(data_dir), random.Random(seed)
    prompts, originals = [r[0] for r in rows], [r[1] for r in rows]
    original = scorer(prompts, originals)
    scrambled = scorer(prompts, [shuffle_words(t, rng) for t in originals])
    multiword = np.array([len(t.split()) > 1 for t in originals])
    return float((original > scrambled)[multiword].mean())


def main(argv: list[str] | None = None) -> None:
    """Print both figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("MORL_DATA_DIR"))
    args = parser.parse_args(argv)
    if args.data_dir is None or not (Path(args.data_dir) / "pair" / "pair.csv").is_file():
        parser.error(f"--data-dir must hold pair/pair.csv (or set MORL_DATA_DIR); got {args.data_dir!r}")
    print(f"reflection held-out ranking accuracy: {reflection_ranking_accuracy(args.data_dir):.4f}")
    print(f"fluency shuffle rate: {fluency_shuffle_rate(args.data_dir):.4f}")


if __name__ == "__main__":
    main()
