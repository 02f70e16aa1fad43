"""The RL core on a tiny random GPT-2 and the rule-based conciseness objective: learning, adapters only, KL at
step 0, leave-one-out and KL estimators, the stop rule, checkpoints and resume, MGDA's gradient path, config errors,
and the documented TensorBoard keys."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import morl_envs
from agents import checkpoint, rl
from agents.config import PolicyConfig, TrainConfig
from agents.scalarizers import SCALARIZERS, make_scalarizer
from tests.test_policy import make_tiny_lm

REPO = Path(__file__).resolve().parents[1]
CONCISE = {"objectives": ("conciseness",)}
TWO = {"objectives": ("conciseness", "conciseness")}  # two cheap objectives (equal: a known answer for MGDA)


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory) -> Path:
    return make_tiny_lm(tmp_path_factory.mktemp("tiny-gpt2"))


def tiny_config(tiny_lm: Path, out: Path, max_new_tokens: int = 16, **overrides) -> TrainConfig:
    """Small sizes for tests: 4 prompts x k=3, 16-token replies, 8 validation prompts."""
    policy = PolicyConfig(model=str(tiny_lm), device="cpu", max_new_tokens=max_new_tokens, max_prompt_tokens=64)
    base = dict(env_kwargs=CONCISE, prompts_per_step=4, k=3, max_steps=2, eval_every=1, eval_prompts=8,
                learning_rate=5e-3, out_dir=str(out), policy=policy)
    return TrainConfig(**{**base, **overrides})


def events(folder: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder / "tensorboard"))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


# --- the algorithm's pieces -------------------------------------------------------------------------------------
def test_leave_one_out_per_objective_by_hand():
    rewards = torch.tensor([[[1.0, 0.0], [0.0, 0.0], [0.5, 0.3]]])  # (B=1, k=3, n=2)
    expected = [[[0.75, -0.15], [-0.75, -0.15], [0.0, 0.3]]]  # r_j - mean of the other two, per objective
    assert torch.allclose(rl.leave_one_out(rewards), torch.tensor(expected))
    with pytest.raises(ValueError, match="k >= 2"):
        rl.leave_one_out(rewards[:, :1])


def test_kl_estimators():
    logp, ref = torch.log(torch.tensor([[0.5, 0.2]])), torch.log(torch.tensor([[0.25, 0.4]]))
    assert torch.allclose(rl.kl_per_token(logp, ref, "k1"), torch.log(torch.tensor([[2.0, 0.5]])))
    ratio = torch.tensor([[0.5, 2.0]])  # ref / pi
    assert torch.allclose(rl.kl_per_token(logp, ref, "k3"), ratio - 1 - ratio.log())
    assert (rl.kl_per_token(logp, ref, "k3") >= 0).all()


def test_stop_rule():
    assert rl.coefficient_of_variation([1.0, 3.0], 2) == pytest.approx(0.5)
    assert rl.coefficient_of_variation([1.0], 2) is None
    assert rl.should_stop([0.2] * 5 + [0.5] * 20, 20, 0.015)
    assert not rl.should_stop([0.5] * 19 + [0.6], 20, 0.0001)


def test_kl_is_zero_at_step_0(tiny_lm, tmp_path):
    config = tiny_config(tiny_lm, tmp_path)
    env = morl_envs.make(config.env_id, **config.env_kwargs)
    policy = rl.make_policy(config)
    torch.manual_seed(0)
    gen, rewards = rl.rollout(policy, env.unwrapped.score, ["I feel so tired"] * 4, 3, 1.0)
    logp, ref = policy.token_logprobs(gen)
    for estimator in ("k1", "k3"):
        assert (rl.kl_per_token(logp, ref, estimator) * gen.reply_mask).abs().max() == 0
    optimizer = torch.optim.AdamW(policy.trainable_parameters(), lr=1e-3)
    stats = rl.update(policy, optimizer, make_scalarizer("linear", 1), gen, rewards, config)
    assert stats["kl"] == 0.0 and np.isfinite(stats["loss"]) and stats["grad_norm"] > 0


# --- learning ---------------------------------------------------------------------------------------------------
def test_learns_conciseness_with_adapters_only(tiny_lm, tmp_path):
    config = tiny_config(tiny_lm, tmp_path, max_new_tokens=32, prompts_per_step=8, k=4, max_steps=12, eval_every=4,
                         eval_prompts=16)
    result = rl.train(config)
    val = np.asarray(result.state.val_rewards)[:, 0]  # conciseness at steps 0, 4, 8, 12
    assert result.state.val_steps == [0, 4, 8, 12]
    assert val[-1] > val[0] + 0.15, val
    train = [v for _, v in events(tmp_path)["train/reward_conciseness"]]
    assert np.mean(train[-4:]) > np.mean(train[:2]) + 0.1, train
    # adapters moved, base weights did not
    base = load_file(tiny_lm / "model.safetensors")
    trained = {k.replace("base_model.model.", "").replace(".base_layer", ""): v
               for k, v in result.policy.model.state_dict().items() if "lora_" not in k}
    assert all(torch.equal(trained[k], v) for k, v in base.items() if k in trained)
    lora_b = [v for k, v in result.policy.model.state_dict().items() if "lora_B" in k]
    assert lora_b and all(v.abs().sum() > 0 for v in lora_b)
    # costs: 12 steps x 32 replies + 4 validations x 16 prompts
    assert result.state.env_samples == 12 * 32 + 4 * 16 and result.state.tokens_generated > 0
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file() and (tmp_path / "summary.json").is_file()


def test_fast_decoder_rollouts_train_the_same_policy(tiny_lm, tmp_path):
    """Rollouts and validation through agents.fast_decode give the run generate() gives: same rewards, same
    adapters (on a CPU both paths compute the same logits and draw the same random numbers)."""
    results = []
    for mode in ("off", "on"):
        config = tiny_config(tiny_lm, tmp_path / mode)
        config.policy = dataclasses.replace(config.policy, fast_decode=mode)
        results.append(rl.train(config))
    plain, fast = results
    assert fast.policy.fast_decode and fast.policy._decoder is not None and not plain.policy.fast_decode
    assert fast.state.val_rewards == plain.state.val_rewards
    assert fast.state.tokens_generated == plain.state.tokens_generated
    lora = [(k, v) for k, v in plain.policy.model.state_dict().items() if "lora_B" in k]
    assert lora and all(torch.equal(v, fast.policy.model.state_dict()[k]) for k, v in lora)


@pytest.mark.parametrize("name", SCALARIZERS)
def test_every_scalarizer_takes_a_step(name, tiny_lm, tmp_path):
    result = rl.train(tiny_config(tiny_lm, tmp_path, env_kwargs=TWO, scalarizer=name, max_steps=1, k=2))
    logged = events(tmp_path)
    weights = [logged["charts/weight_conciseness"][-1][1]]
    assert result.state.step == 1 and np.isfinite(logged["train/loss"][0][1]) and 0 <= weights[0] <= 1
    assert abs(sum(result.scalarizer.weights()) - 1) < 1e-6


def test_mgda_on_equal_objectives_equals_linear(tiny_lm, tmp_path):
    """Two identical objectives: equal gradients, MGDA's coefficients are (0.5, 0.5) and its combined gradient is
    the linear scalarization's gradient, so one step of each lands on the same adapters."""
    config = tiny_config(tiny_lm, tmp_path, env_kwargs=TWO)
    env = morl_envs.make(config.env_id, **config.env_kwargs)
    adapters = []
    for name in ("linear", "mgda"):
        policy = rl.make_policy(config)
        torch.manual_seed(1)
        gen, rewards = rl.rollout(policy, env.unwrapped.score, ["I never sleep"] * 4, 3, 1.0)
        optimizer = torch.optim.AdamW(policy.trainable_parameters(), lr=1e-2)
        scalarizer = make_scalarizer(name, 2)
        rl.update(policy, optimizer, scalarizer, gen, rewards, config)
        adapters.append([p.detach().clone() for p in policy.trainable_parameters()])
    assert np.allclose(scalarizer.weights(), [0.5, 0.5])
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(*adapters))


# --- checkpoints and resume -------------------------------------------------------------------------------------
class Killed(RuntimeError):
    pass


def test_resume_ends_where_an_uninterrupted_run_would(tiny_lm, tmp_path, monkeypatch):
    settings = dict(env_kwargs=TWO, scalarizer="dynaopt", max_steps=4, save_every=2, eval_every=1)
    straight = rl.train(tiny_config(tiny_lm, tmp_path / "straight", **settings))

    calls = {"n": 0}
    real_update = rl.update

    def dies_at_step_3(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise Killed("killed after the step-2 checkpoint")
        return real_update(*args, **kwargs)

    monkeypatch.setattr(rl, "update", dies_at_step_3)
    with pytest.raises(Killed):
        rl.train(tiny_config(tiny_lm, tmp_path / "killed", **settings))
    assert checkpoint.latest(tmp_path / "killed").name == "step-00000002"
    monkeypatch.setattr(rl, "update", real_update)
    resumed = rl.train(tiny_config(tiny_lm, tmp_path / "killed", resume=True, **settings))

    a, b = (load_file(p / "adapter" / "adapter_model.safetensors") for p in (tmp_path / "straight",
                                                                            tmp_path / "killed"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.state.val_rewards == straight.state.val_rewards
    assert resumed.scalarizer.state_dict() == straight.scalarizer.state_dict()
    assert (resumed.state.step, resumed.state.env_samples, resumed.state.tokens_generated) == \
        (straight.state.step, straight.state.env_samples, straight.state.tokens_generated)
    assert [p.name for p in sorted((tmp_path / "killed" / "checkpoints").glob("step-*"))] == \
        ["step-00000002", "step-00000004"]
    assert not list((tmp_path / "killed" / "checkpoints").glob(".*"))  # no temporary folders left


@pytest.fixture(scope="module")
def two_checkpoints(tiny_lm, tmp_path_factory) -> Path:
    """A finished 2-step run with checkpoints at steps 1 and 2."""
    out = tmp_path_factory.mktemp("two-checkpoints")
    rl.train(tiny_config(tiny_lm, out, max_steps=2, save_every=1, eval_every=2))
    return out


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name, damage", [
    ("optimizer.pt", _truncate), ("rng.pt", _truncate), ("state.json", _truncate),
    ("adapter/adapter_model.safetensors", _truncate), ("adapter/adapter_model.safetensors", _flip_byte),
    ("adapter/adapter_config.json", lambda p: p.unlink()), ("manifest.json", lambda p: p.unlink())])
def test_a_damaged_newest_checkpoint_is_skipped_for_the_previous_intact_one(two_checkpoints, tmp_path, name, damage):
    run = tmp_path / "run"
    shutil.copytree(two_checkpoints, run)
    assert checkpoint.verify(run / "checkpoints" / "step-00000002") is None
    damage(run / "checkpoints" / "step-00000002" / name)
    with pytest.warns(RuntimeWarning, match=rf"step-00000002' is damaged \({re.escape(name)} .*previous intact"):
        assert checkpoint.latest(run).name == "step-00000001"


def test_resume_removes_the_temporaries_of_a_killed_write(tiny_lm, two_checkpoints, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(two_checkpoints, run)
    (run / "checkpoints" / ".step-00000003-x1y2").mkdir()
    (run / ".adapter-k9").mkdir()
    result = rl.train(tiny_config(tiny_lm, run, max_steps=3, save_every=1, eval_every=2, resume=True))
    assert result.state.step == 3
    assert not list((run / "checkpoints").glob(".*")) and not list(run.glob(".adapter-*"))


def test_a_failed_checkpoint_write_is_one_error_naming_the_path(tmp_path, monkeypatch):
    def full_disk(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:603] . PytorchStreamWriter failed writing file "
                           "data/0: file write failed\nmore lines")

    monkeypatch.setattr(checkpoint.torch, "save", full_disk)
    with pytest.raises(OSError, match=r"^could not write the checkpoint '.*step-00000005': .*file write failed$"):
        checkpoint.save(tmp_path, checkpoint.RunState(step=5), _AdapterStub(), torch.optim.SGD([torch.zeros(1)], 0.1),
                        make_scalarizer("linear", 2), np.random.default_rng(0))
    assert not list((tmp_path / "checkpoints").iterdir())  # no temporary folder left


class _AdapterStub:
    """Stands in for a policy whose adapters save fine (the failure under test is torch.save's)."""

    def save_adapter(self, folder: Path) -> None:
        folder.mkdir(parents=True)
        (folder / "adapter_model.safetensors").write_bytes(b"stub")


def test_resume_refuses_a_changed_trajectory_and_a_silent_overwrite(tiny_lm, tmp_path):
    rl.train(tiny_config(tiny_lm, tmp_path, max_steps=1))
    with pytest.raises(ValueError, match=r"^`out_dir` already holds checkpoints of a run"):
        rl.train(tiny_config(tiny_lm, tmp_path, max_steps=2))
    with pytest.raises(ValueError, match=r"^`k` must equal the value of the run being resumed in .* \(3\) to end "
                                         r"where that run would; got 2"):
        rl.train(tiny_config(tiny_lm, tmp_path, max_steps=2, k=2, resume=True))
    assert rl.train(tiny_config(tiny_lm, tmp_path, max_steps=2, resume=True)).state.step == 2


def test_stop_rule_ends_the_run(tiny_lm, tmp_path):
    result = rl.train(tiny_config(tiny_lm, tmp_path, max_steps=50, stop_window=2, stop_cv=10.0))
    assert result.state.step == 1 and "plateau" in result.state.stop_reason  # the 2nd validation closes the window


# --- logging ----------------------------------------------------------------------------------------------------
def test_every_logged_key_is_documented(tiny_lm, tmp_path):
    rl.train(tiny_config(tiny_lm, tmp_path, env_kwargs=TWO, max_steps=2, stop_window=2, stop_cv=1e-9))
    logged = set(events(tmp_path))
    table = (REPO / "docs" / "logging.md").read_text()
    documented = set(re.findall(r"^\| `([a-z_]+/[a-z_<>]+)`", table, flags=re.M))
    patterns = {d.replace("<obj>", "conciseness") for d in documented}
    assert logged == patterns, (logged ^ patterns)


# --- configuration errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kwargs", "message"), [
    ({"k": 1}, "`k` must be >= 2 for the leave-one-out baseline; got 1"),
    ({"beta": -0.1}, "`beta` must be a finite number >= 0; got -0.1"),
    ({"learning_rate": 0}, "`learning_rate` must be a finite number > 0; got 0"),
    ({"max_grad_norm": float("nan")}, "`max_grad_norm` must be a finite number > 0; got nan"),
    ({"kl_estimator": "k2"}, "`kl_estimator` must be one of ('k1', 'k3'); got 'k2'"),
    ({"scalarizer": "lnear"}, "`scalarizer` must be one of ('linear', 'chebyshev', 'dynaopt', 'pama', 'mgda', 'mgda-anchor'); got 'lnear'. Did you mean 'linear'?"),
    ({"env_id": "morl/Counsel-v9"}, "`env_id` must be a registered id"),
    ({"prompts_per_step": 0}, "`prompts_per_step` must be an integer >= 1; got 0"),
    ({"eval_every": 2.5}, "`eval_every` must be an integer >= 1; got 2.5"),
    ({"stop_window": 1}, "`stop_window` must be an integer >= 2 (a coefficient of variation needs two scores); got 1"),
    ({"seed": -1}, "`seed` must be an integer in [0, 2**32); got -1"),
    ({"preference": (0.5, 0.6)}, "`preference` must sum to 1; got [0.5, 0.6] (sum 1.1): divide it by its sum"),
    ({"preference": (0.5, 0.5), "scalarizer": "pama"}, "`preference` is not used by 'pama', which sets its own weights from each batch; leave it unset; got (0.5, 0.5)"),
    ({"eval_prompts": 0}, "`eval_prompts` must be None (the whole validation split) or an integer >= 1; got 0"),
])
def test_bad_train_config(kwargs, message):
    with pytest.raises(ValueError) as info:
        TrainConfig(**kwargs)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"lora_r": 0}, "`lora_r` must be an integer >= 1; got 0"),
    ({"lora_dropout": 1.0}, "`lora_dropout` must be a number in [0, 1); got 1.0"),
    ({"temperature": 0.0}, "`temperature` must be a number > 0; got 0.0. Sampling at temperature 0 is greedy decoding; use a small positive value"),
    ({"max_new_tokens": True}, "`max_new_tokens` must be an integer >= 1; got True"),
])
def test_bad_policy_config(kwargs, message):
    with pytest.raises(ValueError) as info:
        PolicyConfig(**kwargs)
    assert str(info.value) == message


def test_preference_must_match_the_objectives(tiny_lm, tmp_path):
    with pytest.raises(ValueError) as info:
        rl.train(tiny_config(tiny_lm, tmp_path, preference=(0.5, 0.5)))
    assert str(info.value) == "`preference` must have 1 entries, one per objective (conciseness); got 2: (0.5, 0.5)"


# --- single-policy agents and the command line ------------------------------------------------------------------
def test_scalarized_agent_reduced_front(tiny_lm, tmp_path):
    from agents.single_policy import ScalarizedAgent
    from leaderboards.protocol import evaluate

    config = tiny_config(tiny_lm, tmp_path, env_kwargs=TWO, max_steps=2, learning_rate=0.05)
    agent = ScalarizedAgent(config, preferences=[[1.0, 0.0], [0.2, 0.8]], name="linear-test")
    states = agent.train()
    assert [s.step for s in states] == [2, 2] and not agent.preference_independent
    loaded = ScalarizedAgent.load(tmp_path)
    assert loaded.name == "linear-test" and np.allclose(loaded.trained_preferences, [[1.0, 0.0], [0.2, 0.8]])
    assert loaded.nearest([0.9, 0.1]) == 0 and loaded.nearest([0.4, 0.6]) == 1
    costs = loaded.training_costs()
    assert costs.env_samples == 2 * (2 * 12 + 3 * 8) and costs.tokens_generated > 0 and costs.device.startswith("cpu")
    # each preference is answered by the policy trained for the nearest one
    for w, run in (([0.9, 0.1], 0), ([0.3, 0.7], 1)):
        alone = ScalarizedAgent(dataclasses.replace(config, out_dir=str(tmp_path)), [[1.0, 0.0], [0.2, 0.8]])
        alone.policy.set_adapter(f"pref-{run:02d}")
        assert loaded.respond(["I never sleep"] * 3, np.array(w), 5) == alone.policy.respond(["I never sleep"] * 3, 5)
    result = evaluate(loaded, "morl/Counsel-v2", seeds=(0,), max_prompts=2, baseline=loaded, **TWO)
    assert np.asarray(result["rewards"]).shape == (1, 11, 2) and result["agent"]["family"] == "single-policy"
    details = result["agent"]["details"]  # the reduced set is recorded in the result itself
    assert details == json.loads(json.dumps(loaded.details()))
    assert details["reduced_preference_set"] and len(details["assignments"]) == 11
    assert {a["trained_run"] for a in details["assignments"]} == {0, 1}


def test_train_command(tiny_lm, tmp_path, capsys):
    import argparse

    from morl_cli import train as commands

    parser = argparse.ArgumentParser(prog="morl-bench")
    commands.add_commands(parser.add_subparsers(dest="command", required=True))
    argv = ["train", "--env", "morl/Counsel-v2", "--agent", "linear", "--objectives", "conciseness", "--steps", "2",
            "--out", str(tmp_path / "run"), "--model", str(tiny_lm), "--device", "cpu", "--max-new-tokens", "8",
            "--prompts-per-step", "2", "--k", "2", "--eval-prompts", "2", "--summary-prompts", "3"]
    assert commands.run(parser.parse_args(argv)) == 0
    out = capsys.readouterr().out
    assert "2 steps (step budget reached)" in out and "mean test rewards (3 prompts, seed 0)" in out
    assert "before (untrained)" in out and "after w=(1.00)" in out
    assert commands.run(parser.parse_args(argv)) == 2  # the folder holds a run: refuse without --resume
    assert "error: `out_dir` already holds checkpoints" in capsys.readouterr().err
    assert commands.run(parser.parse_args([*argv, "--k", "1"])) == 2
    assert "error: `--k` must be >= 2 for the leave-one-out baseline; got 1" in capsys.readouterr().err
    assert commands.run(parser.parse_args([*argv, "--resume", "--preference", "0.5", "0.6"])) == 2
    assert "error: `--preference` must sum to 1; got [0.5, 0.6] (sum 1.1)" in capsys.readouterr().err
    front = commands.build_agent(parser.parse_args([*argv, "--objectives", "conciseness", "conciseness",
                                                    "--all-preferences"]))
    assert front.trained_preferences.shape == (11, 2) and len(front.run_dirs) == 11
    assert commands.run(parser.parse_args([*argv, "--agent", "pama", "--all-preferences"])) == 2
    assert "error: --all-preferences does not apply to --agent pama" in capsys.readouterr().err


def test_train_with_result_builds_one_env_and_evaluates_the_trained_policy(tiny_lm, tmp_path, monkeypatch, capsys):
    """One `morl-bench train --result` run makes its environment once (training, summary and evaluation share it)
    and evaluates the policy it trained: the only other policy built is the untrained baseline of the cost."""
    import argparse

    import gymnasium

    from agents.baselines import DefaultPolicyAgent
    from agents.policy import CausalLMPolicy
    from morl_cli import train as commands

    made, built = [], []
    baseline = {"model": str(tiny_lm), "device": "cpu", "max_new_tokens": 4}  # the tiny LM as the cost baseline
    monkeypatch.setattr(commands, "DefaultPolicyAgent", lambda **kw: DefaultPolicyAgent(**{**kw, **baseline}))
    real_make, real_init = gymnasium.make, CausalLMPolicy.__init__
    monkeypatch.setattr(gymnasium, "make", lambda env_id, **kw: made.append(env_id) or real_make(env_id, **kw))
    monkeypatch.setattr(CausalLMPolicy, "__init__",
                        lambda self, model=None, **kw: built.append(model) or real_init(self, model, **kw))
    parser = argparse.ArgumentParser(prog="morl-bench")
    commands.add_commands(parser.add_subparsers(dest="command", required=True))
    argv = ["train", "--env", "morl/Counsel-v2", "--agent", "linear", "--objectives", "conciseness", "--steps", "1",
            "--out", str(tmp_path / "run"), "--model", str(tiny_lm), "--device", "cpu", "--max-new-tokens", "4",
            "--prompts-per-step", "2", "--k", "2", "--eval-prompts", "2", "--summary-prompts", "2",
            "--result", str(tmp_path / "result.json"), "--eval-seeds", "0", "--max-prompts", "2"]
    assert commands.run(parser.parse_args(argv)) == 0, capsys.readouterr().err
    assert made == ["morl/Counsel-v2"]
    assert built == [str(tiny_lm)] * 2  # the trained policy, then the untrained baseline: no reload in between
    assert json.loads((tmp_path / "result.json").read_text())["evaluation"]["n_prompts"] == 2


@pytest.mark.parametrize("extra, fragment", [
    (["--steps", "-1"], "`--steps` must be an integer >= 1; got -1"),
    (["--k", "1"], "`--k` must be >= 2"),
    (["--preference", "0.5", "0.5"], "`--preference` must have 3 entries, one per objective"),
    (["--scalarizer-option", "bogus=1"], "unknown option(s) ['bogus'] for scalarizer 'linear'"),
])
def test_train_refuses_bad_options_by_their_flags_before_writing_anything(tmp_path, capsys, extra, fragment):
    """A user's mistake names the flag they typed (not the internal field) and leaves no run folder behind."""
    import argparse

    from morl_cli import train as commands

    parser = argparse.ArgumentParser(prog="morl-bench")
    commands.add_commands(parser.add_subparsers(dest="command", required=True))
    argv = ["train", "--env", "morl/Counsel-v2", "--agent", "linear", "--out", str(tmp_path / "run"), *extra]
    assert commands.run(parser.parse_args(argv)) == 2
    captured = capsys.readouterr()
    assert fragment in captured.err and "training" not in captured.out
    assert not (tmp_path / "run").exists()
