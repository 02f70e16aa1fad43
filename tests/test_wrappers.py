"""Adapters for text envs: embedding observations, online candidate choice, token-level episodes (round trips)."""

from __future__ import annotations

import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from mo_gymnasium.wrappers import LinearReward

import morl_envs
from morl_envs.wrappers import PAD, CandidateChoice, EmbeddingObservation, TokenLevel

REPLY = "It sounds like you feel torn: part of you wants to change, and part of you is afraid to let go."
CHEAP = ("empathy", "conciseness")  # MiniLM-based and rule-based: no language model to load


class SeededReplies:
    """A stand-in policy: replies of seeded random lengths, so seeding and sorting are visible."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], int | None]] = []

    def respond(self, prompts: list[str], seed: int | None = None, do_sample: bool = True) -> list[str]:
        self.calls.append((list(prompts), seed))
        rng = np.random.default_rng(seed)
        return [" ".join(["you feel"] * int(rng.integers(1, 12))) + f" ({i})" for i in range(len(prompts))]


def text_env(objectives=CHEAP) -> morl_envs.CounselEnv:
    return morl_envs.CounselEnv(objectives=objectives, device="cpu")


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from morl_core.assets import smollm2_path

    return AutoTokenizer.from_pretrained(smollm2_path())


# ---- EmbeddingObservation ----------------------------------------------------------------------------------------

def test_embedding_observation_equals_the_choice_env_embedding():
    from reward_models.encoder import shared_encoder

    env = EmbeddingObservation(text_env())
    obs, info = env.reset(options={"split": "test", "index": 2})
    assert env.observation_space == gym.spaces.Box(-1, 1, (384,), np.float32) and env.observation_space.contains(obs)
    prompt = env.unwrapped.prompt_set.split("test")[2].text
    np.testing.assert_allclose(obs, shared_encoder(device="cpu").encode([prompt])[0], atol=1e-6)
    choice = morl_envs.ChoiceEnv()
    np.testing.assert_allclose(obs, choice.reset(options={"split": "test", "index": 2})[0], atol=2e-3)  # float16
    _, reward, terminated, _, _ = env.step(REPLY)
    assert terminated and reward.shape == (2,)


def test_embedding_observation_passes_check_env_and_pickles():
    env = EmbeddingObservation(text_env(("conciseness",)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check_env(LinearReward(env, weight=np.ones(1, np.float32)), skip_render_check=True)
    clone = pickle.loads(pickle.dumps(env))
    np.testing.assert_array_equal(env.reset(seed=4)[0], clone.reset(seed=4)[0])


def test_embedding_observation_needs_text():
    with pytest.raises(TypeError, match=r"EmbeddingObservation needs an env whose observations are text"):
        EmbeddingObservation(morl_envs.ChoiceEnv())


# ---- CandidateChoice ---------------------------------------------------------------------------------------------

def test_candidate_choice_steps_the_chosen_reply():
    policy = SeededReplies()
    env = CandidateChoice(text_env(), policy, k=4)
    obs, info = env.reset(seed=0)
    assert env.action_space == gym.spaces.Discrete(4) and policy.calls[-1][0] == [obs] * 4
    candidates = info["candidates"]
    assert [len(c) for c in candidates] == sorted(len(c) for c in candidates)  # shortest first
    _, reward, terminated, _, step_info = env.step(2)
    assert terminated and step_info["reply"] == candidates[2] and step_info["candidate_index"] == 2
    direct = text_env()
    direct.reset(seed=0)
    np.testing.assert_array_equal(direct.step(candidates[2])[1], reward)


def test_candidate_choice_is_seeded():
    a, b = CandidateChoice(text_env(), SeededReplies(), k=3), CandidateChoice(text_env(), SeededReplies(), k=3)
    assert a.reset(seed=5)[1]["candidates"] == b.reset(seed=5)[1]["candidates"]
    assert a.reset()[1]["candidates"] == b.reset()[1]["candidates"]  # the generators move on together
    unsorted = CandidateChoice(text_env(), SeededReplies(), k=3, sort_by=None)
    assert [c[-3:] for c in unsorted.reset(seed=5)[1]["candidates"]] == ["(0)", "(1)", "(2)"]


def test_candidate_choice_with_the_real_policy():
    from agents.policy import CausalLMPolicy

    env = EmbeddingObservation(CandidateChoice(text_env(), CausalLMPolicy(max_new_tokens=6, device="cpu"), k=2))
    obs, info = env.reset(seed=1)
    assert obs.shape == (384,) and len(info["candidates"]) == 2
    first = info["candidates"]
    assert env.reset(seed=1)[1]["candidates"] == first
    _, reward, terminated, _, step_info = env.step(1)
    assert terminated and step_info["reply"] == first[1] and env.unwrapped.reward_space.contains(reward)


def test_candidate_choice_bad_input():
    with pytest.raises(ValueError, match=r"`k` must be a positive int \(the number of candidate replies\); got 0"):
        CandidateChoice(text_env(), SeededReplies(), k=0)
    with pytest.raises(TypeError, match=r"CandidateChoice needs an env whose observations are text.*Wrap the text env"):
        CandidateChoice(EmbeddingObservation(text_env()), SeededReplies(), k=2)
    with pytest.raises(TypeError, match=r"`policy` must have a respond\(prompts, seed=...\) method; got str"):
        CandidateChoice(text_env(), "policy", k=2)
    env = CandidateChoice(text_env(), SeededReplies(), k=2)
    with pytest.raises(gym.error.ResetNeeded):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"`action` must be an int in \[0, 1\] \(a candidate index\); got 2"):
        env.step(2)


# ---- TokenLevel --------------------------------------------------------------------------------------------------

def run_tokens(env: TokenLevel, tokens: list[int], options: dict) -> tuple[list[np.ndarray], list, tuple]:
    obs, info = env.reset(options=options)
    observations, rewards = [obs], []
    for token in tokens:
        obs, reward, terminated, truncated, info = env.step(token)
        observations.append(obs)
        rewards.append(reward)
        if terminated or truncated:
            return observations, rewards, (terminated, truncated, info)
    raise AssertionError("the episode did not end")


def test_token_level_round_trip_reproduces_the_reply_reward(tokenizer):
    """Feeding the token ids of a reply (then EOS) gives exactly the text env's reward for that reply."""
    options = {"split": "validation", "index": 7}
    text = text_env(("reflection", "empathy", "conciseness"))
    text.reset(options=options)
    expected = text.step(REPLY)[1]
    ids = tokenizer(REPLY, add_special_tokens=False)["input_ids"]
    env = TokenLevel(text_env(("reflection", "empathy", "conciseness")), tokenizer, max_tokens=64)
    observations, rewards, (terminated, truncated, info) = run_tokens(env, ids + [tokenizer.eos_token_id], options)
    assert terminated and not truncated and info["reply"] == REPLY and info["reply_tokens"] == len(ids)
    np.testing.assert_array_equal(rewards[-1], expected)
    assert rewards[-1].dtype == np.float32 and not np.any(rewards[:-1])  # zero until the reply ends
    prompt_ids = env.encode_prompt(env.unwrapped.prompt_set.split("validation")[7].text)
    final = observations[-1]
    assert final.shape == (128 + 64,) and final.dtype == np.int64
    assert final[: len(prompt_ids)].tolist() == prompt_ids
    assert final[len(prompt_ids): len(prompt_ids) + len(ids) + 1].tolist() == ids + [tokenizer.eos_token_id]
    assert np.all(final[len(prompt_ids) + len(ids) + 1:] == PAD)
    assert all(env.observation_space.contains(o) for o in observations)


def test_token_level_stops_at_max_tokens(tokenizer):
    ids = tokenizer(REPLY, add_special_tokens=False)["input_ids"]
    env = TokenLevel(text_env(("conciseness",)), tokenizer, max_tokens=5)
    observations, rewards, (terminated, _, info) = run_tokens(env, ids, {"split": "test", "index": 0})
    assert terminated and len(rewards) == 5 and info["reply"] == tokenizer.decode(ids[:5])
    text = text_env(("conciseness",))
    text.reset(options={"split": "test", "index": 0})
    np.testing.assert_array_equal(rewards[-1], text.step(tokenizer.decode(ids[:5]))[1])


class FreshWeightsLinearReward(LinearReward):
    """mo-gymnasium 1.3.2's LinearReward puts the same weight array into every step's info, which check_env's
    "returned data not reused" check rejects as soon as an episode has two steps; this copy gives each info its own."""

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, reward, terminated, truncated, {**info, "reward_weights": self.w.copy()}


def test_token_level_passes_check_env(tokenizer):
    env = TokenLevel(text_env(("conciseness",)), tokenizer, max_tokens=4, max_prompt_tokens=16)
    assert env.action_space == gym.spaces.Discrete(len(tokenizer))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check_env(FreshWeightsLinearReward(env, weight=np.ones(1, np.float32)), skip_render_check=True)


def test_token_level_bad_input(tokenizer):
    with pytest.raises(ValueError, match=r"`max_tokens` must be a positive int; got 0"):
        TokenLevel(text_env(("conciseness",)), tokenizer, max_tokens=0)
    with pytest.raises(ValueError, match=r"`eos_token_ids` must be ids in \[0, 49151\]; got \[-3\]"):
        TokenLevel(text_env(("conciseness",)), tokenizer, eos_token_ids=[-3])
    env = TokenLevel(text_env(("conciseness",)), tokenizer)
    with pytest.raises(gym.error.ResetNeeded):
        env.step(5)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"`action` must be a token id in \[0, 49151\]; got 49152"):
        env.step(49152)
