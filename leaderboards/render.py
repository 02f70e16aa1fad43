"""Rendering the boards: markdown tables (for the README) and one static HTML page per environment.

The pages need no server and load nothing from outside: the ranked table plus the fronts drawn as inline SVG (2
objectives: one scatter; 3 or more: every pairwise projection), each point one preference (the per-preference mean
reward vector averaged over seeds), the entry's non-dominated points joined by a line, and on an environment whose
front is known (a choice environment) that front in grey. Each agent keeps one colour on every page and board
(:func:`agent_colour`: from its name, never its rank). Each entry's row links to its own page, which shows what the
agent said (:mod:`leaderboards.pages`). There is no JavaScript. Every text taken from an entry is HTML-escaped.
"""

from __future__ import annotations

import hashlib
import html
import os
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path

import numpy as np

import morl_envs
from leaderboards.board import (
    Report,
    Row,
    board_columns,
    boarded_envs,
    has_known_fronts,
    load_entries,
    table,
    table_columns,
)
from leaderboards.metrics import METRICS, metric_columns
from leaderboards.pareto import pareto_mask
from leaderboards.samples import ReplySample, reply_samples
from morl_core.files import env_slug, write_atomic

__all__ = ["agent_colour", "format_cell", "markdown_table", "markdown_report", "scatter_svg", "html_table",
           "html_page", "entry_href", "entry_page", "index_page", "known_front", "write_html"]

_SIZE, _MARGIN = 480, 56
KNOWN_COLOUR = "#9a9a9a"
_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;font-size:14px}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}
td.text,th.text{text-align:left}thead{background:#f3f3f3}figure{display:inline-block;margin:1em}
.swatch{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}
ul.legend{list-style:none;padding:0}table.replies{max-width:70em}table.replies td{vertical-align:top}"""


def agent_colour(name: str) -> str:
    """The agent's colour on every page: a hue from the sha256 of its name (saturation and lightness fixed for
    contrast on white), so it never changes with the rank or with the other entries.

    >>> agent_colour("pama") == agent_colour("pama") != agent_colour("linear")
    True
    """
    hue = int(hashlib.sha256(name.encode("utf-8")).hexdigest()[:8], 16) % 360
    return f"hsl({hue}, 70%, 42%)"


def format_cell(attr: str, value: object) -> str:
    """A cell's text: the metric's own format (:class:`~leaderboards.metrics.Metric`), "n/a" for a value that
    is not reported, the text itself for rank, agent and family."""
    if value is None:
        return "n/a"
    return METRICS.get(attr).format(value) if attr in METRICS else str(value)


def markdown_table(rows: Sequence[Row], columns: Sequence[tuple[str, str]] | None = None) -> str:
    """The ranked board as a GitHub markdown table (one line per entry); ``columns``: (header, Row attribute)
    pairs, e.g. ``board_columns(env_id)`` (default: the columns of an environment without known fronts)."""
    columns = table_columns(known_fronts=False) if columns is None else columns
    lines = ["| " + " | ".join(h for h, _ in columns) + " |",
             "|" + "|".join(":---" if a in ("agent", "family") else "---:" for _, a in columns) + "|"]
    lines += ["| " + " | ".join(format_cell(a, getattr(row, a)) for _, a in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def markdown_report(report: Report) -> str:
    """The relationship report: per agent, each board column once per variant (competing, correlated)."""
    relationships = list(report.variants)
    metrics = [(m.header, m.name) for m in metric_columns(known_fronts=False)]
    headers = ["agent", "family"] + [f"{h} ({r})" for h, _ in metrics for r in relationships]
    lines = [f"{report.family}: " + ", ".join(f"{r} = {e}" for r, e in report.variants.items()), "",
             "| " + " | ".join(headers) + " |", "|:---|:---|" + "---:|" * (len(headers) - 2)]
    for row in report.rows:
        cells = [row.agent, row.family]
        for _, attr in metrics:
            for r in relationships:
                cell = row.cells[r]
                cells.append("—" if cell is None else format_cell(attr, getattr(cell, attr)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _axis_range(values: np.ndarray) -> tuple[float, float]:
    """The plotted range of rewards in [0, 1]: the data's range padded by 5% (at least 0.02), kept inside [0, 1]."""
    lo, hi = float(values.min()), float(values.max())
    pad = max(0.05 * (hi - lo), 0.02)
    return max(0.0, lo - pad), min(1.0, hi + pad)


def _known_polyline(known: np.ndarray, i: int, j: int, sx, sy) -> list[str]:
    """The known front's non-dominated projection on objectives (i, j), as a grey dashed line with its points."""
    projected = np.unique(known[:, [i, j]][pareto_mask(known[:, [i, j]])], axis=0)  # sorted by x
    path = " ".join(f"{sx(a):.1f},{sy(b):.1f}" for a, b in projected)
    out = [f'<polyline points="{path}" fill="none" stroke="{KNOWN_COLOUR}" stroke-width="1.5" '
           f'stroke-dasharray="5,3"><title>known Pareto front of the test split</title></polyline>']
    out += [f'<circle cx="{sx(a):.1f}" cy="{sy(b):.1f}" r="2" fill="{KNOWN_COLOUR}"/>' for a, b in projected]
    return out


def scatter_svg(rows: Sequence[Row], i: int, j: int, known: np.ndarray | None = None) -> str:
    """An inline SVG scatter of every entry's points on objectives ``i`` (x) and ``j`` (y); ``known`` (P, d): the
    environment's known Pareto front, drawn in grey under them."""
    names = rows[0].objectives
    points = np.concatenate([np.asarray(r.front, dtype=np.float64) for r in rows]
                            + ([np.asarray(known, dtype=np.float64)] if known is not None else []))
    (x0, x1), (y0, y1) = _axis_range(points[:, i]), _axis_range(points[:, j])
    span = _SIZE - 2 * _MARGIN

    def sx(v: float) -> float:
        return _MARGIN + (v - x0) / (x1 - x0) * span

    def sy(v: float) -> float:
        return _SIZE - _MARGIN - (v - y0) / (y1 - y0) * span

    label = f"{names[j]} against {names[i]}"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_SIZE}" height="{_SIZE}" viewBox="0 0 {_SIZE} {_SIZE}" '
           f'role="img" aria-label="{html.escape(label)}">',
           f'<rect x="{_MARGIN}" y="{_MARGIN}" width="{span}" height="{span}" fill="none" stroke="#999"/>']
    for t in np.linspace(0, 1, 5):
        vx, vy = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
        out.append(f'<text x="{sx(vx):.1f}" y="{_SIZE - _MARGIN + 14}" font-size="10" '
                   f'text-anchor="middle">{vx:.2f}</text>')
        out.append(f'<text x="{_MARGIN - 4}" y="{sy(vy) + 3:.1f}" font-size="10" text-anchor="end">{vy:.2f}</text>')
    out.append(f'<text x="{_SIZE / 2}" y="{_SIZE - 8}" font-size="12" text-anchor="middle">'
               f'{html.escape(names[i])}</text>')
    out.append(f'<text x="12" y="{_SIZE / 2}" font-size="12" text-anchor="middle" '
               f'transform="rotate(-90 12 {_SIZE / 2})">{html.escape(names[j])}</text>')
    if known is not None:
        out += _known_polyline(np.asarray(known, dtype=np.float64), i, j, sx, sy)
    for row in rows:
        colour, front = agent_colour(row.agent), np.asarray(row.front, dtype=np.float64)[:, [i, j]]
        nd = np.unique(front[pareto_mask(front)], axis=0)  # sorted by x
        if len(nd) > 1:
            path = " ".join(f"{sx(a):.1f},{sy(b):.1f}" for a, b in nd)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        for a, b in front:
            tip = html.escape(f"{row.agent}: {names[i]}={a:.4f}, {names[j]}={b:.4f}")
            out.append(f'<circle cx="{sx(a):.1f}" cy="{sy(b):.1f}" r="3.5" fill="{colour}" fill-opacity="0.8">'
                       f"<title>{tip}</title></circle>")
    out.append("</svg>")
    return "\n".join(out)


def entry_href(env_id: str, row: Row) -> str:
    """The path of an entry's own page, relative to the folder of the board pages."""
    return f"{env_slug(env_id)}/{row.agent}-{row.entry}.html"


def _cell(row: Row, attr: str, env_id: str | None) -> str:
    text = html.escape(format_cell(attr, getattr(row, attr)))
    if attr == "agent":
        swatch = f'<span class="swatch" style="background:{agent_colour(row.agent)}"></span>'
        link = f'<a href="{html.escape(entry_href(env_id, row))}">{text}</a>' if env_id else text
        mark = (' <span class="artifact" title="names its training artifact: morl-bench verify --artifact '
                'regenerates its replies">[artifact]</span>') if row.artifact else ""
        return f'<td class="text">{swatch}{link}{mark}</td>'
    return f'<td class="text">{text}</td>' if attr == "family" else f"<td>{text}</td>"


def html_table(rows: Sequence[Row], columns: Sequence[tuple[str, str]], env_id: str | None = None) -> str:
    """The board's rows as an HTML table; with ``env_id`` each agent cell links the entry's own page."""
    text = {"agent", "family"}
    head = "".join(f'<th class="text">{html.escape(h)}</th>' if a in text else f"<th>{html.escape(h)}</th>"
                   for h, a in columns)
    body = []
    for row in rows:
        cells = "".join(_cell(row, a, env_id) for _, a in columns)
        body.append(f'<tr data-agent="{html.escape(row.agent)}" data-entry="{row.entry}">{cells}</tr>')
    return f'<table class="board"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def html_page(env_id: str, rows: Sequence[Row], known: np.ndarray | None = None) -> str:
    """A self-contained page: the ranked table and the fronts of ``env_id``'s entries (``known``: the environment's
    known Pareto front of the test split, drawn in grey)."""
    title = html.escape(f"{env_id} leaderboard")
    parts = [f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>',
             f"<style>{_STYLE}</style></head><body>", f"<h1>{title}</h1>"]
    if not rows:
        parts.append("<p>No entries yet: submit one with <code>morl-bench submit RESULT.json</code>.</p>")
        return "\n".join(parts + ["</body></html>"]) + "\n"
    names = rows[0].objectives
    parts.append(f"<p>Objectives: {html.escape(', '.join(names))}. Ranked by hypervolume (mean over seeds) of each "
                 f"entry's per-preference mean reward vectors; {len(rows)} entries.</p>")
    shown = board_columns(env_id)
    if has_known_fronts(env_id):
        parts.append("<p>The Pareto front and convex coverage set of this environment's test split are known: IGD "
                     "is the mean distance from the known front's points to the entry's nearest point, MUL the "
                     "largest linear utility the entry loses to the known coverage set (both lower is better).</p>")
    parts.append(html_table(rows, shown, env_id))
    with_artifact = sum(r.artifact for r in rows)
    parts.append(f"<p>Every entry's rewards were scored by the board from the replies it stores (<code>morl-bench "
                 f"verify ENTRY</code> scores them again). {with_artifact} of {len(rows)} entries name a training "
                 f"artifact (marked [artifact]): with its run folder, <code>morl-bench verify ENTRY --artifact "
                 f"DIR</code> also regenerates the replies.</p>")
    parts.append("<h2>Fronts</h2>")
    legend = "".join(f'<li><span class="swatch" style="background:{agent_colour(r.agent)}"></span>'
                     f"{html.escape(r.agent)} ({r.entry})</li>" for r in rows)
    if known is not None:
        legend += (f'<li><span class="swatch" style="background:{KNOWN_COLOUR}"></span>the known Pareto front of the '
                   f"test split (dashed)</li>")
    for i, j in combinations(range(len(names)), 2):
        caption = html.escape(f"{names[j]} against {names[i]}: one point per preference, mean over seeds")
        parts.append(f"<figure>{scatter_svg(rows, i, j, known)}<figcaption>{caption}</figcaption></figure>")
    parts.append(f'<ul class="legend">{legend}</ul>')
    return "\n".join(parts + ["</body></html>"]) + "\n"


def entry_page(env_id: str, row: Row, samples: Sequence[ReplySample], known: np.ndarray | None = None) -> str:
    """One entry's own page: its board row, its front (with ``known``, the known front) and what it said: a sample
    of its replies for the corner preferences and the one nearest uniform (:func:`leaderboards.samples.reply_samples`),
    so that a reader sees what a weight on one objective makes the agent write."""
    title = html.escape(f"{row.agent} ({row.entry}) on {env_id}")
    parts = [f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>',
             f"<style>{_STYLE}</style></head><body>", f"<h1>{title}</h1>",
             f'<p><a href="../{env_slug(env_id)}.html">Back to the {html.escape(env_id)} board</a></p>',
             html_table([row], board_columns(env_id)), "<h2>Front</h2>"]
    names = row.objectives
    for i, j in combinations(range(len(names)), 2):
        parts.append(f"<figure>{scatter_svg([row], i, j, known)}</figure>")
    parts.append("<p>" + ("This entry names its training artifact: with the run folder that <code>morl-bench train"
                          "</code> wrote, <code>morl-bench verify ENTRY --artifact DIR</code> evaluates the trained "
                          "agent again and compares its replies with these." if row.artifact else
                          "This entry names no training artifact: <code>morl-bench verify ENTRY</code> re-scores "
                          "its stored replies; nothing can regenerate them.") + "</p>")
    parts.append("<h2>What it said</h2>")
    if not samples:
        parts.append("<p>This entry stores no replies (it was submitted before results carried them).</p>")
    for sample in samples:
        weights = ", ".join(f"{n}={w:g}" for n, w in zip(names, sample.preference))
        parts.append(f"<h3>w = ({html.escape(weights)}), first seed</h3><table class=\"replies\"><thead><tr>"
                     f'<th class="text">client</th><th class="text">reply</th></tr></thead><tbody>')
        for prompt, reply in sample.pairs:
            shown = "(the prompt text needs this environment's data folder)" if prompt is None else prompt
            parts.append(f'<tr><td class="text">{html.escape(shown)}</td><td class="text">{html.escape(reply)}</td>'
                         f"</tr>")
        parts.append("</tbody></table>")
    return "\n".join(parts + ["</body></html>"]) + "\n"


def index_page(env_ids: Sequence[str]) -> str:
    """A page linking every environment page."""
    links = "".join(f'<li><a href="{env_slug(e)}.html">{html.escape(e)}</a></li>' for e in env_ids)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>morl-llm-bench leaderboards'
            f"</title><style>{_STYLE}</style></head><body><h1>morl-llm-bench leaderboards</h1><ul>{links}</ul>"
            "</body></html>\n")


def known_front(env_id: str) -> np.ndarray | None:
    """The known Pareto front of ``env_id``'s test split where its kind knows it (a choice environment), else
    None."""
    if not has_known_fronts(env_id):
        return None
    env = morl_envs.make(env_id).unwrapped
    return env.pareto_front(env.eval_spec.test_split)


def write_html(out_dir: str | os.PathLike, board_dir: str | os.PathLike | None = None,
               env_ids: Sequence[str] | None = None) -> list[Path]:
    """Write ``<out_dir>/<env-slug>.html`` for each of ``env_ids`` (default: every environment with entries), one
    page per entry under ``<out_dir>/<env-slug>/``, and ``index.html``, each atomically; return the paths
    written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env_ids = list(env_ids) if env_ids is not None else boarded_envs(board_dir)
    written = []
    for env_id in env_ids:
        rows, known = table(env_id, board_dir), known_front(env_id)
        path = out / f"{env_slug(env_id)}.html"
        write_atomic(path, html_page(env_id, rows, known))
        written.append(path)
        entries = {e["sha256"][:12]: e for e in load_entries(env_id, board_dir)}
        if rows:
            (out / env_slug(env_id)).mkdir(exist_ok=True)
        for row in rows:
            page = out / entry_href(env_id, row)
            write_atomic(page, entry_page(env_id, row, reply_samples(entries[row.entry]), known))
            written.append(page)
    write_atomic(out / "index.html", index_page(env_ids))
    return written + [out / "index.html"]
