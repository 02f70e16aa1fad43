"""The leaderboard's ``morl-bench`` sub-commands.

    morl-bench evaluate --agent default --env ID [--seeds 0 1 2] --out RESULT.json [--max-prompts N]
    morl-bench evaluate --agent random --env morl/Counsel-Choice-v2 [--seeds 0 1 2] --out RESULT.json
    morl-bench evaluate --agent my_package.agents:MyAgent [--agent-kwargs JSON] --env ID --out RESULT.json
    morl-bench evaluate --model PATH_OR_HUB_ID [--adapter DIR] [--preference-prompt T] --env ID --out RESULT.json
    morl-bench submit RESULT.json [--board-dir DIR]
    morl-bench leaderboard [--env ID] [--html DIR] [--board-dir DIR]
    morl-bench report [--family morl/Counsel] [--board-dir DIR]
    morl-bench verify ENTRY.json [ENTRY.json ...]
    morl-bench bundle RUN0.json RUN1.json [...] --training-seeds 0 1 [...] --out RESULT.json

``verify`` exits with status 1 when an entry does not reproduce (what differs is printed).

Errors print ``error: <message>`` to stderr and exit with status 2, changing nothing.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

import morl_envs
from agents.registry import agent_names
from leaderboards.board import board_columns, boarded_envs, env_families, report, table
from leaderboards.carry_over import carried_over, read_result_or_entry
from leaderboards.protocol import bundle
from leaderboards.render import markdown_report, markdown_table, write_html
from leaderboards.submission import read_result, submit, write_result
from leaderboards.verify import compare_regenerated, verify_entry
from morl_cli import run_reporting_errors
from morl_cli.evaluation import evaluate
from morl_cli.train import RUN_FILE, regenerate_result
from morl_core.errors import did_you_mean
from morl_core.files import file_sha256

__all__ = ["COMMANDS", "add_commands", "run", "parse_with_result_arguments", "save_result"]

COMMANDS = ("evaluate", "submit", "leaderboard", "report", "verify", "bundle", "carry-over")


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register the leaderboard sub-commands on ``subparsers`` (from ``parser.add_subparsers()``)."""
    evaluate = subparsers.add_parser("evaluate", help="run the evaluation protocol on any agent or model, write a "
                                                      "result JSON")
    which = evaluate.add_mutually_exclusive_group(required=True)
    which.add_argument("--agent", help=f"a registered untrained agent {list(agent_names(trained=False))} or your own "
                                       f"'package.module:Class' (an Agent / ChoiceAgent, built with --agent-kwargs)")
    which.add_argument("--model", help="a causal LM checkpoint: a local transformers folder or a cached hub id")
    evaluate.add_argument("--agent-kwargs", type=_json_object, default=None,
                          help="JSON object of keyword arguments for --agent's class, or --model's policy options "
                               "(e.g. '{\"temperature\": 0.9, \"max_new_tokens\": 64}')")
    evaluate.add_argument("--adapter", type=Path, default=None, help="LoRA adapter folder (peft) for --model")
    evaluate.add_argument("--preference-prompt", default=None,
                          help="for preference-conditioned --model checkpoints: a template appended to the system "
                               "prompt per preference, e.g. 'Weights: {weights}.' (fields: {weights}, {w[0]}, "
                               "each objective's name)")
    evaluate.add_argument("--name", default=None, help="the board name of --model (default: from its folder names)")
    evaluate.add_argument("--env", required=True, help="registered environment id")
    evaluate.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="evaluation seeds")
    evaluate.add_argument("--out", required=True, type=Path, help="where to write the result JSON")
    evaluate.add_argument("--max-prompts", type=int, default=None,
                          help="cut the test split (quick checks only: submit refuses such results)")
    submit = subparsers.add_parser("submit", help="verify a result JSON and store it on the board")
    submit.add_argument("result", type=Path, help="result JSON written by `morl-bench evaluate`")
    submit.add_argument("--board-dir", type=Path, default=None, help="board folder (default leaderboards/entries)")
    board = subparsers.add_parser("leaderboard", help="print the ranked board(s); --html writes static pages")
    board.add_argument("--env", default=None, help="registered environment id (default: every boarded env)")
    board.add_argument("--html", type=Path, default=None, help="folder to write one HTML page per environment")
    board.add_argument("--board-dir", type=Path, default=None, help="board folder (default leaderboards/entries)")
    report = subparsers.add_parser("report", help="the board columns side by side across relationship variants")
    report.add_argument("--family", default=None, help="environment family, e.g. morl/Counsel (default: all)")
    report.add_argument("--board-dir", type=Path, default=None, help="board folder (default leaderboards/entries)")
    verify = subparsers.add_parser("verify", help="re-score stored entries and recompute their metrics")
    verify.add_argument("entries", type=Path, nargs="+", help="board entry files (leaderboards/entries/*/*.json)")
    verify.add_argument("--artifact", type=Path, default=None,
                        help="the run folder `morl-bench train` wrote for the (one) entry: regenerate its replies")
    bundle = subparsers.add_parser("bundle", help="one result from one agent's results with several training seeds")
    bundle.add_argument("results", type=Path, nargs="+", help="result JSONs, one per trained model")
    bundle.add_argument("--training-seeds", type=int, nargs="+", required=True,
                        help="the training seed of each result, in the same order")
    bundle.add_argument("--out", required=True, type=Path, help="where to write the bundled result JSON")
    carry = subparsers.add_parser("carry-over", help="a result's stored answers scored by a newer version of its "
                                                     "environment (same prompts, new reward models; no generation)")
    carry.add_argument("result", type=Path, help="a result JSON or a board entry (e.g. of a retired version)")
    carry.add_argument("--env", required=True, help="the registered environment id to score the answers on")
    carry.add_argument("--out", required=True, type=Path, help="where to write the carried result JSON")


def _check_env(env_id: str) -> None:
    ids = morl_envs.env_ids()
    if env_id not in ids:
        raise ValueError(f"--env must be a registered id {ids}; got {env_id!r}.{did_you_mean(env_id, ids)}")


def _json_object(text: str) -> dict:
    """argparse type of ``--agent-kwargs``: a JSON object."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"must be a JSON object; got {text!r:.80} ({exc})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object; got {text!r:.80}")
    return value


#: the Python parameters of :func:`morl_cli.evaluation.evaluate` and the flags that set them
_EVALUATE_FLAGS = {"out": "--out", "agent_kwargs": "--agent-kwargs", "adapter": "--adapter", "name": "--name",
                   "preference_prompt": "--preference-prompt", "env_id": "--env", "max_prompts": "--max-prompts",
                   "seeds": "--seeds", "model": "--model", "agent": "--agent"}


def _flags(message: str, target_flag: str) -> str:
    """An evaluation error as the command line's user reads it: "`out` must ..." -> "--out must ..."."""
    flags = {**_EVALUATE_FLAGS, "agent_or_model": target_flag}
    return re.sub(r"`(\w+)`", lambda m: flags.get(m.group(1), m.group(0)), message)


def _evaluate(args: argparse.Namespace) -> int:
    _check_env(args.env)
    target = args.model if args.model is not None else args.agent
    if args.model is None:
        for flag, value in (("--adapter", args.adapter), ("--preference-prompt", args.preference_prompt),
                            ("--name", args.name)):
            if value is not None:
                raise ValueError(f"{flag} applies to --model only; got it with --agent {args.agent!r}")
    registered = args.model is None and args.agent in agent_names(trained=False)
    try:
        result = evaluate(target, args.env, seeds=args.seeds, out=args.out, agent_kwargs=args.agent_kwargs,
                          adapter=args.adapter, preference_prompt=args.preference_prompt, name=args.name,
                          baseline=not registered, max_prompts=args.max_prompts)
    except (ValueError, TypeError) as exc:
        raise type(exc)(_flags(str(exc), "--model" if args.model is not None else "--agent")) from None
    print(f"wrote {args.out} ({result['agent']['name']})")
    for key, value in result["claimed_metrics"].items():
        print(f"  {key}: {value}")
    print(f"submit it with: morl-bench submit {args.out}")
    return 0


def _submit(args: argparse.Namespace) -> int:
    done = submit(args.result, args.board_dir)
    for line in done.disagreements:
        print(f"warning: {line}", file=sys.stderr)
    print(f"stored {done.path}")
    for key, value in done.metrics.items():
        print(f"  {key}: {value}")
    return 0


def _leaderboard(args: argparse.Namespace) -> int:
    if args.env is not None:
        _check_env(args.env)
    env_ids = [args.env] if args.env is not None else boarded_envs(args.board_dir)
    if not env_ids:
        print("no entries yet: submit one with `morl-bench submit RESULT.json`")
    for env_id in env_ids:
        rows = table(env_id, args.board_dir)
        print(f"## {env_id}\n")
        print(markdown_table(rows, board_columns(env_id)) if rows else "no entries yet\n")
    if args.html is not None:
        for path in write_html(args.html, args.board_dir, env_ids):
            print(f"wrote {path}")
    return 0


def _report(args: argparse.Namespace) -> int:
    families = [args.family] if args.family is not None else sorted(env_families())
    for family in families:
        print(markdown_report(report(family, args.board_dir)))
    return 0


def _verify(args: argparse.Namespace) -> int:
    if args.artifact is not None and len(args.entries) != 1:
        raise ValueError(f"--artifact must come with exactly one entry (its own); got {len(args.entries)}")
    failed = 0
    for path in args.entries:
        found = verify_entry(path)
        problems = list(found.problems)
        if args.artifact is not None:
            stored = found.result
            named = stored["agent"].get("details", {}).get("artifact", {}).get("run_file_sha256")
            run_file = Path(args.artifact) / RUN_FILE
            if named is not None and run_file.is_file() and file_sha256(run_file) != named:
                problems.append(f"{args.artifact} is not this entry's artifact (its {RUN_FILE} differs from the one "
                                f"the entry names)")
            with tempfile.TemporaryDirectory() as folder:
                again = regenerate_result(args.artifact, stored["seeds"], Path(folder) / "result.json")
            problems += compare_regenerated(stored, again)
        if not problems:
            print(f"verified {path}: rewards within {found.reward_gap:.2g}, hv_mean {found.metrics['hv_mean']:.6g}"
                  + (f"; replies regenerated from {args.artifact} agree" if args.artifact is not None else ""))
        else:
            failed += 1
            print(f"DIFFERS {path}:" + "".join(f"\n  {line}" for line in problems))
    return 1 if failed else 0


def _bundle(args: argparse.Namespace) -> int:
    result = bundle([read_result(path) for path in args.results], args.training_seeds)
    write_result(result, args.out)
    print(f"wrote {args.out}: {len(args.results)} trained models, training seeds {args.training_seeds}")
    return 0


def _carry_over(args: argparse.Namespace) -> int:
    _check_env(args.env)
    result = carried_over(read_result_or_entry(args.result), args.env)
    write_result(result, args.out)
    print(f"wrote {args.out}: {result['agent']['name']} on {args.env}, HV {result['claimed_metrics']['hv_mean']:.4f}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the leaderboard sub-command ``args.command``; 0 on success, 2 (after ``error: ...`` on stderr) on a
    user error."""
    handlers = {"evaluate": _evaluate, "submit": _submit, "leaderboard": _leaderboard, "report": _report,
                "verify": _verify, "bundle": _bundle, "carry-over": _carry_over}
    if args.command not in handlers:
        raise ValueError(f"`args.command` must be one of {COMMANDS}; got {args.command!r}")
    return run_reporting_errors(handlers[args.command], args)


# ---- for training scripts (examples/*.py): hand the trained agent's result to the board --------------------------

def parse_with_result_arguments(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> argparse.Namespace:
    """Add ``--eval-seeds``, ``--out`` and ``--submit`` to a training script's ``parser`` and parse ``argv``;
    ``--submit`` without ``--out`` is refused here, before any training."""
    parser.add_argument("--eval-seeds", type=int, nargs="+", default=[0, 1, 2], help="leaderboard evaluation seeds")
    parser.add_argument("--out", type=Path, default=None, help="write the leaderboard result JSON here")
    parser.add_argument("--submit", action="store_true",
                        help="also submit the result to the board (leaderboards/entries), as `morl-bench submit`")
    args = parser.parse_args(argv)
    if args.submit and args.out is None:
        parser.error("--submit needs --out (the result file that is submitted)")
    return args


def save_result(result: dict, args: argparse.Namespace) -> None:
    """Write ``result`` to ``args.out`` (when set) and, with ``args.submit``, submit it to the default board."""
    if args.out is not None:
        print(f"wrote {write_result(result, args.out)}")
    if args.submit:
        done = submit(args.out)
        for line in done.disagreements:
            print(f"warning: {line}", file=sys.stderr)
        print(f"stored {done.path}")
