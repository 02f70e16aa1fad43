"""``morl-bench train`` and ``sweep``: train an agent, summarise it, and evaluate it for the board.

    morl-bench train --env ID --agent NAME [--preference W [W ...]]
                     [--all-preferences] [--steps N] [--seed S] [--out DIR] [--resume] [--result RESULT.json]

``--agent`` is any trained agent of ``agents.registry`` (every scalarizer, ``weight-grid``, ``emorl``,
``rewarded-soups``). Without ``--preference`` / ``--all-preferences`` one policy is trained at the uniform preference
(PAMA and MGDA: one preference-free policy). ``--preference`` may be repeated to train one policy per given preference;
``--all-preferences`` trains one per preference of the environment's evaluation set (the full MORLHF front).
Every other field of :class:`agents.config.TrainConfig` and :class:`agents.config.PolicyConfig` is an option too
(``--k``, ``--beta``, ``--learning-rate``, ``--model``, ``--max-new-tokens``, ...), with the field's help text.
At the end the per-objective test rewards before (the untrained policy) and after training are printed; with
``--result`` the leaderboard's evaluation protocol runs on the trained agent and writes a result file that
``morl-bench submit`` accepts; its ``agent.details`` records the trained preferences and which trained policy
answered each evaluated preference. Re-running a finished run with ``--resume`` skips its training, so
``--resume --result R.json`` evaluates an agent trained earlier. The environment is built once for training, the
summary and the evaluation, and the trained policy is evaluated as it is, without reloading it.

Errors print ``error: <message>`` to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from transformers.utils import logging as hf_logging

import morl_envs
from agents.baselines import DefaultPolicyAgent
from agents.config import PolicyConfig, TrainConfig
from agents.meta_policy import GatedMixture, MetaPolicyAgent, fit_gate, search_mixtures
from agents.registry import AgentEntry, agent_entry, agent_names
from agents.rl import run_summary, scalarizer_for
from agents.single_policy import ScalarizedAgent
from leaderboards.protocol import code_version, evaluate
from morl_cli import run_reporting_errors
from morl_core.files import file_sha256, write_atomic

__all__ = ["COMMANDS", "RUN_FILE", "add_commands", "run", "build_agent", "comparison_table", "regenerate_result"]

COMMANDS = ("train",)
#: TrainConfig fields that have their own flag (or are set from one)
_OWN_FLAGS = ("env_id", "env_kwargs", "scalarizer", "preference", "scalarizer_kwargs", "seed", "max_steps",
              "out_dir", "resume", "policy")
_TYPES = {"int": int, "float": float, "str": str}
RUN_FILE = "run.json"  # in the run folder: the train command's options and code version (what regenerates it)
_PATH_OPTIONS = ("out", "result")


def _field_flags(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...], prefix: str) -> None:
    """One ``--field-name`` option per scalar field of dataclass ``cls``, its help text the field's."""
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        kind = _TYPES[str(f.type).split(" |")[0]]
        parser.add_argument(f"--{f.name.replace('_', '-')}", dest=f"{prefix}{f.name}", type=kind, default=None,
                            metavar=kind.__name__.upper(), help=f"{f.metadata['help']} (default: {f.default})")


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``train`` on ``subparsers`` (from ``parser.add_subparsers()``)."""
    p = subparsers.add_parser("train", help="train a single-policy agent (k-SCST with LoRA) and summarise it",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", required=True, help="registered environment id")
    p.add_argument("--agent", required=True, choices=agent_names(trained=True),
                   help="a scalarizer of the per-objective advantages (single policy); weight-grid: linear over every "
                        "preference of the evaluation set (multi-policy); emorl / rewarded-soups: one linear expert "
                        "per objective, combined at inference")
    p.add_argument("--expert-scalarizer", choices=("linear", "mgda-anchor"), default="linear",
                   help="emorl / rewarded-soups: how each expert is trained: linear at its one-hot preference, or "
                        "mgda-anchor (MGDA between its objective and the mean of the others)")
    p.add_argument("--aggregation", choices=("hidden", "logit", "parameter"), default="hidden",
                   help="emorl: how the experts are combined (default: hidden states)")
    p.add_argument("--gate-prompts", type=int, default=0,
                   help="emorl: fit the contextual-bandit gate on this many training prompts (0: no gate)")
    p.add_argument("--gate-model", choices=("shared", "disjoint"), default="shared",
                   help="emorl gate: one LinUCB regression shared by all mixtures (default) or one per mixture")
    p.add_argument("--search-prompts", type=int, default=0,
                   help="emorl / rewarded-soups: grid-search each preference's mixture on this many validation "
                        "prompts (0: the identity map, expert i weighted by w_i)")
    p.add_argument("--search-rounds", type=int, default=2, help="rounds of the hierarchical grid search (EMORL: 5)")
    p.add_argument("--preference", type=float, nargs="+", action="append", metavar="W",
                   help="a preference, one weight per objective, summing to 1 (repeat for several policies)")
    p.add_argument("--all-preferences", action="store_true",
                   help="one policy per preference of the evaluation set (the MORLHF front)")
    p.add_argument("--steps", type=int, default=None, help="step budget per policy (default: 500)")
    p.add_argument("--seed", type=int, default=0, help="training seed")
    p.add_argument("--out", type=Path, default=None, help="run folder (default: runs/<env>/<agent>-seed<seed>)")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoints in --out")
    p.add_argument("--name", default=None, help="agent name on the board (default: the --agent value)")
    p.add_argument("--result", type=Path, default=None, help="run the evaluation protocol and write this result")
    p.add_argument("--eval-seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds of the evaluation protocol")
    p.add_argument("--compare-untrained", action="store_true",
                   help="with --result: evaluate the untrained policy by the same protocol and print the test HV "
                        "before and after training, and whether the gain exceeds the evaluation-seed noise")
    p.add_argument("--max-prompts", type=int, default=None,
                   help="cut the test split (summary and --result; quick checks only: submit refuses such results)")
    p.add_argument("--summary-prompts", type=int, default=None,
                   help="test prompts of the before/after summary (default: all; 0 skips it)")
    p.add_argument("--objectives", nargs="+", default=None,
                   help="override the environment's objectives (quick checks only: submit refuses such results)")
    p.add_argument("--scalarizer-option", action="append", default=[], metavar="KEY=VALUE",
                   help="option of the scalarizer, VALUE as JSON (e.g. gamma=0.07 for dynaopt)")
    _field_flags(p, TrainConfig, _OWN_FLAGS, "train_")
    _field_flags(p, PolicyConfig, (), "policy_")


def _options(pairs: list[str]) -> dict[str, Any]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--scalarizer-option must be KEY=VALUE; got {pair!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def _trained_preferences(args: argparse.Namespace, entry: AgentEntry, config: TrainConfig) -> list | None:
    """The preferences the agent's policies train for, by the entry's preference mode (None: preference-free)."""
    if args.preference and args.all_preferences:
        raise ValueError("--preference and --all-preferences are exclusive; got both")
    if args.all_preferences and entry.preferences == "free":
        raise ValueError(f"--all-preferences does not apply to --agent {args.agent}, which trains one policy for every "
                         f"preference; got both")
    if entry.preferences in ("grid", "experts") and (args.preference or args.all_preferences):
        raise ValueError(f"--preference and --all-preferences do not apply to --agent {args.agent}, which sets its "
                         f"own trained preferences; got one of them")
    if args.preference is not None or entry.preferences == "free":
        return args.preference
    spec = morl_envs.describe(config.env_id, **config.env_kwargs)
    n = len(spec.objectives)
    if args.all_preferences or entry.preferences == "grid":
        return spec.preferences.tolist()
    if entry.preferences == "experts":
        return np.eye(n).tolist()  # one expert per objective
    return [[1.0 / n] * n]


#: TrainConfig fields whose command-line flag is not ``--field-name``
_FLAG_OF = {"max_steps": "--steps", "out_dir": "--out", "env_id": "--env", "env_kwargs": "--objectives",
            "scalarizer_kwargs": "--scalarizer-option", "scalarizer": "--agent"}


def as_flags(message: str) -> str:
    """A configuration error as the command line's user reads it: each backticked field name becomes its flag
    ("`max_steps` must be ..." -> "`--steps` must be ...")."""
    names = {f.name for cls in (TrainConfig, PolicyConfig) for f in dataclasses.fields(cls)}

    def flag(match: re.Match) -> str:
        name = match.group(1)
        if name not in names:
            return match.group(0)
        return f"`{_FLAG_OF.get(name, '--' + name.replace('_', '-'))}`"

    return re.sub(r"`(\w+)`", flag, message)


def _check_runs(config: TrainConfig, preferences: list | None) -> None:
    """Check every run's preference against the environment's objectives and the scalarizer's options, from the
    registry alone (no model is loaded), before anything is written."""
    objectives = morl_envs.describe(config.env_id, **config.env_kwargs).objectives
    for w in preferences or [None]:
        try:
            run = dataclasses.replace(config, preference=None if w is None else tuple(w))
            run.check_objectives(tuple(objectives))
            scalarizer_for(run, len(objectives))
        except (TypeError, ValueError) as exc:
            raise ValueError(as_flags(str(exc))) from None


def build_agent(args: argparse.Namespace) -> ScalarizedAgent:
    """The :class:`~agents.single_policy.ScalarizedAgent` described by parsed ``train`` arguments (for experts: the
    experts, which :func:`build_meta_agent` then combines). Builds no environment and loads no model."""
    entry = agent_entry(args.agent)
    picked = {k[7:]: v for k, v in vars(args).items() if k.startswith("policy_") and v is not None}
    train = {k[6:]: v for k, v in vars(args).items() if k.startswith("train_") and v is not None}
    if args.steps is not None:
        train["max_steps"] = args.steps
    if args.out is not None:
        train["out_dir"] = str(args.out)
    env_kwargs = {"objectives": tuple(args.objectives)} if args.objectives else {}
    experts = entry.preferences == "experts"
    if experts and args.out is None:
        train["out_dir"] = f"runs/{args.env.replace('/', '-')}/experts-seed{args.seed}"
    try:
        config = TrainConfig(env_id=args.env, env_kwargs=env_kwargs,
                             scalarizer=entry.scalarizer or args.expert_scalarizer, seed=args.seed, resume=args.resume,
                             scalarizer_kwargs=_options(args.scalarizer_option), policy=PolicyConfig(**picked),
                             **train)
    except ValueError as exc:
        raise ValueError(as_flags(str(exc))) from None
    preferences = _trained_preferences(args, entry, config)
    _check_runs(config, preferences)
    name = args.name or (args.agent if entry.preferences == "grid" else None)
    family = "multi-policy" if entry.preferences == "grid" else "single-policy"
    return ScalarizedAgent(config, preferences, name="experts" if experts else name, family=family)


def build_meta_agent(args: argparse.Namespace, experts: ScalarizedAgent, env: gym.Env) -> MetaPolicyAgent:
    """The :class:`~agents.meta_policy.MetaPolicyAgent` of ``--agent emorl | rewarded-soups`` on trained
    ``experts``, with its gate fitted (``--gate-prompts``) or its mixtures searched (``--search-prompts``), scored by
    ``env``."""
    aggregation = agent_entry(args.agent).aggregation or args.aggregation
    for flag in ("gate_prompts", "search_prompts", "search_rounds"):
        if getattr(args, flag) < 0:
            raise ValueError(f"--{flag.replace('_', '-')} must be >= 0; got {getattr(args, flag)}")
    if args.gate_prompts and (args.search_prompts or args.agent != "emorl"):
        raise ValueError(f"--gate-prompts applies to --agent emorl without --search-prompts; got --agent "
                         f"{args.agent} with --search-prompts {args.search_prompts}")
    base, n = env.unwrapped, len(experts.trained_preferences)
    gate = GatedMixture(n, n, seed=args.seed, model=args.gate_model) if args.gate_prompts else None
    agent = MetaPolicyAgent(experts, aggregation, gate=gate, name=args.name)
    prefs = np.asarray(base.eval_spec.preferences, dtype=np.float64)
    if gate is not None:
        prompts = [p.text for p in base.prompt_set.split("train")][: args.gate_prompts]
        report = agent.bandit_report = fit_gate(agent, prompts, prefs, base.score, seed=args.seed)
        print(f"gate: {report.gate_reward:.4f} mean w.r over {len(report.regret_curve)} rounds; best fixed mixture "
              f"{report.best_fixed_reward:.4f} (arm {report.best_fixed_arm}), best per preference "
              f"{report.best_per_preference_reward:.4f}, oracle {report.oracle_reward:.4f}; regret vs best fixed "
              f"{report.regret:.2f}")
    if args.search_prompts:
        prompts = [p.text for p in base.prompt_set.split("validation")][: args.search_prompts]
        agent.mixtures, agent.search_samples = search_mixtures(agent, prompts, prefs, base.score, args.seed,
                                                               args.search_rounds)
        print(f"mixture search: {agent.search_samples} replies scored; mixtures "
              f"{np.round(agent.mixtures.mixtures, 3).tolist()}")
    return agent


def summary_rewards(agent: ScalarizedAgent, seed: int, max_prompts: int | None,
                    env: gym.Env) -> tuple[list[str], dict[str, Any]]:
    """Mean test-split reward vectors of the untrained policy and of each trained policy (seeded sampling)."""
    base = env.unwrapped
    prompts = [p.text for p in base.prompt_set.split(base.eval_spec.test_split)][:max_prompts]
    policy = agent.policy
    rows = {}
    with policy.reference():
        rows["before (untrained)"] = base.score(prompts, policy.respond(prompts, seed=seed)).mean(0)
    prefs = agent.trained_preferences
    for i in range(1 if prefs is None else len(prefs)):
        label = "after" if prefs is None else "after w=(" + ", ".join(f"{x:.2f}" for x in prefs[i]) + ")"
        policy.set_adapter(agent._adapter_name(i))
        rows[label] = base.score(prompts, policy.respond(prompts, seed=seed)).mean(0)
    return list(base.objectives), {"n_prompts": len(prompts), "rows": rows}


def _print_summary(agent: ScalarizedAgent, states: list[Any], args: argparse.Namespace, env: gym.Env) -> None:
    for folder, state in zip(agent.run_dirs, states):
        print(f"{folder}: {run_summary(state)}")
    if args.summary_prompts == 0:
        return
    limit = args.summary_prompts if args.summary_prompts is not None else args.max_prompts
    objectives, table = summary_rewards(agent, args.seed, limit, env)
    width = max(len(label) for label in table["rows"]) + 2
    print(f"\nmean test rewards ({table['n_prompts']} prompts, seed {args.seed}):")
    print(" " * width + "  ".join(f"{name:>11s}" for name in objectives) + "  " + f"{'mean':>7s}")
    for label, values in table["rows"].items():
        print(f"{label:<{width}s}" + "  ".join(f"{v:11.3f}" for v in values) + f"  {values.mean():7.3f}")


def _write_result(agent: Any, args: argparse.Namespace, env: gym.Env) -> None:
    if not args.result.parent.is_dir():
        raise ValueError(f"--result must be in an existing folder; got {str(args.result)!r}")
    untrained = DefaultPolicyAgent(**agent.config.policy.policy_kwargs())  # the same LM, precision and lengths
    result = evaluate(agent, args.env, seeds=args.eval_seeds, max_prompts=args.max_prompts, baseline=untrained,
                      env=env)
    run_file = Path(agent.config.out_dir) / RUN_FILE
    if run_file.is_file():  # the run folder is a training artifact: verify --artifact regenerates these replies
        details = result["agent"].setdefault("details", {})
        details["artifact"] = {"run_file_sha256": file_sha256(run_file), "code_version": result["code_version"]}
    write_atomic(args.result, json.dumps(result, indent=1, allow_nan=False) + "\n")
    print(f"\nwrote {args.result} (the trained preferences are in its agent.details)")
    for key, value in result["claimed_metrics"].items():
        print(f"  {key}: {value}")
    if getattr(args, "compare_untrained", False):
        before = evaluate(untrained, args.env, seeds=args.eval_seeds, max_prompts=args.max_prompts, env=env)
        print(comparison_table(before, result))
    print(f"\nsubmit it to the board with: morl-bench submit {args.result}")


def comparison_table(before: dict, after: dict) -> str:
    """The untrained and the trained agent's test results side by side (markdown): mean reward per objective
    over seeds and preferences, HV mean and its std over evaluation seeds, and whether the HV gain exceeds the sum
    of the two stds (the main job's criterion of visible learning)."""
    objectives = after["objectives"]
    lines = ["", f"test split, {after['evaluation']['n_prompts']} prompts, evaluation seeds {after['seeds']}:", "",
             "| agent | " + " | ".join(objectives) + " | HV mean | HV std (eval seeds) |",
             "|---|" + "---|" * (len(objectives) + 2)]
    for label, result in (("untrained", before), ("trained", after)):
        means = np.asarray(result["rewards"], dtype=np.float64).reshape(-1, len(objectives)).mean(axis=0)
        metrics = result["claimed_metrics"]
        lines.append(f"| {label} | " + " | ".join(f"{m:.3f}" for m in means)
                     + f" | {metrics['hv_mean']:.4f} | {metrics['hv_eval_std']:.4f} |")
    gain = after["claimed_metrics"]["hv_mean"] - before["claimed_metrics"]["hv_mean"]
    noise = after["claimed_metrics"]["hv_eval_std"] + before["claimed_metrics"]["hv_eval_std"]
    verdict = "exceeds" if gain > noise else "does not exceed"
    return "\n".join(lines + ["", f"HV gain {gain:+.4f} {verdict} the sum of the two stds ({noise:.4f})"])


def _record_run(args: argparse.Namespace, out_dir: str) -> None:
    """Write ``<out_dir>/run.json`` (:data:`RUN_FILE`) on a run's first start: the options of this command and the
    code version, so that the run folder is an artifact ``morl-bench verify --artifact`` can regenerate replies
    from. A resumed run keeps the file of its first start."""
    path = Path(out_dir) / RUN_FILE
    if path.exists():
        return
    options = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps({"options": options, "code_version": code_version()}, indent=1) + "\n")


def regenerate_result(artifact: Path, seeds: list[int], out: Path) -> dict:
    """Evaluate the agent trained in the run folder ``artifact`` again (its :data:`RUN_FILE` options with
    ``--resume``: the finished training is not repeated) on the evaluation ``seeds``, writing the result to ``out``;
    returns the result. Raises ``ValueError`` naming ``artifact`` when the folder holds no run file."""
    path = Path(artifact) / RUN_FILE
    try:
        options = json.loads(path.read_text(encoding="utf-8"))["options"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise ValueError(f"--artifact must be a run folder that `morl-bench train` wrote (with its {RUN_FILE}); got "
                         f"{str(artifact)!r}") from None
    options.update({k: Path(options[k]) if options.get(k) is not None else None for k in _PATH_OPTIONS})
    options.update(out=Path(artifact), resume=True, result=Path(out), eval_seeds=list(seeds), max_prompts=None,
                   summary_prompts=0, compare_untrained=False)
    code = run(argparse.Namespace(**options))
    if code != 0:
        raise ValueError(f"--artifact {str(artifact)!r}: evaluating its trained agent again failed (above)")
    return json.loads(Path(out).read_text(encoding="utf-8"))


def _train(args: argparse.Namespace) -> int:
    hf_logging.disable_progress_bar()  # weight loading bars: one progress bar (the training's) is enough
    if args.result is not None and args.result.is_dir():
        raise ValueError(f"--result must be a file path; got the folder {str(args.result)!r}")
    agent = build_agent(args)
    _record_run(args, agent.config.out_dir)
    n_runs = len(agent.run_dirs)
    print(f"training {agent.name} on {args.env}: {n_runs} polic{'y' if n_runs == 1 else 'ies'} into "
          f"{agent.config.out_dir}", flush=True)
    env = morl_envs.make(args.env, **agent.config.env_kwargs)  # the one environment of the whole run
    try:
        states = agent.train(progress=True, env=env)
        _print_summary(agent, states, args, env)
        if agent_entry(args.agent).preferences == "experts":
            agent = build_meta_agent(args, agent, env)
        if args.result is not None:
            _write_result(agent, args, env)
    finally:
        env.close()
    return 0


def run(args: argparse.Namespace) -> int:
    """Run ``train``; 0 on success, 2 (after ``error: ...`` on stderr) on a user error."""
    if args.command not in COMMANDS:
        raise ValueError(f"`args.command` must be one of {COMMANDS}; got {args.command!r}")
    return run_reporting_errors(_train, args)
