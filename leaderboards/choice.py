"""The evaluation protocol of the choice environments (``morl_envs.CHOICE_ENV_IDS``): agents answer with actions.

A choice environment's "reply" to a prompt is the index of one of its K candidate replies, whose reward vector is
stored, so the protocol is :func:`leaderboards.protocol.evaluate`'s with exact rewards: for each seed and each
preference w of the environment's preference set, the agent picks one candidate for every test prompt (given as its
observation, the prompt embedding, in the test split's fixed order) and the mean reward vector of the picks is
recorded (``ChoiceEnv.expected_return``: a table look-up, no sampling noise). The result has the text protocol's
schema (version 2; the answers are the chosen candidate indices), so ``submit`` and the boards take it unchanged;
because the Pareto front and the convex coverage set of these environments are known, ``submit`` also recomputes IGD
and MUL against them (:func:`leaderboards.submission.known_fronts`).

Inference cost is relative to the baseline the caller hands in: on the board, ``agents.RandomChoiceAgent``, the
untrained policy of a choice environment (uniformly random picks), timed in the same run on the same observations.

>>> class Pick(ChoiceAgent):
...     name, family = "pick", "multi-policy"
...     def act(self, observations, preference, seed):
...         return np.full(len(observations), int(np.argmax(preference)))
>>> result = evaluate_choice(Pick(), "morl/Counsel-Choice-v2", seeds=(0,))
>>> np.asarray(result["rewards"]).shape, result["evaluation"]["n_prompts"]
((1, 15, 3), 55)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import numpy.typing as npt

import morl_envs
from leaderboards.answers import AnswerTable
from leaderboards.indicators import hypervolume
from leaderboards.protocol import (
    PROTOCOLS,
    _check_preferences,
    _check_seeds,
    _training_costs,
    build_result,
    opened_env,
)
from leaderboards.submission import compute_metrics, known_fronts
from morl_core.agent import ChoiceAgent, check_agent
from morl_core.device import device_and_peak_memory

__all__ = ["ChoiceAgent", "evaluate_choice", "hypervolume_fraction", "TIMING_REPEATS"]

TIMING_REPEATS = 5  # the per-action time is the fastest of this many passes over the test observations


def _actions(agent: ChoiceAgent, observations: np.ndarray, preference: np.ndarray, seed: int,
             n_actions: int) -> np.ndarray:
    """The agent's picks, checked: an integer array (n,) of candidate indices."""
    actions = np.asarray(agent.act(observations.copy(), preference.copy(), seed))
    if actions.shape != (len(observations),) or actions.dtype.kind not in "iu":
        raise ValueError(f"`{agent.name}.act` must return an integer array of shape ({len(observations)},), one "
                         f"candidate index per observation; got shape {actions.shape}, dtype {actions.dtype}")
    if len(actions) and (actions.min() < 0 or actions.max() >= n_actions):
        bad = actions[(actions < 0) | (actions >= n_actions)][0]
        raise ValueError(f"`{agent.name}.act` must return candidate indices in [0, {n_actions - 1}]; got {bad}")
    return actions.astype(np.int64)


def _evaluate_seed(agent: ChoiceAgent, env: Any, observations: np.ndarray, prefs: np.ndarray,
                   seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The (m, n, d) per-preference exact reward vectors of one seed on the n test prompts and the (m, n) actions."""
    split, n_actions = env.eval_spec.test_split, int(env.action_space.n)
    if agent.preference_independent:
        uniform = np.full(prefs.shape[1], 1.0 / prefs.shape[1])
        actions = np.tile(_actions(agent, observations, uniform, seed, n_actions), (len(prefs), 1))
    else:
        actions = np.stack([_actions(agent, observations, w, seed, n_actions) for w in prefs])
    prompts = np.arange(actions.shape[1])
    return np.stack([env.score_answers(a, prompts, split) for a in actions]).astype(np.float64), actions


def evaluate_choice(agent: ChoiceAgent, env_id: str, seeds: Sequence[int] = (0, 1, 2),
                    preferences: npt.ArrayLike | None = None, *, baseline: ChoiceAgent | None = None,
                    timing_repeats: int = TIMING_REPEATS, env: gym.Env | None = None, **env_kwargs: Any) -> dict:
    """The leaderboard result (schema version 2) of the choice agent ``agent`` on the choice env ``env_id``.

    ``preferences`` defaults to the eval spec's set (results with others are refused by ``submit``). ``baseline``
    is the agent the inference cost is relative to (the board's: ``agents.RandomChoiceAgent``; None times ``agent``
    against itself); both are timed on the whole test split with the first seed, fastest of ``timing_repeats``
    passes. ``env``: an environment of ``env_id`` built by the caller (left open), else one is built with
    ``env_kwargs``. ``claimed_metrics`` include IGD and MUL against the env's known fronts.
    """
    interface = morl_envs.ENV_KINDS.get("choice").agent_interface  # ChoiceAgent
    check_agent(agent, interface)
    seeds = _check_seeds(seeds)
    if isinstance(timing_repeats, bool) or not isinstance(timing_repeats, int) or timing_repeats < 1:
        raise ValueError(f"`timing_repeats` must be an int >= 1; got {timing_repeats!r}")
    if baseline is not None:
        check_agent(baseline, interface)
    with opened_env(env_id, env_kwargs, "choice", env) as env:
        base, spec = env.unwrapped, env.unwrapped.eval_spec
        observations = base.observations(spec.test_split)  # (n, D)
        prefs = _check_preferences(preferences, spec)
        start = time.perf_counter()
        per_seed = [_evaluate_seed(agent, base, observations, prefs, s) for s in seeds]
        per_prompt = np.stack([r for r, _ in per_seed])  # (S, m, n, d)
        rewards = per_prompt.mean(axis=2)  # (S, m, d): the expected returns
        actions = np.stack([a for _, a in per_seed])  # (S, m, n)
        eval_seconds = time.perf_counter() - start
        baseline = agent if baseline is None else baseline
        d = len(spec.objectives)
        own = _time_actions(agent, observations, seeds[0], d, timing_repeats)
        other = own if baseline is agent else _time_actions(baseline, observations, seeds[0], d, timing_repeats)
        costs = {**_training_costs(agent), "eval_seconds_per_reply": own, "baseline_seconds_per_reply": other}
        costs["eval_device"], costs["eval_peak_memory_bytes"] = device_and_peak_memory()
        costs["eval_seconds"] = eval_seconds
        table = AnswerTable()  # the candidate indices themselves: the index array holds the actions
        table.add(range(int(base.action_space.n)))
        result = build_result(spec, agent, len(observations), seeds, prefs, rewards, costs, table, actions)
        result["claimed_metrics"] = compute_metrics(result, known_fronts(base), per_prompt)
    return result


PROTOCOLS.register("choice", evaluate_choice)


def _time_actions(agent: ChoiceAgent, observations: np.ndarray, seed: int, d: int, repeats: int) -> float:
    """Seconds per observation of ``agent.act`` at the uniform preference: the fastest of ``repeats`` timed passes
    over ``observations`` after a warm-up call."""
    uniform = np.full(d, 1.0 / d)
    agent.act(observations[:1].copy(), uniform.copy(), seed)  # warm-up: lazy loading, caches
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        agent.act(observations.copy(), uniform.copy(), seed)
        best = min(best, time.perf_counter() - start)
    return max(best, 1e-9) / len(observations)


def hypervolume_fraction(result: dict) -> float:
    """A choice result's mean hypervolume over the hypervolume of its environment's known test front (from the
    eval spec's reference point): 1.0 is the per-prompt oracle front, which no 15 policies reach exactly."""
    with opened_env(result["env_id"], {}, "choice") as env:
        base = env.unwrapped
        known = hypervolume(base.pareto_front(base.eval_spec.test_split), result["reference_point"])
    return compute_metrics(result)["hv_mean"] / known
