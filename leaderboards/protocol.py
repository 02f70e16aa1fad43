"""The evaluation protocol: one function that turns any agent into a leaderboard result.

For each seed and each preference w of the environment's preference set (``EvalSpec.preferences``: 11 weights for 2
objectives, the 15-point simplex lattice for 3), the agent answers the environment's test split in its fixed order,
the environment's reward models score all replies in one batched call per model, and the mean reward vector is
recorded with the replies themselves (so that ``submit`` can score them again). Costs are recorded alongside: the
agent's own training costs, the evaluation's device, peak memory and seconds, and the seconds per reply relative to
the untrained default policy timed in the same run on the same prompts (the protocol of morl-baselines' benchmark:
fixed reference points and seeds, its issue #43; the cost challenges of Kong et al., 2025, arXiv 2509.21613). Agents
implement :class:`morl_core.agent.Agent`; the protocol builds none itself, so the caller hands in the untrained
baseline of the inference cost.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import numpy.typing as npt
from tqdm.auto import tqdm

import morl_envs
from leaderboards.answers import AnswerTable, pack_answers, unpack_answers
from leaderboards.submission import SCHEMA_VERSION, compute_metrics
from morl_core.agent import Agent, BaseAgent, TrainingCosts, check_agent
from morl_core.device import device_and_peak_memory, reset_peak_memory
from morl_core.errors import did_you_mean
from morl_core.registry import Registry
from morl_core.simplex import check_weight_rows

__all__ = ["PROTOCOLS", "Agent", "BaseAgent", "TrainingCosts", "evaluate", "build_result", "bundle", "code_version",
           "make_env", "opened_env", "TIMING_PROMPTS"]

TIMING_PROMPTS = 8  # test prompts timed for the relative inference cost
#: kind of environment (``morl_envs.ENV_KINDS``) -> the function that evaluates an agent on it:
#: ``protocol(agent, env_id, seeds, ...) -> result``; ``leaderboards.choice`` registers the choice kind's
PROTOCOLS: Registry[Callable[..., dict]] = Registry("kind")


def code_version() -> str:
    """``git describe --always --dirty --tags`` of this checkout when it is one, else the installed version."""
    root = Path(__file__).resolve().parents[1]
    if (root / ".git").exists():
        try:
            out = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=root, check=True,
                                 capture_output=True, text=True, timeout=10).stdout.strip()
            if out:
                return f"git:{out}"[:200]
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        return f"morl-llm-bench {importlib.metadata.version('morl-llm-bench')}"
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _check_seeds(seeds: Sequence[int]) -> list[int]:
    seeds = list(seeds)
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 0 <= s < 2**32]
    if not 1 <= len(seeds) <= 100 or bad or len(set(seeds)) != len(seeds):
        raise ValueError(f"`seeds` must be 1 to 100 distinct ints in [0, 2**32); got {seeds!r:.120}")
    return [int(s) for s in seeds]


def _check_preferences(preferences: npt.ArrayLike | None, spec: Any) -> np.ndarray:
    """The spec's preference set, or the caller's (m, d) simplex rows (results with others cannot be submitted)."""
    if preferences is None:
        return np.asarray(spec.preferences, dtype=np.float64)
    return check_weight_rows(preferences, len(spec.objectives), max_rows=1000)


def _replies(agent: Agent, prompts: list[str], preference: np.ndarray, seed: int) -> list[str]:
    """The agent's replies to ``prompts`` at ``preference`` and ``seed``, checked to be one per prompt."""
    replies = agent.respond(list(prompts), preference.copy(), seed)
    if not isinstance(replies, list) or len(replies) != len(prompts):
        got = len(replies) if isinstance(replies, list) else type(replies).__name__
        raise ValueError(f"`{agent.name}.respond` must return a list with one reply per prompt ({len(prompts)}); "
                         f"got {got}")
    return replies


def _score_distinct(env: Any, prompts: list[str], replies: list[list[str]]) -> np.ndarray:
    """Reward vectors (m, n, d) of m blocks of replies to the same n ``prompts``, scored in one batched call per
    reward model over the distinct (prompt, reply) pairs only (a reduced weight grid answers several preferences
    alike)."""
    pairs = [(i, r) for block in replies for i, r in enumerate(block)]
    distinct = list(dict.fromkeys(pairs))
    where = {pair: row for row, pair in enumerate(distinct)}
    scored = env.score([prompts[i] for i, _ in distinct], [r for _, r in distinct]).astype(np.float64)  # (u, d)
    return scored[[where[pair] for pair in pairs]].reshape(len(replies), len(prompts), -1)


def _evaluate_seed(agent: Agent, env: Any, prompts: list[str], prefs: np.ndarray, seed: int,
                   table: AnswerTable, bar: Any) -> tuple[np.ndarray, np.ndarray]:
    """The (m, n, d) per-preference, per-prompt reward vectors of one seed and the (m, n) indices of its replies
    in ``table``: every reply of the seed first, then one scoring pass."""
    uniform = np.full((1, prefs.shape[1]), 1.0 / prefs.shape[1])
    asked = uniform if agent.preference_independent else prefs
    replies = []
    for w in asked:
        replies.append(_replies(agent, prompts, w, seed))
        bar.update(len(prompts) * (len(prefs) if agent.preference_independent else 1))
    rewards = _score_distinct(env, prompts, replies)  # (m or 1, n, d)
    index = np.array([table.add(block) for block in replies], dtype=np.int64)  # (m or 1, n)
    if agent.preference_independent:
        return np.tile(rewards, (len(prefs), 1, 1)), np.tile(index, (len(prefs), 1))
    return rewards, index


def _seconds_per_reply(agent: Agent, prompts: list[str], seed: int, preference: np.ndarray) -> float:
    agent.respond(prompts[:1], preference.copy(), seed)  # warm-up: lazy loading, kernels, caches
    start = time.perf_counter()
    agent.respond(list(prompts), preference.copy(), seed)
    return max(time.perf_counter() - start, 1e-9) / len(prompts)


def make_env(env_id: str, env_kwargs: dict, kind: str = "text") -> gym.Env:
    """``morl_envs.make(env_id, **env_kwargs)`` for a registered id of ``kind``, naming the protocol of the other
    kind when the id belongs to it."""
    ids = morl_envs.env_ids(kind)
    if env_id not in ids:
        other = morl_envs.describe(env_id).kind if env_id in morl_envs.ENVS else None
        protocol = PROTOCOLS.get(other) if other in PROTOCOLS else None
        hint = (f" ({env_id!r} is a {other} environment: evaluate it with {protocol.__module__}."
                f"{protocol.__qualname__})" if protocol else did_you_mean(str(env_id), ids))
        raise ValueError(f"`env_id` must be a registered {kind} environment id {ids}; got {env_id!r}.{hint}")
    return morl_envs.make(env_id, **env_kwargs)


@contextmanager
def opened_env(env_id: str, env_kwargs: dict, kind: str, env: gym.Env | None = None) -> Iterator[gym.Env]:
    """``env`` as it is (the caller's, left open), or a fresh :func:`make_env` closed on exit."""
    if env is not None:
        yield env
        return
    env = make_env(env_id, env_kwargs, kind)
    try:
        yield env
    finally:
        env.close()


def _training_costs(agent: BaseAgent) -> dict[str, Any]:
    """The training costs the agent reports, as the result's ``costs`` keys (null where unreported)."""
    train = agent.training_costs()
    if train is not None and not isinstance(train, TrainingCosts):
        raise TypeError(f"`{agent.name}.training_costs()` must return TrainingCosts or None; got "
                        f"{type(train).__name__}")
    reported = asdict(train) if train is not None else {}
    seconds = reported.get("train_seconds")
    return {"env_samples": reported.get("env_samples"), "tokens_generated": reported.get("tokens_generated"),
            "train_seconds": None if seconds is None else float(seconds), "train_device": reported.get("device"),
            "train_peak_memory_bytes": reported.get("peak_memory_bytes")}


def _costs(agent: Agent, baseline: Agent | None, prompts: list[str], seed: int, d: int) -> dict[str, Any]:
    """Training costs as reported by the agent, and the per-reply timing of agent and baseline."""
    uniform = np.full(d, 1.0 / d)
    own = _seconds_per_reply(agent, prompts, seed, uniform)
    baseline = agent if baseline is None else baseline
    base = own if baseline is agent else _seconds_per_reply(baseline, prompts, seed, uniform)
    return {**_training_costs(agent), "eval_seconds_per_reply": own, "baseline_seconds_per_reply": base}


def build_result(spec: Any, agent: BaseAgent, n_prompts: int, seeds: list[int], prefs: np.ndarray,
                 rewards: np.ndarray, costs: dict[str, Any], table: AnswerTable, index: np.ndarray) -> dict:
    """A result of schema version 2 (without ``claimed_metrics``) from the per-seed, per-preference mean reward
    vectors ``rewards`` (S, m, d) of ``agent`` on the ``n_prompts`` prompts of ``spec``'s test split and its answers:
    the distinct ones in ``table``, ``index`` (S, m, n) into it."""
    return {
        "schema_version": SCHEMA_VERSION, "env_id": spec.env_id, "objectives": list(spec.objectives),
        "reference_point": list(spec.reference_point),
        "fingerprints": {"data": spec.data_fingerprint, "reward_models": dict(spec.reward_model_fingerprints),
                         "eval_spec": spec.fingerprint},
        "agent": {"name": agent.name, "family": agent.family,
                  **({"details": details} if (details := agent.details()) is not None else {})},
        "code_version": code_version(),
        "evaluation": {"split": spec.test_split, "n_prompts": n_prompts,
                       "preference_independent": bool(agent.preference_independent)},
        "seeds": seeds, "preferences": prefs.tolist(), "rewards": rewards.tolist(),
        "answers": pack_answers(table.answers, index), "costs": costs}


def evaluate(agent: Agent, env_id: str, seeds: Sequence[int] = (0, 1, 2), preferences: npt.ArrayLike | None = None,
             max_prompts: int | None = None, *, baseline: Agent | None = None, timing_prompts: int = TIMING_PROMPTS,
             env: gym.Env | None = None, progress: bool | None = None, **env_kwargs: Any) -> dict:
    """The leaderboard result (schema version 2, see :mod:`leaderboards.submission`) of ``agent`` on ``env_id``:
    its mean reward vectors and every reply it gave (:mod:`leaderboards.answers`).

    ``preferences`` defaults to the eval spec's set and ``max_prompts`` to the whole test split; results with
    other values are for quick checks and are refused by ``submit``. ``baseline`` is the agent the inference cost
    is relative to: the board's figure is relative to the untrained default policy, which the caller hands in
    (``agents.DefaultPolicyAgent()``; the command line does); None times ``agent`` against itself (exactly 1.0).
    Both are timed on the first ``timing_prompts`` test prompts with the first seed. ``env``: an environment of
    ``env_id`` the caller built already (left open; e.g. the one an agent trained in), else one is built with
    ``env_kwargs`` and closed. ``progress``: a progress bar over the replies (seeds x preferences x prompts); None
    shows it on a terminal only. An agent that declares ``preference_independent`` is asked once per seed, one that
    declares ``seed_independent`` once in all; each seed's replies are scored in one pass over the distinct pairs.
    """
    check_agent(agent, morl_envs.ENV_KINDS.get("text").agent_interface)
    seeds = _check_seeds(seeds)
    if max_prompts is not None and (isinstance(max_prompts, bool) or not isinstance(max_prompts, int)
                                    or max_prompts < 1):
        raise ValueError(f"`max_prompts` must be None (the whole test split) or an int >= 1; got {max_prompts!r}")
    if isinstance(timing_prompts, bool) or not isinstance(timing_prompts, int) or timing_prompts < 1:
        raise ValueError(f"`timing_prompts` must be an int >= 1; got {timing_prompts!r}")
    with opened_env(env_id, env_kwargs, "text", env) as env:
        base, spec = env.unwrapped, env.unwrapped.eval_spec
        prompts = [p.text for p in base.prompt_set.split(spec.test_split)][:max_prompts]
        prefs = _check_preferences(preferences, spec)
        reset_peak_memory()
        start = time.perf_counter()
        table = AnswerTable()
        asked_seeds = seeds[:1] if agent.seed_independent else seeds
        with tqdm(total=len(asked_seeds) * len(prefs) * len(prompts), unit="reply", disable=progress is False,
                  desc=f"evaluate {agent.name}", dynamic_ncols=True) as bar:
            per_seed = [_evaluate_seed(agent, base, prompts, prefs, s, table, bar) for s in asked_seeds]
        per_seed = per_seed * len(seeds) if agent.seed_independent else per_seed
        per_prompt = np.stack([r for r, _ in per_seed])  # (S, m, n, d)
        rewards = per_prompt.mean(axis=2)  # (S, m, d)
        index = np.stack([i for _, i in per_seed])  # (S, m, n)
        eval_seconds = time.perf_counter() - start
        costs = _costs(agent, baseline, prompts[:timing_prompts], seeds[0], len(spec.objectives))
        costs["eval_device"], costs["eval_peak_memory_bytes"] = device_and_peak_memory()
        costs["eval_seconds"] = eval_seconds
    result = build_result(spec, agent, len(prompts), seeds, prefs, rewards, costs, table, index)
    result["claimed_metrics"] = compute_metrics(result, prompt_rewards=per_prompt)
    return result


PROTOCOLS.register("text", evaluate)


_SAME = ("schema_version", "env_id", "objectives", "reference_point", "fingerprints", "agent", "evaluation", "seeds",
         "preferences")


def _bundled_costs(costs: list[dict]) -> dict[str, Any]:
    """Training and evaluation costs of several runs: counts and seconds summed, peaks the largest, per-reply times
    averaged, devices those of the first run (training costs stay null where any run left them unreported)."""
    def total(key: str) -> Any:
        values = [c[key] for c in costs]
        return None if any(v is None for v in values) else sum(values)

    out = {key: total(key) for key in ("env_samples", "tokens_generated", "train_seconds", "eval_seconds")}
    for key in ("train_peak_memory_bytes", "eval_peak_memory_bytes"):
        values = [c[key] for c in costs]
        out[key] = None if any(v is None for v in values) else max(values)
    for key in ("eval_seconds_per_reply", "baseline_seconds_per_reply"):
        out[key] = float(np.mean([c[key] for c in costs]))
    out["train_device"], out["eval_device"] = costs[0]["train_device"], costs[0]["eval_device"]
    return out


def bundle(results: Sequence[dict], training_seeds: Sequence[int]) -> dict:
    """One result from the results of the same agent trained with each of ``training_seeds`` (one result each, in
    that order, every one evaluated on the same evaluation seeds): the board's stability column is then the HV std
    over training seeds, with the evaluation-seed noise shown apart. Rewards and answers are stacked training-seed
    major (block ``t * S + s``), costs combined (:func:`_bundled_costs`)."""
    results, training_seeds = list(results), _check_seeds(training_seeds)
    if not 2 <= len(results) <= 20 or len(results) != len(training_seeds):
        raise ValueError(f"`results` must hold 2 to 20 results, one per training seed ({len(training_seeds)}); got "
                         f"{len(results)}")
    for k, result in enumerate(results):
        if "training_seeds" in result:
            raise ValueError(f"`results[{k}]` must be one training run's result; it bundles {result['training_seeds']}")
        for key in _SAME:
            if result.get(key) != results[0].get(key):
                raise ValueError(f"`results[{k}].{key}` must equal `results[0].{key}` (one agent, environment and "
                                 f"evaluation); got {result.get(key)!r:.120}")
    table, blocks = AnswerTable(), []
    for result in results:
        answers, index = unpack_answers(result["answers"])
        remap = np.asarray(table.add(answers), dtype=np.int64)
        blocks.append(remap[np.asarray(index, dtype=np.int64)])
    out = {key: results[0][key] for key in _SAME}
    versions = list(dict.fromkeys(r["code_version"] for r in results))
    out.update({"code_version": "; ".join(versions)[:200], "training_seeds": training_seeds,
                "rewards": [block for r in results for block in r["rewards"]],
                "answers": pack_answers(table.answers, np.concatenate(blocks)),
                "costs": _bundled_costs([r["costs"] for r in results])})
    out["claimed_metrics"] = {k: v for k, v in compute_metrics(out).items() if not k.startswith("hv_ci")}
    return out
