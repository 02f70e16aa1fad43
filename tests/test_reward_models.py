"""Reward models: the contract, the quality thresholds of the shipped models, and the checkpoint path."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

import reward_models
from reward_models.base import NonFiniteRewardError, RewardModel
from reward_models.checks import fluency_shuffle_rate, reflection_ranking_accuracy

PROMPT = "I know I should quit smoking but it's the only thing that calms me down."
REFLECTION = "Smoking feels like the one reliable way to manage stress, even though part of you wants to stop."
ADVICE = "You should buy nicotine patches and throw away your cigarettes today."


@pytest.mark.parametrize("name", reward_models.available())
def test_scorer_contract(name):
    scorer = reward_models.load(name)
    scores = scorer([PROMPT] * 3, [REFLECTION, ADVICE, ""])
    assert scores.dtype == np.float32 and scores.shape == (3,)
    assert np.all((scores >= 0) & (scores <= 1))
    assert len(scorer.fingerprint()) == 64 and scorer.name == name


@pytest.mark.parametrize("name", reward_models.available())
def test_batched_scores_equal_one_by_one(name):
    scorer = reward_models.load(name)
    replies = [REFLECTION, ADVICE, "You feel stuck.", "Okay " * 30]
    batched = scorer([PROMPT] * 4, replies)
    single = np.concatenate([scorer([PROMPT], [r]) for r in replies])
    np.testing.assert_allclose(batched, single, atol=1e-4)


def test_reflection_ranks_complex_reflections_above_non_reflections_on_held_out_prompts(data_dir):
    assert len(reward_models.load("reflection").facts["held_out_prompts"]) >= 60
    wins = reflection_ranking_accuracy(data_dir)
    assert wins >= 0.85, f"held-out ranking accuracy {wins:.3f} < 0.85"


#: held-out Spearman the shipped empathy model still misses (the v1 model's explorations head: 0.16; issue 12 stays
#: open on it): mechanism -> the floor it must keep; the test fails if it passes 0.3 (then remove it here)
EMPATHY_SPEARMAN_GAPS = {"explorations": 0.1}


def test_empathy_beats_majority_and_orders_levels(data_dir):
    scorer = reward_models.load("empathy")
    for mechanism in scorer.MECHANISMS:
        rho = scorer.facts[mechanism]["held_out_spearman"]
        if mechanism in EMPATHY_SPEARMAN_GAPS:
            assert EMPATHY_SPEARMAN_GAPS[mechanism] <= rho <= 0.3, (mechanism, rho)
        else:
            assert rho > 0.3, (mechanism, rho)
    rows = list(csv.DictReader(open(data_dir / "epitome" / "emotional-reactions-reddit.csv", encoding="utf-8")))
    by_level = {lv: [r for r in rows if int(r["level"]) == lv][:40] for lv in (0, 2)}
    means = {lv: scorer([r["seeker_post"] for r in rs], [r["response_post"] for r in rs]).mean()
             for lv, rs in by_level.items()}
    heads = {lv: scorer.logits([r["seeker_post"] for r in rs], [r["response_post"] for r in rs])
             ["emotional-reactions"].softmax(-1) @ torch.tensor([0.0, 0.5, 1.0]) for lv, rs in by_level.items()}
    # the score averages three mechanisms, so the mechanism the rows are split by must order them on its own head
    assert means[2] > means[0] and heads[2].mean() > heads[0].mean() + 0.2, (means, heads)


def test_fluency_prefers_original_word_order(data_dir):
    rate = fluency_shuffle_rate(data_dir)
    assert rate >= 0.95, f"shuffled replies scored lower for only {rate:.3f} of PAIR replies"


def test_conciseness_formula():
    scorer = reward_models.load("conciseness")
    replies = ["", "one", " ".join(["w"] * 8), " ".join(["w"] * 36), " ".join(["w"] * 64), " ".join(["w"] * 90)]
    np.testing.assert_allclose(scorer([PROMPT] * 6, replies), [0.0, 1.0, 1.0, 0.5, 0.0, 0.0])


# ---- bad input --------------------------------------------------------------------------------------------------

class _NaNModel(RewardModel):
    name = "broken"

    def identity(self):
        return {}

    def _score(self, prompts, responses):
        return np.array([0.5, np.nan])


def test_non_finite_score_raises():
    with pytest.raises(NonFiniteRewardError, match=r"'broken' returned a non-finite score nan for batch entry 1"):
        _NaNModel()(["a", "b"], ["c", "d"])


def test_mismatched_lengths_and_types_raise():
    scorer = reward_models.load("conciseness")
    with pytest.raises(ValueError, match=r"`responses` must have one entry per prompt \(2\); got 1"):
        scorer(["a", "b"], ["c"])
    with pytest.raises(TypeError, match=r"`responses\[1\]` must be a str; got int"):
        scorer(["a", "b"], ["c", 3])
    with pytest.raises(TypeError, match=r"`prompts` must be a list of str; got str"):
        scorer("a", ["c"])


def test_unknown_name_suggests():
    with pytest.raises(ValueError, match=r"unknown reward model 'fluancy'.*Did you mean 'fluency'\?"):
        reward_models.load("fluancy")


def test_missing_checkpoint_says_to_pass_a_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="pass the local directory"):
        reward_models.load(str(tmp_path / "nowhere") + "/model")


# ---- real checkpoints through the same interface ------------------------------------------------------------------

def test_local_sequence_classifier_checkpoint(tmp_path):
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from morl_core.assets import minilm_path

    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, num_labels=1)
    BertForSequenceClassification(config).save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(minilm_path()).save_pretrained(tmp_path)
    scorer = reward_models.load(str(tmp_path), transform="sigmoid")
    scores = scorer([PROMPT] * 2, [REFLECTION, ADVICE])
    assert scores.shape == (2,) and np.all((scores > 0) & (scores < 1)) and scores[0] != scores[1]
    assert scorer.name == tmp_path.name


def test_local_causal_lm_checkpoint_becomes_fluency(tmp_path):
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    from morl_core.assets import smollm2_path
    from reward_models.fluency import FluencyModel

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(smollm2_path())
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=2, n_positions=512)
    GPT2LMHeadModel(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    scorer = reward_models.load(str(tmp_path))
    assert isinstance(scorer, FluencyModel)
    scores = scorer([PROMPT] * 2, [REFLECTION, ""])
    assert scores[1] == 0.0  # an empty reply
    nll = scorer.mean_nll([REFLECTION])[0]
    assert abs(nll - np.log(len(tokenizer))) < 1.0, "an untrained LM is about as good as a uniform guess"
    assert 0.0 <= scores[0] < 0.1
