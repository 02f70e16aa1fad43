"""PAIR (Min et al., 2022, University of Michigan): the one reader of its CSV, for reward-model training, the
environments' prompts and the choice environment's candidate replies.

The file ``pair/pair.csv`` under a data folder has no header and 10 columns: the client prompt, two complex
reflections (level 2), one simple reflection (level 1), five non-reflections (level 0) and the topic. The project
reads it from a path (``data_dir`` or ``$MORL_DATA_DIR``) and never redistributes it.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from morl_core.errors import DataNotFoundError

__all__ = ["PAIR_LEVELS", "PAIR_REPLY_COLUMNS", "pair_csv", "read_pair_rows"]

#: the reply columns, in file order after the prompt
PAIR_REPLY_COLUMNS = ("hq1", "hq2", "mq1", "lq1", "lq2", "lq3", "lq4", "lq5")
#: the reflection level of each reply column (complex 2, simple 1, non-reflection 0)
PAIR_LEVELS = (2, 2, 1, 0, 0, 0, 0, 0)


def pair_csv(data_dir: str | os.PathLike) -> Path:
    """The path of PAIR's CSV under ``data_dir``, or a :class:`DataNotFoundError` naming where it looked."""
    path = Path(data_dir).expanduser() / "pair" / "pair.csv"
    if not path.is_file():
        raise DataNotFoundError(f"PAIR data not found: expected {path}. Pass `data_dir=` (the folder holding "
                                f"pair/pair.csv) or set the MORL_DATA_DIR environment variable")
    return path


def read_pair_rows(data_dir: str | os.PathLike) -> list[list[str]]:
    """PAIR's non-empty rows in file order: prompt, hq1, hq2, mq1, lq1..lq5, topic (10 str each)."""
    with open(pair_csv(data_dir), encoding="utf-8", newline="") as handle:
        return [row for row in csv.reader(handle) if row]
