"""Recompute the objective-relationship table: Spearman correlation of every objective pair.

    python scripts/objective_correlations.py [--samples 4] [--out docs/objective_relationships.md]

The default policy (untrained SmolLM2-135M-Instruct) samples ``--samples`` replies to each prompt of the Counsel
validation split; every built-in reward model scores every reply; the table lists Spearman's rho (and its p-value)
for each pair. A pair is called *competing* when rho <= -0.2, *correlated* when rho >= 0.2, else *independent*.
The registered relationship variants (``morl_envs.RELATIONSHIP_VARIANTS``) were chosen from this table.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

import reward_models
from agents import CausalLMPolicy
from morl_envs.counsel_env import score_replies
from morl_envs.datasets import load_counsel

THRESHOLD = 0.2


def relationship(rho: float) -> str:
    """competing / correlated / independent by the +-0.2 rule."""
    return "competing" if rho <= -THRESHOLD else "correlated" if rho >= THRESHOLD else "independent"


def measure(samples: int) -> dict:
    """Replies of the default policy on the validation split, their scores and the pairwise Spearman table."""
    prompts = [p.text for p in load_counsel().split("validation")]
    policy = CausalLMPolicy()
    start = time.perf_counter()
    replies = [r for seed in range(samples) for r in policy.respond(prompts, seed=seed)]
    generation = time.perf_counter() - start
    models = [reward_models.load(name) for name in reward_models.available()]
    scores = score_replies(models, prompts * samples, replies)  # (samples * 55, n_objectives)
    pairs = []
    for i, j in itertools.combinations(range(len(models)), 2):
        result = spearmanr(scores[:, i], scores[:, j])
        pairs.append({"a": models[i].name, "b": models[j].name, "rho": round(float(result.statistic), 3),
                      "p": float(f"{result.pvalue:.2g}"), "relationship": relationship(float(result.statistic))})
    return {"n_replies": len(replies), "samples_per_prompt": samples, "generation_seconds": round(generation, 1),
            "means": {m.name: round(float(s), 3) for m, s in zip(models, scores.mean(0))}, "pairs": pairs}


def render(result: dict) -> str:
    """The markdown page."""
    lines = ["# Objective relationships on morl/Counsel-v0", "",
             f"Spearman's rho between objectives over {result['n_replies']} replies of the untrained default policy "
             f"({result['samples_per_prompt']} samples for each of the 55 validation prompts, temperature 0.7). "
             f"Recompute with `python scripts/objective_correlations.py`. Rule: rho <= -{THRESHOLD} competing, "
             f"rho >= {THRESHOLD} correlated, else independent.", "",
             "| objective a | objective b | rho | p | relationship |", "|---|---|---|---|---|"]
    lines += [f"| {p['a']} | {p['b']} | {p['rho']:+.3f} | {p['p']:.2g} | {p['relationship']} |"
              for p in result["pairs"]]
    lines += ["", "Mean score of each objective: " + ", ".join(f"{k} {v:.3f}" for k, v in result["means"].items()),
              ""]
    return "\n".join(lines)


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=4, help="replies sampled per validation prompt")
    parser.add_argument("--out", type=Path, default=Path("docs/objective_relationships.md"))
    args = parser.parse_args()
    result = measure(args.samples)
    write_atomically(args.out, render(result))
    write_atomically(args.out.with_suffix(".json"), json.dumps(result, indent=1) + "\n")
    print(render(result))


if __name__ == "__main__":
    main()
