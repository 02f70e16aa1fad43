"""Choice environments: registry-wide checks (MO-Gymnasium's tests/test_envs.py), the shipped table, known fronts."""

from __future__ import annotations

import itertools
import pickle

import gymnasium as gym
import mo_gymnasium as mo_gym
import numpy as np
import pytest

import morl_envs
from leaderboards.choice import evaluate_choice
from leaderboards.submission import validate
from morl_core.simplex import simplex_lattice
from morl_envs.choice_env import (
    COUNSEL_CHOICE_FILE,
    CandidateTable,
    ChoiceDataError,
    ChoiceEnv,
    convex_coverage_set,
    linear_optima,
    minkowski_pareto_front,
    verify_reward_models,
)
from morl_envs.datasets import DataNotFoundError
from tests.conftest import check_env_with_linear_reward, point_data_env_at_shared_data
from tests.conftest import make_mo_env as make

CHOICE_IDS = [pytest.param(i, marks=pytest.mark.slow) if "PAIR" in i else i for i in morl_envs.env_ids("choice")]


@pytest.fixture(autouse=True)
def _data_env(monkeypatch, request):
    """PAIR's cases need the development data (skipped, saying why, without it); the first run scores PAIR's 2,544
    replies once on the CPU (minutes) and caches the table."""
    point_data_env_at_shared_data(monkeypatch, request, "PAIR-Choice")


# ---- registry-wide checks ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("env_id", CHOICE_IDS)
def test_check_env_on_linear_reward(env_id):
    check_env_with_linear_reward(make(env_id))


@pytest.mark.parametrize("env_id", CHOICE_IDS)
def test_rewards_in_reward_space(env_id):
    env = make(env_id)
    env.action_space.seed(0)
    assert env.observation_space == gym.spaces.Box(-1, 1, (384,), np.float32)
    for i in range(20):
        obs, _ = env.reset(seed=i)
        assert obs.dtype == np.float32 and env.observation_space.contains(obs)
        _, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert reward.dtype == np.float32 and reward.shape == (env.unwrapped.reward_dim,)
        assert env.unwrapped.reward_space.contains(reward)
        assert terminated and not truncated
        assert list(info["scores"]) == list(env.unwrapped.objectives) == ["reflection", "empathy", "fluency"]


@pytest.mark.parametrize("env_id", CHOICE_IDS)
def test_pickle_round_trip(env_id):
    env = make(env_id)
    env.reset(seed=3)
    clone = pickle.loads(pickle.dumps(env))
    first, second = env.step(5), clone.step(5)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert first[4] == second[4]


@pytest.mark.parametrize("env_id", CHOICE_IDS)
def test_seeded_determinism(env_id):
    a, b = make(env_id), make(env_id)
    for seed in (0, 7):
        obs_a, info_a = a.reset(seed=seed)
        obs_b, info_b = b.reset(seed=seed)
        np.testing.assert_array_equal(obs_a, obs_b)
        assert info_a == info_b
        np.testing.assert_array_equal(a.step(2)[1], b.step(2)[1])
    ids = {make(env_id).reset(seed=s)[1]["prompt_id"] for s in range(8)}
    assert len(ids) > 1, "different seeds should draw different prompts"


@pytest.mark.parametrize("env_id", CHOICE_IDS)
def test_eval_spec_and_known_fronts(env_id):
    env = make(env_id).unwrapped
    spec = env.eval_spec
    assert spec.env_id == env_id and spec.reference_point == (0.0, 0.0, 0.0) and len(spec.preferences) == 15
    assert set(spec.reward_model_fingerprints) == set(spec.objectives) and len(spec.data_fingerprint) == 64
    candidates = env.candidate_rewards("test")  # (n, K, 3)
    front, ccs = env.pareto_front("test"), env.convex_coverage_set("test")
    for vectors in (front, ccs):
        assert vectors.ndim == 2 and vectors.shape[1] == 3
        assert np.all(vectors >= candidates.min(axis=(0, 1)) - 1e-9) and np.all(vectors <= 1)
    # the front dominates or equals every CCS point, and each objective's best policy is on both
    assert all(np.any(np.all(front >= p - 1e-9, axis=1)) for p in ccs)
    best = candidates.astype(np.float64).max(axis=1).mean(axis=0)
    np.testing.assert_allclose(front.max(axis=0), best, atol=1e-9)
    np.testing.assert_allclose(ccs.max(axis=0), best, atol=1e-9)


# ---- the shipped Counsel table -----------------------------------------------------------------------------------

def test_counsel_table_is_complete_and_compact():
    assert COUNSEL_CHOICE_FILE.stat().st_size < 5e6
    env = ChoiceEnv()
    table = env.table
    assert table.replies.shape == (330, 8) and table.embeddings.shape == (330, 384)
    assert table.rewards.shape == (330, 8, 3) and table.rewards.dtype == np.float32
    assert {s: len(env.split_rows(s)) for s in ("train", "validation", "test")} == {"train": 220, "validation": 55,
                                                                                   "test": 55}
    assert env.sources[6:] == ("written:reflection", "written:advice")
    assert set(table.replies[:, 7]) == {"You should talk to a professional about this."}
    assert table.meta["data_fingerprint"] == env.prompt_set.fingerprint
    np.testing.assert_allclose(np.linalg.norm(table.embeddings, axis=1), 1.0, atol=2e-3)


def test_stored_rewards_equal_the_text_env():
    """The table's scores are what morl/Counsel-v2 gives the same replies (both on the CPU in float32)."""
    choice = ChoiceEnv()
    text = morl_envs.CounselEnv(device="cpu")
    for index, action in ((0, 0), (3, 5), (10, 6)):
        choice.reset(options={"split": "test", "index": index})
        _, stored, _, _, info = choice.step(action)
        text.reset(options={"split": "test", "index": index})
        np.testing.assert_allclose(text.step(info["reply"])[1], stored, atol=2e-5)


def test_reward_model_fingerprints_checked_on_demand():
    env = ChoiceEnv(verify_models=True)  # the installed models made the shipped table
    table = env.table
    stale = CandidateTable(table.dataset, table.prompt_ids.copy(), table.replies.copy(), table.sources,
                           table.embeddings.copy(), table.rewards.copy(), table.objectives,
                           {**table.meta, "reward_model_fingerprints": {**table.meta["reward_model_fingerprints"],
                                                                        "empathy": "0" * 64}})
    with pytest.raises(ChoiceDataError, match=r"scored with reward model 'empathy' 000000000000, but the installed one"):
        verify_reward_models(stale)


def test_table_for_another_prompt_set_is_refused(tmp_path):
    table = ChoiceEnv().table
    moved = CandidateTable(table.dataset, table.prompt_ids.copy(), table.replies.copy(), table.sources,
                           table.embeddings.copy(), table.rewards.copy(), table.objectives,
                           {**table.meta, "data_fingerprint": "f" * 64})
    moved.save(tmp_path / "moved.npz")
    with pytest.raises(ChoiceDataError, match=r"made for prompt set ffffffffffff, but the installed one is"):
        ChoiceEnv(table=tmp_path / "moved.npz")


def test_save_load_round_trip(tmp_path):
    table = ChoiceEnv().table
    table.save(tmp_path / "t.npz")
    again = CandidateTable.load(tmp_path / "t.npz")
    assert again.fingerprint == table.fingerprint and again.meta == table.meta
    assert [p.name for p in tmp_path.iterdir()] == ["t.npz"]  # no temporary file left behind


def test_reset_options_and_expected_return():
    env = ChoiceEnv()
    rows = env.split_rows("test")
    obs, info = env.reset(options={"split": "test", "index": 4})
    assert info["prompt_id"] == env.prompt_set.split("test")[4].id
    np.testing.assert_array_equal(obs, env.observations("test")[4])
    actions = np.arange(len(rows)) % 8
    stepped = []
    for i, a in enumerate(actions):
        env.reset(options={"split": "test", "index": i})
        stepped.append(env.step(int(a))[1])
    np.testing.assert_allclose(env.expected_return(actions, "test"), np.mean(stepped, axis=0), atol=1e-6)
    on_test = ChoiceEnv(default_split="test")
    assert {on_test.reset(seed=s)[1]["split"] for s in range(5)} == {"test"}
    with pytest.raises(ValueError, match=r"`default_split` must be one of \('train', 'validation', 'test'\); got 'tset'.*Did you mean 'test'"):
        ChoiceEnv(default_split="tset")


def test_bad_input_raises():
    env = ChoiceEnv()
    with pytest.raises(gym.error.ResetNeeded):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"`action` must be an int in \[0, 7\] \(a candidate index\); got 8"):
        env.step(8)
    with pytest.raises(ValueError, match=r"options\['index'\] must be an int in \[0, 54\] for split 'test'; got 55"):
        env.reset(options={"split": "test", "index": 55})
    with pytest.raises(ValueError, match=r"reset `options` keys must be among \('split', 'index'\); got \['prompt'\]"):
        env.reset(options={"prompt": "My own words."})
    with pytest.raises(ValueError, match=r"`dataset` must be one of \('counsel', 'pair'\); got 'pari'.*Did you mean 'pair'"):
        ChoiceEnv(dataset="pari")
    with pytest.raises(ValueError, match=r"`actions` must hold one int in \[0, 7\] per prompt of split 'test' \(55\)"):
        env.expected_return([0, 1], "test")
    env.reset(seed=0)
    with pytest.raises(TypeError, match=r"reset `options` must be a dict or None; got str"):
        env.reset(options="test")
    with pytest.raises(gym.error.ResetNeeded):  # the failed reset did not leave the previous prompt in play
        env.step(0)


def test_missing_pair_data_names_both_options(monkeypatch, tmp_path):
    monkeypatch.delenv("MORL_DATA_DIR", raising=False)
    with pytest.raises(DataNotFoundError, match=r"data_dir=.*MORL_DATA_DIR"):
        ChoiceEnv(dataset="pair")
    with pytest.raises(DataNotFoundError, match=r"pair\.csv.*data_dir=.*MORL_DATA_DIR"):
        ChoiceEnv(dataset="pair", data_dir=str(tmp_path))


# ---- known fronts on tables solved by hand -----------------------------------------------------------------------

# Prompt A: (0.2, 0.9), (0.6, 0.6) and a dominated (0.1, 0.1); prompt B: (1.0, 0.0), (0.5, 0.4).
# Means of the 6 policies: A1B1 (0.6, 0.45), A1B2 (0.35, 0.65), A2B1 (0.8, 0.3), A2B2 (0.55, 0.5),
# A3B1 (0.55, 0.05) and A3B2 (0.3, 0.25), the last two dominated by A2B1.
HAND = np.array([[[0.2, 0.9], [0.6, 0.6], [0.1, 0.1]],
                 [[1.0, 0.0], [0.5, 0.4], [0.5, 0.4]]])  # B's second candidate repeated: 3 columns for both
HAND_FRONT = [[0.35, 0.65], [0.55, 0.5], [0.6, 0.45], [0.8, 0.3]]
# Upper hull: (0.6, 0.45) lies below the chord from (0.55, 0.5) to (0.8, 0.3) (0.46 at x = 0.6): not in the CCS.
HAND_CCS = [[0.35, 0.65], [0.55, 0.5], [0.8, 0.3]]


def test_pareto_front_by_hand():
    front, error = minkowski_pareto_front(HAND)
    np.testing.assert_allclose(front, HAND_FRONT, atol=1e-12)
    assert error == 0.0


def test_convex_coverage_set_by_hand():
    np.testing.assert_allclose(convex_coverage_set(HAND), HAND_CCS, atol=1e-12)
    # with two objectives the weights come from the argmax breakpoints: exact whatever the grid step
    np.testing.assert_allclose(convex_coverage_set(HAND, steps=1), HAND_CCS, atol=1e-12)


def test_symmetric_table_by_hand():
    # two prompts with (1, 0) and (0, 1): means (1, 0), (0.5, 0.5), (0, 1), all Pareto-optimal; (0.5, 0.5) lies on
    # the segment between the other two (optimal only at w = (0.5, 0.5), where all three tie): not in the minimal CCS
    table = np.array([[[1.0, 0.0], [0.0, 1.0]]] * 2)
    np.testing.assert_allclose(minkowski_pareto_front(table)[0], [[0, 1], [0.5, 0.5], [1, 0]])
    np.testing.assert_allclose(convex_coverage_set(table), [[0, 1], [1, 0]])


@pytest.mark.parametrize("d", [2, 3])
def test_fronts_equal_brute_force(d):
    rng = np.random.default_rng(d)
    table = rng.uniform(size=(4, 3, d)).round(2)  # 81 deterministic policies
    means = np.array([table[np.arange(4), list(p)].mean(axis=0) for p in itertools.product(range(3), repeat=4)])
    dominated = [any(np.all(q >= p) and np.any(q > p) for q in means) for p in means]
    exact = np.unique(means[~np.array(dominated)].round(12), axis=0)
    front, error = minkowski_pareto_front(table)
    np.testing.assert_allclose(np.unique(front.round(12), axis=0), exact, atol=1e-12)
    assert error == 0.0
    # CCS: for every weight, its best vector attains the best utility over all 81 policies (up to the grid bound)
    ccs = convex_coverage_set(table)
    weights = rng.dirichlet(np.ones(d), size=200)
    loss = (weights @ means.T).max(axis=1) - (weights @ ccs.T).max(axis=1)
    assert loss.min() >= -1e-12 and loss.max() <= (0 if d == 2 else d / (4 * 100)) + 1e-12
    assert all(any(np.allclose(c, m) for m in means) for c in ccs)  # every CCS vector is achievable


def test_thinned_front_keeps_its_error_bound():
    rng = np.random.default_rng(0)
    table = rng.uniform(size=(12, 8, 3))
    exact, none = minkowski_pareto_front(table)
    thinned, error = minkowski_pareto_front(table, max_points=1000)
    assert none == 0.0 and 0 < error < 0.1 and len(thinned) <= 1000 < len(exact)
    # every exact point is weakly dominated by some returned point plus the bound ...
    covered = (thinned[None, :, :] + error >= exact[:, None, :] - 1e-12).all(axis=2).any(axis=1)
    assert covered.all()
    # ... and no returned point beats the exact front (they are achievable returns)
    beats = (thinned[:, None, :] >= exact[None, :, :] + 1e-12).all(axis=2)
    assert not beats.any()


def test_simplex_grid_and_linear_optima():
    grid = simplex_lattice(3, 4)
    assert grid.shape == (15, 3) and np.allclose(grid.sum(axis=1), 1)
    np.testing.assert_allclose(linear_optima(HAND, [[1, 0], [0, 1]]), [[0.8, 0.3], [0.35, 0.65]])
    # a tie on the first objective goes to the candidate with the larger sum, not to the first index
    tie = np.array([[[0.5, 0.1], [0.5, 0.9]]])
    np.testing.assert_allclose(linear_optima(tie, [[1.0, 0.0]]), [[0.5, 0.9]])
    with pytest.raises(ValueError, match=r"`rewards` must be a finite array of shape \(n_prompts, k_candidates, n_objectives\)"):
        minkowski_pareto_front(np.zeros((2, 3)))


# ---- an external agent: stable-baselines3 PPO through LinearReward (examples/sb3_ppo_choice.py) -------------------

def test_sb3_ppo_front_reaches_the_known_front():
    """15 PPO runs (the leaderboard's preferences), 4,096 steps each on the test prompts, seed 0: the front of the
    greedy policies' exact returns reaches 0.8 of the known front's hypervolume and beats 15 random deterministic
    policies by far: real learning. On the -v2 table: normalised gain 0.77, MUL 0.053 (on -v1's: 0.78 and 0.026;
    random picks' MUL is about 0.5), so the MUL bar is 0.1."""
    from tests.conftest import load_example

    example = load_example("sb3_ppo_choice")
    config = example.Config(seed=0)
    agent = example.train_agent(config)
    result = example.run(config, agent)
    assert len(result.returns) == 15 and result.known_front_size > 1000
    assert result.hypervolume_fraction >= 0.8, result
    assert result.random_hypervolume < 0.3 * result.known_hypervolume < result.hypervolume
    assert result.normalised_gain >= 0.7 and result.mul < 0.1, result
    assert all(model.logger.get_dir() is None for model in agent.models.values())  # no /tmp/SB3-* folder per run
    # The same policies as a board agent: the leaderboard protocol finds the same front and the result validates.
    board = evaluate_choice(agent, "morl/Counsel-Choice-v2", seeds=(0,), timing_repeats=1)
    assert validate(board).env_id == "morl/Counsel-Choice-v2"
    assert board["claimed_metrics"]["hv_mean"] == pytest.approx(result.hypervolume, abs=1e-6)
    assert board["costs"]["env_samples"] == 15 * 4096 and board["agent"]["family"] == "single-policy"
    obs = mo_gym.make("morl/Counsel-Choice-v2").unwrapped.observations("test")
    np.testing.assert_array_equal(agent.act(obs, np.array([0.3, 0.3, 0.4]), 0),  # nearest trained: (.25, .25, .5)
                                  agent.models[(0.25, 0.25, 0.5)].predict(obs, deterministic=True)[0])
