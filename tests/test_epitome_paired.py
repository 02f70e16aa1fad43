"""scripts/epitome_paired.py: the paired comparison of an empathy model with the -v0 levels."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def paired():
    spec = importlib.util.spec_from_file_location("epitome_paired", REPO / "scripts" / "epitome_paired.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_paired_rows_count_the_replies_each_model_alone_gets_right(paired):
    truth = {m: np.zeros(10, dtype=int) for m in paired.EPITOME_MECHANISMS}
    baseline = {m: np.array([0] * 8 + [1, 1]) for m in paired.EPITOME_MECHANISMS}  # right on 8
    model = {m: np.array([0] * 9 + [2]) for m in paired.EPITOME_MECHANISMS}  # right on the same 8 and one more
    rows = paired.paired_rows("w", baseline, model, truth)
    assert len(rows) == 3
    assert rows[0].startswith("| w | emotional-reactions | 0.8000 | 0.9000 | +0.1000 [")
    assert rows[0].endswith("| 1 / 0 | 1.00 |")  # one discordant reply: McNemar's exact p is 1
    model["explorations"] = np.array([1] * 10)  # wrong everywhere: the 8 replies only -v0 gets right
    assert paired.paired_rows("w", baseline, model, truth)[2].endswith("| 0 / 8 | 0.01 |")


def test_missing_weights_are_a_usage_error(paired, tmp_path, capsys):
    (tmp_path / "epitome").mkdir()
    with pytest.raises(SystemExit):
        paired.main(["--data-dir", str(tmp_path), str(tmp_path / "nope.safetensors")])
    assert "WEIGHTS must be empathy safetensors files; not found" in capsys.readouterr().err
