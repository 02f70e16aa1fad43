"""The cross-encoder trunk and branches, their training loop, and the fluency objective's well-formedness head."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from reward_models.branch_training import (
    batch_logits,
    cached_trunk_states,
    collate,
    fine_tune,
    group_batches,
    ranking_loss,
    trunk_states,
)
from reward_models.cross_encoder import CrossTrunk, load_branch, round_to_stored, save_branch, shared_trunk
from reward_models.encoder import shared_encoder
from reward_models.fluency import FluencyModel
from reward_models.heads import PairHead, save_heads
from reward_models.well_formed import DEFAULT_THRESHOLD, LIST_FRAMES, WellFormedHead, malformed

PROMPT = "I lost my job last month and I feel useless. My wife says it's not my fault."
REFLECTION = "Losing work has shaken how much you think you are worth, even with your wife behind you."


@pytest.fixture(scope="module")
def trunk() -> CrossTrunk:
    return shared_trunk(device="cpu")


def test_trunk_states_are_cached_per_batch_and_match_a_fresh_run(trunk):
    trunk.clear_cache()
    first = trunk.states([PROMPT, PROMPT], [REFLECTION, "Okay."])
    assert trunk.states([PROMPT, PROMPT], [REFLECTION, "Okay."]) is first  # the next objective reuses the work
    states, mask, reply = first[0]
    assert states.shape[:2] == mask.shape == reply.shape and states.shape[2] == trunk.dim
    alone = trunk.run(trunk.tokenize([PROMPT], ["Okay."]))[0]
    kept = int(mask[1].sum())
    np.testing.assert_allclose(states[1, :kept].numpy(), alone[:kept].numpy(), atol=1e-4)


def test_precomputed_states_drop_padding_and_keep_order(trunk):
    prompts, replies = [PROMPT, "Hi.", PROMPT], ["Okay.", REFLECTION, REFLECTION]
    states = trunk_states(trunk, prompts, replies)
    for k in range(3):
        batch = trunk.tokenize([prompts[k]], [replies[k]])
        assert states[k].shape == (batch["input_ids"].shape[1], trunk.dim) and states[k].dtype == torch.bfloat16
    hidden, mask = collate(states, [0, 1])
    assert hidden.shape[1] == max(states[0].shape[0], states[1].shape[0]) and mask.sum() == sum(
        s.shape[0] for s in states[:2])


def test_cached_trunk_states_are_kept_per_pair_and_computed_once(trunk, tmp_path, monkeypatch):
    prompts, replies = [PROMPT, "Hi."], ["Okay.", REFLECTION]
    first = cached_trunk_states(trunk, prompts, replies, tmp_path)
    assert len(list(tmp_path.glob("trunk-states-*.pt"))) == 1
    monkeypatch.setattr("reward_models.branch_training.trunk_states", lambda *a: pytest.fail("recomputed"))
    again = cached_trunk_states(trunk, prompts, replies, tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    computed = []
    monkeypatch.setattr("reward_models.branch_training.trunk_states",
                        lambda t, p, r: computed.append(list(zip(p, r))) or trunk_states(t, p, r))
    mixed = cached_trunk_states(trunk, [PROMPT, PROMPT], ["Okay.", "Something else."], tmp_path)
    assert computed == [[(PROMPT, "Something else.")]]  # only the new pair runs through the trunk
    assert torch.equal(mixed[0], first[0]) and len(list(tmp_path.glob("trunk-states-*.pt"))) == 1
    assert torch.equal(mixed[1], trunk_states(trunk, [PROMPT], ["Something else."])[0])


def test_recipe_settings_are_checked_and_need_their_own_out_folder(tmp_path, capsys):
    from morl_core.errors import MorlError
    from reward_models.train import main, recipe_setting

    assert recipe_setting("LEVEL_RANK_SHARE=0.5") == ("LEVEL_RANK_SHARE", 0.5)
    assert recipe_setting("REFLECTION_EPOCHS=3") == ("REFLECTION_EPOCHS", 3)
    assert recipe_setting("NEAREST_MISMATCHED=3") == ("NEAREST_MISMATCHED", 3)
    assert recipe_setting("COUNSEL_REFLECTIONS=2") == ("COUNSEL_REFLECTIONS", 2)
    assert recipe_setting("COUNSEL_EXTRA=2") == ("COUNSEL_EXTRA", 2)
    assert recipe_setting("EMPATHY_LEVEL_BIAS=1") == ("EMPATHY_LEVEL_BIAS", 1)
    assert recipe_setting("EMPATHY_WARM_START=1") == ("EMPATHY_WARM_START", 1)
    assert recipe_setting("REFLECTION_CALIBRATION=0") == ("REFLECTION_CALIBRATION", 0)
    assert recipe_setting("EMPATHY_FROZEN_LEVELS=1") == ("EMPATHY_FROZEN_LEVELS", 1)
    assert recipe_setting("TRAIN_SEED=2") == ("TRAIN_SEED", 2)
    assert recipe_setting("EMPATHY_MASK_RUDE_IP_EX=1") == ("EMPATHY_MASK_RUDE_IP_EX", 1)
    assert recipe_setting("EMPATHY_REPLY_POOLING=1") == ("EMPATHY_REPLY_POOLING", 1)
    assert recipe_setting("EMPATHY_REPLY_POOLING=2") == ("EMPATHY_REPLY_POOLING", 2)
    assert recipe_setting("TRUNK_FROZEN_LAYERS=3") == ("TRUNK_FROZEN_LAYERS", 3)
    for text, words in (("LEVEL_RANK_SHAR=0.5", "Did you mean 'LEVEL_RANK_SHARE'"), ("RANK_WEIGHT", "NAME=VALUE"),
                        ("REFLECTION_EPOCHS=2.5", "must be an int"), ("LEVEL_RANK_SHARE=1.5", "in [0, 1]"),
                        ("EMPATHY_LR=0", "above 0"), ("OWN_CLIENT_WEIGHT=-1", "at least 0"), ("RANK_WEIGHT=nan", "must be finite"),
                        ("NEAREST_MISMATCHED=7", "in [0, 6]"), ("NEAREST_MISMATCHED=1.5", "must be an int"),
                        ("EMPATHY_NEAREST_MISMATCHED=4", "in [0, 3]"), ("FORM_STEPS=0", "at least 1"),
                        ("COUNSEL_REFLECTIONS=3", "in [1, 2]"), ("COUNSEL_REFLECTIONS=0", "in [1, 2]"),
                        ("COUNSEL_EXTRA=3", "in [0, 2]"), ("RUDE_EXTRA=2", "in [0, 1]"),
                        ("EMPATHY_LEVEL_BIAS=0.5", "must be an int"), ("EMPATHY_WARM_START=2", "in [0, 1]"),
                        ("REFLECTION_CALIBRATION=0.5", "must be an int"),
                        ("EMPATHY_MASK_MISMATCHED_ER=-1", "in [0, 1]"), ("TRAIN_SEED=-1", "at least 0"),
                        ("TRAIN_SEED=1.5", "must be an int"), ("REFLECTION_REPLY_POOLING=3", "in [0, 2]"),
                        ("TRUNK_FROZEN_LAYERS=0", "in [1, 5]"), ("TRUNK_FROZEN_LAYERS=6", "in [1, 5]")):
        with pytest.raises(MorlError, match=re.escape(words)):
            recipe_setting(text)
    with pytest.raises(SystemExit):
        main(["--data-dir", str(tmp_path), "--set", "OWN_CLIENT_WEIGHT=1"])  # would overwrite the shipped weights
    assert "--set must come with --out DIR" in capsys.readouterr().err


def test_batch_logits_in_sorted_chunks_equal_one_padded_pass(trunk):
    prompts = [PROMPT * k for k in (1, 3, 2, 1, 4)] * 4
    replies = [REFLECTION * k for k in (2, 1, 1, 3, 1)] * 4
    states = trunk_states(trunk, prompts, replies)
    branch = trunk.new_branch({"r": PairHead(trunk.dim, 16, 1)}).eval()
    rows = [7, 3, 19, 0, 12, 5, 8, 1, 16, 2, 11, 4, 18, 6, 9, 13, 10, 14, 17, 15]
    hidden, mask = collate(states, rows)
    with torch.no_grad():
        torch.testing.assert_close(batch_logits(branch, states, rows)["r"], branch(hidden, mask)["r"].float(),
                                   atol=1e-5, rtol=1e-5)


def test_group_batches_keep_groups_whole_and_cover_every_row():
    groups = np.repeat(np.arange(20), 7)
    batches = group_batches(groups, seed=0, size=16)
    assert sorted(i for b in batches for i in b) == list(range(140))
    for batch in batches:
        assert all(np.sum(groups[batch] == g) == 7 for g in set(groups[batch].tolist()))


def test_group_batches_bring_the_owner_rows_along():
    groups, owners = np.array([0, 0, 1, 1, 2, 2]), np.array([-1, -1, -1, 0, -1, 2])
    plain = group_batches(groups, seed=0, size=2)
    with_owners = group_batches(groups, seed=0, size=2, owners=owners)
    assert [b[:2] for b in with_owners] == plain  # the same batches, owners appended
    for batch in with_owners:
        assert all(owners[i] in batch for i in batch if owners[i] >= 0)
        assert len(batch) == len(set(batch))


def test_paired_loss_compares_each_row_with_its_partner_row():
    from reward_models.train import paired_loss

    owners = np.array([-1, 0, -1, 2])  # rows 1 and 3 hold the replies of rows 0 and 2 under another prompt
    right = torch.tensor([3.0, -3.0, 2.0, -2.0])  # each reply scores higher with its own client
    assert paired_loss(right, [0, 1, 2, 3], owners) < paired_loss(-right, [0, 1, 2, 3], owners)
    expected = torch.nn.functional.softplus(torch.tensor([-6.0, -4.0])).mean()
    assert paired_loss(right, [0, 1, 2, 3], owners) == pytest.approx(float(expected))
    assert paired_loss(right[[1, 2]], [1, 2], owners) == 0  # row 1's own row is not in the batch
    bases = np.array([-1, -1, 1, -1])  # row 2 holds row 1's reply followed by a rude remark
    assert paired_loss(torch.tensor([0.0, 1.0, 3.0, 0.0]), [0, 1, 2, 3], bases) == pytest.approx(
        float(torch.nn.functional.softplus(torch.tensor(2.0))))


def test_level_rank_share_splits_the_ranking_loss_between_levels_and_families(monkeypatch):
    from reward_models import train

    terms = [torch.tensor(1.0), torch.tensor(2.0), torch.tensor(float("nan")), torch.tensor(4.0)]
    monkeypatch.setattr(train, "LEVEL_RANK_SHARE", None)
    assert float(train.combine_ranking_terms(terms)) == pytest.approx(7.0 / 3.0)  # one among equals, nan skipped
    monkeypatch.setattr(train, "LEVEL_RANK_SHARE", 0.5)
    assert float(train.combine_ranking_terms(terms)) == pytest.approx(0.5 * 1.0 + 0.5 * 3.0)
    no_levels = [torch.tensor(float("nan")), torch.tensor(2.0), torch.tensor(4.0)]
    assert float(train.combine_ranking_terms(no_levels)) == pytest.approx(3.0)  # no level pair in the batch


def test_masked_cross_entropy_weighs_rows_and_skips_masked_levels():
    from reward_models.train import masked_cross_entropy
    from reward_models.training_data import EPITOME_MECHANISMS, MASKED

    torch.manual_seed(0)
    logits = {m: torch.randn(3, 3) for m in EPITOME_MECHANISMS}
    levels = torch.tensor([[0, 2, 1], [MASKED, 1, 0], [2, 0, MASKED]])
    plain = sum(torch.nn.functional.cross_entropy(logits[m][levels[:, k] != MASKED], levels[levels[:, k] != MASKED, k])
                for k, m in enumerate(EPITOME_MECHANISMS))
    assert float(masked_cross_entropy(logits, levels, torch.ones(3))) == pytest.approx(float(plain), rel=1e-6)
    without_last = masked_cross_entropy({m: v[:2] for m, v in logits.items()}, levels[:2], torch.ones(2))
    assert float(masked_cross_entropy(logits, levels, torch.tensor([1.0, 1.0, 0.0]))) == pytest.approx(
        float(without_last), rel=1e-6)  # a row of weight 0 does not count
    # emotional reactions is labelled only on rows 0 and 2, both of weight 0 here: it adds no term (and no 0 / 0)
    only_row_1 = masked_cross_entropy(logits, levels, torch.tensor([0.0, 1.0, 0.0]))
    expected = sum(torch.nn.functional.cross_entropy(logits[m][1:2], levels[1:2, k])
                   for k, m in enumerate(EPITOME_MECHANISMS) if k > 0)
    assert float(only_row_1) == pytest.approx(float(expected), rel=1e-6)


def test_a_gate_head_scales_the_empathy_score():
    from reward_models.empathy import GATE, MECHANISMS, EmpathyModel, expected_levels

    model = EmpathyModel.__new__(EmpathyModel)  # only score_logits is exercised: no weights needed
    logits = {m: torch.tensor([[0.0, 0.0, 4.0], [4.0, 0.0, 0.0]]) for m in MECHANISMS}
    plain = model.score_logits(logits)
    np.testing.assert_allclose(plain.numpy(), expected_levels(logits).mean(-1).numpy())
    gated = model.score_logits({**logits, GATE: torch.tensor([[0.0], [-30.0]])})
    np.testing.assert_allclose(gated.numpy(), [0.5 * float(plain[0]), 0.0], atol=1e-6)


def test_ranking_loss_is_small_when_the_order_is_right():
    better = torch.tensor([[False, True], [False, False]])  # row 0 should beat row 1
    assert ranking_loss(torch.tensor([5.0, -5.0]), better) < 0.01 < ranking_loss(torch.tensor([-5.0, 5.0]), better)


def test_fine_tuning_learns_and_the_branch_round_trips(trunk, tmp_path):
    prompts = [PROMPT] * 4 + ["My sister never calls me back."] * 4
    replies = [REFLECTION, "Okay.", "Losing the job hit hard.", "Nice weather today.",
               "You miss her and wonder why she is silent.", "Okay.", "She matters to you.", "Nice weather today."]
    targets = torch.tensor([1.0, 0.0, 1.0, 0.0] * 2)
    states, groups = trunk_states(trunk, prompts, replies), np.repeat([0, 1], 4)
    branch = trunk.new_branch({"score": PairHead(trunk.dim, 16, 1)})

    def loss(logits, rows):
        return torch.nn.functional.binary_cross_entropy_with_logits(logits["score"].squeeze(-1), targets[rows])

    hidden, mask = collate(states, list(range(8)))
    before = loss(branch(hidden, mask), list(range(8))).item()
    fine_tune(branch, states, groups, loss, epochs=30, lr=1e-3, seed=0, log=lambda line: None)
    after = loss(branch(hidden, mask), list(range(8))).item()
    assert after < before / 2
    save_branch(tmp_path / "b.safetensors", branch, {"note": "test"})
    loaded, facts = load_branch(tmp_path / "b.safetensors", trunk)
    assert facts == {"note": "test"}
    np.testing.assert_allclose(loaded(hidden, mask)["score"].numpy(), branch(hidden, mask)["score"].numpy(),
                               atol=0.05)  # the layers are stored in bf16


def test_an_interrupted_fine_tuning_resumes_to_the_uninterrupted_result(trunk, tmp_path, monkeypatch):
    import reward_models.branch_training as branch_training
    from morl_core.errors import MorlError

    monkeypatch.setattr(branch_training, "CHECKPOINT_EVERY", 3)
    replies = [REFLECTION, "Okay.", "Losing the job hit hard.", "Nice weather today."]
    states, groups = trunk_states(trunk, [PROMPT] * 4, replies), np.array([0, 0, 1, 1])
    targets, calls = torch.tensor([1.0, 0.0, 1.0, 0.0]), []

    def loss(logits, rows):
        calls.append(len(calls))
        if len(calls) == 8:  # the eighth step dies; the checkpoint holds six
            raise KeyboardInterrupt
        return torch.nn.functional.binary_cross_entropy_with_logits(logits["score"].squeeze(-1), targets[rows])

    def run(branch, checkpoint, key="a"):
        return fine_tune(branch, states, groups, loss, epochs=10, lr=1e-3, seed=0, log=lambda line: None,
                         checkpoint=checkpoint, run_key=key)

    def new_branch():
        torch.manual_seed(1)
        return trunk.new_branch({"score": PairHead(trunk.dim, 16, 1)})

    calls.extend(range(100))  # the uninterrupted run never reaches the eighth call
    whole = run(new_branch(), None)
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        run(new_branch(), tmp_path / "b.checkpoint.pt")
    assert torch.load(tmp_path / "b.checkpoint.pt", weights_only=True)["step"] == 6
    with pytest.raises(MorlError, match="must come from a run with the same settings and data"):
        run(new_branch(), tmp_path / "b.checkpoint.pt", key="b")
    resumed = run(new_branch(), tmp_path / "b.checkpoint.pt")
    assert len(calls) == 8 + 4  # only the four steps left ran after resuming
    for name, value in whole.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], value)


def test_malformed_texts_are_seeded_and_of_the_four_kinds():
    texts = ["You have carried this alone for a long time. It is tiring.", "Work was who you were."] * 20
    bad = malformed(texts, ("sad", "tired", "lonely", "hurt", "angry", "lost"), seed=3)
    assert bad == malformed(texts, ("sad", "tired", "lonely", "hurt", "angry", "lost"), seed=3)
    assert len(bad) == len(texts) and all(b not in texts for b in bad)
    assert any(any(b.startswith(f.split("{}")[0]) and f != "{}." for f in LIST_FRAMES) for b in bad)


def _head_file(path, facts: dict, bias: float) -> None:
    torch.manual_seed(0)
    head = PairHead(384, 128, 1)
    with torch.no_grad():
        head.net[3].weight.zero_()
        head.net[3].bias.fill_(bias)  # P(well-formed) = sigmoid(bias) for every text
    save_heads(path, {"well_formed": head}, facts)


def test_well_formed_penalty_uses_the_stored_threshold(tmp_path):
    encoder = shared_encoder(device="cpu")
    _head_file(tmp_path / "old.safetensors", {"seed": 0}, bias=-1.0)  # P = 0.269, no stored threshold
    _head_file(tmp_path / "new.safetensors", {"penalty_threshold": 0.2, "penalty_quantile": 0.02}, bias=-1.0)
    old = WellFormedHead(encoder, tmp_path / "old.safetensors")
    new = WellFormedHead(encoder, tmp_path / "new.safetensors")
    p = 1 / (1 + np.exp(1.0))
    assert not old.calibrated and old.threshold == DEFAULT_THRESHOLD
    np.testing.assert_allclose(old.penalty(["You feel stuck."]), [2 * p], rtol=1e-5)  # the original min(1, 2P)
    assert new.calibrated
    np.testing.assert_allclose(new.penalty(["You feel stuck."]), [1.0])  # P above the threshold keeps it all
    _head_file(tmp_path / "low.safetensors", {"penalty_threshold": 0.5}, bias=-2.0)
    low = WellFormedHead(encoder, tmp_path / "low.safetensors")
    np.testing.assert_allclose(low.penalty(["You feel stuck."]), [(1 / (1 + np.exp(2.0))) / 0.5], rtol=1e-5)


def test_calibrated_fluency_reads_plain_punctuation_and_changes_the_fingerprint(tmp_path):
    _head_file(tmp_path / "wf.safetensors", {"penalty_threshold": 0.2}, bias=3.0)
    _head_file(tmp_path / "old.safetensors", {"seed": 0}, bias=3.0)  # a head trained before thresholds were stored
    old = FluencyModel(device="cpu", well_formed=tmp_path / "old.safetensors")
    calibrated = FluencyModel(device="cpu", well_formed=tmp_path / "wf.safetensors")
    curly = "You\u2019re worn out\u2026 and it\u2019s \u201call on you\u201d."
    plain = "You're worn out... and it's \"all on you\"."
    a, b = calibrated(["", ""], [curly, plain])
    assert a == pytest.approx(b, abs=1e-6)
    assert old(["", ""], [curly, plain])[0] != pytest.approx(old(["", ""], [curly, plain])[1], abs=1e-3)
    assert "plain punctuation" in calibrated.identity()["formula"]
    assert calibrated.fingerprint() != old.fingerprint()
    assert FluencyModel(device="cpu").form.calibrated  # the shipped (-v2) head stores its threshold


def test_a_branch_of_three_layers_is_scored_on_the_trunk_that_freezes_the_other_three(trunk, tmp_path):
    from reward_models.reflection import ReflectionModel

    shallow = shared_trunk(device="cpu", frozen_layers=3)
    assert shallow is not trunk and len(shallow.top_layers) == 3 and shallow.identity()["frozen_layers"] == 3
    branch = shallow.new_branch({"reflection": PairHead(shallow.dim, 16, 1)})
    save_branch(tmp_path / "r.safetensors", branch, {})
    model = ReflectionModel(weights=tmp_path / "r.safetensors", device="cpu")
    assert model.trunk is shallow and model.identity()["trunk"]["frozen_layers"] == 3
    states, mask, _ = shallow.states([PROMPT], [REFLECTION])[0]
    with torch.no_grad():
        expected = torch.sigmoid(round_to_stored(branch)(states, mask)["reflection"]).item()
    assert model([PROMPT], [REFLECTION])[0] == pytest.approx(expected, abs=0.02)  # scoring may run in bf16
    with pytest.raises(ValueError, match=r"holds 3 fine-tuned layers; the trunk freezes 4 of 6, leaving 2"):
        load_branch(tmp_path / "r.safetensors", trunk)
    with pytest.raises(ValueError, match=r"`frozen_layers` must .* 1 to 5; got 6"):
        CrossTrunk(trunk.path, torch.device("cpu"), frozen_layers=6)
