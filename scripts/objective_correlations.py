"""Recompute the objective-relationship table: Spearman correlation of every objective pair.

    python scripts/objective_correlations.py [--out docs/objective_relationships.md]

The default policy (untrained SmolLM2-135M-Instruct, temperature 0.7) samples four replies to each prompt of the
Counsel validation split, one per generation budget of 12, 24, 40 and 64 new tokens, so that the replies span the
lengths an agent can reach; every built-in reward model scores every reply; the table lists Spearman's rho (and its
p-value) for each pair. A second table uses four samples at the default policy's fixed 48-token budget, where most
replies hit the cap and length-related relationships cannot show. A pair is *competing* when rho <= -0.2,
*correlated* when rho >= 0.2, else *independent*. The registered relationship variants
(``morl_envs.RELATIONSHIP_VARIANTS``) were chosen from the first table.
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


VARIED_BUDGETS = (12, 24, 40, 64)
FIXED_BUDGETS = (48, 48, 48, 48)


def measure(budgets: tuple[int, ...]) -> dict:
    """Replies of the default policy on the validation split (one sample per budget, seeds 0, 1, ...), their
    scores and the pairwise Spearman table."""
    prompts = [p.text for p in load_counsel().split("validation")]
    policy = CausalLMPolicy()
    start = time.perf_counter()
    replies = []
    for seed, budget in enumerate(budgets):
        policy.max_new_tokens = budget
        replies += policy.respond(prompts, seed=seed)
    generation = time.perf_counter() - start
    models = [reward_models.load(name) for name in reward_models.available()]
    scores = score_replies(models, prompts * len(budgets), replies)  # (len(budgets) * 55, n_objectives)
    pairs = []
    for i, j in itertools.combinations(range(len(models)), 2):
        result = spearmanr(scores[:, i], scores[:, j])
        pairs.append({"a": models[i].name, "b": models[j].name, "rho": round(float(result.statistic), 3),
                      "p": float(f"{result.pvalue:.2g}"), "relationship": relationship(float(result.statistic))})
    words = np.array([len(r.split()) for r in replies])
    return {"n_replies": len(replies), "budgets": list(budgets), "generation_seconds": round(generation, 1),
            "reply_words_percentiles_10_50_90": np.percentile(words, [10, 50, 90]).tolist(),
            "means": {m.name: round(float(s), 3) for m, s in zip(models, scores.mean(0))}, "pairs": pairs}


def render_table(result: dict, title: str) -> list[str]:
    """One measurement as a markdown section."""
    lines = [f"## {title}", "",
             f"{result['n_replies']} replies (budgets {result['budgets']} new tokens, one sample each per prompt); "
             f"reply length in words, 10th/50th/90th percentile: {result['reply_words_percentiles_10_50_90']}.", "",
             "| objective a | objective b | rho | p | relationship |", "|---|---|---|---|---|"]
    lines += [f"| {p['a']} | {p['b']} | {p['rho']:+.3f} | {p['p']:.2g} | {p['relationship']} |"
              for p in result["pairs"]]
    lines += ["", "Mean score: " + ", ".join(f"{k} {v:.3f}" for k, v in result["means"].items()), ""]
    return lines


def render(results: dict) -> str:
    """The markdown page."""
    lines = ["# Objective relationships on morl/Counsel-v2", "",
             "Spearman's rho between every pair of objectives over replies of the untrained default policy "
             "(SmolLM2-135M-Instruct, temperature 0.7) to the 55 validation prompts. Recompute with "
             f"`python scripts/objective_correlations.py`. Rule: rho <= -{THRESHOLD} competing, rho >= {THRESHOLD} "
             "correlated, else independent. The registered variants come from the first table: "
             "`morl/Counsel-FluencyConciseness-v2` (competing) and `morl/Counsel-EmpathyFluency-v2` (correlated).",
             ""]
    lines += render_table(results["varied"], "Varied generation budgets (the table the variants come from)")
    lines += render_table(results["fixed"], "Fixed 48-token budget (most replies hit the cap)")
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
    parser.add_argument("--out", type=Path, default=Path("docs/objective_relationships.md"))
    args = parser.parse_args()
    results = {"varied": measure(VARIED_BUDGETS), "fixed": measure(FIXED_BUDGETS)}
    write_atomically(args.out, render(results))
    write_atomically(args.out.with_suffix(".json"), json.dumps(results, indent=1) + "\n")
    print(render(results))


if __name__ == "__main__":
    main()
