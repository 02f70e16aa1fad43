"""Repetition, the training sets of the learned reward models, and fluency read from the reply alone."""

from __future__ import annotations

import numpy as np
import pytest

from reward_models.phrase_banks import EVAL_BANK, normalise
from reward_models.text_features import repeated_trigrams

PROMPT = "I lost my job last month and I feel useless. My wife says it's not my fault."


def test_repetition_is_the_share_of_trigrams_seen_before():
    loop = "You feel stuck. You feel stuck. You feel stuck."
    assert repeated_trigrams([loop, "", "What happened? You lost a lot."]).tolist() == pytest.approx([4 / 7, 0, 0])


def test_training_sets_use_training_prompts_and_the_training_bank_only(data_dir):
    from morl_core.pair_data import read_pair_rows
    from morl_envs.datasets import load_counsel
    from morl_envs.robustness import counsel_extra_set
    from reward_models.training_data import (
        EMPATHY_NEGATIVES,
        empathy_set,
        held_out_groups,
        read_counsel_pairs,
        reflection_set,
    )

    reflection = reflection_set(data_dir)
    rows = read_pair_rows(data_dir)
    held_prompts = {rows[i][0] for i in held_out_groups(len(rows))}
    held_prompts |= {p.text for s in ("validation", "test") for p in load_counsel().split(s)}
    held_prompts |= set(counsel_extra_set().prompts)  # the statements written for the adversarial suite alone
    assert not held_prompts & set(reflection.prompts)
    eval_phrases = {normalise(p) for p in EVAL_BANK.phrases()} - {""}
    generated = [r for r, k in zip(reflection.replies, reflection.kinds) if not k.startswith(("pair-level", "counsel"))]
    assert generated and not any(normalise(r) in eval_phrases for r in generated)
    targets = np.asarray(reflection.targets)
    kinds = np.asarray(reflection.kinds)
    assert set(targets[kinds == "echo"]) == {0.0} and set(targets[kinds == "counsel-written"]) == {1.0}
    assert (kinds == "counsel-written").sum() == 220 and "advice_appended" not in set(kinds)
    mismatched = [(p, r) for p, r, k in zip(reflection.prompts, reflection.replies, reflection.kinds)
                  if k == "mismatched"]
    written = dict(zip(*read_counsel_pairs()))
    assert len(mismatched) > 6 * 220 and not any(written.get(p) == r for p, r in mismatched)
    empathy = empathy_set(data_dir)
    labels = np.asarray(empathy.targets)
    assert labels.shape[1] == 3 and set(empathy.kinds) >= set(EMPATHY_NEGATIVES)
    assert (labels[np.asarray(empathy.kinds) == "complex-reflection"] == [-1, 2, -1]).all()


def test_fluency_reads_the_reply_alone_and_penalises_loops_and_lists():
    import reward_models

    scorer = reward_models.load("fluency", device="cpu")
    with_prompt, alone = scorer([PROMPT, ""], [PROMPT, PROMPT])
    assert with_prompt == alone  # copying the client's words earns nothing over saying them unprompted
    sentence = "You have been feeling stuck at home since the job ended."
    once, loop, listed = scorer(["x"] * 3, [sentence, " ".join([sentence] * 6),
                                          "You feel stuck, low, restless, bored and ashamed."])
    assert loop < once / 2 and listed < once / 2
    assert "reply alone" in scorer.identity()["formula"]


def test_the_fluency_threshold_is_fixed_on_held_out_human_replies_only(data_dir):
    from reward_models.text_features import plain_punctuation
    from reward_models.training_data import held_out_responses, training_replies

    held = held_out_responses(data_dir)
    assert len(held) > 500 and all(r and r == r.strip() for r in held)
    assert not set(held) & {plain_punctuation(r) for r in training_replies(data_dir)}
    assert not any(c in r for r in held for c in "\u2019\u2018\u201c\u201d\u2026")


def test_mismatched_rows_know_the_row_of_their_own_client(data_dir):
    from reward_models.training_data import reflection_set

    data = reflection_set(data_dir)
    owned = [i for i, owner in enumerate(data.owners) if owner >= 0]
    assert len(data.owners) == len(data.prompts) and len(owned) > 4000
    for i in owned:
        j = data.owners[i]
        assert data.kinds[i] == "mismatched" and data.kinds[j] in ("pair-level-2", "counsel-written")
        assert data.replies[i] == data.replies[j] and data.groups[i] != data.groups[j]


@pytest.mark.parametrize("which, genuine", [("reflection_set", ("pair-level-2", "counsel-written")),
                                            ("empathy_set", ("epitome", "complex-reflection"))])
def test_rude_ending_rows_know_the_genuine_row_they_extend(data_dir, which, genuine):
    from reward_models import training_data

    data = getattr(training_data, which)(data_dir)
    based = [i for i, base in enumerate(data.bases) if base >= 0]
    assert len(data.bases) == len(data.prompts) and sorted(based) == [i for i, k in enumerate(data.kinds)
                                                                      if k == "rude_appended"]
    for i in based:
        j = data.bases[i]
        assert data.kinds[j] in genuine and data.prompts[i] == data.prompts[j]
        assert data.groups[i] == data.groups[j] and data.replies[i].startswith(data.replies[j].rstrip() + " ")


def test_nearest_mismatched_partners_answer_similar_prompts_of_other_groups(data_dir):
    from reward_models.encoder import shared_encoder
    from reward_models.training_data import EXTRA_MISMATCHED, reflection_set, similar_prompts

    prompts = ["I can't sleep since my divorce.", "My divorce keeps me awake at night.", "I love my new puppy.",
               "I can't sleep since my divorce."]
    near = similar_prompts(prompts, [0, 1, 2, 0])
    assert near[0][0] == 1 and 3 not in near[0] and 0 not in near[3]  # the same group is never a partner
    plain, hard = reflection_set(data_dir), reflection_set(data_dir, nearest_mismatched=3)
    assert len(plain.prompts) == len(hard.prompts) and plain.prompts == hard.prompts
    encoder = shared_encoder(device="cpu")

    def mean_similarity(data) -> float:
        rows = [i for i, k in enumerate(data.kinds) if k == "mismatched" and data.owners[i] >= 0]
        own = encoder.encode([data.prompts[i] for i in rows])
        other = encoder.encode([data.prompts[data.owners[i]] for i in rows])
        return float((own * other).sum(1).mean())

    assert mean_similarity(hard) > mean_similarity(plain) + 0.05
    assert all(hard.groups[i] != hard.groups[hard.owners[i]] for i, o in enumerate(hard.owners) if o >= 0)
    assert sum(k == "mismatched" for k in hard.kinds) >= EXTRA_MISMATCHED * 220


def test_second_written_reflections_align_with_their_statements_and_carry_the_second_negatives(data_dir, tmp_path):
    import json

    from reward_models.training_data import (
        COUNSEL_SECOND_FILE,
        EXTRA_MISMATCHED,
        read_counsel_pairs,
        read_counsel_second,
        reflection_set,
    )

    prompts, first = read_counsel_pairs()
    second = read_counsel_second()
    assert len(second) == len(prompts) == 220 and not set(second) & set(first)
    one, two = reflection_set(data_dir), reflection_set(data_dir, counsel_reflections=2)
    kinds = np.asarray(two.kinds)
    assert (kinds == "counsel-written").sum() == 440
    assert len(two.prompts) - len(one.prompts) == 220 * (1 + EXTRA_MISMATCHED)  # each with its extra mismatches
    rude = [r for p, r, k in zip(two.prompts, two.replies, two.kinds) if k == "rude_appended" and p == prompts[0]]
    assert any(r.startswith(first[0] + " ") for r in rude) and any(r.startswith(second[0] + " ") for r in rude)
    partial = json.loads(COUNSEL_SECOND_FILE.read_text(encoding="utf-8"))
    partial["pairs"] = partial["pairs"][1:]
    (tmp_path / "second.json").write_text(json.dumps(partial), encoding="utf-8")
    with pytest.raises(ValueError, match="must hold a second reflection of every statement"):
        read_counsel_second(tmp_path / "second.json")


def test_extra_statements_are_new_and_join_both_sets_only_when_asked(data_dir):
    import json
    import re

    from morl_envs.datasets import load_counsel
    from morl_envs.robustness import COUNSEL_REFLECTIONS_FILE
    from reward_models.training_data import (
        COUNSEL_EXTRA_FILES,
        counsel_training,
        empathy_set,
        read_counsel_extra,
        reflection_set,
    )

    def runs(text: str, n: int) -> set[tuple[str, ...]]:
        words = re.findall(r"[a-z']+", text.lower())
        return {tuple(words[k:k + n]) for k in range(len(words) - n + 1)}

    held = [p.text for s in ("validation", "test") for p in load_counsel().split(s)]
    written = [r["text"] for r in json.loads(COUNSEL_REFLECTIONS_FILE.read_text(encoding="utf-8"))["reflections"]]
    held_runs = set().union(*(runs(t, 5) for t in held + written))  # held-out statements and their reflections
    files = [read_counsel_extra(path) for path in COUNSEL_EXTRA_FILES]
    for prompts, first, second in files:
        assert len(prompts) == len(first) == len(second) == 220 and len(set(prompts)) == 220
        assert not set(prompts) & (set(held) | set(p.text for p in load_counsel().split("train")))
        assert not any(runs(s, 3) & runs(p, 3) for p, s in zip(prompts, second))  # the second restates in other words
        assert not any(runs(t, 5) & held_runs for t in prompts + first + second)
    first_runs = set().union(*(runs(p, 5) for p in files[0][0]))
    assert not any(runs(p, 5) & first_runs for p in files[1][0])  # the second file's statements are new too
    base, one, both = counsel_training(2), counsel_training(2, extra=1), counsel_training(2, extra=2)
    assert one[0] == base[0] + files[0][0] and one[2] == base[2] + files[0][2] and counsel_training(1, 1)[2] is None
    assert both[0] == one[0] + files[1][0] and both[1] == one[1] + files[1][1]
    with_extra = reflection_set(data_dir, counsel_reflections=2, counsel_extra=2)
    assert (np.asarray(with_extra.kinds) == "counsel-written").sum() == 2 * 660
    empathy = empathy_set(data_dir, counsel_reflections=2, counsel_extra=1)
    prompts = files[0][0]
    assert set(prompts) <= set(empathy.prompts) and not set(prompts) & set(empathy_set(data_dir).prompts)
