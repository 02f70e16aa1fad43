"""Carry a result over to a newer version of its environment: the same answers, scored by the new reward models.

A new environment version keeps the prompts and changes what scores them (new reward model fingerprints). An agent
whose answers never depended on the old rewards (the reference and canary agents, the untrained default policy, a
random choice policy) answers the new version exactly as it answered the old one, so its result on the new version
needs no new generation: :func:`carried_over` keeps the result's answers, seeds, preferences, agent, code version
and costs, and replaces what the environment decides (id, fingerprints, reference point) and what it scores (the
reward vectors and the claimed metrics, computed here from the answers with the new environment's
``score_answers``, as ``submit`` will compute them again). The data fingerprint, the objectives and the test split
must be the same: otherwise the answers would be answers to other prompts or the vectors would mean other things.

An agent that trained against the old rewards carries over too, but then its entry reads "trained on the old
version, scored on the new one": re-train it for a like-for-like entry. ``morl-bench carry-over`` is the command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import morl_envs
from leaderboards.answers import rescore
from leaderboards.submission import SubmissionError, compute_metrics, read_result, validated

__all__ = ["carried_over", "read_result_or_entry"]


def read_result_or_entry(path: str | Path) -> dict:
    """The result in ``path``: a result JSON that ``morl-bench evaluate`` wrote, or a board entry (its stored
    ``result``)."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SubmissionError("result", "must be a readable result or board entry JSON file", str(path),
                              str(exc)) from None
    if isinstance(raw, dict) and "entry_version" in raw and isinstance(raw.get("result"), dict):
        return raw["result"]
    return read_result(path)


def _same(old: Any, new: Any, name: str, env_id: str) -> None:
    if old != new:
        raise SubmissionError(name, f"must be the same in the result as in {env_id} for its answers to carry over",
                              old, f"{env_id} has {new!r}")


def carried_over(result: dict, env_id: str) -> dict:
    """``result`` (schema version 2; its own environment may be retired) as a result on ``env_id``: its answers
    scored by that environment. Raises :class:`~leaderboards.submission.SubmissionError` naming the field when the
    environments differ in data, objectives or test split, or when the carried result does not validate on
    ``env_id`` (e.g. another preference set)."""
    if not isinstance(result, dict) or not isinstance(result.get("fingerprints"), dict):
        raise SubmissionError("result", "must be a result object with fingerprints", type(result).__name__)
    env = morl_envs.make(env_id)
    try:
        spec = env.unwrapped.eval_spec
        _same(result["fingerprints"].get("data"), spec.data_fingerprint, "fingerprints.data", env_id)
        _same(result.get("objectives"), list(spec.objectives), "objectives", env_id)
        _same((result.get("evaluation") or {}).get("split"), spec.test_split, "evaluation.split", env_id)
        out = {key: value for key, value in result.items() if key != "claimed_metrics"}
        out.update(env_id=env_id, reference_point=list(spec.reference_point),
                   fingerprints={"data": spec.data_fingerprint,
                                 "reward_models": dict(spec.reward_model_fingerprints), "eval_spec": spec.fingerprint})
    finally:
        env.close()
    fresh, table, index = validated(out)  # every other check, against the new environment
    per_prompt = rescore(fresh, table, index, spec.test_split)
    out["rewards"] = per_prompt.mean(axis=2).tolist()
    out["claimed_metrics"] = compute_metrics(out, prompt_rewards=per_prompt)
    return out
