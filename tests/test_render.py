"""Rendering: markdown and HTML list every entry; the page loads in a real headless Chromium with its figure."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from leaderboards.board import Report, ReportRow, Row
from leaderboards.render import agent_colour, html_page, markdown_report, markdown_table, write_html

CHROMIUM = Path("/usr/bin/chromium")
ENV2, ENV3 = "morl/Example-TwoObjectives-v2", "morl/Example-ThreeObjectives-v2"  # labels only


def make_row(rank: int, agent: str, objectives: tuple[str, ...], scale: float, **extra) -> Row:
    d = len(objectives)
    front = tuple(tuple(scale * (0.2 + 0.6 * ((k + j) % 11) / 10) for j in range(d)) for k in range(11))
    values = {"hv_mean": scale, "hv_std": 0.01, "hv_eval_std": 0.02, "eum": 0.5, "cardinality": 3.0, "balance": 0.4,
              "controllability": 0.25, "env_samples": 2048, "train_seconds": 61.2, "inference_cost": 1.0}
    values.update(extra)
    return Row(rank=rank, agent=agent, family="multi-policy", entry=f"{rank:012d}", objectives=objectives,
               front=front, metrics=values)


ROWS2 = [make_row(1, "alpha", ("empathy", "conciseness"), 0.9), make_row(2, "beta.v2", ("empathy", "conciseness"),
                                                                          0.6, env_samples=None),
         make_row(3, "default-policy", ("empathy", "conciseness"), 0.4, train_seconds=0.0)]
ROWS3 = [make_row(1, "gamma", ("reflection", "empathy", "fluency"), 0.8),
         make_row(2, "delta", ("reflection", "empathy", "fluency"), 0.5)]


def test_markdown_table_lists_every_entry():
    text = markdown_table(ROWS2)
    lines = text.strip().splitlines()
    assert lines[0].startswith("| rank | agent | family | HV mean | HV 95% CI low | HV 95% CI high | "
                               "HV std over training seeds (stability) | HV std over eval seeds | EUM |")
    assert len(lines) == 2 + len(ROWS2)
    assert lines[2] == ("| 1 | alpha | multi-policy | 0.9000 | n/a | n/a | 0.0100 | 0.0200 | 0.5000 | 3 | 0.4000 | 0.2500 | 2,048 | "
                        "61.2 | 1.00x |")
    assert "| n/a |" in lines[3] and lines[4].startswith("| 3 | default-policy |")


def test_markdown_report_has_one_column_per_variant():
    rep = Report("morl/Counsel", {"competing": "a", "correlated": "b"},
                 [ReportRow("alpha", "multi-policy", {"competing": ROWS2[0], "correlated": None})])
    text = markdown_report(rep)
    assert ("| agent | family | HV mean (competing) | HV mean (correlated) | HV 95% CI low (competing) | "
            "HV 95% CI low (correlated) | HV 95% CI high (competing)") in text
    assert "| alpha | multi-policy | 0.9000 | — | n/a | — | n/a | — | 0.0100 | — |" in text


@pytest.mark.parametrize("rows, n_svg", [(ROWS2, 1), (ROWS3, 3)])
def test_html_page_is_self_contained_with_one_figure_per_projection(rows, n_svg):
    page = html_page(ENV3 if n_svg == 3 else ENV2, rows)
    assert page.count("<svg") == n_svg and page.count("<figure>") == n_svg
    for row in rows:
        assert f'<tr data-agent="{row.agent}"' in page
    assert page.count("<circle") == n_svg * 11 * len(rows)
    assert "<script" not in page and not re.search(r'(src|href)="(https?:)?//', page)


def test_html_escapes_entry_text():
    page = html_page(ENV2, [make_row(1, "<b>x</b>", ("empathy", "conciseness"), 0.5)])
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page


def test_empty_board_page():
    assert "No entries yet" in html_page(ENV2, []) and "<svg" not in html_page(ENV2, [])


def test_write_html_writes_the_board_an_index_and_a_page_per_entry_with_its_replies(tmp_path):
    import html

    import gymnasium as gym

    from leaderboards.submission import submit
    from morl_envs.counsel_env import load_prompt_set
    from tests.stub_env import STUB_ENVS, stub_envs
    from tests.test_submission import SEED0, synthetic_result, write

    env_id = next(iter(STUB_ENVS))
    with stub_envs():
        result = synthetic_result(gym.make(env_id).unwrapped, rewards=(SEED0,), name="alpha")
        done = submit(write(tmp_path / "r.json", result), tmp_path / "board")
        paths = write_html(tmp_path / "site", tmp_path / "board", env_ids=[env_id])
    slug, entry = env_id.replace("/", "-"), f"alpha-{done.sha256[:12]}.html"
    assert [str(p.relative_to(tmp_path / "site")) for p in paths] == [f"{slug}.html", f"{slug}/{entry}", "index.html"]
    assert f'href="{slug}/{entry}"' in paths[0].read_text() and f'href="{slug}.html"' in paths[2].read_text()
    page = paths[1].read_text()
    # SEED0 answers "0.9 0.2" when all weight is on the first objective, "0.2 0.9" on the second, "0.5 0.5" between
    corners = [page.index(f"<h3>w = ({w}), first seed</h3>") for w in ("stub-first=1, stub-second=0",
                                                                       "stub-first=0, stub-second=1",
                                                                       "stub-first=0.5, stub-second=0.5")]
    assert corners == sorted(corners) and page.count("<td class=\"text\">0.9 0.2</td>") == 4
    assert page.count("<td class=\"text\">0.2 0.9</td>") == 4 and "<td class=\"text\">0.5 0.5</td>" in page
    first_prompt = load_prompt_set("counsel", None).split("test")[0].text  # the client's words beside each reply
    assert page.count(f'<td class="text">{html.escape(first_prompt)}</td>') == 3
    assert page.count("<svg") == 1 and "Back to the" in page


def test_choice_pages_draw_the_known_front(tmp_path):
    from agents import RandomChoiceAgent
    from leaderboards.choice import evaluate_choice
    from leaderboards.submission import submit, write_result

    env_id = "morl/Counsel-Choice-v2"
    result = evaluate_choice(RandomChoiceAgent(8), env_id, seeds=(0,), timing_repeats=1)
    submit(write_result(result, tmp_path / "r.json"), tmp_path / "board")
    board, entry, _ = write_html(tmp_path / "site", tmp_path / "board", env_ids=[env_id])
    assert board.read_text().count("known Pareto front of the test split") == 4  # 3 projections and the legend
    assert entry.read_text().count("stroke-dasharray") == 3 and "<h3>w = (reflection=1, empathy=0, fluency=0)" \
        in entry.read_text()


def test_colours_follow_the_agent_not_the_rank():
    first, second = html_page(ENV2, ROWS2), html_page(ENV2, ROWS2[::-1])
    colour = agent_colour("alpha")
    assert colour in first and colour in second and agent_colour("beta.v2") != colour
    swatch = re.compile(r'style="background:([^"]+)"></span><a href="[^"]*">alpha</a>')
    assert swatch.findall(first) == swatch.findall(second) == [colour]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="headless Chromium test: /usr/bin/chromium is not installed "
                                                   "(Debian: apt-get install chromium)")
@pytest.mark.parametrize("rows, n_svg", [(ROWS2, 1), (ROWS3, 3)])
def test_page_in_headless_chromium(tmp_path, rows, n_svg):
    page = tmp_path / "board.html"
    page.write_text(html_page(ENV2 if n_svg == 1 else ENV3, rows), encoding="utf-8")
    profile = tmp_path / "profile"
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    shutil.rmtree(profile, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert "Uncaught" not in done.stderr and "CONSOLE" not in done.stderr  # no script, no console errors
    body = dom[dom.index("<tbody>"):dom.index("</tbody>")]
    assert re.findall(r'data-agent="([^"]+)"', body) == [r.agent for r in rows]
    assert dom.count("<svg") == n_svg and dom.count("<circle") == n_svg * 11 * len(rows)
