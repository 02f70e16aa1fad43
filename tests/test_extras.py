"""Optional extras say which extra to install when missing (one line, exit 2); weight-loading bars stay off unless asked for."""

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


def test_weight_loading_bars_are_off_unless_asked_for():
    from transformers.utils import logging as hf_logging

    from morl_core.assets import quiet_loading

    before = hf_logging.get_verbosity()
    try:
        hf_logging.set_verbosity_warning()
        with quiet_loading():
            assert not hf_logging.is_progress_bar_enabled()
        hf_logging.set_verbosity_info()  # `morl-bench --verbose`, or TRANSFORMERS_VERBOSITY=info
        with quiet_loading():
            assert hf_logging.is_progress_bar_enabled()
    finally:
        hf_logging.set_verbosity(before)
        hf_logging.enable_progress_bar()
