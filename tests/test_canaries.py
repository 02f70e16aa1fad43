"""Reference and canary agents: their replies, and their runs through the evaluation protocol."""

from __future__ import annotations

import numpy as np
import pytest

import morl_envs
from agents.canaries import CANARIES, GENERIC_QUESTION, GENERIC_SENTENCE, CannedAgent, reference_agent
from agents.registry import agent_entry, agent_names
from leaderboards.protocol import evaluate
from morl_core.errors import MorlError
from morl_envs.robustness import counsel_set
from reward_models.conciseness import ConcisenessModel

PROMPT = "I lost my job and I feel useless. My wife says it's not my fault."


def test_canaries_reply_as_documented():
    assert CANARIES["echo"](PROMPT) == PROMPT
    assert CANARIES["opener-echo"](PROMPT) == "It sounds like you lost your job and you feel useless. Your wife says " \
                                              "it's not your fault."
    assert CANARIES["generic-sentence"](PROMPT) == GENERIC_SENTENCE
    assert CANARIES["generic-question"]("anything") == GENERIC_QUESTION
    assert {"reference", *CANARIES} <= set(agent_names(trained=False))
    assert all(agent_entry(n).family == "reference" for n in ("reference", *CANARIES))


@pytest.mark.parametrize("name", ["reference", *CANARIES])
def test_reference_rows_run_through_the_protocol(name):
    env = morl_envs.make("morl/Counsel-v2", objectives=("conciseness",))
    try:
        agent = agent_entry(name).build(env)
        result = evaluate(agent, "morl/Counsel-v2", seeds=(0, 1), max_prompts=4, env=env)
        prompts = [p.text for p in env.unwrapped.prompt_set.split("test")][:4]
    finally:
        env.close()
    assert result["agent"]["name"] == name and result["agent"]["family"] == "reference"
    assert result["evaluation"]["preference_independent"] is True
    expected = ConcisenessModel()(prompts, agent.respond(prompts, np.ones(1), 0)).mean()
    np.testing.assert_allclose(np.asarray(result["rewards"]), expected, atol=1e-6)  # every seed and preference


def test_reference_answers_with_the_written_reflections():
    env = morl_envs.make("morl/Counsel-v2", objectives=("conciseness",))
    try:
        agent = reference_agent(env)
        test = [p.text for p in env.unwrapped.prompt_set.split("test")]
    finally:
        env.close()
    written = dict(zip(counsel_set().prompts, counsel_set().genuine))
    assert agent.respond(test[:3], np.ones(1), 0) == [written[p] for p in test[:3]]


def test_reference_is_refused_where_nothing_is_written():
    class FakeEnv:
        class unwrapped:  # noqa: N801 - mimics env.unwrapped
            class prompt_set:  # noqa: N801
                name = "psych8k"

    with pytest.raises(MorlError, match="must be a Counsel or PAIR environment"):
        reference_agent(FakeEnv())


def test_canned_agent_ignores_preference_and_seed():
    agent = CannedAgent("echo", CANARIES["echo"])
    assert agent.respond([PROMPT], np.array([1.0, 0, 0]), 0) == agent.respond([PROMPT], np.array([0, 0, 1.0]), 9)
