"""A result carried over to another environment version keeps its answers and is scored afresh there; carrying it
to an environment with other prompts is refused, naming the field."""

from __future__ import annotations

import json

import numpy as np
import pytest

from leaderboards.carry_over import carried_over, read_result_or_entry
from leaderboards.submission import SubmissionError, default_board_dir, metric_agrees

ECHO = sorted(default_board_dir().glob("morl-Counsel-v*/echo-*.json"))


@pytest.mark.skipif(not ECHO, reason="no echo entry on the Counsel board")
def test_a_result_carried_to_its_own_environment_reproduces_its_entry(tmp_path, capsys):
    from leaderboards.submission import read_result
    from morl_cli.main import main

    entry = json.loads(ECHO[-1].read_text(encoding="utf-8"))
    result = read_result_or_entry(ECHO[-1])
    assert result == entry["result"]
    assert main(["carry-over", str(ECHO[-1]), "--env", result["env_id"], "--out", str(tmp_path / "r.json")]) == 0
    assert "echo on morl/Counsel-" in capsys.readouterr().out
    carried = read_result(tmp_path / "r.json")
    assert carried["answers"] == result["answers"] and carried["costs"] == result["costs"]
    assert np.allclose(carried["rewards"], result["rewards"], rtol=0, atol=1e-6)
    assert all(metric_agrees(entry["metrics"][k], carried["claimed_metrics"][k]) for k in entry["metrics"])


@pytest.mark.skipif(not ECHO, reason="no echo entry on the Counsel board")
def test_carrying_a_result_to_other_prompts_is_refused_naming_the_field(data_dir, monkeypatch):
    monkeypatch.setenv("MORL_DATA_DIR", str(data_dir))
    result = read_result_or_entry(ECHO[-1])
    with pytest.raises(SubmissionError, match="fingerprints.data"):
        carried_over(result, "morl/PAIR-" + result["env_id"].rsplit("-", 1)[1])
    with pytest.raises(SubmissionError, match="objectives"):
        carried_over(result, "morl/Counsel-EmpathyFluency-" + result["env_id"].rsplit("-", 1)[1])
    with pytest.raises(SubmissionError, match="must be a result object"):
        carried_over({"env_id": "x"}, result["env_id"])
