"""The evaluation protocol: one function that turns any agent into a leaderboard result.

For each seed and each preference w of the environment's preference set (``EvalSpec.preferences``: 11 weights for 2
objectives, the 15-point simplex lattice for 3), the agent answers the environment's test split in its fixed order,
the environment's reward models score all replies in one batched call per model, and the mean reward vector is
recorded. Costs are recorded alongside: the agent's own training costs, the evaluation's device, peak memory and
seconds, and the seconds per reply relative to the untrained default policy timed in the same run on the same
prompts (the protocol of morl-baselines' benchmark: fixed reference points and seeds, its issue #43; the cost
challenges of Kong et al., 2025, arXiv 2509.21613).

>>> class Echo(Agent):
...     name, family = "echo", "single-policy"
...     def respond(self, prompts, preference, seed):
...         return ["I hear you." for _ in prompts]
>>> Echo().family
'single-policy'
"""

from __future__ import annotations

import importlib.metadata
import platform
import resource
import subprocess
import sys
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from leaderboards.submission import FAMILIES, NAME_RE, SCHEMA_VERSION, compute_metrics

__all__ = ["BaseAgent", "Agent", "TrainingCosts", "DefaultPolicyAgent", "evaluate", "build_result", "code_version",
           "TIMING_PROMPTS"]

TIMING_PROMPTS = 8  # test prompts timed for the relative inference cost


@dataclass(frozen=True)
class TrainingCosts:
    """What training an agent cost. ``peak_memory_bytes``: ``torch.cuda.max_memory_allocated`` on a GPU, else the
    process's peak resident set size."""

    env_samples: int  # rewarded replies drawn from the environment during training
    tokens_generated: int  # policy tokens generated during training
    train_seconds: float  # wall-clock training time
    device: str  # e.g. "cuda:NVIDIA H100 80GB HBM3" or "cpu"
    peak_memory_bytes: int


class BaseAgent(ABC):
    """What every board entry's agent declares: a name, a family, and optionally its training costs and details.

    ``name`` must match ``[A-Za-z0-9][A-Za-z0-9._-]{0,63}`` (it names the board entry's file); ``family`` is one of
    ``FAMILIES``. Set ``preference_independent = True`` when the agent's answers ignore the preference (e.g. the
    untrained policy): the protocol then asks once per seed and reuses the answers for every w, and records it.
    Text environments take an :class:`Agent` (replies), choice environments a
    :class:`leaderboards.choice.ChoiceAgent` (candidate indices).
    """

    preference_independent: bool = False

    @property
    @abstractmethod
    def name(self) -> str:
        """The agent's name on the board."""

    @property
    @abstractmethod
    def family(self) -> str:
        """"single-policy", "multi-policy" or "meta-policy"."""

    def training_costs(self) -> TrainingCosts | None:
        """Training costs, or None when not reported (recorded as null and shown as "n/a" on the board)."""
        return None

    def details(self) -> dict | None:
        """How the agent was built (a JSON object, e.g. the trained preference set when it was reduced), recorded
        in the result as ``agent.details``; None records nothing."""
        return None


class Agent(BaseAgent):
    """An agent of the text environments: replies for a preference (see :class:`BaseAgent` for the rest)."""

    @abstractmethod
    def respond(self, prompts: list[str], preference: np.ndarray, seed: int) -> list[str]:
        """One reply per prompt for preference ``preference`` (shape (n_objectives,), sums to 1), seeded by
        ``seed`` so the same call gives the same replies."""


class DefaultPolicyAgent(Agent):
    """The untrained default policy (``agents.CausalLMPolicy``, SmolLM2-135M-Instruct): the same replies for every
    preference, sampled with the seed. It is the baseline of the relative inference cost."""

    preference_independent = True

    def __init__(self, name: str = "default-policy", policy: Any = None, **policy_kwargs: Any) -> None:
        self._name = name
        self._policy, self._policy_kwargs = policy, policy_kwargs

    @property
    def name(self) -> str:
        return self._name

    @property
    def family(self) -> str:
        return "single-policy"

    @property
    def policy(self) -> Any:
        """The wrapped ``CausalLMPolicy``, loaded on first use."""
        if self._policy is None:
            from agents import CausalLMPolicy

            self._policy = CausalLMPolicy(**self._policy_kwargs)
        return self._policy

    def respond(self, prompts: list[str], preference: np.ndarray, seed: int) -> list[str]:
        return self.policy.respond(list(prompts), seed=seed, do_sample=True)

    def training_costs(self) -> TrainingCosts:
        return TrainingCosts(0, 0, 0.0, str(self.policy.device), 0)


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


def _check_agent(agent: object, kind: type[BaseAgent] | None = None) -> None:
    """``agent`` is a ``kind`` (default :class:`Agent`) with a board-safe name and a known family."""
    kind = Agent if kind is None else kind
    if not isinstance(agent, kind):
        raise TypeError(f"`agent` must be a {kind.__module__}.{kind.__name__}; got {type(agent).__name__}")
    if not isinstance(agent.name, str) or NAME_RE.fullmatch(agent.name) is None:
        raise ValueError(f"`agent.name` must be 1 to 64 characters from [A-Za-z0-9._-], starting with a letter or "
                         f"digit; got {agent.name!r}")
    if agent.family not in FAMILIES:
        raise ValueError(f"`agent.family` must be one of {FAMILIES}; got {agent.family!r}")


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
    prefs = np.asarray(preferences, dtype=np.float64)
    d = len(spec.objectives)
    if prefs.ndim != 2 or prefs.shape[1] != d or not 1 <= len(prefs) <= 1000:
        raise ValueError(f"`preferences` must have shape (m, {d}) with 1 <= m <= 1000, one column per objective "
                         f"{spec.objectives}; got shape {prefs.shape}")
    if not np.isfinite(prefs).all() or (prefs < 0).any() or not np.allclose(prefs.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError(f"`preferences` rows must be non-negative and sum to 1; got {prefs.tolist()!r:.120}")
    return prefs


def _mean_reward(agent: Agent, models: Sequence[Any], prompts: list[str], preference: np.ndarray,
                 seed: int) -> np.ndarray:
    """The mean reward vector (d,) of the agent's replies to ``prompts``, scored in one call per reward model."""
    from morl_envs.counsel_env import clip_replies, score_replies

    replies = agent.respond(list(prompts), preference.copy(), seed)
    if not isinstance(replies, list) or len(replies) != len(prompts):
        got = len(replies) if isinstance(replies, list) else type(replies).__name__
        raise ValueError(f"`{agent.name}.respond` must return a list with one reply per prompt ({len(prompts)}); "
                         f"got {got}")
    replies, _ = clip_replies(replies, f"{agent.name}.respond(...)")  # as the env's step: cut to MAX_REPLY_CHARS
    return score_replies(models, prompts, replies).astype(np.float64).mean(axis=0)  # (B, d) -> (d,)


def _evaluate_seed(agent: Agent, models: Sequence[Any], prompts: list[str], prefs: np.ndarray,
                   seed: int) -> np.ndarray:
    """The (m, d) per-preference mean reward vectors of one seed."""
    if agent.preference_independent:
        uniform = np.full(prefs.shape[1], 1.0 / prefs.shape[1])
        return np.tile(_mean_reward(agent, models, prompts, uniform, seed), (len(prefs), 1))
    return np.stack([_mean_reward(agent, models, prompts, w, seed) for w in prefs])


def _seconds_per_reply(agent: Agent, prompts: list[str], seed: int, preference: np.ndarray) -> float:
    agent.respond(prompts[:1], preference.copy(), seed)  # warm-up: lazy loading, kernels, caches
    start = time.perf_counter()
    agent.respond(list(prompts), preference.copy(), seed)
    return max(time.perf_counter() - start, 1e-9) / len(prompts)


def _reset_peak_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def _device_and_peak_memory() -> tuple[str, int]:
    """The evaluation device and its peak memory: CUDA allocations since the reset, else the process's max RSS."""
    import torch

    if torch.cuda.is_available():
        return f"cuda:{torch.cuda.get_device_name()}", int(torch.cuda.max_memory_allocated())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return f"cpu:{platform.machine()}", int(rss if sys.platform == "darwin" else rss * 1024)


def _make_env(env_id: str, env_kwargs: dict, choice: bool = False) -> Any:
    """``gymnasium.make(env_id)`` for a registered text id (``choice``: a choice id), naming the other protocol's
    entry point when the id belongs to it."""
    import gymnasium as gym

    import morl_envs
    from reward_models.base import did_you_mean

    ids, other = (morl_envs.CHOICE_ENV_IDS, morl_envs.ENV_IDS) if choice else (morl_envs.ENV_IDS,
                                                                             morl_envs.CHOICE_ENV_IDS)
    if env_id not in ids:
        hint = (f" ({env_id!r} is a {'text' if choice else 'choice'} environment: evaluate it with "
                f"{'leaderboards.protocol.evaluate' if choice else 'leaderboards.choice.evaluate_choice'})"
                if env_id in other else did_you_mean(str(env_id), list(ids)))
        raise ValueError(f"`env_id` must be a registered {'choice' if choice else 'text'} environment id "
                         f"{sorted(ids)}; got {env_id!r}.{hint}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the Psych8k fallback notice: its fingerprint says so
        return gym.make(env_id, **env_kwargs)


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
    if baseline is None:
        baseline = agent if isinstance(agent, DefaultPolicyAgent) else DefaultPolicyAgent()
    base = own if baseline is agent else _seconds_per_reply(baseline, prompts, seed, uniform)
    return {**_training_costs(agent), "eval_seconds_per_reply": own, "baseline_seconds_per_reply": base}


def build_result(spec: Any, agent: BaseAgent, n_prompts: int, seeds: list[int], prefs: np.ndarray,
                 rewards: np.ndarray, costs: dict[str, Any]) -> dict:
    """A schema-1 result (without ``claimed_metrics``) from the per-seed, per-preference mean reward vectors
    ``rewards`` (S, m, d) of ``agent`` on the ``n_prompts`` prompts of ``spec``'s test split."""
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
        "seeds": seeds, "preferences": prefs.tolist(), "rewards": rewards.tolist(), "costs": costs}


def evaluate(agent: Agent, env_id: str, seeds: Sequence[int] = (0, 1, 2), preferences: npt.ArrayLike | None = None,
             max_prompts: int | None = None, *, baseline: Agent | None = None, timing_prompts: int = TIMING_PROMPTS,
             **env_kwargs: Any) -> dict:
    """The leaderboard result (schema version 1, see :mod:`leaderboards.submission`) of ``agent`` on ``env_id``.

    ``preferences`` defaults to the eval spec's set and ``max_prompts`` to the whole test split; results with
    other values are for quick checks and are refused by ``submit``. ``baseline`` is the agent the inference cost
    is relative to (default: a fresh :class:`DefaultPolicyAgent`, or ``agent`` itself when it is one, which then
    gets exactly 1.0); both are timed on the first ``timing_prompts`` test prompts with the first seed.
    ``env_kwargs`` go to ``gymnasium.make``.
    """
    _check_agent(agent)
    seeds = _check_seeds(seeds)
    if max_prompts is not None and (isinstance(max_prompts, bool) or not isinstance(max_prompts, int)
                                    or max_prompts < 1):
        raise ValueError(f"`max_prompts` must be None (the whole test split) or an int >= 1; got {max_prompts!r}")
    if isinstance(timing_prompts, bool) or not isinstance(timing_prompts, int) or timing_prompts < 1:
        raise ValueError(f"`timing_prompts` must be an int >= 1; got {timing_prompts!r}")
    env = _make_env(env_id, env_kwargs)
    try:
        base, spec = env.unwrapped, env.unwrapped.eval_spec
        prompts = [p.text for p in base.prompt_set.split(spec.test_split)][:max_prompts]
        prefs = _check_preferences(preferences, spec)
        _reset_peak_memory()
        start = time.perf_counter()
        rewards = np.stack([_evaluate_seed(agent, base.reward_models, prompts, prefs, s) for s in seeds])  # (S,m,d)
        eval_seconds = time.perf_counter() - start
        costs = _costs(agent, baseline, prompts[:timing_prompts], seeds[0], len(spec.objectives))
        costs["eval_device"], costs["eval_peak_memory_bytes"] = _device_and_peak_memory()
        costs["eval_seconds"] = eval_seconds
    finally:
        env.close()
    result = build_result(spec, agent, len(prompts), seeds, prefs, rewards, costs)
    result["claimed_metrics"] = compute_metrics(result)
    return result
