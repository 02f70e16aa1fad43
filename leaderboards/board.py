"""The boards: an environment's stored entries ranked by hypervolume, and the relationship report.

Columns follow the challenges the seed paper asks a benchmark to measure (Kong et al., 2025, arXiv 2509.21613):
Pareto quality (HV mean and its 95% bootstrap interval over the test prompts, which decides ties; HV std over
seeds, the stability figure; EUM; cardinality), balance, preference adaptation
(controllability), training efficiency (environment samples, training seconds), inference efficiency (seconds per
reply relative to the untrained default policy) and the family. The choice environments, whose Pareto front and
convex coverage set are known, also show IGD to the known front and MUL to the known coverage set. The columns are
the registered metrics (:mod:`leaderboards.metrics`), as ``submit`` recomputed and stored them; nothing here trusts
a claimed value.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import morl_envs
from leaderboards.metrics import METRICS, metric_columns
from leaderboards.submission import default_board_dir
from morl_core.agent import FAMILIES
from morl_core.errors import did_you_mean
from morl_core.files import env_slug

__all__ = ["IDENTITY_COLUMNS", "table_columns", "board_columns", "has_known_fronts", "Row", "ReportRow", "Report",
           "load_entries", "boarded_envs", "table", "env_families", "report"]

#: (header, Row attribute) of the columns before the metrics
#: the rank shown for a reference row (:mod:`agents.canaries`): a yardstick, not a competitor
REFERENCE_RANK = "ref"
IDENTITY_COLUMNS = (("rank", "rank"), ("agent", "agent"), ("family", "family"))


def table_columns(known_fronts: bool) -> tuple[tuple[str, str], ...]:
    """(header, Row attribute) in display order: rank, agent, family, then every registered metric
    (:data:`leaderboards.metrics.METRICS`; the known-front ones, IGD and MUL, only where ``known_fronts``)."""
    return IDENTITY_COLUMNS + tuple((m.header, m.name) for m in metric_columns(known_fronts))


def has_known_fronts(env_id: str) -> bool:
    """True for a registered environment whose kind knows its exact fronts (a choice environment)."""
    return env_id in morl_envs.ENVS and morl_envs.ENV_KINDS.get(morl_envs.describe(env_id).kind).known_fronts


def board_columns(env_id: str) -> tuple[tuple[str, str], ...]:
    """The columns of ``env_id``'s board: with the known-front metrics where its fronts are known."""
    return table_columns(has_known_fronts(env_id))


@dataclass(frozen=True)
class Row:
    """One ranked entry. ``front``: the per-preference mean reward vectors averaged over seeds, shape (m, d);
    ``metrics``: the stored metrics, each also readable as an attribute (``row.hv_mean``; None where absent)."""

    rank: int | str  # REFERENCE_RANK for the reference family's rows, which take no place in the ranking
    agent: str
    family: str
    entry: str  # sha256[:12] of the submitted result
    objectives: tuple[str, ...]
    front: tuple[tuple[float, ...], ...]
    metrics: dict[str, float | int | None] = field(default_factory=dict)
    artifact: bool = False  # the entry names a training artifact (`morl-bench verify --artifact` regenerates it)

    def __getattr__(self, name: str) -> float | int | None:
        if name in METRICS:
            return self.metrics.get(name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


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
    """Registered environment ids (every kind) that have at least one stored entry."""
    return [env_id for env_id in morl_envs.env_ids() if load_entries(env_id, board_dir)]


def _row(entry: dict, rank: int) -> Row:
    metrics, result = entry["metrics"], entry["result"]
    front = np.asarray(result["rewards"], dtype=np.float64).mean(axis=0)  # (S, m, d) -> (m, d)
    return Row(rank=rank, agent=result["agent"]["name"], family=result["agent"]["family"],
               entry=entry["sha256"][:12], objectives=tuple(result["objectives"]),
               front=tuple(map(tuple, front.tolist())), metrics=dict(metrics),
               artifact="artifact" in (result["agent"].get("details") or {}))


def _beats(a: dict, b: dict) -> bool:
    """Whether entry ``a`` ranks above ``b``: its HV interval lies wholly above b's (both 95% bootstrap intervals
    known), else its HV mean is higher."""
    ma, mb = a["metrics"], b["metrics"]
    if ma.get("hv_ci_low") is not None and mb.get("hv_ci_high") is not None:
        return ma["hv_ci_low"] > mb["hv_ci_high"]
    return ma["hv_mean"] > mb["hv_mean"]


def table(env_id: str, board_dir: str | os.PathLike | None = None) -> list[Row]:
    """The ranked rows of ``env_id``, listed by HV mean descending (ties broken by EUM, then agent name and entry
    hash). An entry's rank is 1 + the number of entries that beat it: whose 95% HV interval over the test prompts
    lies wholly above its own (by HV mean where an interval is missing), so entries whose intervals overlap share a
    rank, as do equal HV means (competition ranking: 1, 1, 3). Rows of the reference family (what a person writes,
    what a hack gets) stand where their HV puts them, marked :data:`REFERENCE_RANK`, and take no place in the
    ranking."""
    entries = sorted(load_entries(env_id, board_dir),
                     key=lambda e: (-e["metrics"]["hv_mean"], -e["metrics"]["eum"], e["result"]["agent"]["name"],
                                    e["sha256"]))
    competitors = [e for e in entries if e["result"]["agent"]["family"] != "reference"]
    return [_row(e, REFERENCE_RANK if e["result"]["agent"]["family"] == "reference"
                 else 1 + sum(_beats(other, e) for other in competitors)) for e in entries]


def env_families() -> dict[str, dict[str, str]]:
    """Environment family (the id before its first "-", e.g. "morl/Counsel") -> relationship -> variant id, from
    ``morl_envs.relationship_variants()``."""
    families: dict[str, dict[str, str]] = {}
    for env_id, relationship in sorted(morl_envs.relationship_variants().items()):
        families.setdefault(env_id.split("-")[0], {})[relationship] = env_id
    return families


def report(env_family: str, board_dir: str | os.PathLike | None = None) -> Report:
    """``env_family``'s agents with the board columns side by side for each relationship variant (competing,
    correlated), so one table shows how each family of methods copes with each objective relationship. Agents
    are ordered by family (single-, multi-, meta-policy), then by name."""
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
