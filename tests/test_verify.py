"""``morl-bench verify``: a stored entry's answers score its stored rewards again, and a tampered entry is caught."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

from leaderboards.submission import SubmissionError, submit
from leaderboards.verify import verify_entry
from morl_cli.main import main as bench
from tests.stub_env import STUB_ENVS, stub_envs
from tests.test_submission import SEED0, synthetic_result, write

ENV = next(i for i, r in STUB_ENVS.items() if r == "competing")


@pytest.fixture(scope="module", autouse=True)
def _stubs():
    with stub_envs():
        yield


@pytest.fixture()
def entry(tmp_path):
    result = synthetic_result(gym.make(ENV).unwrapped, rewards=(SEED0,))
    return submit(write(tmp_path / "r.json", result), tmp_path / "board").path


def test_a_stored_entry_reproduces(entry, capsys):
    found = verify_entry(entry)
    assert found.ok and found.problems == [] and found.reward_gap <= 1e-7
    assert found.metrics["hv_mean"] == pytest.approx(0.41, abs=1e-6)  # the hand-computed front of SEED0
    assert bench(["verify", str(entry)]) == 0
    assert capsys.readouterr().out.startswith(f"verified {entry}: rewards within ")


def test_edited_rewards_metrics_and_hash_are_caught(entry, capsys):
    stored = json.loads(entry.read_text())
    stored["result"]["rewards"][0][0] = [0.9, 0.9]  # better than the replies earn
    stored["metrics"]["hv_mean"] = 0.75
    entry.write_text(json.dumps(stored))
    found = verify_entry(entry)
    assert not found.ok and len(found.problems) == 3
    assert found.problems[0] == "the stored answers score up to 0.7 away from the stored rewards (tolerance 1e-05)"
    assert found.problems[1].startswith("stored hv_mean=0.75, recomputed 0.4099999")  # float32 scores
    assert "(the file was edited after submission)" in found.problems[2]
    assert bench(["verify", str(entry)]) == 1
    assert capsys.readouterr().out.startswith(f"DIFFERS {entry}:\n  the stored answers score up to 0.7")


def test_a_file_that_is_no_entry_is_refused(tmp_path, capsys):
    path = write(tmp_path / "x.json", {"result": {}})
    with pytest.raises(SubmissionError, match="`entry` must hold the result, metrics and sha256"):
        verify_entry(path)
    assert bench(["verify", str(tmp_path / "absent.json")]) == 2
    assert "error: `entry` must be a board entry file that `morl-bench submit` wrote" in capsys.readouterr().err


@pytest.mark.slow
def test_an_artifact_regenerates_the_stored_replies(tmp_path, monkeypatch, capsys):
    """A tiny LM trained one step: its run folder regenerates exactly the replies its entry stores; another run's
    folder does not."""
    from agents.baselines import DefaultPolicyAgent
    from morl_cli import train as commands
    from morl_core.files import file_sha256
    from tests.test_policy import make_tiny_lm

    tiny = make_tiny_lm(tmp_path / "tiny")
    baseline = {"model": str(tiny), "device": "cpu", "max_new_tokens": 4}  # the tiny LM as the cost baseline too
    monkeypatch.setattr(commands, "DefaultPolicyAgent", lambda **kw: DefaultPolicyAgent(**{**kw, **baseline}))

    def train(name: str, seed: str) -> None:
        argv = ["train", "--env", "morl/Counsel-FluencyConciseness-v2", "--agent", "linear", "--steps", "1",
                "--seed", seed, "--out", str(tmp_path / name), "--model", str(tiny), "--device", "cpu",
                "--max-new-tokens", "4", "--prompts-per-step", "2", "--k", "2", "--eval-prompts", "2",
                "--summary-prompts", "0", "--result", str(tmp_path / f"{name}-result.json"), "--eval-seeds", "0"]
        assert bench(argv) == 0, capsys.readouterr().err

    train("run", "0")
    train("other", "1")
    entry = submit(tmp_path / "run-result.json", tmp_path / "board").path
    assert json.loads((tmp_path / "run" / commands.RUN_FILE).read_text())["options"]["seed"] == 0
    capsys.readouterr()
    assert bench(["verify", str(entry), "--artifact", str(tmp_path / "run")]) == 0
    assert f"replies regenerated from {tmp_path / 'run'} agree" in capsys.readouterr().out
    named = json.loads(entry.read_text())["result"]["agent"]["details"]["artifact"]["run_file_sha256"]
    assert named == file_sha256(tmp_path / "run" / commands.RUN_FILE)
    assert bench(["verify", str(entry), "--artifact", str(tmp_path / "other")]) == 1
    out = capsys.readouterr().out
    assert "is not this entry's artifact (its run.json differs from the one the entry names)" in out
    assert "regenerated replies differ from the stored ones (same device kind and code version" in out
    assert bench(["verify", str(entry), "--artifact", str(tmp_path)]) == 2  # no run file there
    assert "--artifact must be a run folder that `morl-bench train` wrote" in capsys.readouterr().err
