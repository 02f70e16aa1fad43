"""TRL reward functions of an environment: objective order and names, the preference as reward weights, prompts as
conversations or strings, one scoring pass per batch, and errors that name what is wrong (TRL itself not needed)."""

from __future__ import annotations

import pytest

from morl_core.errors import MorlError
from morl_envs.trl_rewards import client_text, trl_rewards
from tests.stub_env import OBJECTIVES, STUB_ENVS, stub_envs

STUB = next(iter(STUB_ENVS))


@pytest.fixture(scope="module", autouse=True)
def stubs():
    with stub_envs():
        yield


@pytest.fixture(scope="module")
def rewards(stubs):
    return trl_rewards(STUB, preference=[0.25, 0.75])


def test_one_function_per_objective_in_order_with_the_preference_as_weights(rewards):
    assert [f.__name__ for f in rewards.functions] == list(OBJECTIVES) == list(rewards.objectives)
    assert rewards.weights == [0.25, 0.75]
    prompts = ["I feel stuck.", "Nobody listens."]
    completions = ["0.2 0.9", "0.7 0.1"]
    first, second = (f(prompts, completions) for f in rewards.functions)
    assert first == pytest.approx([0.2, 0.7]) and second == pytest.approx([0.9, 0.1])


def test_conversations_and_the_client_column_are_read(rewards):
    conversation = [[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "I feel stuck."}]]
    reply = [[{"role": "assistant", "content": "0.4 0.6"}]]
    assert rewards.functions[1](conversation, reply) == pytest.approx([0.6])
    assert rewards.functions[0](["templated text"], ["0.3 0.3"], client=["I feel stuck."]) == pytest.approx([0.3])
    row = rewards.dataset("train", system_prompt="Be brief.")[0]
    assert row["prompt"][0] == {"role": "system", "content": "Be brief."}
    assert client_text(row["prompt"]) == row["client"] and row["prompt_id"].startswith("counsel-")


def test_a_batch_is_scored_once_for_all_objectives(rewards, monkeypatch):
    calls = []
    score = rewards.env.unwrapped.score
    monkeypatch.setattr(rewards.env.unwrapped, "score", lambda p, r: calls.append(len(p)) or score(p, r))
    prompts, completions = ["a new statement"] * 3, ["0.1 0.2", "0.3 0.4", "0.5 0.6"]
    for f in rewards.functions:
        f(prompts, completions)
    assert calls == [3]


@pytest.mark.parametrize("call, match", [
    (lambda r: trl_rewards(STUB, preference=[0.5, 0.4]), r"`preference` rows must sum to 1"),
    (lambda r: trl_rewards(STUB, preference=[1.0]), r"`preference` must have 2 columns"),
    (lambda r: trl_rewards("morl/Counsel-Choice-v2"), r"`env_id` must be a text environment"),
    (lambda r: r.functions[0]([{"role": "user"}], ["x"]), r"`prompts` must hold strings or conversations"),
    (lambda r: r.functions[0](["a"], [3]), r"`completions` must hold strings or lists"),
    (lambda r: r.functions[0](["a", "b"], ["x"]), r"`completions` must have one entry per prompt"),
])
def test_bad_input_names_the_parameter(rewards, call, match):
    with pytest.raises(MorlError, match=match):
        call(rewards)
