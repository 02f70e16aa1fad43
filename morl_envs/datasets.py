"""Prompt sets: the client statements an environment draws its observations from, with fixed splits.

- ``counsel``: the project's own 330 statements over 11 topics (``morl_envs/data/counsel_prompts.json``, CC0).
- ``pair``: PAIR's 318 client prompts (Min et al., 2022), read from ``data_dir`` / ``$MORL_DATA_DIR``
  (``pair/pair.csv``). Its test and validation splits are taken from the prompts that the reflection model held out
  in training (``reward_models.train``), so no test prompt was seen by a reward model.
- ``psych8k``: the inputs of Psych8k (Liu et al., 2023; CC BY-NC-SA 4.0), from a local JSON under ``data_dir`` /
  ``$MORL_DATA_DIR`` (``psych8k/*.json``) or the Hugging Face hub cache.

Every set has a fingerprint: sha256 of its canonical (id, split, text) listing. Results carry it, so results on
different data can never be mixed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from huggingface_hub import snapshot_download

from morl_core.errors import DataNotFoundError
from morl_core.pair_data import pair_csv, read_pair_rows

SPLITS = ("train", "validation", "test")
MAX_PROMPT_CHARS = 4096
COUNSEL_FILE = Path(__file__).resolve().parent / "data" / "counsel_prompts.json"
PSYCH8K_HUB_ID = "EmoCareAI/Psych8k"


@dataclass(frozen=True)
class Prompt:
    """One client statement."""

    id: str
    text: str
    topic: str
    split: str


@dataclass(frozen=True)
class PromptSet:
    """An ordered, split prompt collection with a content fingerprint."""

    name: str
    prompts: tuple[Prompt, ...]
    source: str

    @functools.cached_property
    def fingerprint(self) -> str:
        """sha256 of the canonical listing of (id, split, text)."""
        listing = json.dumps([[p.id, p.split, p.text] for p in self.prompts], ensure_ascii=False)
        return hashlib.sha256(listing.encode("utf-8")).hexdigest()

    def split(self, name: str) -> tuple[Prompt, ...]:
        """The prompts of split ``name`` in their fixed order."""
        if name not in SPLITS:
            raise ValueError(f"`split` must be one of {SPLITS}; got {name!r}")
        return self._splits[name]

    @functools.cached_property
    def _splits(self) -> dict[str, tuple[Prompt, ...]]:
        return {s: tuple(p for p in self.prompts if p.split == s) for s in SPLITS}

    @functools.cached_property
    def topics(self) -> tuple[str, ...]:
        """Distinct topics in order of first appearance."""
        return tuple(dict.fromkeys(p.topic for p in self.prompts))


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path | None:
    """``data_dir`` if given, else ``$MORL_DATA_DIR``, else None."""
    chosen = data_dir if data_dir is not None else os.environ.get("MORL_DATA_DIR")
    return Path(chosen).expanduser() if chosen else None


@functools.lru_cache(maxsize=1)
def load_counsel() -> PromptSet:
    """The embedded default prompt set."""
    raw = json.loads(COUNSEL_FILE.read_text(encoding="utf-8"))
    prompts = tuple(Prompt(p["id"], p["text"], p["topic"], p["split"]) for p in raw["prompts"])
    return PromptSet("counsel", prompts, f"embedded {COUNSEL_FILE.name} v{raw['version']} ({raw['licence']})")


def _seeded_splits(n: int, n_test: int, n_validation: int) -> list[str]:
    order = np.random.default_rng(0).permutation(n)
    split = ["train"] * n
    for rank, index in enumerate(order[: n_test + n_validation]):
        split[index] = "test" if rank < n_test else "validation"
    return split


@functools.lru_cache(maxsize=4)
def load_pair(data_dir: Path) -> PromptSet:
    """PAIR's client prompts from ``data_dir/pair/pair.csv``; splits 254 / 32 / 32."""
    path = pair_csv(data_dir)  # raises DataNotFoundError naming the path
    rows = read_pair_rows(data_dir)
    # The reflection model held out the first 20% of this same seeded permutation (reward_models.train).
    split = _seeded_splits(len(rows), 32, 32)
    prompts = tuple(Prompt(f"pair-{i:03d}", row[0].strip()[:MAX_PROMPT_CHARS], row[9].strip(), split[i])
                    for i, row in enumerate(rows))
    return PromptSet("pair", prompts, f"PAIR ({path})")


def _psych8k_files(data_dir: Path | None) -> list[Path]:
    if data_dir is not None:
        found = sorted((data_dir / "psych8k").glob("*.json")) + sorted(data_dir.glob("[Pp]sych8[kK]*.json"))
        if found:
            return found
    try:  # the hub cache, or the hub itself when reachable

        folder = snapshot_download(PSYCH8K_HUB_ID, repo_type="dataset", allow_patterns=["*.json"],
                                   local_files_only=os.environ.get("HF_HUB_OFFLINE", "1") != "0")
        return sorted(Path(folder).rglob("*.json"))
    except Exception:  # offline, gated or absent: the caller falls back
        return []


def dataset_source(name: str, data_dir: str | os.PathLike | None = None) -> str:
    """Where prompt set ``name`` would be read from, without reading it (for ``morl-bench envs``): "embedded",
    the file found, or what is missing and how to provide it."""
    folder = resolve_data_dir(data_dir)
    if name == "counsel":
        return "embedded"
    if name == "pair":
        path = folder / "pair" / "pair.csv" if folder is not None else None
        return f"found: {path}" if path is not None and path.is_file() else \
            "missing: set MORL_DATA_DIR (or data_dir=) to the folder holding pair/pair.csv"
    if name == "psych8k":
        files = _psych8k_files(folder)
        return f"found: {files[0].parent}" if files else \
            "missing (falls back to the Counsel prompts): put psych8k/*.json under MORL_DATA_DIR"
    raise ValueError(f"`name` must be one of ('counsel', 'pair', 'psych8k'); got {name!r}")


@functools.lru_cache(maxsize=4)
def load_psych8k(data_dir: Path | None) -> PromptSet | None:
    """Psych8k's distinct client inputs, or None when no copy is available; splits: 500 test, 500 validation."""
    files = _psych8k_files(data_dir)
    if not files:
        return None
    texts: dict[str, None] = {}
    for file in files:
        records = json.loads(file.read_text(encoding="utf-8"))
        for record in records if isinstance(records, list) else []:
            text = str(record.get("input", "")).strip() if isinstance(record, dict) else ""
            if text:
                texts[text[:MAX_PROMPT_CHARS]] = None
    if not texts:
        raise DataNotFoundError(f"no Psych8k records with an 'input' field in {[str(f) for f in files]}")
    ordered = list(texts)
    split = _seeded_splits(len(ordered), min(500, len(ordered) // 5), min(500, len(ordered) // 5))
    prompts = tuple(Prompt(f"psych8k-{i:05d}", t, "counselling", split[i]) for i, t in enumerate(ordered))
    return PromptSet("psych8k", prompts, f"Psych8k ({', '.join(str(f) for f in files)})")
