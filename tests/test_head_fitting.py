"""The fits on a branch's heads: class biases, the reflection logit's calibration, the bi-encoder warm start."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reward_models.branch_training import batch_logits, trunk_states
from reward_models.cross_encoder import CrossTrunk, shared_trunk
from reward_models.head_fitting import (
    EPITOME_MECHANISMS,
    calibrate_reflection,
    class_bias,
    fit_head,
    logit_calibration,
    refit_level_bias,
    warm_start_heads,
)
from reward_models.heads import PairHead
from reward_models.training_data import MASKED

PROMPT = "I lost my job last month and I feel useless. My wife says it's not my fault."
REFLECTION = "Losing work has shaken how much you think you are worth, even with your wife behind you."
REPLIES = [REFLECTION, "Okay.", "Losing the job hit hard.", "Nice weather today."] * 2


@pytest.fixture(scope="module")
def trunk() -> CrossTrunk:
    return shared_trunk(device="cpu")


def test_class_bias_restores_the_prior_of_the_labels():
    truth = torch.tensor([0, 0, 1, 2] * 10)  # prior 1/2, 1/4, 1/4 under uninformative logits
    bias = class_bias(torch.zeros(40, 3), truth)
    np.testing.assert_allclose(torch.softmax(bias, 0).numpy(), [0.5, 0.25, 0.25], atol=1e-4)
    shifted = class_bias(torch.tensor([[2.0, 0.0, 0.0]]).repeat(40, 1), truth)  # a head leaning to level 0
    np.testing.assert_allclose(torch.softmax(shifted + torch.tensor([2.0, 0, 0]), 0).numpy(), [0.5, 0.25, 0.25],
                               atol=1e-4)


def test_refitting_the_level_biases_moves_only_the_heads_output_biases_and_lowers_the_loss(trunk):
    replies = [REFLECTION, "Okay.", "Losing the job hit hard.", "Nice weather today."] * 2
    states = trunk_states(trunk, [PROMPT] * 8, replies)
    torch.manual_seed(0)
    branch = trunk.new_branch({m: PairHead(trunk.dim, 16, 3) for m in EPITOME_MECHANISMS}).eval()
    levels = torch.tensor([[2, 2, 0], [0, 0, 0], [1, 2, 0], [0, 0, 1]] * 2)
    rows = list(range(8))

    def losses() -> list[float]:
        with torch.no_grad():
            logits = batch_logits(branch, states, rows)
        return [torch.nn.functional.cross_entropy(logits[m], levels[:, k]).item()
                for k, m in enumerate(EPITOME_MECHANISMS)]

    before, weights = losses(), {k: v.clone() for k, v in branch.state_dict().items()}
    offsets = refit_level_bias(branch, states, None, rows, levels)
    assert all(a < b for a, b in zip(losses(), before))
    for name, value in branch.state_dict().items():
        mechanism = name.split(".")[1] if name.startswith("heads.") else None
        if name.endswith("net.3.bias"):
            np.testing.assert_allclose((value - weights[name]).numpy(), offsets[mechanism], atol=1e-4)
        else:
            torch.testing.assert_close(value, weights[name])


def test_logit_calibration_recovers_a_known_scale_and_shift():
    torch.manual_seed(0)
    logits = torch.randn(4000) * 4
    targets = torch.bernoulli(torch.sigmoid(0.5 * logits - 1.5))  # saturated logits: the true scale is a half
    scale, shift = logit_calibration(logits, targets)
    assert scale == pytest.approx(0.5, abs=0.05) and shift == pytest.approx(-1.5, abs=0.15)


def test_calibrating_the_reflection_head_rescales_its_logit_and_keeps_the_order(trunk):
    states = trunk_states(trunk, [PROMPT] * 8, REPLIES)
    torch.manual_seed(0)
    branch = trunk.new_branch({"reflection": PairHead(trunk.dim, 16, 1)}).eval()
    rows = list(range(8))
    with torch.no_grad():
        before = batch_logits(branch, states, rows)["reflection"].squeeze(-1)
    targets = torch.tensor([1.0, 0.0, 0.5, 0.0] * 2)
    calibration = calibrate_reflection(branch, states, None, rows, targets)
    with torch.no_grad():
        after = batch_logits(branch, states, rows)["reflection"].squeeze(-1)
    scale, shift = logit_calibration(before, targets)
    assert calibration == {"scale": round(scale, 4), "shift": round(shift, 4), "pairs": 8}
    assert scale > 0  # so the calibrated logit ranks replies as the trained one did
    torch.testing.assert_close(after, scale * before + shift, atol=1e-4, rtol=1e-4)


def test_warm_started_heads_compute_the_bi_encoder_fit_whatever_the_cross_features():
    torch.manual_seed(0)
    levels = torch.randint(0, 3, (60, 3))
    extra = torch.cat([3.0 * torch.nn.functional.one_hot(levels, 3).flatten(1), torch.zeros(60, 3)], 1)
    extra = extra + 0.3 * torch.randn(60, 12)  # each mechanism's level readable from three of the twelve features
    levels[:5, 1] = MASKED  # masked labels are left out of the fit
    heads = {m: PairHead(8 + 12, 16, 3) for m in EPITOME_MECHANISMS}
    warm_start_heads(heads, extra, list(range(60)), levels, cross_dim=8, seed=0)
    heads = {m: head.eval() for m, head in heads.items()}
    torch.manual_seed(0)
    fitted = PairHead(12, 16, 3)
    keep = list(range(60))
    fit_head(fitted, extra[keep], lambda z: torch.nn.functional.cross_entropy(z, levels[keep, 0]), 100)
    with torch.no_grad():
        one = heads[EPITOME_MECHANISMS[0]](torch.cat([torch.randn(60, 8), extra], 1))
        other = heads[EPITOME_MECHANISMS[0]](torch.cat([torch.randn(60, 8), extra], 1))
        torch.testing.assert_close(one, other)  # the cross features start with no weight
        torch.testing.assert_close(one, fitted(extra))
    for k, mechanism in enumerate(EPITOME_MECHANISMS):
        rows = (levels[:, k] != MASKED).nonzero().squeeze(-1)
        with torch.no_grad():
            guess = heads[mechanism](torch.cat([torch.zeros(60, 8), extra], 1)).argmax(1)
        assert (guess[rows] == levels[rows, k]).float().mean() > 0.9  # the majority level: about a third


def test_empathy_targets_mask_only_what_a_negative_keeps(monkeypatch):
    from reward_models import train
    from reward_models.training_data import ReplySet

    data = ReplySet()
    data.add(["p"], ["a genuine reply"], [2, 1, 0], [0], "epitome")
    data.add(["p"], ["a reply to another post"], [0, 0, 0], [0], "mismatched")
    data.add(["p"], ["a genuine reply. Grow up."], [0, 0, 0], [0], "rude_appended")
    data.add(["p"], ["p"], [0, 0, 0], [0], "echo")
    as_given = torch.tensor(data.targets)
    torch.testing.assert_close(train.empathy_targets(data), as_given)  # the -v2 recipe: every negative 0 on all three
    monkeypatch.setattr(train, "EMPATHY_MASK_MISMATCHED_ER", 1)
    monkeypatch.setattr(train, "EMPATHY_MASK_RUDE_IP_EX", 1)
    masked = train.empathy_targets(data)
    assert masked.tolist() == [[2, 1, 0], [MASKED, 0, 0], [0, MASKED, MASKED], [0, 0, 0]]
    assert data.targets == as_given.tolist()  # the set itself is left as it was


def test_frozen_levels_keep_the_warm_started_heads_while_the_gate_and_layers_learn(trunk, monkeypatch):
    from reward_models import train
    from reward_models.branch_training import fine_tune
    from reward_models.empathy import GATE

    for option, value in (("EMPATHY_WARM_START", 1), ("EMPATHY_GATE_WEIGHT", 1.0), ("EMPATHY_FROZEN_LEVELS", 1)):
        monkeypatch.setattr(train, option, value)
    states = trunk_states(trunk, [PROMPT] * 8, REPLIES)
    extra = torch.randn(8, 12)
    levels = torch.tensor([[2, 2, 0], [0, 0, 0], [1, 2, 0], [0, 0, 1]] * 2)
    heads = train.empathy_heads(trunk.dim, extra, list(range(8)), levels)
    assert set(heads) == {*EPITOME_MECHANISMS, GATE}
    branch = trunk.new_branch(heads)
    before = {k: v.clone() for k, v in branch.state_dict().items()}
    real = torch.tensor([1.0, 0.0, 1.0, 0.0] * 2)

    def loss(logits, rows):
        ce = sum(torch.nn.functional.cross_entropy(logits[m], levels[rows, k]) for k, m in enumerate(EPITOME_MECHANISMS))
        return ce + torch.nn.functional.binary_cross_entropy_with_logits(logits[GATE].squeeze(-1), real[rows])

    fine_tune(branch, states, np.repeat([0, 1], 4), loss, epochs=5, lr=1e-3, seed=0, log=lambda line: None,
              extra=extra)
    for name, value in branch.state_dict().items():
        if name.startswith("heads.") and name.split(".")[1] in EPITOME_MECHANISMS:
            torch.testing.assert_close(value, before[name])  # no gradient, no weight decay
    assert not torch.equal(branch.state_dict()[f"heads.{GATE}.net.0.weight"], before[f"heads.{GATE}.net.0.weight"])
    moved = [k for k in before if k.startswith("layers.") and not torch.equal(branch.state_dict()[k], before[k])]
    assert moved  # the layers learn for the gate


@pytest.mark.parametrize("settings", [{"EMPATHY_WARM_START": 0, "EMPATHY_GATE_WEIGHT": 1.0},
                                      {"EMPATHY_WARM_START": 1, "EMPATHY_GATE_WEIGHT": 0.0}])
def test_frozen_levels_without_a_warm_start_or_a_gate_are_refused(settings, monkeypatch, tmp_path):
    from morl_core.errors import MorlError
    from reward_models import train

    monkeypatch.setattr(train, "EMPATHY_FROZEN_LEVELS", 1)
    for option, value in settings.items():
        monkeypatch.setattr(train, option, value)
    with pytest.raises(MorlError, match="EMPATHY_FROZEN_LEVELS=1 needs EMPATHY_WARM_START=1 and EMPATHY_GATE_WEIGHT"):
        train.train_empathy(tmp_path / "no-data", tmp_path)
