"""The boards: an environment's stored entries ranked by hypervolume, and the relationship report.

Columns follow the challenges the seed paper asks a benchmark to measure (Kong et al., 2025, arXiv 2509.21613):
Pareto quality (HV mean; HV std over seeds, the stability figure; EUM; cardinality), balance, preference adaptation
(controllability), training efficiency (environment samples, training seconds), inference efficiency (seconds per
reply relative to the untrained default policy) and the family. The choice environments, whose Pareto front and
convex coverage set are known, also show IGD to the known front and MUL to the known coverage set
(:data:`CHOICE_COLUMNS`). Metrics are the ones ``submit`` recomputed and stored; nothing here trusts a claimed value.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from leaderboards.submission import FAMILIES, default_board_dir, env_slug

__all__ = ["COLUMNS", "CHOICE_COLUMNS", "board_columns", "Row", "ReportRow", "Report", "load_entries", "boarded_envs",
           "table", "env_families", "report"]

#: (header, Row attribute) in display order
COLUMNS = (("rank", "rank"), ("agent", "agent"), ("family", "family"), ("HV mean", "hv_mean"),
           ("HV std (stability)", "hv_std"), ("EUM", "eum"), ("cardinality", "cardinality"), ("balance", "balance"),
           ("controllability", "controllability"), ("env samples", "env_samples"), ("train s", "train_seconds"),
           ("inference cost (x untrained)", "inference_cost"))
#: the choice environments' columns: COLUMNS with the known-front indicators (lower is better) after controllability
CHOICE_COLUMNS = COLUMNS[:9] + (("IGD (known front)", "igd"), ("MUL (known CCS)", "mul")) + COLUMNS[9:]


def board_columns(env_id: str) -> tuple[tuple[str, str], ...]:
    """The columns of ``env_id``'s board: :data:`CHOICE_COLUMNS` for a choice environment, else :data:`COLUMNS`."""
    import morl_envs

    return CHOICE_COLUMNS if env_id in morl_envs.CHOICE_ENV_IDS else COLUMNS


@dataclass(frozen=True)
class Row:
    """One ranked entry. ``front``: the per-preference mean reward vectors averaged over seeds, shape (m, d)."""

    rank: int
    agent: str
    family: str
    hv_mean: float
    hv_std: float
    eum: float
    cardinality: float
    balance: float
    controllability: float
    env_samples: int | None
    train_seconds: float | None
    inference_cost: float
    entry: str  # sha256[:12] of the submitted result
    objectives: tuple[str, ...]
    front: tuple[tuple[float, ...], ...]
    igd: float | None = None  # to the known Pareto front (choice environments only)
    mul: float | None = None  # to the known convex coverage set (choice environments only)


@dataclass(frozen=True)
class ReportRow:
    """One agent across the relationship variants: its best entry (by HV mean) on each, or None."""

    agent: str
    family: str
    cells: dict[str, Row | None]  # relationship -> row


@dataclass(frozen=True)
class Report:
    """An environment family's agents side by side across its objective-relationship variants."""

    family: str
    variants: dict[str, str]  # relationship ("competing" / "correlated") -> env id
    rows: list[ReportRow]


def _board(board_dir: str | os.PathLike | None) -> Path:
    return Path(board_dir) if board_dir is not None else default_board_dir()


def load_entries(env_id: str, board_dir: str | os.PathLike | None = None) -> list[dict]:
    """The stored entries of ``env_id`` (files ``<board>/<env-slug>/*.json``), in file-name order."""
    folder = _board(board_dir) / env_slug(env_id)
    if not folder.is_dir():
        return []
    entries = []
    for path in sorted(folder.glob("*.json")):
        if path.name.startswith("."):
            continue
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"board entry {path} must be the JSON that `morl-bench submit` wrote; got {exc}") from None
        if not isinstance(entry, dict) or entry.get("result", {}).get("env_id") != env_id:
            raise ValueError(f"board entry {path} must be an entry of {env_id!r}; got another file")
        entries.append(entry)
    return entries


def boarded_envs(board_dir: str | os.PathLike | None = None) -> list[str]:
    """Registered environment ids (text and choice) that have at least one stored entry."""
    import morl_envs

    ids = sorted([*morl_envs.ENV_IDS, *morl_envs.CHOICE_ENV_IDS])
    return [env_id for env_id in ids if load_entries(env_id, board_dir)]


def _row(entry: dict, rank: int) -> Row:
    metrics, result = entry["metrics"], entry["result"]
    front = np.asarray(result["rewards"], dtype=np.float64).mean(axis=0)  # (S, m, d) -> (m, d)
    return Row(rank=rank, agent=result["agent"]["name"], family=result["agent"]["family"],
               hv_mean=metrics["hv_mean"], hv_std=metrics["hv_std"], eum=metrics["eum"],
               cardinality=metrics["cardinality"], balance=metrics["balance"],
               controllability=metrics["controllability"], env_samples=metrics["env_samples"],
               train_seconds=metrics["train_seconds"], inference_cost=metrics["inference_cost"],
               entry=entry["sha256"][:12], objectives=tuple(result["objectives"]),
               front=tuple(map(tuple, front.tolist())), igd=metrics.get("igd"), mul=metrics.get("mul"))


def table(env_id: str, board_dir: str | os.PathLike | None = None) -> list[Row]:
    """The ranked rows of ``env_id``: HV mean descending, ties broken by EUM, then agent name and entry hash.
    Entries with equal HV mean share a rank (competition ranking: 1, 1, 3)."""
    entries = sorted(load_entries(env_id, board_dir),
                     key=lambda e: (-e["metrics"]["hv_mean"], -e["metrics"]["eum"], e["result"]["agent"]["name"],
                                    e["sha256"]))
    rows: list[Row] = []
    for position, entry in enumerate(entries, start=1):
        tied = rows and rows[-1].hv_mean == entry["metrics"]["hv_mean"]
        rows.append(_row(entry, rows[-1].rank if tied else position))
    return rows


def env_families() -> dict[str, dict[str, str]]:
    """Environment family (the id before its first "-", e.g. "morl/Counsel") -> relationship -> variant id, from
    ``morl_envs.RELATIONSHIP_VARIANTS``."""
    import morl_envs

    families: dict[str, dict[str, str]] = {}
    for env_id, relationship in sorted(morl_envs.RELATIONSHIP_VARIANTS.items()):
        families.setdefault(env_id.split("-")[0], {})[relationship] = env_id
    return families


def report(env_family: str, board_dir: str | os.PathLike | None = None) -> Report:
    """``env_family``'s agents with the board columns side by side for each relationship variant (competing,
    correlated), so one table shows how each family of methods copes with each objective relationship. Agents
    are ordered by family (single-, multi-, meta-policy), then by name."""
    from reward_models.base import did_you_mean

    families = env_families()
    if env_family not in families:
        raise ValueError(f"`env_family` must be one of {sorted(families)} (families with relationship variants); "
                         f"got {env_family!r}.{did_you_mean(env_family, list(families))}")
    variants = dict(sorted(families[env_family].items()))
    best: dict[str, dict[str, Row]] = {}
    for relationship, env_id in variants.items():
        for row in table(env_id, board_dir):  # ranked, so the first row of an agent is its best
            best.setdefault(row.agent, {}).setdefault(relationship, row)
    rows = []
    for agent, cells in best.items():
        family = next(iter(cells.values())).family
        rows.append(ReportRow(agent, family, {r: cells.get(r) for r in variants}))
    rows.sort(key=lambda r: (FAMILIES.index(r.family), r.agent))
    return Report(env_family, variants, rows)
