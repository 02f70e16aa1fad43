"""The shipped board entries still validate against the installed environments, every stored metric is what the
metric registry recomputes from the stored result, exactly, and (slow) every stored reward vector is what the stored
replies score again (entries are verified, not trusted)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from leaderboards.answers import rescore, unpack_answers
from leaderboards.submission import compute_metrics, default_board_dir, known_fronts, metric_agrees, validate
from morl_envs import make

ENTRIES = sorted(p for p in default_board_dir().glob("*/*.json") if not p.name.startswith("."))
ARCHIVE = default_board_dir().parent / "archive"


def test_archived_entries_are_kept_apart_from_the_boards():
    archived = sorted(ARCHIVE.glob("*/*.json"))
    assert len(archived) >= 40 and all(p.parent.name.endswith(("-v0", "-v1")) for p in archived)
    assert not any(p.parent.name.endswith(("-v0", "-v1")) for p in ENTRIES)  # no board mixes retired and current


@pytest.mark.parametrize("path", ENTRIES, ids=[f"{p.parent.name}/{p.name}" for p in ENTRIES])
def test_stored_metrics_reproduce_exactly(path: Path):
    entry = json.loads(path.read_text(encoding="utf-8"))
    result = entry["result"]
    spec = validate(result)
    env = make(result["env_id"])
    try:
        recomputed = compute_metrics(result, known_fronts(env))
    finally:
        env.close()
    interval = {"hv_ci_low", "hv_ci_high"}  # needs the per-prompt vectors: the slow test below re-scores them
    assert {key: recomputed[key] for key in entry["metrics"].keys() - interval} == {
        key: value for key, value in entry["metrics"].items() if key not in interval}
    assert entry["metrics"].keys() == recomputed.keys()
    assert spec.env_id == result["env_id"]


@pytest.mark.slow
@pytest.mark.parametrize("path", ENTRIES, ids=[f"{p.parent.name}/{p.name}" for p in ENTRIES])
def test_stored_rewards_are_what_the_stored_replies_score(path: Path):
    entry = json.loads(path.read_text(encoding="utf-8"))
    result = entry["result"]
    assert entry["entry_version"] == 2 and result["schema_version"] == 2
    env = make(result["env_id"])
    try:
        table, index = unpack_answers(result["answers"])
        per_prompt = rescore(env.unwrapped, table, np.asarray(index), env.unwrapped.eval_spec.test_split)
        metrics = compute_metrics(result, known_fronts(env), per_prompt)
    finally:
        env.close()
    assert np.allclose(per_prompt.mean(axis=2), result["rewards"], rtol=0, atol=1e-6)
    # the HV interval too, which needs the per-prompt vectors; scores may move in the 7th digit with the batching
    # (which other texts a batch pads to, what the embedding cache already holds), so the rule is verify's own
    assert metrics.keys() == entry["metrics"].keys()
    assert [key for key, stored in entry["metrics"].items() if not metric_agrees(stored, metrics[key])] == []
