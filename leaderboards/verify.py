"""Verify a stored board entry: score its stored answers again and recompute every stored metric (no generation).

An entry holds the result as ``submit`` stored it: the agent's answers and the reward vectors they scored then. The
installed environment must agree: :func:`verify_entry` re-validates the result, re-scores every distinct
(prompt, answer) pair (:func:`leaderboards.answers.rescore`), compares the mean reward vectors with the stored ones
(:data:`~leaderboards.submission.REWARD_TOLERANCE`), recomputes the metrics from the fresh scores and compares
them with the stored metrics, and checks the entry's content hash. Anyone can so check any entry of a board with
the code and models they have installed: ``morl-bench verify ENTRY.json``. With the run folder that ``morl-bench
train`` wrote (``--artifact DIR``: its adapters, options and code version) the command also evaluates the trained
agent again and compares the new replies with the stored ones (:func:`compare_regenerated`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from leaderboards.answers import rescore, unpack_answers
from leaderboards.submission import (
    REWARD_TOLERANCE,
    SubmissionError,
    compute_metrics,
    content_hash,
    known_fronts,
    metric_agrees,
    validated,
)

__all__ = ["ARTIFACT_HV_TOLERANCE", "Verification", "compare_regenerated", "verify_entry"]

#: how far the HV mean regenerated on another device kind or code version may lie from the stored one
ARTIFACT_HV_TOLERANCE = 0.01


@dataclass(frozen=True)
class Verification:
    """What :func:`verify_entry` found: the largest reward gap, the metrics that differ, and whether all held."""

    path: Path
    reward_gap: float  # the largest |re-scored - stored| over every seed, preference and objective
    metrics: dict[str, float | None]  # recomputed from the re-scored rewards
    problems: list[str] = field(default_factory=list)
    result: dict = field(default_factory=dict)  # the entry's stored result, as read

    @property
    def ok(self) -> bool:
        """True when the rewards, every metric and the content hash reproduce."""
        return not self.problems


def _read_entry(path: Path) -> dict:
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SubmissionError("entry", "must be a board entry file that `morl-bench submit` wrote", str(path),
                              str(exc)) from None
    if not isinstance(entry, dict) or not {"result", "metrics", "sha256"} <= set(entry):
        raise SubmissionError("entry", "must hold the result, metrics and sha256 that `morl-bench submit` stores",
                              str(path))
    return entry


def verify_entry(path: str | os.PathLike) -> Verification:
    """Re-score the answers of the board entry at ``path`` and recompute its metrics; the returned
    :class:`Verification` lists every disagreement (an invalid entry raises :class:`SubmissionError`)."""
    path = Path(path)
    entry = _read_entry(path)
    result = entry["result"]
    env, table, index = validated(result)
    per_prompt = rescore(env, table, index, env.eval_spec.test_split)  # (S, m, n, d)
    scored = per_prompt.mean(axis=2)
    gap = float(np.abs(scored - np.asarray(result["rewards"], dtype=np.float64)).max())
    metrics = compute_metrics({**result, "rewards": scored.tolist()}, known_fronts(env), per_prompt)
    problems = []
    if gap > REWARD_TOLERANCE:
        problems.append(f"the stored answers score up to {gap:.6g} away from the stored rewards (tolerance "
                        f"{REWARD_TOLERANCE:g})")
    for key, stored in entry["metrics"].items():
        if not metric_agrees(stored, metrics.get(key)):
            problems.append(f"stored {key}={stored!r}, recomputed {metrics.get(key)!r}")
    if content_hash(result) != entry["sha256"]:
        problems.append(f"the entry's sha256 {entry['sha256'][:12]}... is not its result's {content_hash(result)[:12]}"
                        f"... (the file was edited after submission)")
    return Verification(path, gap, metrics, problems, result)


def _device_kind(result: dict) -> str:
    return str(result["costs"]["eval_device"]).split(":")[0]


def compare_regenerated(stored: dict, regenerated: dict) -> list[str]:
    """What differs between a stored result and the result regenerated from its training artifact. On the same
    device kind and code version the replies must be identical, one by one; elsewhere (another device or code
    version: kernels and sampling may differ) the HV mean must agree within :data:`ARTIFACT_HV_TOLERANCE`.
    Returns one line per problem (none when they agree) after a line saying which rule applied."""
    same = (_device_kind(stored) == _device_kind(regenerated)
            and stored["code_version"] == regenerated["code_version"])
    if stored["seeds"] != regenerated["seeds"] or stored["env_id"] != regenerated["env_id"]:
        return [f"the artifact's evaluation ({regenerated['env_id']}, seeds {regenerated['seeds']}) is not the "
                f"entry's ({stored['env_id']}, seeds {stored['seeds']})"]
    if same:
        table_a, index_a = unpack_answers(stored["answers"])
        table_b, index_b = unpack_answers(regenerated["answers"])
        a = np.asarray(table_a, dtype=object)[np.asarray(index_a)]
        b = np.asarray(table_b, dtype=object)[np.asarray(index_b)]
        differ = int((a != b).sum()) if a.shape == b.shape else a.size
        return [] if differ == 0 else [f"{differ} of {a.size} regenerated replies differ from the stored ones "
                                       f"(same device kind and code version: they must be identical)"]
    gap = abs(compute_metrics(regenerated)["hv_mean"] - compute_metrics(stored)["hv_mean"])
    return [] if gap <= ARTIFACT_HV_TOLERANCE else [
        f"the regenerated HV mean differs by {gap:.4g} (another device kind or code version: tolerance "
        f"{ARTIFACT_HV_TOLERANCE})"]
