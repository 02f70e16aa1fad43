"""Boards: ranking by hypervolume, the relationship report, and the leaderboard / report / evaluate commands."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from leaderboards.board import boarded_envs, env_families, load_entries, report, table, table_columns
from leaderboards.submission import submit
from morl_cli.main import main as bench
from tests.stub_env import STUB_ENVS, stub_envs
from tests.test_submission import synthetic_result, write

VARIANTS = {r: i for i, r in STUB_ENVS.items()}  # a family whose rewards the replies spell out (tests.stub_env)
COMPETING, CORRELATED = VARIANTS["competing"], VARIANTS["correlated"]
FAMILY = COMPETING.split("-")[0]


@pytest.fixture(scope="module", autouse=True)
def _stubs():
    with stub_envs():
        yield


def flat(value: float, m: int = 11) -> list[list[float]]:
    """One seed block with the same point (value, value) for all m preferences: HV = value ** 2."""
    return [[value, value]] * m


@pytest.fixture(scope="module")
def board(tmp_path_factory, _stubs):
    """A board with three entries on the competing variant and two on the correlated one."""
    folder, work = tmp_path_factory.mktemp("board"), tmp_path_factory.mktemp("results")
    competing, correlated = gym.make(COMPETING).unwrapped, gym.make(CORRELATED).unwrapped
    specs = [(competing, "low", "single-policy", [flat(0.3)]), (competing, "high", "meta-policy", [flat(0.8)]),
             (competing, "mid", "multi-policy", [flat(0.5), flat(0.7)]),
             (correlated, "high", "meta-policy", [flat(0.6)]), (correlated, "mid", "multi-policy", [flat(0.9)])]
    for k, (env, name, family, rewards) in enumerate(specs):
        result = synthetic_result(env, rewards=rewards, name=name, family=family)
        submit(write(work / f"{k}.json", result), folder)
    return folder


def test_rows_are_ranked_by_hypervolume(board):
    rows = table(COMPETING, board)
    assert [(r.rank, r.agent, r.family) for r in rows] == [(1, "high", "meta-policy"), (2, "mid", "multi-policy"),
                                                           (3, "low", "single-policy")]
    high, mid = rows[0], rows[1]
    assert high.hv_mean == pytest.approx(0.64) and high.hv_eval_std == 0.0
    assert high.hv_std is None  # one trained model: stability over training seeds is not measured
    assert mid.hv_mean == pytest.approx((0.25 + 0.49) / 2) and mid.hv_eval_std == pytest.approx(0.12)
    assert mid.front[0] == pytest.approx((0.6, 0.6))  # mean over the two seeds
    assert (high.env_samples, high.train_seconds, high.inference_cost) == (1000, 12.5, pytest.approx(2.0))
    assert high.objectives == gym.make(COMPETING).unwrapped.objectives and len(high.entry) == 12
    assert [h for h, _ in table_columns(known_fronts=False)] == [
        "rank", "agent", "family", "HV mean", "HV 95% CI low", "HV 95% CI high",
        "HV std over training seeds (stability)", "HV std over eval seeds", "EUM", "cardinality", "balance", "controllability", "env samples (self-reported)", "train s (self-reported)",
        "inference cost (x untrained)"]


def test_equal_hypervolumes_share_a_rank(tmp_path):
    env = gym.make(COMPETING).unwrapped
    for seed, name in enumerate(("b-agent", "a-agent")):  # other seeds, or the board refuses the copy
        submit(write(tmp_path / f"{name}.json", synthetic_result(env, rewards=[flat(0.5)], name=name, seeds=[seed])),
               tmp_path / "board")
    assert [(r.rank, r.agent) for r in table(COMPETING, tmp_path / "board")] == [(1, "a-agent"), (1, "b-agent")]


def test_reference_rows_are_marked_and_take_no_rank(tmp_path):
    from leaderboards.render import markdown_table

    env = gym.make(COMPETING).unwrapped
    for name, family, value in (("agent-a", "single-policy", 0.4), ("echo", "reference", 0.6),
                                ("agent-b", "multi-policy", 0.5), ("reference", "reference", 0.3)):
        result = synthetic_result(env, rewards=[flat(value)], name=name, family=family)
        submit(write(tmp_path / f"{name}.json", result), tmp_path / "board")
    rows = table(COMPETING, tmp_path / "board")
    assert [(r.rank, r.agent) for r in rows] == [("ref", "echo"), (1, "agent-b"), (2, "agent-a"), ("ref", "reference")]
    assert "| ref | echo | reference |" in markdown_table(rows)


def test_entries_and_boarded_envs(board, tmp_path):
    assert boarded_envs(board) == sorted([COMPETING, CORRELATED])
    assert load_entries("morl/Counsel-v2", board) == [] and table(COMPETING, tmp_path / "empty") == []


def test_report_puts_the_variants_side_by_side(board):
    assert env_families()[FAMILY] == {"competing": COMPETING, "correlated": CORRELATED}
    rep = report(FAMILY, board)
    assert rep.variants == {"competing": COMPETING, "correlated": CORRELATED}
    assert [(r.agent, r.family) for r in rep.rows] == [("low", "single-policy"), ("mid", "multi-policy"),
                                                        ("high", "meta-policy")]
    low, mid, high = rep.rows
    assert low.cells["correlated"] is None and low.cells["competing"].hv_mean == pytest.approx(0.09)
    assert mid.cells["correlated"].hv_mean == pytest.approx(0.81) and mid.cells["correlated"].rank == 1
    assert high.cells["correlated"].rank == 2
    with pytest.raises(ValueError, match=f"`env_family` must be one of \\['morl/Counsel', '{FAMILY}'\\].*Did you mean"):
        report(FAMILY[:-1], board)


def test_leaderboard_and_report_commands(board, tmp_path, capsys):
    assert bench(["leaderboard", "--env", COMPETING, "--board-dir", str(board)]) == 0
    out = capsys.readouterr().out
    assert out.index("| 1 | high |") < out.index("| 2 | mid |") < out.index("| 3 | low |")
    assert bench(["leaderboard", "--board-dir", str(board), "--html", str(tmp_path / "site")]) == 0
    out = capsys.readouterr().out
    slugs = [COMPETING.replace("/", "-"), CORRELATED.replace("/", "-")]
    assert f"## {CORRELATED}" in out and sorted(p.name for p in (tmp_path / "site").iterdir()) == sorted(
        ["index.html"] + [s + ".html" for s in slugs] + slugs)  # each board's entry pages in its own folder
    assert len(list((tmp_path / "site" / slugs[0]).glob("*.html"))) == 3
    assert bench(["report", "--board-dir", str(board)]) == 0
    out = capsys.readouterr().out
    assert "HV mean (competing) | HV mean (correlated)" in out and "| mid | multi-policy | 0.3700 | 0.8100 |" in out


@pytest.mark.parametrize("argv, fragment", [
    (["leaderboard", "--env", "morl/Counsel-v9"], "error: --env must be a registered id"),
    (["report", "--family", "morl/PAIR"], f"error: `env_family` must be one of ['morl/Counsel', '{FAMILY}']"),
    (["evaluate", "--agent", "default", "--env", "morl/Counsl-v2", "--out", "OUT"],
     "Did you mean 'morl/Counsel-v2'?"),
    (["evaluate", "--agent", "default", "--env", "morl/Counsel-v2", "--out", "missing/OUT"],
     "error: --out must be in an existing folder"),
])
def test_command_errors_exit_2_and_write_nothing(tmp_path, capsys, argv, fragment, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert bench(argv + ["--board-dir", str(tmp_path / "b")] if argv[0] != "evaluate" else argv) == 2
    assert fragment in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def _spread(mean: float, half_width: float, n: int = 55, m: int = 11) -> np.ndarray:
    """One seed whose replies score (mean - hw, mean - hw) on half the prompts and (mean + hw, ...) on the rest."""
    values = np.where(np.arange(n) % 2 == 0, mean - half_width, mean + half_width)
    return np.repeat(np.repeat(values[None, :, None], 2, axis=2), m, axis=0)[None]  # (1, m, n, 2)


def test_entries_whose_intervals_overlap_share_a_rank(tmp_path):
    env = gym.make(COMPETING).unwrapped
    for seed, (name, mean) in enumerate((("close-a", 0.50), ("close-b", 0.52), ("far", 0.95))):
        result = synthetic_result(env, name=name, seeds=[seed], per_prompt=_spread(mean, 0.3 if name != "far" else 0))
        submit(write(tmp_path / f"{name}.json", result), tmp_path / "board")
    rows = table(COMPETING, tmp_path / "board")
    assert [(r.rank, r.agent) for r in rows] == [(1, "far"), (2, "close-b"), (2, "close-a")]
    far, close_b, close_a = rows
    assert far.hv_ci_low == pytest.approx(far.hv_ci_high) == pytest.approx(0.95 ** 2, abs=1e-6)  # no spread
    assert close_a.hv_ci_low < close_a.hv_mean < close_a.hv_ci_high and close_b.hv_ci_low < close_a.hv_ci_high
