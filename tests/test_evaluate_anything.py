"""Evaluate anything: a user's own agent class ("module:Class"), any causal LM checkpoint (with an adapter and a
preference template), from Python in one call and from the command line, through to the board."""

from __future__ import annotations

import json

import numpy as np
import pytest

from agents.model_agent import ModelAgent, model_name, preference_text
from agents.registry import import_agent
from leaderboards.submission import read_result, submit
from morl_cli.evaluation import evaluate
from morl_cli.main import main
from morl_core.agent import Agent
from morl_core.errors import MorlError
from tests.stub_env import STUB_ENVS, stub_envs
from tests.test_policy import make_tiny_lm

STUB = next(iter(STUB_ENVS))  # objectives (stub-first, stub-second): the reply "0.2 0.9" scores (0.2, 0.9)


class Fixed(Agent):
    """A user's agent: one fixed reply, whatever the prompt, preference and seed."""

    family, preference_independent, seed_independent = "single-policy", True, True

    def __init__(self, reply: str = "0.25 0.5", name: str = "fixed-reply") -> None:
        self.reply, self._name = reply, name

    @property
    def name(self) -> str:
        return self._name

    def respond(self, prompts: list[str], preference: np.ndarray, seed: int) -> list[str]:
        return [self.reply for _ in prompts]


def not_an_agent() -> str:
    return "I am a string"


@pytest.fixture(scope="module", autouse=True)
def stubs():
    with stub_envs():
        yield


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    return make_tiny_lm(tmp_path_factory.mktemp("tiny-lm"))


def test_a_users_agent_class_goes_from_definition_to_the_board(tmp_path):
    out = tmp_path / "fixed.json"
    result = evaluate("tests.test_evaluate_anything:Fixed", STUB, agent_kwargs={"reply": "0.2 0.9"}, out=out,
                      baseline=False, progress=False)
    assert result["agent"]["name"] == "fixed-reply"
    assert np.allclose(result["rewards"], 0.0 + np.array([0.2, 0.9]))  # every seed, every preference
    assert result["claimed_metrics"]["hv_mean"] == pytest.approx(0.2 * 0.9)  # one point against the origin
    assert read_result(out)["agent"] == result["agent"]
    stored = submit(out, tmp_path / "board")
    assert stored.metrics["hv_mean"] == pytest.approx(0.18)


def test_an_agent_object_is_evaluated_as_it_is():
    result = evaluate(Fixed("0.5 0.5", name="object"), STUB, seeds=(0,), baseline=False, progress=False)
    assert result["agent"]["name"] == "object" and result["claimed_metrics"]["hv_mean"] == pytest.approx(0.25)


@pytest.mark.parametrize("spec, kwargs, match", [
    ("no colon here", None, r"`agent` must be a registered name or 'package.module:Name'"),
    ("tests.no_such_module:X", None, r"importing 'tests.no_such_module' failed.*ModuleNotFoundError"),
    ("tests.test_evaluate_anything:Fiixed", None, r"must name a class or function of .* Did you mean 'Fixed'\?"),
    ("tests.test_evaluate_anything:Fixed", {"colour": 1}, r"`agent_kwargs` must be the keyword arguments Fixed takes"),
    ("tests.test_evaluate_anything:Fixed", [1], r"`agent_kwargs` must be a JSON object"),
    ("tests.test_evaluate_anything:not_an_agent", None, r"must build an Agent .* it built a str"),
])
def test_import_agent_names_what_is_wrong(spec, kwargs, match):
    with pytest.raises(MorlError, match=match):
        import_agent(spec, kwargs)


def test_options_that_do_not_apply_are_refused_by_name():
    with pytest.raises(MorlError, match=r"`adapter` applies to a model checkpoint only"):
        evaluate("echo", STUB, adapter="some/folder", baseline=False)
    with pytest.raises(MorlError, match=r"`agent_kwargs` applies to an agent built here"):
        evaluate(Fixed(), STUB, agent_kwargs={"reply": "x"}, baseline=False)
    with pytest.raises(MorlError, match=r"`agent` must be an untrained agent here"):
        evaluate("linear", STUB, baseline=False)
    with pytest.raises(MorlError, match=r"`model` must be an existing folder"):
        evaluate("./no/such/checkpoint", STUB, baseline=False)
    with pytest.raises(MorlError, match=r"`env_id` must be a registered id"):
        evaluate(Fixed(), "morl/Nowhere-v2")


def test_a_preference_template_conditions_the_system_prompt(tiny_lm):
    agent = ModelAgent(tiny_lm, preference_prompt="Weights: {weights}.", objectives=("a", "b"), name="tiny",
                       device="cpu", max_new_tokens=4, precision="fp32")
    assert not agent.preference_independent and ModelAgent(tiny_lm).preference_independent
    agent.respond(["i feel"], np.array([0.75, 0.25]), seed=0)
    assert agent.policy.system_prompt.endswith(" Weights: a 0.75, b 0.25.")
    agent.respond(["i feel"], np.array([0.0, 1.0]), seed=0)
    assert agent.policy.system_prompt.endswith(" Weights: a 0.00, b 1.00.")
    assert agent.details()["preference_prompt"] == "Weights: {weights}."
    assert preference_text("{b:.1f}/{w[0]}", np.array([0.5, 0.5]), ("a", "b")) == "0.5/0.5"


@pytest.mark.parametrize("kwargs, match", [
    ({"preference_prompt": "{kindness}", "objectives": ("a", "b")}, r"`preference_prompt` must use only the fields"),
    ({"preference_prompt": "{w[5]}", "objectives": ("a", "b")}, r"IndexError"),
    ({"adapter": "/nowhere"}, r"`adapter` must be a folder holding a peft adapter"),
    ({"name": "no spaces allowed"}, r"`name` must be 1 to 64 characters"),
    ({"family": "ensemble"}, r"`family` must be one of"),
])
def test_model_agent_refuses_bad_options(tiny_lm, kwargs, match):
    with pytest.raises(MorlError, match=match):
        ModelAgent(tiny_lm, **kwargs)


def test_model_names_are_board_safe():
    assert model_name("runs/my model!", "out/lora") == "my-model-lora"
    assert model_name("///") == "model"


def test_a_checkpoint_with_its_adapter_is_evaluated_from_the_command_line(tiny_lm, tmp_path, capsys):
    from agents.policy import CausalLMPolicy

    policy = CausalLMPolicy(tiny_lm, device="cpu", max_new_tokens=4, precision="fp32")
    policy.add_lora()
    adapter = tmp_path / "adapter"
    policy.save_adapter(adapter)
    out = tmp_path / "model.json"
    code = main(["evaluate", "--model", str(tiny_lm), "--adapter", str(adapter), "--env", STUB, "--seeds", "0",
                 "--max-prompts", "2", "--out", str(out), "--agent-kwargs", '{"max_new_tokens": 3, "device": "cpu"}',
                 "--preference-prompt", "w={w[0]:.2f}"])
    assert code == 0, capsys.readouterr().err
    result = json.loads(out.read_text())
    assert result["agent"]["name"] == "tiny-lm0-adapter"
    assert result["agent"]["details"]["adapter"] == str(adapter)
    assert result["evaluation"]["preference_independent"] is False
    assert "submit it with: morl-bench submit" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--agent", "echo", "--adapter", "x"], "error: --adapter applies to --model only"),
    (["--agent", "tests.test_evaluate_anything:Nope"], "error: --agent must name a class or function"),
    (["--agent", "random"], "error: --agent must be one of ['default', 'reference'"),
    (["--model", "./nowhere"], "error: --model must be an existing folder"),
    (["--agent", "tests.test_evaluate_anything:Fixed", "--agent-kwargs", '{"x": 1}'],
     "error: --agent-kwargs must be the keyword arguments Fixed takes"),
])
def test_command_line_mistakes_are_one_line(argv, message, tmp_path, capsys):
    assert main(["evaluate", *argv, "--env", STUB, "--out", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1 and not (tmp_path / "r.json").exists()


def test_no_prefix_matching_and_demo_errors_are_one_line(monkeypatch, tmp_path, capsys):
    """`--step` is not taken for `--steps`; demo on a choice env, or on PAIR without its data, is one line, exit 2."""
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--env", "morl/Counsel-v2", "--agent", "linear", "--step", "1"])
    assert exit_.value.code == 2 and "unrecognized arguments: --step 1" in capsys.readouterr().err
    assert main(["demo", "--env", "morl/Counsel-Choice-v2", "--n", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --env must be a text environment") and err.count("\n") == 1
    monkeypatch.setenv("MORL_DATA_DIR", str(tmp_path))
    assert main(["demo", "--env", "morl/PAIR-v2", "--n", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: PAIR data not found") and err.count("\n") == 1
