"""Shared fixtures: where the third-party development data lies (``$MORL_DATA_DIR`` or ``../shared/data``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


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
