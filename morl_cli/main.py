"""``morl-bench``: the project's command line.

    morl-bench demo [--env morl/Counsel-v2] [--n 4] [--seed 0]    roll the default policy, print rewards
    morl-bench envs                                                list the environments and where their prompts are
    morl-bench train --env ID --agent NAME [--preference W ...]    train a single-policy agent, print test rewards
                     [--steps N] [--seed S] [--result R.json]      before/after (and write a leaderboard result)
    morl-bench evaluate --agent default --env ID --out RESULT.json run the leaderboard's evaluation protocol
    morl-bench submit RESULT.json                                  verify a result and store it on the board
    morl-bench leaderboard [--env ID] [--html DIR]                 print (or render) the ranked tables
    morl-bench verify ENTRY.json                                   re-score a stored entry, recompute its metrics
    morl-bench bundle R0.json R1.json --training-seeds 0 1 --out R one result from several training seeds
    morl-bench report                                              compare families across objective relationships
    morl-bench sweep CONFIG.toml [--backend local|ray]             a grid of training jobs
"""

from __future__ import annotations

import argparse
import sys
import time

import gymnasium as gym
import numpy as np
from transformers.utils import logging as hf_logging

import morl_envs
from agents import CausalLMPolicy
from morl_cli import CommandParser, board, run_reporting_errors, sweep, train
from morl_core.errors import did_you_mean
from morl_envs.datasets import dataset_source

#: the sub-command modules: each has ``COMMANDS``, ``add_commands(subparsers)`` and ``run(args)``
SUBCOMMANDS = (board, train, sweep)


def _check_env_id(env_id: str) -> None:
    ids = morl_envs.env_ids("text")
    if env_id in morl_envs.env_ids("choice"):
        raise ValueError(f"--env must be a text environment {ids} (demo rolls the default policy, which writes "
                         f"replies); got the choice environment {env_id!r}: step it with actions, see "
                         f"docs/choice_envs.md")
    if env_id not in ids:
        raise ValueError(f"--env must be a registered id {ids}; got {env_id!r}.{did_you_mean(env_id, ids)}")


def demo(env_id: str, n: int, seed: int) -> None:
    """The main job on the offline default: the untrained default policy answers ``n`` test prompts, and the
    environment's batched vector env scores all replies in one call per reward model."""
    _check_env_id(env_id)
    start = time.perf_counter()
    envs = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point")
    policy = CausalLMPolicy()
    print(f"loaded {env_id} (objectives: {', '.join(envs.unwrapped.objectives)}) and the default policy in "
          f"{time.perf_counter() - start:.1f} s", flush=True)
    prompts, info = envs.reset(seed=seed, options={"split": "test", "indices": list(range(n))})
    start = time.perf_counter()
    replies = policy.respond(list(prompts), seed=seed)
    generated = time.perf_counter() - start
    start = time.perf_counter()
    _, rewards, terminated, _, _ = envs.step(replies)
    scored = time.perf_counter() - start
    names = envs.unwrapped.objectives
    for prompt_id, prompt, reply, reward in zip(info["prompt_id"], prompts, replies, rewards):
        print(f"\n[{prompt_id}]\nclient:     {prompt}\ncounsellor: {reply}")
        print("reward:     " + "  ".join(f"{name}={value:.3f}" for name, value in zip(names, reward)))
    mean = rewards.mean(axis=0)
    print(f"\nmean reward over {n} test prompts: " + "  ".join(f"{k}={v:.3f}" for k, v in zip(names, mean)))
    print(f"generation {generated:.1f} s, scoring {scored:.2f} s (one batched call per reward model); "
          f"all episodes terminated: {bool(np.all(terminated))}")
    envs.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``morl-bench`` console script; returns the exit status (2 for a user error)."""
    parser = CommandParser(prog="morl-bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verbose", action="store_true",
                        help="show weight-loading progress bars and transformers' info messages")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("demo", help="roll the default policy through an environment and print rewards")
    run.add_argument("--env", default="morl/Counsel-v2", help="registered environment id")
    run.add_argument("--n", type=int, default=4, help="number of test prompts (1 to 55)")
    run.add_argument("--seed", type=int, default=0, help="sampling seed")
    commands.add_parser("envs", help="list the environments (text and choice) and where their prompts are found")
    for module in SUBCOMMANDS:
        module.add_commands(commands)
    args = parser.parse_args(argv)
    if args.verbose:  # the models load lazily, after this
        hf_logging.set_verbosity_info()
    for module in SUBCOMMANDS:
        if args.command in module.COMMANDS:
            return module.run(args)
    if args.command == "demo":
        if not 1 <= args.n <= 55:
            parser.error(f"--n must be between 1 and 55 (the test split's size); got {args.n}")
        return run_reporting_errors(lambda a: demo(a.env, a.n, a.seed) or 0, args)
    elif args.command == "envs":
        list_envs()
    return 0


def list_envs() -> None:
    """Every current environment id (text and choice), its objectives, its relationship, and whether its prompts
    can be found on this machine."""
    print(f"{'id':38s} {'kind':6s} {'objectives':32s} {'relationship':12s} prompts")
    for env_id, entry in morl_envs.ENVS.items():  # registration order
        source = dataset_source(entry.kwargs.get("dataset", "counsel"))
        print(f"{env_id:38s} {entry.kind:6s} {', '.join(entry.objectives):32s} {entry.relationship or '':12s} "
              f"{entry.kwargs.get('dataset', 'counsel')} ({source})")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
