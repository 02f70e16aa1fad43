"""Meta-policy and Pareto-set agents end to end on a tiny random GPT-2: experts trained once and reused by every
aggregation, the gate fitted from bandit feedback, EMORL's grid search, results for the board, and bad input."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from agents.meta_policy import MetaPolicyAgent, MixtureMap, hierarchical_grid_search
from agents.single_policy import ScalarizedAgent
from morl_cli import train as commands
from tests.test_policy import make_tiny_lm

OBJECTIVES = ["conciseness", "reflection"]


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory) -> Path:
    return make_tiny_lm(tmp_path_factory.mktemp("tiny-gpt2"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="morl-bench")
    commands.add_commands(parser.add_subparsers(dest="command", required=True))
    return parser


def _argv(tiny_lm: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--env", "morl/Counsel-v2", "--objectives", *OBJECTIVES, "--steps", "1", "--out", str(out),
            "--model", str(tiny_lm), "--device", "cpu", "--max-new-tokens", "6", "--prompts-per-step", "2", "--k",
            "2", "--eval-prompts", "2", "--summary-prompts", "0", "--max-prompts", "2", "--eval-seeds", "0",
            "--learning-rate", "0.05", *extra]


@pytest.fixture(scope="module")
def trained_experts(tiny_lm, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("experts")
    assert commands.run(_parser().parse_args(_argv(tiny_lm, out, "--agent", "emorl"))) == 0
    return out


def test_experts_are_one_hot_linear_runs_and_answer_their_preference_alone(trained_experts):
    experts = ScalarizedAgent.load(trained_experts)
    assert experts.config.scalarizer == "linear" and np.array_equal(experts.trained_preferences, np.eye(2))
    agent = MetaPolicyAgent(experts, "hidden")
    prompts = ["I never sleep", "work is really hard"]
    for i in range(2):
        one_hot = np.eye(2)[i]
        experts.policy.set_adapter(f"pref-{i:02d}")
        assert agent.respond(prompts, one_hot, seed=4) == experts.policy.respond(prompts, seed=4)


def test_every_aggregation_reuses_the_same_experts_and_records_it(tiny_lm, trained_experts, capsys):
    from morl_core.agent import FAMILIES

    steps_before = json.loads((trained_experts / "pref-00" / "summary.json").read_text())["run_state"]
    for agent_name, extra, family in (("emorl", ["--aggregation", "logit"], "meta-policy"),
                                      ("rewarded-soups", [], "multi-policy")):
        result_path = trained_experts / f"{agent_name}.json"
        argv = _argv(tiny_lm, trained_experts, "--agent", agent_name, "--resume", "--result", str(result_path), *extra)
        assert commands.run(_parser().parse_args(argv)) == 0
        result = json.loads(result_path.read_text())
        assert result["agent"]["family"] == family in FAMILIES
        details = result["agent"]["details"]
        assert details["experts_trained_once"] and details["n_experts"] == 2 and details["mixture_map"]["kind"] == \
            "identity"
        assert np.asarray(result["rewards"]).shape == (1, 11, 2)
        # the experts were not retrained: two runs' costs, counted once for the 11 preferences
        costs = result["costs"]
        assert costs["env_samples"] == 2 * steps_before["env_samples"]
        assert {tuple(d["preference"]): d["mixture"] for d in details["mixtures_used"]}[(0.3, 0.7)] == [0.3, 0.7]
    after = json.loads((trained_experts / "pref-00" / "summary.json").read_text())["run_state"]
    for key in ("step", "env_samples", "tokens_generated", "train_seconds", "val_rewards"):
        assert after[key] == steps_before[key]
    capsys.readouterr()


def test_gate_is_fitted_from_bandit_rounds_and_reported(tiny_lm, trained_experts, capsys):
    result_path = trained_experts / "gated.json"
    argv = _argv(tiny_lm, trained_experts, "--agent", "emorl", "--resume", "--gate-prompts", "3", "--result",
                 str(result_path), "--name", "emorl-gated")
    assert commands.run(_parser().parse_args(argv)) == 0
    assert "regret vs best fixed" in capsys.readouterr().out
    gate = json.loads(result_path.read_text())["agent"]["details"]["gate"]
    assert gate["model"] == "shared" and gate["arms"] == 5 and gate["env_samples"] == 15 and gate["rounds"] == 3 * 11
    assert gate["oracle_reward"] >= max(gate["gate_reward"], gate["best_fixed_reward"]) - 1e-12


def test_mixture_search_maps_each_preference(tiny_lm, trained_experts, capsys):
    result_path = trained_experts / "searched.json"
    argv = _argv(tiny_lm, trained_experts, "--agent", "emorl", "--resume", "--search-prompts", "2",
                 "--search-rounds", "1", "--aggregation", "parameter", "--result", str(result_path))
    assert commands.run(_parser().parse_args(argv)) == 0
    details = json.loads(result_path.read_text())["agent"]["details"]
    assert details["mixture_map"]["kind"] == "searched" and len(details["mixture_map"]["mixtures"]) == 11
    assert details["search_samples"] == 5 * 2  # {0, .5, 1}^2 minus 0 normalised: 5 distinct mixtures, 2 prompts
    capsys.readouterr()


def test_hierarchical_grid_search_zooms_to_the_optimum_within_emorls_budget():
    target = np.array([0.6, 0.3, 0.1])
    calls = []

    def score(m: np.ndarray) -> float:
        calls.append(m)
        return -float(np.abs(m - target).sum())

    best, value, n = hierarchical_grid_search(score, 3, rounds=5)
    assert n == len(calls) <= 135 and np.allclose(best.sum(), 1.0)
    assert np.abs(best - target).sum() < 0.1 and value == -np.abs(best - target).sum()
    assert MixtureMap(np.eye(2), np.array([[0.2, 0.8], [0.9, 0.1]]))([0.8, 0.2]).tolist() == [0.2, 0.8]


def test_bad_input(tiny_lm, trained_experts, capsys):
    parser = _parser()
    for extra, message in (
        (["--agent", "emorl", "--preference", "0.5", "0.5"], "--preference and --all-preferences do not apply"),
        (["--agent", "rewarded-soups", "--gate-prompts", "2"], "--gate-prompts applies to --agent emorl"),
        (["--agent", "emorl", "--gate-prompts", "-1"], "--gate-prompts must be >= 0; got -1"),
    ):
        assert commands.run(parser.parse_args(_argv(tiny_lm, trained_experts, "--resume", *extra))) == 2
        assert message in capsys.readouterr().err
    grid = ScalarizedAgent.load(trained_experts)
    grid.trained_preferences = np.array([[0.5, 0.5], [1.0, 0.0]])
    with pytest.raises(ValueError, match="must be trained at the one-hot preferences"):
        MetaPolicyAgent(grid)
    with pytest.raises(ValueError, match="`aggregation` must be one of"):
        MetaPolicyAgent(ScalarizedAgent.load(trained_experts), "mean")


def test_mgda_anchored_experts_train_and_log_their_effective_weights(tiny_lm, tmp_path):
    args = _parser().parse_args(_argv(tiny_lm, tmp_path, "--agent", "emorl", "--expert-scalarizer", "mgda-anchor"))
    experts = commands.build_agent(args)
    assert experts.config.scalarizer == "mgda-anchor" and np.array_equal(experts.trained_preferences, np.eye(2))
    states = experts.train()
    assert [s.step for s in states] == [1, 1]
    for folder in experts.run_dirs:  # c_0 e_i + c_1 (the rest): the expert's own objective keeps weight >= 0
        weights = json.loads((folder / "summary.json").read_text())["scalarizer"]["weights"]
        assert np.isclose(sum(weights), 1.0) and min(weights) >= 0
