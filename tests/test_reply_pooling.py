""""reply" pooling of a cross-encoder branch: the heads also read the mean and the maximum over the reply's tokens."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reward_models.branch_training import batch_logits, collate, collate_reply, fine_tune, reply_tokens, trunk_states
from reward_models.cross_encoder import (
    CrossBranch,
    load_branch,
    pool,
    pooled_dim,
    round_to_stored,
    save_branch,
    shared_trunk,
)
from reward_models.heads import PairHead
from reward_models.reflection import ReflectionModel

PROMPT = "I lost my job last month and I feel useless. My wife says it's not my fault."
REFLECTION = "Losing work has shaken how much you think you are worth, even with your wife behind you."


@pytest.fixture(scope="module")
def trunk():
    return shared_trunk(device="cpu")


def test_reply_pooling_appends_the_mean_and_max_over_the_reply_tokens():
    hidden = torch.tensor([[[1.0, 0.0], [3.0, 2.0], [5.0, -4.0], [7.0, 6.0]],
                           [[2.0, 2.0], [4.0, 4.0], [9.0, 9.0], [0.0, 0.0]]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    reply = torch.tensor([[0, 0, 1, 1], [0, 0, 1, 0]])  # the second pair's reply token is padding: cut to nothing
    pooled = pool(hidden, mask, "reply", reply)
    assert pooled.shape == (2, pooled_dim(2, "reply")) == (2, 6)
    torch.testing.assert_close(pooled[0], torch.tensor([4.0, 1.0, 6.0, 1.0, 7.0, 6.0]))
    torch.testing.assert_close(pooled[1], torch.tensor([3.0, 3.0, 0.0, 0.0, 0.0, 0.0]))
    torch.testing.assert_close(pool(hidden, mask, "mean", None), pooled[:, :2])
    peak_only = pool(hidden, mask, "reply_max", reply)
    assert peak_only.shape == (2, pooled_dim(2, "reply_max")) == (2, 4)
    torch.testing.assert_close(peak_only, pooled[:, [0, 1, 4, 5]])


def test_reply_pooling_needs_the_reply_mask_and_a_known_pooling(trunk):
    with pytest.raises(ValueError, match="`reply`"):
        pool(torch.zeros(1, 3, 2), torch.ones(1, 3), "reply", None)
    with pytest.raises(ValueError, match="`pooling` must be one of"):
        CrossBranch(trunk.top_layers, {}, pooling="max")


def test_reply_tokens_mark_the_second_segment_of_each_pair(trunk):
    prompts, replies = [PROMPT, "Hi.", PROMPT * 8], ["Okay.", REFLECTION, REFLECTION * 8]
    masks, states = reply_tokens(trunk, prompts, replies), trunk_states(trunk, prompts, replies)
    for k in range(3):
        batch = trunk.tokenize([prompts[k]], [replies[k]])
        assert masks[k].shape[0] == states[k].shape[0]
        assert masks[k].tolist() == batch["token_type_ids"][0].tolist()
    assert int(masks[0].sum()) == len(trunk.tokenizer("Okay.", add_special_tokens=False)["input_ids"]) + 1


def test_a_reply_pooled_branch_trains_round_trips_and_scores_as_a_reward_model(trunk, tmp_path):
    prompts = [PROMPT] * 4 + ["My sister never calls me back."] * 4
    replies = [REFLECTION, f"{REFLECTION} Grow up.", "Losing the job hit hard.", "Nice weather today.",
               "You miss her and wonder why she is silent.", "Okay.", "She matters to you.", "Nice weather today."]
    targets = torch.tensor([1.0, 0.0, 1.0, 0.0] * 2)
    states, masks, groups = trunk_states(trunk, prompts, replies), reply_tokens(trunk, prompts, replies), np.repeat(
        [0, 1], 4)
    branch = trunk.new_branch({"reflection": PairHead(pooled_dim(trunk.dim, "reply"), 16, 1)}, "reply")

    def loss(logits, rows):
        return torch.nn.functional.binary_cross_entropy_with_logits(logits["reflection"].squeeze(-1), targets[rows])

    rows = list(range(8))
    hidden, mask = collate(states, rows)
    reply = collate_reply(masks, rows, mask.shape[1])
    before = loss(branch(hidden, mask, None, reply), rows).item()
    fine_tune(branch, states, groups, loss, epochs=30, lr=1e-3, seed=0, log=lambda line: None, replies=masks)
    with torch.no_grad():
        torch.testing.assert_close(batch_logits(branch, states, rows, None, masks)["reflection"],
                                   branch(hidden, mask, None, reply)["reflection"].float(), atol=1e-5, rtol=1e-5)
        assert loss(branch(hidden, mask, None, reply), rows).item() < before / 2
    save_branch(tmp_path / "reflection.safetensors", branch, {"note": "test"})
    loaded, _ = load_branch(tmp_path / "reflection.safetensors", trunk)
    assert loaded.pooling == "reply"
    with torch.no_grad():  # rounded as stored, the trained branch gives what the file gives back, exactly
        torch.testing.assert_close(round_to_stored(branch)(hidden, mask, None, reply)["reflection"],
                                   loaded(hidden, mask, None, reply)["reflection"], atol=0, rtol=0)
    model = ReflectionModel(tmp_path / "reflection.safetensors", device="cpu")
    batch = trunk.tokenize(prompts, replies)  # float32 trunk states, as the model computes them
    with torch.no_grad():
        logits = loaded(trunk.run(batch), batch["attention_mask"], None, batch["token_type_ids"])["reflection"]
    expected = torch.sigmoid(logits).squeeze(-1).numpy()
    np.testing.assert_allclose(model(prompts, replies), expected, atol=1e-5)
