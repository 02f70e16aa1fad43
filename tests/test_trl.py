"""The optional ``trl`` extra: examples/trl_grpo.py trains a tiny model with TRL's GRPOTrainer against an
environment's reward functions, evaluates it by the board's protocol, writes a result, and resumes without
retraining (slow: about a minute). Skipped without TRL; ``make test-extras`` (and CI) installs ``.[trl]`` and runs
it."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("trl", reason="the optional extra: pip install -e '.[trl]' (make test-extras)")

from tests.conftest import load_example  # noqa: E402
from tests.stub_env import STUB_ENVS, stub_envs  # noqa: E402
from tests.test_policy import make_tiny_lm  # noqa: E402

STUB = next(iter(STUB_ENVS))


@pytest.mark.slow
def test_grpo_example_trains_evaluates_writes_a_result_and_resumes(tmp_path, capsys):
    example = load_example("trl_grpo")
    model = make_tiny_lm(tmp_path / "tiny")
    argv = ["--env", STUB, "--model", str(model), "--steps", "2", "--prompts-per-step", "2", "--num-generations", "2",
            "--max-new-tokens", "4", "--save-steps", "1", "--out-dir", str(tmp_path / "run"), "--max-prompts", "2",
            "--eval-seeds", "0", "--out", str(tmp_path / "result.json"), "--aggregation", "normalize_then_sum"]
    with stub_envs():
        assert example.main(argv) == 0
        result = json.loads((tmp_path / "result.json").read_text())
        assert (tmp_path / "run" / "adapter" / "adapter_config.json").is_file()
        details = result["agent"]["details"]
        assert details["trainer"].startswith("trl.GRPOTrainer") and details["reduced_preference_set"] is True
        assert details["trained_preferences"] == [[0.25, 0.75]] and details["aggregation"] == "normalize_then_sum"
        assert result["costs"]["env_samples"] == 2 * 2 * 2  # steps x prompts x generations
        assert example.main(argv) == 0  # the finished run is not repeated
    assert "training finished earlier, not repeated" in capsys.readouterr().out


def test_bad_sizes_are_refused_before_anything_loads(tmp_path, capsys):
    example = load_example("trl_grpo")
    with pytest.raises(SystemExit):
        example.parse(["--num-generations", "1", "--out-dir", str(tmp_path)])
    assert "--num-generations must be >= 2" in capsys.readouterr().err
