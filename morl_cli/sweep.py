"""Sweeps: a grid of (agent x seed x preference) training jobs from one TOML file, run locally or on Ray.

    morl-bench sweep CONFIG.toml [--backend local|ray] [--ray-address ADDR] [--dry-run]

A config names the environment, the agents (``morl-bench train --agent`` values), the seeds and, for the agents
trained at a fixed preference (linear, chebyshev, dynaopt, mgda-anchor), the preferences; every other
``morl-bench train`` option goes in its ``[train]`` table under its flag name (``steps = 8``, ``prompts-per-step = 4``,
``objectives = ["conciseness"]``, ``resume = true``). Optional ``eval_seeds`` writes a leaderboard result per job;
``[resources]`` is what each job asks Ray for (``num_cpus``, ``num_gpus``)::

    env = "morl/Counsel-v2"
    agents = ["linear", "pama"]
    seeds = [0, 1, 2]
    preferences = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    out = "runs/sweep"
    eval_seeds = [0]
    [train]
    steps = 8
    [resources]
    num_gpus = 0.5

Each job trains into ``<out>/<job id>`` with ``--resume`` and, once it has succeeded, writes ``done.json`` there
(atomically): a rerun of the sweep skips finished jobs and resumes interrupted ones from their checkpoints.
``<out>/sweep.json`` records every job's status after each job (local) or at the end (Ray). The local backend runs
the jobs one after another in this process; ``--backend ray`` (optional extra ``.[ray]``) submits each job as a Ray
task with its resource request, on a local Ray (started with this machine's CPUs) or on ``--ray-address``.
"""

from __future__ import annotations

import argparse
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from agents.registry import agent_entry, agent_names
from morl_cli import CommandParser, run_reporting_errors
from morl_cli import train as train_command
from morl_core.errors import MorlError, did_you_mean, message
from morl_core.extras import MissingExtraError, require_extra
from morl_core.files import write_atomic

__all__ = ["COMMANDS", "SweepConfig", "Job", "add_commands", "load_config", "expand", "run", "run_job", "run_sweep"]

COMMANDS = ("sweep",)

_KEYS = {"env", "agents", "seeds", "preferences", "out", "eval_seeds", "train", "resources"}
_OWN = {"env", "agent", "seed", "out", "resume", "preference", "result", "eval-seeds"}


@dataclass
class SweepConfig:
    """A parsed, validated sweep (see the module docstring)."""

    env: str
    agents: list[str]
    seeds: list[int]
    out: Path
    preferences: list[list[float]] | None = None
    eval_seeds: list[int] | None = None
    train: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, float] = field(default_factory=dict)


@dataclass
class Job:
    """One ``morl-bench train`` run of the grid."""

    id: str
    argv: list[str]
    out_dir: Path

    @property
    def done(self) -> bool:
        return (self.out_dir / "done.json").is_file()


def _fail(key: str, rule: str, value: Any, hint: str = "") -> None:
    raise MorlError(f"sweep config {message(key, rule, value, hint)}")


def load_config(path: str | Path) -> SweepConfig:
    """Read and check a sweep TOML file; errors name the key, the rule and the value."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sweep config {str(path)!r} does not exist")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise MorlError(f"sweep config {str(path)!r} is not valid TOML: {exc}") from None
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        _fail(unknown[0], f"is not a sweep key (known: {sorted(_KEYS)})", raw[unknown[0]])
    if not isinstance(raw.get("env"), str):
        _fail("env", "must be an environment id (a string)", raw.get("env"))
    known = agent_names(trained=True)
    agents = raw.get("agents")
    if not isinstance(agents, list) or not agents or any(a not in known for a in agents):
        _fail("agents", f"must be a non-empty list of {known}", agents)
    for key in ("seeds", "eval_seeds"):
        value = raw.get(key, [0] if key == "seeds" else None)
        if value is not None and (not isinstance(value, list) or not value
                                  or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in value)):
            _fail(key, "must be a non-empty list of integers >= 0", value)
    prefs = raw.get("preferences")
    if prefs is not None and (not isinstance(prefs, list) or not prefs or any(not isinstance(w, list) for w in prefs)):
        _fail("preferences", "must be a non-empty list of preferences (lists of weights)", prefs)
    train = {str(k).replace("_", "-"): v for k, v in raw.get("train", {}).items()}  # learning_rate = --learning-rate
    clash = sorted(_OWN & set(train))
    options = _train_options()
    for key in train:
        if key not in _OWN and key not in options:
            _fail(f"train.{key}", "must be an option of `morl-bench train` (exactly, no abbreviation)", train[key],
                  did_you_mean(key, options))
    if clash:
        _fail(f"train.{clash[0]}", "is set by the sweep itself (env, agents, seeds, preferences, out, eval_seeds)",
              train[clash[0]])
    resources = raw.get("resources", {})
    if any(k not in ("num_cpus", "num_gpus") or not isinstance(v, int | float) or v < 0 for k, v in resources.items()):
        _fail("resources", "must map num_cpus / num_gpus to numbers >= 0", resources)
    return SweepConfig(raw["env"], agents, raw.get("seeds", [0]), Path(raw.get("out", f"runs/sweep-{path.stem}")),
                       prefs, raw.get("eval_seeds"), train, resources)


def _train_options() -> list[str]:
    """The option names of ``morl-bench train`` without their dashes (``learning-rate``, ``steps``, ...)."""
    parser = CommandParser(prog="morl-bench")
    train_command.add_commands(parser.add_subparsers(dest="command", required=True))
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["train"]
    return sorted(o[2:] for action in sub._actions for o in action.option_strings if o.startswith("--"))


def _flags(train: dict[str, Any]) -> list[str]:
    argv: list[str] = []
    for key, value in train.items():
        if value is True:
            argv.append(f"--{key}")
        elif value is not False:
            argv += [f"--{key}", *(str(v) for v in (value if isinstance(value, list) else [value]))]
    return argv


def expand(config: SweepConfig) -> list[Job]:
    """The grid: every agent x seed x (preference, for the fixed-preference agents), in config order."""
    jobs = []
    for agent in config.agents:
        fixed = agent_entry(agent).preferences == "given"  # trained at a given preference
        prefs = config.preferences if fixed and config.preferences else [None]
        for seed in config.seeds:
            for i, w in enumerate(prefs):
                job_id = f"{agent}-seed{seed}" + ("" if w is None else f"-pref{i:02d}")
                out = config.out / job_id
                argv = ["train", "--env", config.env, "--agent", agent, "--seed", str(seed), "--out", str(out),
                        "--resume", *([] if w is None else ["--preference", *(str(x) for x in w)]),
                        *_flags(config.train)]
                if config.eval_seeds:
                    argv += ["--result", str(out / "result.json"), "--eval-seeds", *map(str, config.eval_seeds)]
                jobs.append(Job(job_id, argv, out))
    return jobs


class _RaisingParser(CommandParser):
    """A parser whose usage errors raise ``ValueError`` (with argparse's message) instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise ValueError(message)


def check_jobs(jobs: list[Job]) -> None:
    """Check every job's ``morl-bench train`` arguments as ``train`` itself would (flags, values, each preference
    against the environment's objectives, scalarizer options), without writing anything or loading a model; a bad
    job raises ``ValueError`` naming it."""
    parser = _RaisingParser(prog="morl-bench")
    train_command.add_commands(parser.add_subparsers(dest="command", required=True))
    for job in jobs:
        try:
            train_command.build_agent(parser.parse_args(job.argv))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"job {job.id} (morl-bench {' '.join(job.argv)}): {exc}") from None


def run_job(argv: list[str], out_dir: str) -> int:
    """Run one job (``morl-bench train`` arguments) in this process; on success write ``done.json`` atomically.
    Returns the command's exit status (0 success, 2 user error)."""
    parser = CommandParser(prog="morl-bench")
    train_command.add_commands(parser.add_subparsers(dest="command", required=True))
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    status = train_command.run(parser.parse_args(argv))
    if status == 0:
        write_atomic(Path(out_dir) / "done.json", json.dumps({"argv": argv}, indent=1) + "\n")
    return status


def _write_status(config: SweepConfig, statuses: dict[str, str]) -> None:
    config.out.mkdir(parents=True, exist_ok=True)
    write_atomic(config.out / "sweep.json", json.dumps({"env": config.env, "jobs": statuses}, indent=1) + "\n")


def run_sweep(config: SweepConfig, backend: str = "local", ray_address: str | None = None) -> dict[str, str]:
    """Run the unfinished jobs of ``config``; returns job id -> "skipped" (finished before), "done" or "failed"."""
    if backend not in ("local", "ray"):
        raise ValueError(f"`backend` must be 'local' or 'ray'; got {backend!r}")
    jobs = expand(config)
    statuses = {job.id: "skipped" for job in jobs if job.done}
    todo = [job for job in jobs if not job.done]
    if backend == "local":
        for job in todo:
            statuses[job.id] = "done" if run_job(job.argv, str(job.out_dir)) == 0 else "failed"
            _write_status(config, statuses)
    elif todo:
        for job, status in zip(todo, _run_on_ray(todo, config.resources, ray_address)):
            statuses[job.id] = "done" if status == 0 else "failed"
    _write_status(config, statuses)
    return statuses


def _run_on_ray(jobs: list[Job], resources: dict[str, float], address: str | None) -> list[int]:
    """Each job as a Ray task with ``resources`` (default one CPU); returns their exit statuses in job order."""
    try:
        ray = require_extra("ray", "ray")
    except MissingExtraError as error:
        raise ValueError(f"--backend ray needs the optional extra `ray`: {error}") from None
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    task = ray.remote(run_job).options(num_cpus=resources.get("num_cpus", 1), num_gpus=resources.get("num_gpus", 0))
    return ray.get([task.remote(job.argv, str(job.out_dir)) for job in jobs])


# ---- the command line -------------------------------------------------------------------------------------------

def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``sweep`` on ``subparsers`` (from ``parser.add_subparsers()``)."""
    s = subparsers.add_parser("sweep", help="run a grid of training jobs (agent x seed x preference) from a TOML file",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("config", type=Path, help="sweep TOML file")
    s.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="local: one job after another in this process; ray: one Ray task per job (extra .[ray])")
    s.add_argument("--ray-address", default=None, help="an existing Ray cluster (default: start a local one)")
    s.add_argument("--dry-run", action="store_true", help="list the jobs and whether they are finished; run nothing")


def _sweep(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    jobs = expand(config)
    check_jobs(jobs)  # every job's options, before anything is listed or run
    print(f"sweep {args.config}: {len(jobs)} jobs into {config.out} ({sum(j.done for j in jobs)} finished before)")
    if args.dry_run:
        for job in jobs:
            print(f"  {'done' if job.done else 'todo'}  {job.id}: morl-bench {' '.join(job.argv)}")
        return 0
    statuses = run_sweep(config, args.backend, args.ray_address)
    counts = {s: list(statuses.values()).count(s) for s in ("done", "skipped", "failed")}
    print(f"sweep finished: {counts['done']} run, {counts['skipped']} skipped (finished before), {counts['failed']} "
          f"failed; statuses in {config.out / 'sweep.json'}")
    return 1 if counts["failed"] else 0


def run(args: argparse.Namespace) -> int:
    """Run ``sweep``; 0 when every job succeeded, 1 when one failed, 2 (after ``error: ...``) on a user error."""
    if args.command not in COMMANDS:
        raise ValueError(f"`args.command` must be one of {COMMANDS}; got {args.command!r}")
    return run_reporting_errors(_sweep, args)
