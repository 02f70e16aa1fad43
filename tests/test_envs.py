"""Registry-wide environment checks (MO-Gymnasium's tests/test_envs.py, for text) and the env's contract."""

from __future__ import annotations

import pickle

import gymnasium as gym
import mo_gymnasium as mo_gym
import numpy as np
import pytest
from mo_gymnasium.wrappers.vector import MORecordEpisodeStatistics, MOSyncVectorEnv

import morl_envs
from morl_core.errors import MorlError
from morl_envs.datasets import DataNotFoundError
from tests.conftest import check_env_with_linear_reward, point_data_env_at_shared_data
from tests.conftest import make_mo_env as make

ALL_IDS = morl_envs.env_ids("text")
REPLY = "It sounds like you feel torn: part of you wants to change, and part of you is afraid to let go."


@pytest.fixture(autouse=True)
def _data_env(monkeypatch, request):
    """Point MORL_DATA_DIR at the development data; PAIR's cases need it and skip (saying why) without it."""
    point_data_env_at_shared_data(monkeypatch, request, "PAIR-v1")


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_check_env_on_linear_reward(env_id):
    check_env_with_linear_reward(make(env_id))


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_rewards_in_reward_space(env_id):
    env = make(env_id)
    env.action_space.seed(0)
    for i in range(3):
        env.reset(seed=i)
        _, reward, terminated, truncated, info = env.step(env.action_space.sample() if i else REPLY)
        assert reward.dtype == np.float32 and reward.shape == (env.unwrapped.reward_dim,)
        assert env.unwrapped.reward_space.contains(reward)
        assert terminated and not truncated
        assert list(info["scores"]) == list(env.unwrapped.objectives)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_pickle_round_trip_scores_the_same(env_id):
    env = make(env_id)
    env.reset(seed=3)
    clone = pickle.loads(pickle.dumps(env))
    first, second = env.step(REPLY), clone.step(REPLY)
    assert first[0] == second[0]
    np.testing.assert_array_equal(first[1], second[1])


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_seeded_determinism(env_id):
    a, b = make(env_id), make(env_id)
    for seed in (0, 7):
        obs_a, info_a = a.reset(seed=seed)
        obs_b, info_b = b.reset(seed=seed)
        assert obs_a == obs_b and info_a["prompt_id"] == info_b["prompt_id"]
        np.testing.assert_array_equal(a.step(REPLY)[1], b.step(REPLY)[1])
    ids = {make(env_id).reset(seed=s)[1]["prompt_id"] for s in range(8)}
    assert len(ids) > 1, "different seeds should draw different prompts"


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_eval_spec(env_id):
    spec = make(env_id).unwrapped.eval_spec
    n = len(spec.objectives)
    assert spec.env_id == env_id
    assert spec.reference_point == (0.0,) * n
    assert len(spec.preferences) == {2: 11, 3: 15}[n]
    np.testing.assert_allclose(np.sum(spec.preferences, axis=1), 1.0)
    assert set(spec.reward_model_fingerprints) == set(spec.objectives)
    assert len(spec.data_fingerprint) == 64


def test_reset_options_select_prompts_deterministically():
    env = make("morl/Counsel-v2").unwrapped
    obs, info = env.reset(options={"split": "test", "index": 4})
    assert info["prompt_id"] == env.prompt_set.split("test")[4].id and obs == env.prompt_set.split("test")[4].text
    obs, info = env.reset(options={"prompt": "My own words."})
    assert obs == "My own words." and info["prompt_id"] == "custom"
    sizes = {s: len(env.prompt_set.split(s)) for s in ("train", "validation", "test")}
    assert sizes == {"train": 220, "validation": 55, "test": 55}
    assert len(env.prompt_set.topics) >= 10


def test_vector_env_equals_single_env():
    n = 6
    envs = gym.make_vec("morl/Counsel-v2", num_envs=n, vectorization_mode="vector_entry_point")
    single = make("morl/Counsel-v2")
    prompts, _ = envs.reset(seed=0, options={"split": "validation", "indices": list(range(n))})
    replies = [REPLY, "Quit now.", "", "You are angry and hurt.", REPLY[:40], "I hear that this is hard for you."]
    _, rewards, terminated, _, infos = envs.step(replies)
    assert rewards.shape == (n, 3) and rewards.dtype == np.float32 and terminated.all()
    for i in range(n):
        obs, _ = single.reset(options={"split": "validation", "index": i})
        assert obs == prompts[i]
        np.testing.assert_allclose(single.step(replies[i])[1], rewards[i], atol=1e-5)
    # NEXT_STEP autoreset: the following step only resets, with zero reward and fresh prompts
    new_prompts, zero, terminated, _, _ = envs.step(replies)
    assert not zero.any() and not terminated.any() and len(new_prompts) == n


def test_vector_env_same_step_autoreset():
    envs = gym.make_vec("morl/Counsel-v2", num_envs=2, vectorization_mode="vector_entry_point",
                        autoreset_mode="SameStep")
    first, _ = envs.reset(seed=1)
    nxt, rewards, terminated, _, infos = envs.step([REPLY, REPLY])
    assert terminated.all() and rewards.any() and tuple(infos["final_obs"]) == first


def test_mo_sync_vector_env_and_episode_statistics():
    sync = MOSyncVectorEnv([lambda: make("morl/Counsel-FluencyConciseness-v2") for _ in range(2)])
    sync.reset(seed=0)
    _, rewards, terminated, _, _ = sync.step([REPLY, "Okay."])
    assert rewards.shape == (2, 2) and terminated.all()
    native = MORecordEpisodeStatistics(gym.make_vec("morl/Counsel-FluencyConciseness-v2", num_envs=3,
                                                    vectorization_mode="vector_entry_point"))
    native.reset(seed=0)
    _, rewards, _, _, infos = native.step([REPLY, "Okay.", "You feel alone."])
    np.testing.assert_allclose(infos["episode"]["r"], rewards)
    assert infos["episode"]["l"].tolist() == [1, 1, 1]


# ---- bad input --------------------------------------------------------------------------------------------------

def test_non_string_action_raises():
    env = make("morl/Counsel-v2")
    env.reset(seed=0)
    with pytest.raises(TypeError, match=r"`action` must be a str .* got int: 5"):
        env.step(5)


def test_step_before_reset_raises():
    with pytest.raises(gym.error.ResetNeeded):
        morl_envs.CounselEnv().step(REPLY)


def test_wrong_batch_length_raises():
    envs = gym.make_vec("morl/Counsel-v2", num_envs=3, vectorization_mode="vector_entry_point")
    envs.reset(seed=0)
    with pytest.raises(ValueError, match=r"`actions` must be a list with one entry per env \(num_envs=3\)"):
        envs.step([REPLY, REPLY])


def test_unknown_names_suggest_the_close_one():
    with pytest.raises(ValueError, match=r"unknown reward model 'empaty'.*Did you mean 'empathy'\?"):
        morl_envs.CounselEnv(objectives=("reflection", "empaty"))
    with pytest.raises(gym.error.NameNotFound, match="Did you mean"):
        gym.make("morl/Counsl-v2")
    with pytest.raises(ValueError, match=r"`dataset` must be one of .* got 'pari'.*Did you mean 'pair'"):
        morl_envs.CounselEnv(dataset="pari")


@pytest.mark.parametrize("retired", ["morl/Counsel-v0", "morl/PAIR-v0", "morl/Psych8k-v0",
                                     "morl/Counsel-EmpathyFluency-v0", "morl/Counsel-Choice-v0", "morl/Counsel-v1",
                                     "morl/PAIR-v1", "morl/Counsel-FluencyConciseness-v1", "morl/PAIR-Choice-v1"])
def test_retired_ids_name_their_current_successor(retired):
    current = retired[:-1] + "2"
    with pytest.raises(gym.error.DeprecatedEnv, match=f"Please use `{current}` instead"):
        gym.make(retired)
    with pytest.raises(MorlError, match=f"this version is retired, use '{current}'"):
        morl_envs.make(retired)
    assert morl_envs.registry.successor(retired) == current and morl_envs.registry.successor(current) is None


def test_bad_reset_options_raise():
    env = morl_envs.CounselEnv()
    with pytest.raises(ValueError, match=r"options\['index'\] must be an int in \[0, 54\] for split 'test'; got 55"):
        env.reset(options={"split": "test", "index": 55})
    with pytest.raises(ValueError, match=r"options\['split'\] must be one of"):
        env.reset(options={"split": "dev"})


def test_options_and_texts_are_checked_by_the_spaces_rules():
    env = morl_envs.CounselEnv()
    with pytest.raises(TypeError, match=r"reset `options` must be a dict or None; got list"):
        env.reset(options=["split", "test"])
    with pytest.raises(TypeError, match=r"reset `options` keys must be str among \('split', 'index', 'prompt'\); got 3"):
        env.reset(options={3: "test"})
    with pytest.raises(ValueError, match=r"`options\['prompt'\]` must hold printable characters .* got '\\ud800' at "
                                         r"position 2"):
        env.reset(options={"prompt": "I \ud800 feel"})
    env.reset(seed=0)
    for reply, shown in (("ok\x00", r"'\\x00' at position 2"), ("\u202ereversed", r"'\\u202e' at position 0")):
        with pytest.raises(ValueError, match=r"`action` must hold printable characters and whitespace only .* got " + shown):
            env.step(reply)
        assert not env.action_space.contains(reply)
    assert env.action_space.contains("Tears \U0001f469\u200d\U0001f467 and\tall.\n")  # emoji with a joiner, whitespace


def test_a_failed_reset_leaves_no_episode_to_step_into():
    env = morl_envs.CounselEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError):
        env.reset(options={"split": "dev"})
    with pytest.raises(gym.error.ResetNeeded):
        env.step(REPLY)


def test_missing_pair_data_names_both_options(monkeypatch, tmp_path):
    monkeypatch.delenv("MORL_DATA_DIR", raising=False)
    with pytest.raises(DataNotFoundError, match=r"data_dir=.*MORL_DATA_DIR"):
        morl_envs.CounselEnv(dataset="pair")
    with pytest.raises(DataNotFoundError, match=r"pair\.csv.*data_dir=.*MORL_DATA_DIR"):
        morl_envs.CounselEnv(dataset="pair", data_dir=str(tmp_path))


def test_overlong_reply_is_truncated_and_flagged():
    env = make("morl/Counsel-FluencyConciseness-v2")
    env.reset(seed=0)
    long_reply = "word " * 1000
    _, reward, _, _, info = env.step(long_reply)
    assert info["reply_truncated"] is True
    env.reset(seed=0)
    np.testing.assert_array_equal(env.step(long_reply[:2048])[1], reward)


def test_an_empty_reply_scores_zero_everywhere_and_says_so():
    """Conciseness alone would give "" its best score (0 words); the environment scores it 0 on every objective."""
    env = make("morl/Counsel-FluencyConciseness-v2")
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step("   ")
    assert reward.tolist() == [0.0, 0.0] and info["empty_reply"] is True and terminated
    env.reset(seed=0)
    _, reward, _, _, info = env.step("I hear you.")
    assert reward[1] == 1.0 and info["empty_reply"] is False  # a short reply keeps its conciseness
    scored = env.unwrapped.score(["I feel lost.", "I feel lost."], ["", "You feel lost."])
    assert scored[0].tolist() == [0.0, 0.0] and scored[1, 1] == 1.0
    envs = gym.make_vec("morl/Counsel-FluencyConciseness-v2", num_envs=2, vectorization_mode="vector_entry_point")
    envs.reset(seed=0)
    _, rewards, _, _, infos = envs.step(["", "You feel lost."])
    assert rewards[0].tolist() == [0.0, 0.0] and infos["empty_reply"].tolist() == [True, False]


def test_psych8k_falls_back_to_counsel_and_says_so(monkeypatch, tmp_path):
    import morl_envs.counsel_env as counsel_env

    monkeypatch.setenv("MORL_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(counsel_env, "_warned_fallback", False)
    with pytest.warns(UserWarning, match="Psych8k is not available"):
        env = morl_envs.CounselEnv(dataset="psych8k")
    assert env.eval_spec.dataset == "counsel"
    assert env.eval_spec.data_fingerprint == morl_envs.CounselEnv().eval_spec.data_fingerprint


def test_psych8k_reads_a_local_json(tmp_path):
    import json

    (tmp_path / "psych8k").mkdir()
    records = [{"instruction": "x", "input": f"I have been worried about thing number {i}.", "output": "y"}
               for i in range(40)]
    (tmp_path / "psych8k" / "Psych8k.json").write_text(json.dumps(records))
    env = morl_envs.CounselEnv(dataset="psych8k", data_dir=str(tmp_path))
    assert env.eval_spec.dataset == "psych8k" and len(env.prompt_set.prompts) == 40
    assert env.eval_spec.data_fingerprint != morl_envs.CounselEnv().eval_spec.data_fingerprint
    obs, _ = env.reset(options={"split": "test", "index": 0})
    assert obs.startswith("I have been worried")


def test_vector_env_calls_each_reward_model_once_per_step(monkeypatch):
    envs = gym.make_vec("morl/Counsel-v2", num_envs=64, vectorization_mode="vector_entry_point")
    calls = []
    for model in envs.unwrapped.reward_models:
        original = model._score
        monkeypatch.setattr(model, "_score", lambda p, r, o=original, n=model.name: calls.append((n, len(r))) or o(p, r))
    envs.reset(seed=0)
    envs.step(["You feel stuck between wanting to change and fearing it."] * 64)
    assert sorted(calls) == sorted((name, 64) for name in envs.unwrapped.objectives)


def test_envs_command_lists_every_kind_and_where_its_prompts_come_from(monkeypatch, tmp_path, capsys):
    from morl_cli.main import main

    monkeypatch.setenv("MORL_DATA_DIR", str(tmp_path))  # a folder without PAIR or Psych8k
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["envs"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert set(rows) == set(morl_envs.ENVS)  # text and choice environments alike
    assert "choice" in rows["morl/Counsel-Choice-v2"] and "counsel (embedded)" in rows["morl/Counsel-v2"]
    assert "missing: set MORL_DATA_DIR" in rows["morl/PAIR-v2"] and "competing" in rows[
        "morl/Counsel-FluencyConciseness-v2"]
    assert "falls back to the Counsel prompts" in rows["morl/Psych8k-v2"]


@pytest.mark.parametrize("maker", ["gymnasium", "mo_gymnasium"])
def test_no_float_reward_warning_through_either_make(maker):
    """Gymnasium's passive checker warns "reward must be a float" for a vector reward: registration turns it off."""
    import warnings

    module = gym if maker == "gymnasium" else mo_gym
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        env = module.make("morl/Counsel-FluencyConciseness-v2")
        env.reset(seed=0)
        assert env.step("I hear you.")[1].shape == (2,)
