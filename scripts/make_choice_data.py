"""Regenerate the Counsel-Choice candidate table (``morl_envs/data/counsel_choice.npz``).

    OMP_NUM_THREADS=2 python scripts/make_choice_data.py [--limit N] [--out PATH]

For every Counsel prompt (330) the table holds K = 8 candidate replies:

- 6 from the default policy (SmolLM2-135M-Instruct with the project's system prompt), sampled at temperatures
  0.3, 0.7 and 1.0 with budgets of 16 and 48 new tokens, one fixed seed per setting and batch of prompts;
- 2 written by the project, the same for every prompt: a generic reflection and a piece of advice (``WRITTEN``).

Then it stores the prompts' MiniLM embeddings (float16), every reply's reward vector (reflection, empathy,
fluency; float32, scored on the CPU in float32) and the fingerprints of the prompt set, the reward models and the
encoder. Generation is seeded and batched in fixed batches, so a rerun on the same machine gives the same table;
on one CPU thread the full run took 21 minutes. ``--limit N`` keeps the first N prompts of each split
(for development); such a table loads with ``ChoiceEnv(table=PATH)``. ``--rescore PATH`` keeps an existing
table's candidates and embeddings and scores them with the installed reward models (a few minutes): how the table
of a new environment version is made when only the reward models changed. Bump the env version when the shipped
table changes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

import reward_models
from agents.policy import SYSTEM_PROMPT, CausalLMPolicy
from morl_envs.choice_env import COUNSEL_CHOICE_FILE, CandidateTable
from morl_envs.counsel_env import DEFAULT_OBJECTIVES, score_replies
from morl_envs.datasets import SPLITS, load_counsel
from reward_models.encoder import shared_encoder

#: (temperature, max_new_tokens, seed) of each policy-generated column
GENERATION = ((0.3, 16, 0), (0.3, 48, 1), (0.7, 16, 2), (0.7, 48, 3), (1.0, 16, 4), (1.0, 48, 5))
#: topic-agnostic replies written by the project (CC0), one column each
WRITTEN = (("written:reflection", "It sounds like this has been weighing on you."),
           ("written:advice", "You should talk to a professional about this."))


@dataclass
class Config:
    """Command-line options."""

    out: Path = field(default=COUNSEL_CHOICE_FILE, metadata={"help": "where to write the table"})
    limit: int = field(default=0, metadata={"help": "keep only the first N prompts of each split (0: all 330)"})
    batch_size: int = field(default=33, metadata={
        "help": "prompts per generation batch (part of the recipe: a batch is padded together)"})
    device: str = field(default="cpu", metadata={"help": "device for generation, embedding and scoring"})
    rescore: str = field(default="", metadata={
        "help": "path of an existing table: keep its prompts, candidates and embeddings, score them anew with the "
                "installed reward models (how a new environment version gets its table without regenerating)"})


def parse(argv: list[str] | None = None) -> Config:
    """The Config from the command line (one flag per field; the field's help is the flag's help)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for f in fields(Config):
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default,
                            help=f.metadata["help"])
    config = Config(**vars(parser.parse_args(argv)))
    if config.limit < 0 or config.batch_size < 1:
        parser.error(f"--limit must be >= 0 and --batch-size >= 1; got {config.limit} and {config.batch_size}")
    return config


def log(message: str) -> None:
    """A progress line on stderr."""
    print(f"[make_choice_data {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def rescore(config: Config) -> int:
    """Score an existing table's candidates with the installed reward models and save it as a new table."""
    old = CandidateTable.load(config.rescore)
    prompt_set = load_counsel()
    texts = {p.id: p.text for p in prompt_set.prompts}
    models = [reward_models.load(name, config.device) for name in DEFAULT_OBJECTIVES]
    n, k = old.replies.shape
    log(f"re-scoring {n} prompts x {k} candidates of {config.rescore}")
    rewards = score_replies(models, [texts[i] for i in old.prompt_ids for _ in range(k)], old.replies.ravel().tolist())
    meta = {**old.meta, "reward_model_fingerprints": {m.name: m.fingerprint() for m in models},
            "scoring_device": config.device, "rescored_from": old.fingerprint}
    table = CandidateTable(dataset=old.dataset, prompt_ids=np.array(old.prompt_ids), replies=np.array(old.replies),
                           sources=old.sources, embeddings=np.array(old.embeddings),
                           rewards=rewards.reshape(n, k, -1), objectives=tuple(m.name for m in models), meta=meta)
    table.save(config.out)
    log(f"wrote {config.out}: mean reward {np.round(rewards.mean(0), 3).tolist()} "
        f"(fingerprint {table.fingerprint[:12]})")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Generate, embed, score and save the table (or, with ``--rescore``, only score an existing one)."""
    config = parse(argv)
    if config.rescore:
        return rescore(config)
    prompt_set = load_counsel()
    prompts = [p for p in prompt_set.prompts if not config.limit
               or p in prompt_set.split(p.split)[: config.limit]]
    assert {p.split for p in prompts} == set(SPLITS)
    texts = [p.text for p in prompts]
    log(f"{len(prompts)} prompts x {len(GENERATION) + len(WRITTEN)} candidates, "
        f"torch threads {os.environ.get('OMP_NUM_THREADS', 'default')}")

    policy = CausalLMPolicy(device=config.device)
    columns: list[list[str]] = []
    for column, (temperature, budget, seed) in enumerate(GENERATION):
        policy.temperature, policy.max_new_tokens = temperature, budget
        replies: list[str] = []
        for batch, start in enumerate(range(0, len(texts), config.batch_size)):
            replies += policy.respond(texts[start:start + config.batch_size], seed=1000 * seed + batch)
        columns.append(replies)
        log(f"column {column}: temperature {temperature}, {budget} tokens, e.g. {replies[0]!r:.100}")
    columns += [[reply] * len(texts) for _, reply in WRITTEN]
    replies = np.array(columns, dtype=str).T  # (N, K)

    models = [reward_models.load(name, config.device) for name in DEFAULT_OBJECTIVES]
    k = replies.shape[1]
    rewards = score_replies(models, [t for t in texts for _ in range(k)], replies.ravel().tolist())  # (N * K, d)
    log(f"scored {rewards.shape[0]} replies; mean reward {np.round(rewards.mean(0), 3).tolist()}")
    encoder = shared_encoder(device=config.device)
    table = CandidateTable(
        dataset="counsel", prompt_ids=np.array([p.id for p in prompts]), replies=replies,
        sources=tuple(f"policy:t={t},max_new_tokens={b},seed={s}" for t, b, s in GENERATION)
        + tuple(name for name, _ in WRITTEN),
        embeddings=encoder.encode(texts), rewards=rewards.reshape(len(prompts), k, -1),
        objectives=tuple(m.name for m in models),
        meta={"data_fingerprint": prompt_set.fingerprint,
              "reward_model_fingerprints": {m.name: m.fingerprint() for m in models},
              "encoder": encoder.identity(), "scoring_device": config.device,
              "policy": {"model": str(policy.path), "system_prompt": SYSTEM_PROMPT,
                         "max_prompt_tokens": policy.max_prompt_tokens, "batch_size": config.batch_size,
                         "generation": [list(g) for g in GENERATION], "seed_rule": "1000 * seed + batch index"},
              "written": dict(WRITTEN), "limit": config.limit,
              "licence": "CC0-1.0: prompts and written replies by the project, the rest generated"})
    table.save(config.out)
    log(f"wrote {config.out} ({config.out.stat().st_size / 1e6:.2f} MB, fingerprint {table.fingerprint[:12]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
