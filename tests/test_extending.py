"""Every worked example of docs/extending.md runs as written, each in a fresh interpreter (registrations are
process-wide, so the examples must not share one)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"^## (\d+)\. (.+?)$.*?```python\n(.*?)```", (ROOT / "docs" / "extending.md").read_text(),
                    flags=re.S | re.M)


def test_the_page_has_one_example_per_extension_point():
    assert [title for _, title, _ in BLOCKS] == ["A new environment", "A new reward model", "A new scalarizer",
                                                 "A new agent", "A new metric"]


@pytest.mark.parametrize("title, code", [(title, code) for _, title, code in BLOCKS], ids=[b[1] for b in BLOCKS])
def test_example_runs(title, code):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"{title} failed:\n{done.stderr[-3000:]}"
