"""Choice environments on the leaderboard: the action protocol, IGD / MUL against the known fronts, boards, errors."""

from __future__ import annotations

import json
import math

import gymnasium as gym
import numpy as np
import pytest

import leaderboards.submission as submission
from agents.baselines import RandomChoiceAgent
from leaderboards.board import board_columns, boarded_envs, table, table_columns
from leaderboards.choice import evaluate_choice
from leaderboards.protocol import evaluate
from leaderboards.render import html_page, markdown_table
from leaderboards.submission import KnownFronts, SubmissionError, compute_metrics, submit, validate
from morl_cli.main import main as bench
from morl_core.agent import Agent, ChoiceAgent, TrainingCosts
from morl_envs.choice_env import linear_optima
from tests.test_submission import write

ENV = "morl/Counsel-Choice-v2"
SLUG = ENV.replace("/", "-")


@pytest.fixture(scope="module")
def env():
    return gym.make(ENV).unwrapped


class Oracle(ChoiceAgent):
    """Per prompt, the candidate maximising w . r from the env's table: the optimum of every linear utility."""

    name, family = "oracle", "multi-policy"

    def __init__(self, env) -> None:
        self.table = {tuple(o.tolist()): r for o, r in zip(env.observations("test"), env.candidate_rewards("test"))}
        self.calls: list[tuple[tuple[float, ...], int]] = []

    def act(self, observations, preference, seed):
        self.calls.append((tuple(preference.tolist()), seed))
        rewards = np.stack([self.table[tuple(o.tolist())] for o in observations])  # (n, K, d)
        return np.einsum("nkd,d->nk", rewards, preference).argmax(axis=1)

    def training_costs(self):
        return TrainingCosts(env_samples=0, tokens_generated=0, train_seconds=0.0, device="cpu", peak_memory_bytes=0)


class Fixed(ChoiceAgent):
    """The same candidate everywhere, whatever the preference."""

    name, family, preference_independent = "fixed", "single-policy", True

    def __init__(self, action=0, shape=None) -> None:
        self.action, self.shape, self.calls = action, shape, 0

    def act(self, observations, preference, seed):
        self.calls += 1
        return np.full(self.shape or len(observations), self.action)


@pytest.fixture(scope="module")
def oracle_result(env):
    return evaluate_choice(Oracle(env), ENV, seeds=(0, 1))


def test_result_has_the_text_schema_and_exact_rewards(env, oracle_result):
    spec = env.eval_spec
    assert oracle_result["env_id"] == ENV and oracle_result["objectives"] == list(spec.objectives)
    assert oracle_result["evaluation"] == {"split": "test", "n_prompts": 55, "preference_independent": False}
    assert oracle_result["fingerprints"]["data"] == spec.data_fingerprint
    rewards = np.asarray(oracle_result["rewards"])  # (S, m, d)
    expected = linear_optima(env.candidate_rewards("test"), np.asarray(spec.preferences))  # the argmax per prompt
    assert rewards.shape == (2, 15, 3) and np.allclose(rewards[0], expected) and np.allclose(rewards[1], expected)
    assert validate(oracle_result) == spec
    claimed, without_prompts = oracle_result["claimed_metrics"], compute_metrics(oracle_result, submission.known_fronts(env))
    # the HV interval needs the per-prompt vectors, which evaluate had and the mean vectors alone do not give
    assert {k: v for k, v in claimed.items() if not k.startswith("hv_ci")} == {
        k: v for k, v in without_prompts.items() if not k.startswith("hv_ci")}
    assert claimed["hv_ci_low"] <= claimed["hv_mean"] <= claimed["hv_ci_high"]
    assert oracle_result["costs"]["tokens_generated"] == 0 and oracle_result["costs"]["eval_seconds_per_reply"] > 0


def test_every_preference_and_seed_is_asked_in_order(env):
    agent = Oracle(env)
    evaluate_choice(agent, ENV, seeds=(3, 5), timing_repeats=1)
    prefs = [tuple(w) for w in env.eval_spec.preferences]
    asked = [c for c in agent.calls if c[1] in (3, 5)][:30]
    assert asked == [(w, 3) for w in prefs] + [(w, 5) for w in prefs]


def test_preference_independent_agent_is_asked_once_per_seed(env):
    agent = Fixed(action=2)
    result = evaluate_choice(agent, ENV, seeds=(0, 1, 2), timing_repeats=1)
    assert agent.calls == 3 + 2  # three seeds, then the warm-up and one timed pass
    assert np.allclose(result["rewards"], env.candidate_rewards("test")[:, 2].mean(axis=0))


def test_random_agent_is_its_own_inference_baseline():
    result = evaluate_choice(RandomChoiceAgent(8), ENV, seeds=(0,), timing_repeats=1)
    assert result["claimed_metrics"]["inference_cost"] == 1.0 and result["agent"]["name"] == "random-choice"


def test_oracle_igd_and_mul_match_the_definitions(env, oracle_result):
    metrics = compute_metrics(oracle_result, submission.known_fronts(env))
    block, front = np.asarray(oracle_result["rewards"][0]), env.pareto_front("test")
    distances = np.sqrt(((front[:, None, :] - block[None, :, :]) ** 2).sum(axis=2))  # (|PF|, 15)
    assert metrics["igd"] == pytest.approx(distances.min(axis=1).mean(), abs=1e-12)
    # The oracle reaches the known CCS exactly at its 15 weights, so its loss is 0 there and small elsewhere.
    assert 0.0 <= metrics["mul"] < 0.05
    random = compute_metrics(evaluate_choice(RandomChoiceAgent(8), ENV, seeds=(0,), timing_repeats=1),
                             submission.known_fronts(env))
    assert random["igd"] > metrics["igd"] and random["mul"] > metrics["mul"] and random["hv_mean"] < metrics["hv_mean"]


def test_igd_and_mul_recomputed_at_submit_as_by_hand(env, oracle_result, tmp_path, monkeypatch):
    # Known fronts replaced by two hand-made points: PF {a, b}, CCS {a}; a = (.6, .5, .5), b = (.5, .6, .5).
    a, b = [0.6, 0.5, 0.5], [0.5, 0.6, 0.5]
    monkeypatch.setattr(submission, "known_fronts", lambda env: KnownFronts(np.array([a, b]), np.array([a])))
    result = json.loads(json.dumps(oracle_result))
    result["rewards"] = [[[0.5, 0.5, 0.5]] * 15, [a] * 15]  # seed 0: c = (.5, .5, .5); seed 1: a
    # and the actions "score" so too: this test is about the metrics, the re-scoring has tests of its own
    monkeypatch.setattr(submission, "rescore",  # one "prompt" per (seed, preference): (S, m, 1, d)
                        lambda env, table, index, split: np.asarray(result["rewards"])[:, :, None, :])
    result["claimed_metrics"] = {"igd": 0.0, "mul": 0.0}  # lies: recomputed, reported, never stored
    done = submit(write(tmp_path / "r.json", result), tmp_path / "board")
    # IGD seed 0: |a - c| = |b - c| = 0.1 -> 0.1; seed 1: (0 + |b - a| = 0.1 * sqrt(2)) / 2.
    assert done.metrics["igd"] == pytest.approx((0.1 + 0.1 * math.sqrt(2) / 2) / 2, abs=1e-12)
    # MUL seed 0: max_w w . (a - c) = max_w 0.1 * w_0 = 0.1 at w = (1, 0, 0); seed 1: 0.
    assert done.metrics["mul"] == pytest.approx(0.05, abs=1e-12)
    assert [line.split(" disagrees")[0] for line in done.disagreements] == ["claimed igd=0.0", "claimed mul=0.0"]
    stored = json.loads(done.path.read_text())
    assert stored["metrics"]["igd"] == done.metrics["igd"] and done.path.parent.name == SLUG


def test_text_results_have_null_known_front_metrics():
    from tests.test_submission import SEED0, SEED1, synthetic_result

    text = gym.make("morl/Counsel-FluencyConciseness-v2").unwrapped
    metrics = compute_metrics(synthetic_result(text, rewards=(SEED0, SEED1)))
    assert metrics["igd"] is None and metrics["mul"] is None


def test_choice_board_shows_igd_and_mul(oracle_result, tmp_path):
    board = tmp_path / "board"
    for name, result in (("oracle", oracle_result),
                         ("random-choice", evaluate_choice(RandomChoiceAgent(8), ENV, seeds=(0,), timing_repeats=1))):
        submit(write(tmp_path / f"{name}.json", result), board)
    rows = table(ENV, board)
    assert [r.agent for r in rows] == ["oracle", "random-choice"] and rows[0].igd < rows[1].igd
    assert boarded_envs(board) == [ENV] and board_columns(ENV) == table_columns(known_fronts=True)
    assert board_columns("morl/Counsel-v2") == table_columns(known_fronts=False)
    header = markdown_table(rows, board_columns(ENV)).splitlines()[0]
    assert "| controllability | IGD (known front) | MUL (known CCS) | env samples (self-reported) |" in header
    assert f"| {rows[0].igd:.4f} | {rows[0].mul:.4f} |" in markdown_table(rows, table_columns(known_fronts=True))
    assert "IGD (known front)" in html_page(ENV, rows) and "IGD" not in markdown_table(rows)


def test_cli_evaluates_submits_and_shows_a_choice_board(tmp_path, capsys):
    out, board = tmp_path / "random.json", tmp_path / "board"
    assert bench(["evaluate", "--agent", "random", "--env", ENV, "--seeds", "0", "--out", str(out)]) == 0
    assert "  igd: " in capsys.readouterr().out
    assert bench(["submit", str(out), "--board-dir", str(board)]) == 0
    assert bench(["leaderboard", "--env", ENV, "--board-dir", str(board)]) == 0
    assert "| 1 | random-choice | single-policy |" in capsys.readouterr().out


class Text(Agent):
    name, family = "text", "single-policy"

    def respond(self, prompts, preference, seed):
        return ["ok"] * len(prompts)


@pytest.mark.parametrize("agent, kwargs, error, message", [
    (Text(), {}, TypeError, "`agent` must be a morl_core.agent.ChoiceAgent; got Text"),
    (Fixed(shape=3), {}, ValueError, "`fixed.act` must return an integer array of shape (55,), one candidate index "
                                     "per observation; got shape (3,), dtype int64"),
    (Fixed(action=8), {}, ValueError, "`fixed.act` must return candidate indices in [0, 7]; got 8"),
    (Fixed(action=0.5), {}, ValueError, "`fixed.act` must return an integer array of shape (55,), one candidate "
                                        "index per observation; got shape (55,), dtype float64"),
    (Fixed(), {"env_id": "morl/Counsel-v2"}, ValueError, "`env_id` must be a registered choice environment id "
     "['morl/Counsel-Choice-v2', 'morl/PAIR-Choice-v2']; got 'morl/Counsel-v2'. ('morl/Counsel-v2' is a text "
     "environment: evaluate it with leaderboards.protocol.evaluate)"),
    (Fixed(), {"env_id": "morl/Counsel-Choise-v2"}, ValueError, "Did you mean 'morl/Counsel-Choice-v2'?"),
    (Fixed(), {"seeds": (1, 1)}, ValueError, "`seeds` must be 1 to 100 distinct ints in [0, 2**32); got [1, 1]"),
    (Fixed(), {"timing_repeats": 0}, ValueError, "`timing_repeats` must be an int >= 1; got 0"),
    (Fixed(), {"preferences": [[0.5, 0.5]]}, ValueError, "`preferences` must have 3 columns, one per objective; got 2"),
    (Fixed(), {"baseline": Text()}, TypeError, "`agent` must be a morl_core.agent.ChoiceAgent; got Text"),
])
def test_bad_choice_evaluations_are_refused(agent, kwargs, error, message):
    with pytest.raises(error) as caught:
        evaluate_choice(agent, **{"env_id": ENV, "seeds": (0,), **kwargs})
    assert message in str(caught.value)


def test_text_protocol_points_choice_ids_to_their_protocol():
    with pytest.raises(ValueError) as caught:
        evaluate(Text(), ENV)
    assert str(caught.value).endswith("got 'morl/Counsel-Choice-v2'. ('morl/Counsel-Choice-v2' is a choice "
                                      "environment: evaluate it with leaderboards.choice.evaluate_choice)")


def test_random_agent_needs_a_positive_action_count():
    with pytest.raises(ValueError, match=r"`n_actions` must be an int >= 1 \(the env's number of candidates\); got 0"):
        RandomChoiceAgent(0)


@pytest.mark.parametrize("mutate, message", [
    (lambda r: r["evaluation"].__setitem__("n_prompts", 54),
     "`evaluation.n_prompts` must be the whole test split (55 prompts); got 54"),
    (lambda r: r["rewards"][0][0].__setitem__(2, 1.2), "`rewards[0][0][2]` must lie in reward_space [0, 1]; got 1.2"),
    (lambda r: r.__setitem__("claimed_metrics", {"igd": "low"}), "`claimed_metrics.igd` must be a number; got 'low'"),
    (lambda r: r.__setitem__("rewards", [[[1.0, 1.0, 1.0]] * 15] * 2),
     "`rewards[0][0]` must be achievable: no point of the environment's exact Pareto front of the test split reaches "
     "it (tolerance 1e-06); got [1.0, 1.0, 1.0]"),
    (lambda r: r["rewards"][0][7].__setitem__(0, r["rewards"][0][7][0] + 1e-3),
     "`rewards[0][7]` must be achievable"),
    (lambda r: r["evaluation"].__setitem__("preference_independent", True),
     "`evaluation.preference_independent` must be false when the answers differ between preferences; got True. "
     "answers.index[0] varies across preferences"),
    (lambda r: r.__setitem__("env_id", "morl/Counsel-Choice-v9"),
     "`env_id` must be a registered environment id ['morl/Counsel-Choice-v2', 'morl/Counsel-EmpathyFluency-v2'"),
])
def test_bad_choice_results_are_refused_with_their_field(oracle_result, tmp_path, mutate, message):
    result = json.loads(json.dumps(oracle_result))
    mutate(result)
    with pytest.raises(SubmissionError) as caught:
        submit(write(tmp_path / "r.json", result), tmp_path / "board")
    assert message in str(caught.value) and not (tmp_path / "board").exists()


@pytest.mark.parametrize("argv, message", [
    (["--agent", "default", "--env", ENV], "error: --agent must be one of ['random'] for the choice environment "
                                           "'morl/Counsel-Choice-v2'; got 'default'"),
    (["--agent", "random", "--env", "morl/Counsel-v2"], "error: --agent must be one of ['default', 'reference', "
                                                        "'echo', 'opener-echo', 'generic-sentence', 'generic-question']"
                                                        " for the text environment 'morl/Counsel-v2'; got 'random'"),
    (["--agent", "random", "--env", ENV, "--max-prompts", "3"],
     "error: --max-prompts applies to text environments only"),
])
def test_evaluate_command_refuses_mismatched_agents(tmp_path, capsys, argv, message):
    assert bench(["evaluate", *argv, "--out", str(tmp_path / "r.json")]) == 2
    assert message in capsys.readouterr().err and list(tmp_path.iterdir()) == []
