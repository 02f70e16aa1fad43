"""Optional extras: without one, the code that needs it says which extra to install, in one line, exit status 2."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import load_example


@pytest.mark.skipif(importlib.util.find_spec("morl_baselines") is not None, reason="the `morl` extra is installed")
def test_morl_baselines_example_without_its_extra_names_the_extra(capsys):
    example = load_example("morl_baselines_choice")
    assert example.main(["--timesteps", "200"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: `morl_baselines` is not installed: it comes with the optional extra `morl`")
    assert err.count("\n") == 1
