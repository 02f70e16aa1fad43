"""Surface features, the training sets of the candidate heads, the reply-only fluency and the encoder's pair cache."""

from __future__ import annotations

import numpy as np
import pytest

from reward_models.phrase_banks import EVAL_BANK, normalise
from reward_models.text_features import FEATURE_NAMES, copy_features, repeated_trigrams

PROMPT = "I lost my job last month and I feel useless. My wife says it's not my fault."


def feature(rows: np.ndarray, name: str) -> list[float]:
    return [round(float(x), 4) for x in rows[:, FEATURE_NAMES.index(name)]]


def test_a_copy_is_seen_as_a_copy_and_a_paraphrase_is_not():
    rows = copy_features([PROMPT] * 3, [PROMPT, "Losing work has shaken how much you think you are worth.",
                                        "I feel useless."])
    assert feature(rows, "copied_words") == [1.0, 0.0, 1.0]  # the paraphrase shares no word with the client
    assert feature(rows, "longest_copy") == [1.0, 0.0, 1.0]
    assert feature(rows, "longest_copy_prompt") == [1.0, 0.0, round(3 / 17, 4)]
    assert rows.shape == (3, len(FEATURE_NAMES)) and rows.dtype == np.float32
    assert ((rows >= 0) & (rows <= 1)).all()


def test_repetition_length_emptiness_and_questions():
    loop = "You feel stuck. You feel stuck. You feel stuck."
    rows = copy_features(["x"] * 3, [loop, "", "What happened? You lost a lot."])
    assert feature(rows, "repeated_sentences") == [round(2 / 3, 4), 0.0, 0.0]
    assert feature(rows, "repeated_trigrams") == [round(4 / 7, 4), 0.0, 0.0]
    assert feature(rows, "empty") == [0.0, 1.0, 0.0]
    assert feature(rows, "question") == [0.0, 0.0, 0.5]
    assert repeated_trigrams([loop]).tolist() == pytest.approx([4 / 7])


def test_training_sets_use_training_prompts_and_the_training_bank_only(data_dir):
    from morl_core.pair_data import read_pair_rows
    from morl_envs.datasets import load_counsel
    from reward_models.training_data import EMPATHY_NEGATIVES, empathy_set, held_out_groups, reflection_set

    reflection = reflection_set(data_dir)
    rows = read_pair_rows(data_dir)
    held_prompts = {rows[i][0] for i in held_out_groups(len(rows))}
    held_prompts |= {p.text for s in ("validation", "test") for p in load_counsel().split(s)}
    assert not held_prompts & set(reflection.prompts)
    eval_phrases = {normalise(p) for p in EVAL_BANK.phrases()} - {""}
    generated = [r for r, k in zip(reflection.replies, reflection.kinds) if not k.startswith(("pair-level", "counsel"))]
    assert generated and not any(normalise(r) in eval_phrases for r in generated)
    targets = np.asarray(reflection.targets)
    kinds = np.asarray(reflection.kinds)
    assert set(targets[kinds == "echo"]) == {0.0} and set(targets[kinds == "counsel-written"]) == {1.0}
    assert (kinds == "counsel-written").sum() == 220 and "advice_appended" not in set(kinds)
    empathy = empathy_set(data_dir)
    labels = np.asarray(empathy.targets)
    assert labels.shape[1] == 3 and set(empathy.kinds) >= set(EMPATHY_NEGATIVES)
    assert (labels[np.asarray(empathy.kinds) == "complex-reflection"] == [-1, 2, -1]).all()


def test_shipped_heads_keep_their_bi_encoder_features():
    import reward_models

    scorer = reward_models.load("reflection", device="cpu")
    assert "features" not in scorer.facts  # the shipped heads read [u, v, u*v, |u-v|]
    assert scorer._features(["I can't sleep."], ["Nights have become a battle."]).shape == (1, 4 * 384)


def test_pair_embeddings_are_cached_and_equal_to_fresh_ones():
    from reward_models.encoder import shared_encoder

    encoder = shared_encoder(device="cpu")
    first = encoder.encode_pairs([PROMPT, PROMPT], ["You feel useless.", "Work was who you were."])
    assert (PROMPT, "You feel useless.") in encoder._cache
    again = encoder.encode_pairs([PROMPT], ["Work was who you were."])
    np.testing.assert_array_equal(again[0], first[1])
    encoder.clear_cache()
    np.testing.assert_allclose(encoder.encode_pairs([PROMPT], ["You feel useless."])[0], first[0], atol=1e-6)


def test_reply_only_fluency_ignores_the_prompt_and_penalises_loops():
    from reward_models.fluency import FluencyModel

    scorer = FluencyModel(device="cpu", reply_only=True)
    with_prompt, alone = scorer([PROMPT, ""], [PROMPT, PROMPT])
    assert with_prompt == alone  # copying the client's words earns nothing over saying them unprompted
    once, loop = scorer(["x", "x"], ["You feel stuck at home.", " ".join(["You feel stuck at home."] * 6)])
    assert loop < once / 2
    assert "reply alone" in scorer.identity()["formula"]
    assert "reply alone" not in FluencyModel(device="cpu").identity()["formula"]  # the shipped formula is unchanged
