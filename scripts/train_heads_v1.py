"""Candidate version-2 reward heads (not shipped yet): pair-and-surface features and hard negatives.

    python scripts/train_heads_v1.py --data-dir ../shared/data --out runs/reward-heads-v1

Trains the candidate heads that should replace the shipped ones once they pass the adversarial suite
(``python -m morl_envs.robustness``) and keep the held-out figures of the shipped heads. It writes
``<out>/{reflection,empathy}.safetensors``, never the shipped weights (load the candidates with
``ReflectionModel(heads_path=...)`` / ``EmpathyModel(heads_path=...)``). How they fare so far: docs/robustness.md,
"Candidate heads".

Data (:mod:`reward_models.training_data`): PAIR and EPITOME from ``--data-dir`` (or ``$MORL_DATA_DIR``), the
project's written reflections of its training statements, and the adversarial suite's degenerate replies built on
training prompts from the training phrase bank. Every pair's features are computed once with the shipped MiniLM
encoder (:func:`reward_models.heads.reply_features`); the heads train full-batch with fixed seeds and are evaluated
on held-out groups (PAIR: a fifth of the prompts; EPITOME: a fifth of the seeker posts). About 25 minutes on two CPU
cores, most of it encoding.

The reflection head minimises binary cross-entropy on its targets plus a pairwise logistic ranking loss over the
replies to one prompt (every better reply against every worse one: the genuine reflection against each of its
degenerate versions), the criterion the adversarial suite and the PAIR ranking test measure.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from morl_core.files import file_sha256
from morl_core.pair_data import PAIR_LEVELS, pair_csv, read_pair_rows
from reward_models.encoder import shared_encoder
from reward_models.heads import PairHead, reply_features, save_heads
from reward_models.train import fit, pair_ranking_accuracy, parse_arguments
from reward_models.training_data import (
    COUNSEL_TRAIN_FILE,
    EPITOME_MECHANISMS,
    MASKED,
    SEED,
    empathy_set,
    epitome_held_out,
    held_out_groups,
    read_epitome,
    reflection_set,
)

# Full-batch steps and the ranking loss's weight, chosen once on the held-out PAIR ranking and EPITOME accuracy
# (never on the adversarial suite's prompts or phrases).
REFLECTION_STEPS = 200
RANK_WEIGHT = 1.0
EMPATHY_STEPS = 150
HIDDEN = 256
FEATURE_CHUNK = 512  # pairs encoded per call, so memory stays flat on long EPITOME posts


def features(prompts: list[str], replies: list[str]) -> torch.Tensor:
    """:func:`reply_features` of every pair, in chunks, on the CPU."""
    encoder = shared_encoder()
    return torch.cat([reply_features(encoder, prompts[k:k + FEATURE_CHUNK], replies[k:k + FEATURE_CHUNK]).cpu()
                      for k in range(0, len(prompts), FEATURE_CHUNK)])


def ranked_pairs(targets: np.ndarray, groups: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (i, j) of every pair of replies to one prompt where reply i's target is higher than reply j's."""
    better, worse = [], []
    for group in np.unique(groups):
        rows = np.flatnonzero(groups == group)
        i, j = np.nonzero(targets[rows][:, None] > targets[rows][None, :])
        better.append(rows[i])
        worse.append(rows[j])
    return torch.as_tensor(np.concatenate(better)), torch.as_tensor(np.concatenate(worse))


def _held_out_pair(data_dir: Path) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    rows = read_pair_rows(data_dir)
    prompts, replies, levels, groups = [], [], [], []
    for i in held_out_groups(len(rows)):
        for column, level in enumerate(PAIR_LEVELS, start=1):
            prompts.append(rows[i][0])
            replies.append(rows[i][column].strip())
            levels.append(level)
            groups.append(int(i))
    return prompts, replies, np.array(levels), np.array(groups)


def train_reflection(data_dir: Path, out: Path) -> dict:
    """Train the reflection head (see the module docstring) and report the held-out PAIR ranking."""
    data = reflection_set(data_dir)
    x = features(data.prompts, data.replies)
    y = torch.tensor(data.targets, dtype=torch.float32)
    better, worse = ranked_pairs(np.asarray(data.targets), np.asarray(data.groups))
    torch.manual_seed(SEED)
    head = PairHead(x.shape[1], HIDDEN, 1)

    def loss() -> torch.Tensor:
        z = head(x).squeeze(-1)  # (n,)
        bce = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
        return bce + RANK_WEIGHT * torch.nn.functional.softplus(z[worse] - z[better]).mean()

    fit(head, loss, REFLECTION_STEPS)
    prompts, replies, levels, groups = _held_out_pair(data_dir)
    with torch.no_grad():
        scores = torch.sigmoid(head(features(prompts, replies))).squeeze(-1).numpy()
    facts = {
        "data": "PAIR (pair/pair.csv), the project's written reflections, hard negatives (training phrase bank)",
        "data_sha256": file_sha256(pair_csv(data_dir)), "counsel_sha256": file_sha256(COUNSEL_TRAIN_FILE),
        "held_out_prompts": held_out_groups(len(read_pair_rows(data_dir))).tolist(),
        "held_out_ranking_accuracy": round(pair_ranking_accuracy(scores, levels, groups), 4),
        "held_out_spearman": round(float(spearmanr(scores, levels).statistic), 4),
        "train_pairs": len(data.prompts), "seed": SEED, "steps": REFLECTION_STEPS, "rank_weight": RANK_WEIGHT,
        "features": "bi+pair+surface",
    }
    save_heads(out / "reflection.safetensors", {"reflection": head}, facts)
    return facts


def train_empathy(data_dir: Path, out: Path) -> dict:
    """Train one 3-level head per EPITOME mechanism (masked labels left out) and report held-out accuracy."""
    data = empathy_set(data_dir)
    x = features(data.prompts, data.replies)
    y = torch.tensor(data.targets)  # (n, 3), MASKED where unlabelled
    seekers, posts, replies, levels = read_epitome(data_dir)
    held = np.flatnonzero(epitome_held_out(seekers))
    held_x = features([posts[i] for i in held], [replies[i] for i in held])
    heads, facts = {}, {"data": "EPITOME Reddit (epitome/*-reddit.csv), the project's written reflections, hard "
                                "negatives (training phrase bank)", "seed": SEED, "steps": EMPATHY_STEPS,
                        "held_out_pairs": int(held.size), "train_pairs": len(data.prompts),
                        "features": "bi+pair+surface"}
    for k, mechanism in enumerate(EPITOME_MECHANISMS):
        labelled = y[:, k] != MASKED
        torch.manual_seed(SEED)
        head = PairHead(x.shape[1], HIDDEN, 3)
        fit(head, lambda head=head, rows=labelled, k=k: torch.nn.functional.cross_entropy(head(x[rows]), y[rows, k]),
            EMPATHY_STEPS)
        with torch.no_grad():
            probs = torch.softmax(head(held_x), dim=-1).numpy()
        truth = levels[mechanism][held]
        facts[mechanism] = {
            "held_out_accuracy": round(float((probs.argmax(1) == truth).mean()), 4),
            "held_out_spearman": round(float(spearmanr(probs @ np.array([0.0, 0.5, 1.0]), truth).statistic), 4),
            "data_sha256": file_sha256(data_dir / "epitome" / f"{mechanism}-reddit.csv"),
        }
        heads[mechanism] = head
    save_heads(out / "empathy.safetensors", heads, facts)
    return facts


def main(argv: list[str] | None = None) -> None:
    """Command line: train the chosen candidate heads into ``--out`` and print their held-out figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/reward-heads-v1"), help="folder for the heads")
    args = parse_arguments(parser, argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.only in (None, "reflection"):
        print("reflection:", train_reflection(args.data_dir, args.out), flush=True)
    if args.only in (None, "empathy"):
        print("empathy:", train_empathy(args.data_dir, args.out), flush=True)


if __name__ == "__main__":
    main()
