"""The evaluation protocol: result shape, determinism, equivalence with the env's own step, costs, agent checks."""

from __future__ import annotations

import gymnasium as gym
import mo_gymnasium as mo_gym
import numpy as np
import pytest

import morl_envs
from agents.baselines import DefaultPolicyAgent
from leaderboards.answers import rescore, unpack_answers
from leaderboards.protocol import evaluate
from leaderboards.submission import compute_metrics, validate
from morl_core.agent import Agent, TrainingCosts

# Cheap scorers for speed (env kwargs go to gymnasium.make); such results are for tests only, never submitted.
ENV, CHEAP = "morl/Counsel-v2", {"objectives": ("empathy", "conciseness")}
COMPETING = next(i for i, r in sorted(morl_envs.relationship_variants().items()) if r == "competing")
CANNED = ["I hear how exhausted you are.",
          "It sounds like you feel torn between wanting change and fearing it, and that is really hard for you.",
          "You feel unseen at work and at home, and it is wearing you down day after day after day after day."]


class Canned(Agent):
    """Replies chosen by the preference: the more weight on conciseness (objective 1), the shorter."""

    name, family = "canned", "multi-policy"

    def __init__(self) -> None:
        self.calls: list[tuple[int, tuple[float, ...], int]] = []

    def respond(self, prompts: list[str], preference: np.ndarray, seed: int) -> list[str]:
        self.calls.append((len(prompts), tuple(preference.tolist()), seed))
        reply = CANNED[min(2, int(3 * preference[0]))]
        return [reply for _ in prompts]

    def training_costs(self) -> TrainingCosts:
        return TrainingCosts(env_samples=640, tokens_generated=30720, train_seconds=42.0, device="cpu",
                             peak_memory_bytes=123)


class Constant(Canned):
    name, family, preference_independent = "constant", "single-policy", True


@pytest.fixture(scope="module")
def quick() -> dict:
    return evaluate(Canned(), ENV, seeds=(0, 1), max_prompts=4, baseline=Constant(), **CHEAP)


def test_result_shape_and_fingerprints(quick):
    spec = gym.make(ENV, **CHEAP).unwrapped.eval_spec
    assert quick["schema_version"] == 2 and quick["env_id"] == ENV
    assert quick["objectives"] == ["empathy", "conciseness"] and quick["reference_point"] == [0.0, 0.0]
    assert quick["fingerprints"] == {"data": spec.data_fingerprint, "eval_spec": spec.fingerprint,
                                     "reward_models": spec.reward_model_fingerprints}
    assert quick["agent"] == {"name": "canned", "family": "multi-policy"}
    assert quick["evaluation"] == {"split": "test", "n_prompts": 4, "preference_independent": False}
    assert quick["seeds"] == [0, 1] and np.allclose(quick["preferences"], spec.preferences)
    rewards = np.asarray(quick["rewards"])
    assert rewards.shape == (2, 11, 2) and ((rewards >= 0) & (rewards <= 1)).all()
    assert len({tuple(r) for r in rewards[0]}) == 3  # the three canned replies
    costs = quick["costs"]
    assert (costs["env_samples"], costs["tokens_generated"], costs["train_seconds"]) == (640, 30720, 42.0)
    assert costs["eval_seconds_per_reply"] > 0 and costs["baseline_seconds_per_reply"] > 0
    assert costs["eval_peak_memory_bytes"] > 0 and costs["eval_device"]
    claimed, without_prompts = quick["claimed_metrics"], compute_metrics(quick)
    assert {k: v for k, v in claimed.items() if not k.startswith("hv_ci")} == {
        k: v for k, v in without_prompts.items() if not k.startswith("hv_ci")}
    assert claimed["hv_ci_low"] <= claimed["hv_mean"] <= claimed["hv_ci_high"]  # from the per-prompt vectors
    assert quick["code_version"]


def test_the_replies_are_in_the_result_and_score_its_rewards_again(quick):
    table, index = unpack_answers(quick["answers"])
    assert len(table) == 3 and np.asarray(index).shape == (2, 11, 4)  # three distinct replies, stored once each
    env = gym.make(ENV, **CHEAP).unwrapped
    again = rescore(env, table, np.asarray(index), "test").mean(axis=2)  # per prompt -> per preference
    assert np.allclose(again, quick["rewards"], rtol=0, atol=1e-6)


def test_deterministic(quick):
    again = evaluate(Canned(), ENV, seeds=(0, 1), max_prompts=4, baseline=Constant(), **CHEAP)
    assert again["rewards"] == quick["rewards"]


def test_mean_rewards_equal_the_env_step_rewards():
    """The batched protocol scores exactly as stepping the registered env prompt by prompt."""
    result = evaluate(Canned(), ENV, seeds=(0,), preferences=[[0.9, 0.1]], max_prompts=3, baseline=Constant(),
                      **CHEAP)
    env = mo_gym.make(ENV, **CHEAP)  # MO-Gymnasium's make: no scalar-reward warning from the passive checker
    per_prompt = []
    for i in range(3):
        env.reset(options={"split": "test", "index": i})
        per_prompt.append(env.step(CANNED[2])[1])
    assert np.allclose(result["rewards"][0][0], np.mean(per_prompt, axis=0), atol=1e-6)


def test_every_preference_and_seed_is_asked_in_order():
    agent = Canned()
    evaluate(agent, ENV, seeds=(3, 7), max_prompts=2, baseline=Constant(), timing_prompts=2, **CHEAP)
    spec_prefs = [tuple(w) for w in gym.make(ENV, **CHEAP).unwrapped.eval_spec.preferences]
    scored = agent.calls[:22]  # then the timing: a 1-prompt warm-up and the timed call
    assert [c[2] for c in scored] == [3] * 11 + [7] * 11
    assert [c[1] for c in scored] == spec_prefs * 2 and all(c[0] == 2 for c in scored)
    assert [(c[0], c[2]) for c in agent.calls[22:]] == [(1, 3), (2, 3)]


def test_preference_independent_agent_answers_once_per_seed():
    agent = Constant()
    result = evaluate(agent, ENV, seeds=(0, 1), max_prompts=3, baseline=agent, **CHEAP)
    assert [c[0] for c in agent.calls] == [3, 3, 1, 3]  # seed 0, seed 1, timing warm-up, timing
    assert result["evaluation"]["preference_independent"] is True
    rewards = np.asarray(result["rewards"])
    assert (rewards == rewards[:, :1]).all()
    # The baseline itself gets exactly 1.0; an agent that reports no training costs gets nulls.
    assert compute_metrics(result)["inference_cost"] == 1.0


class Fixed(Constant):
    name, seed_independent = "fixed", True


def test_seed_independent_agent_answers_once_in_all_and_every_seed_gets_its_rewards():
    agent = Fixed()
    result = evaluate(agent, ENV, seeds=(0, 1, 2), max_prompts=3, baseline=agent, progress=False, **CHEAP)
    assert [c[0] for c in agent.calls] == [3, 1, 3]  # once for every seed, then the timing warm-up and the timing
    rewards = np.asarray(result["rewards"])  # (S, m, d)
    assert rewards.shape[0] == 3 and (rewards == rewards[:1]).all()
    table, index = unpack_answers(result["answers"])
    assert np.asarray(index).shape == (3, rewards.shape[1], 3) and len(table) == 1


def test_each_seed_scores_its_distinct_pairs_in_one_call(monkeypatch):
    """Canned answers whole bands of preferences alike: the distinct (prompt, reply) pairs of a seed are scored once,
    in one call, and every preference still gets its rewards."""
    env = gym.make(ENV, **CHEAP)
    calls = []
    real = env.unwrapped.score
    monkeypatch.setattr(env.unwrapped, "score", lambda p, r: calls.append(len(r)) or real(p, r))
    result = evaluate(Canned(), ENV, seeds=(0, 1), max_prompts=2, baseline=Constant(), env=env, progress=False)
    assert calls == [2 * 3, 2 * 3]  # per seed: 2 prompts x the 3 distinct replies, not 2 x 11 preferences
    prompts = [p.text for p in env.unwrapped.prompt_set.split("test")][:2]
    expected = np.stack([real(prompts, [CANNED[min(2, int(3 * w[0]))]] * 2).mean(0) for w in result["preferences"]])
    assert np.allclose(np.asarray(result["rewards"])[0], expected, atol=1e-6)


def test_progress_bar_counts_every_reply(capsys):
    evaluate(Canned(), ENV, seeds=(0, 1), max_prompts=2, baseline=Constant(), progress=True, **CHEAP)
    err = capsys.readouterr().err
    assert "evaluate canned" in err and "44/44" in err  # 2 seeds x 11 preferences x 2 prompts


def test_unreported_training_costs_are_null():
    class Quiet(Agent):
        name, family = "quiet", "meta-policy"

        def respond(self, prompts, preference, seed):
            return ["Okay." for _ in prompts]

    costs = evaluate(Quiet(), ENV, seeds=(0,), max_prompts=1, baseline=Constant(), **CHEAP)["costs"]
    assert [costs[k] for k in ("env_samples", "tokens_generated", "train_seconds", "train_device",
                               "train_peak_memory_bytes")] == [None] * 5


def test_full_split_result_validates(monkeypatch):
    """A whole-split result on a registered env passes ``validate``. Scoring is stubbed (0.5 everywhere): it is
    checked against the env's own step above, and the full split's fluency scoring takes long on a CPU."""
    monkeypatch.setattr("morl_envs.counsel_env.score_replies",
                        lambda models, prompts, replies: np.full((len(replies), len(models)), 0.5, np.float32))
    result = evaluate(Constant(), COMPETING, seeds=(0,), baseline=Constant())  # registered kwargs: submittable
    assert result["evaluation"]["n_prompts"] == 55
    assert validate(result).env_id == COMPETING and result["rewards"] == [[[0.5, 0.5]] * 11]


def test_default_policy_agent_runs_through_the_protocol():
    agent = DefaultPolicyAgent(max_new_tokens=2)  # SmolLM2-135M on the CPU: keep generation tiny
    result = evaluate(agent, ENV, seeds=(0,), max_prompts=1, timing_prompts=1, **CHEAP)
    assert result["agent"] == {"name": "default-policy", "family": "single-policy"}
    assert result["evaluation"]["preference_independent"] is True
    assert result["costs"]["eval_seconds_per_reply"] == result["costs"]["baseline_seconds_per_reply"]
    assert result["claimed_metrics"]["inference_cost"] == 1.0
    assert (result["costs"]["env_samples"], result["costs"]["train_seconds"]) == (0, 0.0)


class Broken(Canned):
    def respond(self, prompts, preference, seed):
        return ["only one"]


@pytest.mark.parametrize("agent, kwargs, error, fragment", [
    (Canned(), {"env_id": "morl/Counsel-v"}, ValueError, "Did you mean 'morl/Counsel-v2'?"),
    (Canned(), {"seeds": ()}, ValueError, "`seeds` must be 1 to 100 distinct ints in [0, 2**32); got []"),
    (Canned(), {"seeds": (1, 1)}, ValueError, "`seeds` must be 1 to 100 distinct ints"),
    (Canned(), {"max_prompts": 0}, ValueError, "`max_prompts` must be None (the whole test split) or an int >= 1"),
    (Canned(), {"preferences": [[1.0, 1.0]]}, ValueError, "`preferences` rows must sum to 1 within 1e-06 (probability simplex); got row 0 summing to 2.0"),
    (Canned(), {"preferences": [[1.0]]}, ValueError, "`preferences` must have 2 columns, one per objective; got 1"),
    (Broken(), {}, ValueError, "`canned.respond` must return a list with one reply per prompt (2); got 1"),
    (object(), {}, TypeError, "`agent` must be a morl_core.agent.Agent; got object"),
])
def test_bad_arguments_are_refused(agent, kwargs, error, fragment):
    call = {"env_id": ENV, "max_prompts": 2, "baseline": Constant(), **CHEAP, **kwargs}
    with pytest.raises(error) as caught:
        evaluate(agent, **call)
    assert fragment in str(caught.value)


@pytest.mark.parametrize("name, family, fragment", [
    ("../x", "single-policy", "`agent.name` must be 1 to 64 characters"),
    ("ok", "hybrid", "`agent.family` must be one of ('single-policy', 'multi-policy', 'meta-policy', 'reference'); got 'hybrid'"),
])
def test_bad_agent_identity_is_refused_before_any_work(name, family, fragment):
    agent = Canned()
    agent.name, agent.family = name, family
    with pytest.raises(ValueError) as caught:
        evaluate(agent, ENV, max_prompts=1, baseline=Constant(), **CHEAP)
    assert fragment in str(caught.value) and agent.calls == []


def test_agent_interface_is_abstract():
    with pytest.raises(TypeError, match="abstract"):
        Agent()  # type: ignore[abstract]
