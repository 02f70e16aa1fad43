"""Shared fixtures: where the third-party development data lies (``$MORL_DATA_DIR`` or ``../shared/data``)."""

from __future__ import annotations

import importlib.util
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
# Tests run in float32 unless they ask for bf16 themselves (tests/test_precision.py): their exact comparisons
# (fast decoder against generate(), hand-computed log-probabilities) hold in float32 on any CPU.
os.environ.setdefault("MORL_PRECISION", "fp32")


def find_data_dir() -> Path | None:
    """The folder holding pair/ and epitome/, if any."""
    for candidate in (os.environ.get("MORL_DATA_DIR"), REPO.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "pair" / "pair.csv").is_file():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The development data folder; tests that need PAIR or EPITOME skip, saying why, when it is absent."""
    found = find_data_dir()
    if found is None:
        pytest.skip("PAIR/EPITOME data not found: set MORL_DATA_DIR to the folder holding pair/ and epitome/")
    return found


def load_example(name: str):
    """The module ``examples/<name>.py`` (the examples are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve the module's annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def point_data_env_at_shared_data(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
                                  needs_data: str) -> None:
    """Set MORL_DATA_DIR to the development data; tests whose id contains ``needs_data`` skip without it."""
    found = find_data_dir()
    if found is not None:
        monkeypatch.setenv("MORL_DATA_DIR", str(found))
    elif needs_data in request.node.name:
        request.getfixturevalue("data_dir")  # skips with the reason


def make_mo_env(env_id: str, **kwargs):
    """``mo_gymnasium.make(env_id, **kwargs)`` without the Psych8k fallback notice (a UserWarning)."""
    import mo_gymnasium as mo_gym

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return mo_gym.make(env_id, **kwargs)


def check_env_with_linear_reward(env) -> None:
    """Gymnasium's ``check_env`` on the env scalarized by ``LinearReward`` with uniform weights (MO-Gymnasium's
    registry test)."""
    from gymnasium.utils.env_checker import check_env
    from mo_gymnasium.wrappers import LinearReward

    weights = np.full(env.unwrapped.reward_dim, 1.0 / env.unwrapped.reward_dim, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # check_env notes that the env is wrapped
        check_env(LinearReward(env, weight=weights), skip_render_check=True)
