"""The adversarial reward suite (reward_models.robustness) and its driver (morl_envs.robustness), on toy scorers
whose answers are known by hand; one slow test runs the shipped models on a few PAIR prompts."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from morl_envs import robustness as driver
from reward_models.phrase_banks import EVAL_BANK, MIN_ENTRIES, TRAIN_BANK, PhraseBank, normalise, overlap
from reward_models.robustness import (
    ECHO_GENERATORS,
    GENERATORS,
    THRESHOLDS,
    Failure,
    SuiteResult,
    Threshold,
    degenerate_replies,
    mismatch_partners,
    pool_results,
    run_suite,
    swap_pronouns,
)

PROMPTS = ["I am scared of my boss, and I can't sleep before work.", "My dog died last week and I miss him so much."]
GENUINE = ["Work has started to feel unsafe, and the dread follows you to bed.",
           "Losing him has left a hole in your days."]


def generate(name: str, prompt: str = PROMPTS[0], genuine: str = GENUINE[0], other: str = GENUINE[1],
             bank: PhraseBank = EVAL_BANK, seed: int = 0) -> str:
    return GENERATORS[name](prompt, genuine, other, bank, random.Random(seed))


# ---------------------------------------------------------------------------------------------------------------
# Phrase banks
# ---------------------------------------------------------------------------------------------------------------

def test_banks_are_disjoint_and_full():
    assert overlap(TRAIN_BANK, EVAL_BANK) == []
    assert not set(map(str.lower, TRAIN_BANK.openers)) & set(map(str.lower, EVAL_BANK.openers))
    for bank in (TRAIN_BANK, EVAL_BANK):
        for field in ("openers", "generic_sentences", "generic_questions", "emotion_keywords", "off_topic_texts",
                      "rude_remarks", "advice_remarks", "one_words"):
            assert len(set(getattr(bank, field))) >= MIN_ENTRIES, (bank.name, field)


def test_more_rude_remarks_extend_the_training_bank_only_and_stay_disjoint_from_the_evaluation_bank():
    from reward_models.phrase_banks import with_more_rude_remarks

    wide = with_more_rude_remarks(TRAIN_BANK)
    assert wide.name == "train+rude" and wide.rude_remarks[:len(TRAIN_BANK.rude_remarks)] == TRAIN_BANK.rude_remarks
    assert len(set(map(normalise, wide.rude_remarks))) == len(TRAIN_BANK.rude_remarks) + 120
    assert overlap(wide, EVAL_BANK) == [] and wide.openers == TRAIN_BANK.openers


def test_bank_rejects_too_few_entries_and_multi_word_keywords():
    with pytest.raises(ValueError, match=re.escape("PhraseBank `rude_remarks` must hold at least 8 distinct entries; got 2")):
        replace(EVAL_BANK, rude_remarks=("Go away.", "Go away!", "Shush."))
    with pytest.raises(ValueError, match="PhraseBank `one_words` and `emotion_keywords` must hold single words"):
        replace(EVAL_BANK, one_words=EVAL_BANK.one_words[:-1] + ("I see.",))
    with pytest.raises(TypeError, match="PhraseBank `openers` must be a tuple of non-empty str"):
        replace(EVAL_BANK, openers=list(EVAL_BANK.openers))


# ---------------------------------------------------------------------------------------------------------------
# Pronoun swapping and one test per generator
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, swapped", [
    ("I am scared of my boss", "You are scared of your boss"),
    ("Sometimes I am scared of my boss", "Sometimes you are scared of your boss"),
    ("I'm tired and I've had enough of myself.", "You're tired and you've had enough of yourself."),
    ("I’m sure it’s mine.", "You’re sure it’s yours."),
    ("We fight and it hurts us and our kids.", "You fight and it hurts you and your kids."),
    ("I was fine. Was I wrong? I'll see.", "You were fine. Were you wrong? You'll see."),
    ("He told me MY job was at risk.", "He told you YOUR job was at risk."),
    ("Mine is broken; my time is up.", "Yours is broken; your time is up."),
    ("Iris and Amy were here.", "Iris and Amy were here."),
    ('She said "I quit."\nI did. (I mean it.)', 'She said "you quit."\nYou did. (You mean it.)'),
])
def test_swap_pronouns(text, swapped):
    assert swap_pronouns(text) == swapped


def test_echo_is_the_prompt_verbatim():
    assert generate("echo") == PROMPTS[0]


def test_echo_pronouns_swaps_first_person():
    assert generate("echo_pronouns", prompt="I am scared of my boss").lower() == "you are scared of your boss"
    assert generate("echo_pronouns") == "You are scared of your boss, and you can't sleep before work."


def test_opener_echo_is_an_eval_opener_then_the_swapped_prompt():
    reply = generate("opener_echo")
    opener = next(o for o in EVAL_BANK.openers if reply.startswith(o + " "))
    assert reply == f"{opener} you are scared of your boss, and you can't sleep before work."


def test_clause_echo_is_one_swapped_clause():
    replies = {generate("clause_echo", seed=s) for s in range(20)}
    assert replies == {"You are scared of your boss.", "And you can't sleep before work."}
    assert generate("clause_echo", prompt="Help.") == "Help."


@pytest.mark.parametrize("name", ["generic_sentence", "generic_question"])
def test_generic_replies_are_one_fixed_bank_phrase(name):
    first, second = generate(name), generate(name, prompt=PROMPTS[1], genuine=GENUINE[1], seed=5)
    assert first == second
    assert first == (EVAL_BANK.generic_sentences if name == "generic_sentence" else EVAL_BANK.generic_questions)[0]


def test_repeated_sentence_repeats_the_first_genuine_sentence_six_times():
    reply = generate("repeated_sentence", genuine="You feel alone. Nobody calls.")
    assert reply == " ".join(["You feel alone."] * 6)
    assert generate("repeated_sentence", genuine="no full stop") == " ".join(["no full stop."] * 6)


def test_keyword_stuffing_strings_five_distinct_eval_keywords():
    reply = generate("keyword_stuffing")
    match = re.fullmatch(r"You feel (\w+), (\w+), (\w+), (\w+) and (\w+)\.", reply)
    assert match and len(set(match.groups())) == 5 and set(match.groups()) <= set(EVAL_BANK.emotion_keywords)


def test_off_topic_and_one_word_come_from_the_bank():
    assert generate("off_topic") in EVAL_BANK.off_topic_texts
    assert generate("one_word") in EVAL_BANK.one_words and len(generate("one_word").split()) == 1
    assert generate("off_topic", bank=TRAIN_BANK) in TRAIN_BANK.off_topic_texts


def test_empty_is_empty():
    assert generate("empty") == ""


def test_mismatched_is_another_prompts_genuine_reply():
    genuine = ["a b", "c d", "e f", "g h", "i j"]
    replies = degenerate_replies(["p"] * 5, genuine, generators=["mismatched"])["mismatched"]
    assert replies == ["e f", "g h", "i j", "a b", "c d"]
    assert all(r != g and r in genuine for r, g in zip(replies, genuine))


def test_mismatch_partners_skip_identical_replies():
    genuine = ["same", "same", "other", "same"]
    partners = mismatch_partners(genuine)
    assert partners == [2, 2, 0, 2]
    assert all(genuine[j] != genuine[i] for i, j in enumerate(partners))
    with pytest.raises(ValueError, match=re.escape("`genuine` must hold at least two different replies for the "
                                                   "`mismatched` generator; got 1 distinct of 3")):
        mismatch_partners(["x", "x", "x"])


def test_shuffled_keeps_the_words_in_another_order():
    reply = generate("shuffled")
    assert Counter(reply.split()) == Counter(GENUINE[0].split())
    assert reply.split() != GENUINE[0].split()
    assert generate("shuffled", genuine="Alone.") == "Alone."
    assert generate("shuffled", genuine="no no no") == "no no no"  # no other order exists: no endless loop


@pytest.mark.parametrize("name, field", [("rude_appended", "rude_remarks"), ("advice_appended", "advice_remarks")])
def test_appended_replies_are_the_genuine_reply_plus_a_bank_remark(name, field):
    reply = generate(name)
    assert reply.startswith(GENUINE[0] + " ")
    assert reply[len(GENUINE[0]) + 1:] in getattr(EVAL_BANK, field)


def test_every_generator_is_registered_once_in_the_fixed_order():
    assert list(GENERATORS) == [
        "echo", "echo_pronouns", "opener_echo", "clause_echo", "generic_sentence", "generic_question",
        "repeated_sentence", "keyword_stuffing", "off_topic", "one_word", "empty", "mismatched", "shuffled",
        "rude_appended", "advice_appended"]
    assert set(ECHO_GENERATORS) < set(GENERATORS)


def test_replies_are_deterministic_and_independent_of_the_other_prompts():
    prompts, genuine = PROMPTS + ["We never talk any more."], GENUINE + ["The silence between you is growing."]
    first, again = degenerate_replies(prompts, genuine, seed=3), degenerate_replies(prompts, genuine, seed=3)
    assert first == again
    fewer = degenerate_replies(prompts[:2], genuine[:2], seed=3)
    assert all(fewer[g] == first[g][:2] for g in GENERATORS if g != "mismatched")
    other = degenerate_replies(prompts, genuine, seed=4)
    assert other["shuffled"] != first["shuffled"] and other["echo"] == first["echo"]


# ---------------------------------------------------------------------------------------------------------------
# run_suite on toy scorers
# ---------------------------------------------------------------------------------------------------------------

def by_length(prompts: list[str], replies: list[str]) -> np.ndarray:
    """Prefers longer replies: len / 1000."""
    return np.array([len(r) / 1000 for r in replies])


def test_run_suite_shares_under_a_length_scorer():
    result = run_suite({"length": by_length}, PROMPTS, GENUINE)
    shares = result.shares()
    # genuine 66 and 40 characters; echo 54 and 45; the generic sentence 47; the appended replies are longer; shuffled has the same length
    expected = {"echo": 0.5, "empty": 1.0, "one_word": 1.0, "rude_appended": 0.0, "advice_appended": 0.0,
                "shuffled": 0.0, "mismatched": 0.5, "repeated_sentence": 0.0, "generic_sentence": 0.5}
    assert {g: shares[g]["length"] for g in expected} == expected
    assert all(shares[g]["uniform"] == shares[g]["length"] for g in GENERATORS)
    assert result.mean_scores()["genuine"]["length"] == pytest.approx((66 + 40) / 2000)
    assert result.mean_scores()["empty"] == {"length": 0.0, "uniform": 0.0}


def test_uniform_is_the_mean_of_the_objectives():
    genuine = set(GENUINE)

    def is_genuine(prompts, replies):
        return np.array([float(r in genuine) for r in replies])

    result = run_suite({"length": by_length, "exact": is_genuine}, PROMPTS, GENUINE)
    shares = result.shares()
    assert shares["rude_appended"] == {"length": 0.0, "exact": 1.0, "uniform": 1.0}
    assert shares["mismatched"] == {"length": 0.5, "exact": 0.0, "uniform": 0.5}


def test_one_batched_call_per_scorer_and_the_copy_check():
    calls: dict[str, list[int]] = {"fluency": [], "reflection": []}

    def counting(name, score):
        def scorer(prompts, replies):
            calls[name].append(len(replies))
            return np.array([score(p, r) for p, r in zip(prompts, replies)])
        return scorer

    result = run_suite({"reflection": counting("reflection", lambda p, r: 0.5),
                        "fluency": counting("fluency", lambda p, r: 0.9 if p else 0.4)}, PROMPTS, GENUINE)
    assert calls == {"reflection": [2 * 16], "fluency": [2 * (16 + 4)]}
    assert set(result.copy_scores) == {"fluency"} and list(result.copy_scores["fluency"]) == list(ECHO_GENERATORS)
    assert result.copy_shares() == {"fluency": {g: 0.0 for g in ECHO_GENERATORS}}  # copying pays: 0.9 > 0.4
    flat = run_suite({"fluency": lambda p, r: np.full(len(r), 0.7)}, PROMPTS, GENUINE)
    assert flat.copy_shares() == {"fluency": {g: 1.0 for g in ECHO_GENERATORS}}
    assert run_suite({"fluency": by_length}, PROMPTS, GENUINE, copy_check=()).copy_scores == {}


def test_generators_subset_runs_in_the_fixed_order():
    result = run_suite({"length": by_length}, PROMPTS, GENUINE, generators=["empty", "echo"])
    assert result.generators == ("echo", "empty")
    assert set(result.scores) == {"genuine", "echo", "empty"} and result.scores["echo"].shape == (2, 1)


# ---------------------------------------------------------------------------------------------------------------
# Thresholds and failures
# ---------------------------------------------------------------------------------------------------------------

def toy_result(objectives, genuine_rows, generator_rows, copy=None, n=20):
    """A SuiteResult with every prompt's scores given: rows are per-objective columns repeated n times."""
    scores = {"genuine": np.tile(genuine_rows, (n, 1)).astype(float)}
    scores.update({g: np.tile(rows, (n, 1)).astype(float) for g, rows in generator_rows.items()})
    return SuiteResult(objectives=tuple(objectives), generators=tuple(generator_rows),
                       replies={k: [""] * n for k in scores}, scores=scores, copy_scores=copy or {})


def test_failures_list_every_missed_threshold():
    result = toy_result(("reflection", "empathy", "fluency"), [0.8, 0.5, 0.7],
                        {"echo": [0.9, 0.6, 0.9], "empty": [0.0, 0.1, 0.0], "advice_appended": [0.9, 0.9, 0.9]},
                        copy={"fluency": {"echo": np.full(20, 0.5)}})
    assert result.failures() == [
        Failure("echo", "uniform", 0.0, 0.95), Failure("echo", "reflection", 0.0, 0.90),
        Failure("echo", "empathy", 0.0, 0.90), Failure("echo", "fluency", 0.0, 0.95, "no_copy_gain")]


def test_failures_skip_absent_objectives_and_pass_at_the_threshold():
    # conciseness has no threshold; only the uniform one applies. 19 of 20 prompts won = 0.95: passes.
    scores = toy_result(("conciseness",), [0.5], {"one_word": [0.4]})
    scores.scores["one_word"][0] = 0.9
    assert scores.shares()["one_word"] == {"conciseness": 0.95, "uniform": 0.95}
    assert scores.failures() == []
    scores.scores["one_word"][1] = 0.9
    assert scores.failures() == [Failure("one_word", "uniform", 0.9, 0.95)]
    assert scores.failures([Threshold("one_word", "conciseness", 0.5)]) == []


def test_thresholds_encode_the_issue():
    beats = {(t.generator, t.objective): t.min_share for t in THRESHOLDS if t.criterion == "beats"}
    assert all(beats[g, "uniform"] == 0.95 and beats[g, "reflection"] == 0.90 for g in GENERATORS
               if g != "advice_appended")
    assert not any(t.generator == "advice_appended" or t.objective == "conciseness" for t in THRESHOLDS)
    assert {g for g, o in beats if o == "empathy"} == {"rude_appended", "off_topic", "one_word", "empty", "echo",
                                                       "mismatched"}
    assert {g for g, o in beats if o == "fluency"} == {"repeated_sentence", "shuffled", "keyword_stuffing"}
    assert {t.generator for t in THRESHOLDS if t.criterion == "no_copy_gain"} == set(ECHO_GENERATORS)


def test_pooled_results_read_several_runs_as_one():
    first = run_suite({"length": by_length}, PROMPTS, GENUINE)
    longer = ["Work has become a place you dread, and the nights before it too.", "He was family; the house is quiet."]
    second = run_suite({"length": by_length}, ["I hate work.", "I miss him."], longer)
    pooled = pool_results([first, second])
    assert pooled.n_prompts == 4 and pooled.replies["genuine"] == GENUINE + longer
    np.testing.assert_array_equal(pooled.scores["echo"], np.concatenate([first.scores["echo"], second.scores["echo"]]))
    # echo: the genuine reply wins on 1 of 2 prompts in the first run and on both in the second (longer than the echo)
    assert first.shares()["echo"]["length"] == 0.5 and second.shares()["echo"]["length"] == 1.0
    assert pooled.shares()["echo"]["length"] == 0.75
    with pytest.raises(TypeError, match="`results` must be a non-empty list of SuiteResult; got SuiteResult"):
        pool_results(first)
    with pytest.raises(ValueError, match=r"`results\[1\]` must match results\[0\] in \(objectives, generators"):
        pool_results([first, run_suite({"length": by_length}, PROMPTS, GENUINE, generators=["echo"])])


def test_markdown_and_dict_reports():
    result = run_suite({"fluency": by_length}, PROMPTS, GENUINE)
    text = result.to_markdown()
    assert text.splitlines()[2] == ("| reply | wins fluency | wins uniform | mean fluency | mean uniform |")
    assert "| empty | 1.00 | 1.00 ✓ | 0.000 | 0.000 |" in text
    assert "| rude_appended | 0.00 | **0.00** ✗ (≥0.95) |" in text
    assert "| echo_pronouns |" in text.split("No gain from copying (fluency)")[1]
    assert text.endswith(f"Thresholds met: {21 - len(result.failures())} of 21.")
    record = json.loads(json.dumps(result.to_dict()))
    assert record["shares"]["empty"] == {"fluency": 1.0, "uniform": 1.0} and "examples" not in result.to_dict(examples=0)
    assert record["examples"]["empty"] == ["", ""] and len(record["scores"]["genuine"]) == 2


# ---------------------------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, message", [
    ({"genuine": GENUINE[:1]}, ValueError, "`genuine` must have one reply per prompt (2); got 1"),
    ({"prompts": PROMPTS[:1], "genuine": GENUINE[:1]}, ValueError,
     "`prompts` must hold at least 2 prompts (the `mismatched` generator pairs each with another); got 1"),
    ({"prompts": "I can't sleep."}, TypeError, "`prompts` must be a list of str; got str"),
    ({"genuine": [GENUINE[0], 3]}, TypeError, "`genuine[1]` must be a str; got int: 3"),
    ({"bank": "eval"}, TypeError, "`bank` must be a PhraseBank (e.g. EVAL_BANK); got str"),
    ({"seed": 1.5}, TypeError, "`seed` must be an int; got float: 1.5"),
    ({"generators": "echo"}, TypeError, "`generators` must be a list of generator names; got the str 'echo'"),
    ({"generators": ["ecko"]}, ValueError,
     f"unknown generator 'ecko': `generators` entries must be among {list(GENERATORS)}. Did you mean 'echo'?"),
    ({"scorers": {}}, TypeError, "`scorers` must be a non-empty mapping of objective name -> scorer; got {}"),
    ({"scorers": {"length": 3}}, TypeError, "`scorers` must map str names to callables; got 'length': int"),
    ({"scorers": {"uniform": by_length}}, ValueError,
     "`scorers` must not use the name 'uniform': it is the suite's name for the mean"),
    ({"scorers": {"bad": lambda p, r: np.zeros(3)}}, ValueError,
     "scorer 'bad' must return 32 finite scores, one per reply; got shape (3,)"),
    ({"scorers": {"nan": lambda p, r: np.full(len(r), np.nan)}}, ValueError,
     "scorer 'nan' must return 32 finite scores, one per reply; got shape (32,) with non-finite"),
])
def test_bad_input_errors(kwargs, error, message):
    arguments = {"scorers": {"length": by_length}, "prompts": PROMPTS, "genuine": GENUINE, **kwargs}
    with pytest.raises(error) as caught:
        run_suite(**arguments)
    assert str(caught.value) == message


# ---------------------------------------------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------------------------------------------

def test_pair_set_is_the_held_out_prompts_with_hq1(data_dir):
    from morl_core.pair_data import read_pair_rows
    from morl_envs.datasets import load_pair

    found = driver.pair_set(data_dir)
    split = {p.id: p.split for p in load_pair(data_dir).prompts}
    assert len(found.prompts) == 64 and {split[i] for i in found.prompt_ids} == {"validation", "test"}
    rows = read_pair_rows(data_dir)
    index = int(found.prompt_ids[0].removeprefix("pair-"))
    assert found.genuine[0] == rows[index][1].strip() and found.prompts[0] == rows[index][0].strip()


def test_pair2_set_is_the_same_prompts_with_hq2(data_dir):
    from morl_core.pair_data import read_pair_rows

    first, second = driver.pair_set(data_dir), driver.pair_set(data_dir, "pair2")
    assert second.name == "pair2" and second.prompt_ids == first.prompt_ids and second.prompts == first.prompts
    rows = read_pair_rows(data_dir)
    index = int(second.prompt_ids[0].removeprefix("pair-"))
    assert second.genuine[0] == rows[index][2].strip() and second.genuine != first.genuine
    assert second.source.endswith("hq2") and second.fingerprint != first.fingerprint
    with pytest.raises(ValueError, match=r"`name` must be one of \('pair', 'pair2'\); got 'pair3'"):
        driver.pair_set(data_dir, "pair3")


def test_counsel_set_reads_and_checks_the_reflections_file(tmp_path):
    from morl_envs.datasets import load_counsel

    assert driver.counsel_set(tmp_path / "absent.json") is None
    held = load_counsel().split("validation")[:2]
    path = tmp_path / "reflections.json"
    path.write_text(json.dumps({"reflections": [{"prompt_id": p.id, "split": p.split, "text": f" R{k} "}
                                                for k, p in enumerate(held)]}))
    found = driver.counsel_set(path)
    assert found.prompt_ids == tuple(p.id for p in held) and found.genuine == ("R0", "R1")
    assert found.source.endswith("with a written reflection (2 of 110)")
    path.write_text(json.dumps({"reflections": [{"prompt_id": held[0].id, "split": "test", "text": "R"}]}))
    with pytest.raises(ValueError, match=re.escape(f"reflections.json: reflections[0]['split'] must be "
                                                   f"'validation' (the split of {held[0].id}); got 'test'")):
        driver.counsel_set(path)
    path.write_text(json.dumps({"reflections": [{"prompt_id": "counsel-nope", "split": "test", "text": "R"}]}))
    with pytest.raises(ValueError, match=re.escape("reflections[0]['prompt_id'] must be an id of "
                                                   "counsel_prompts.json; got 'counsel-nope'")):
        driver.counsel_set(path)


def test_counsel_extra_set_reads_and_checks_its_file(tmp_path):
    assert driver.counsel_extra_set(tmp_path / "absent.json") is None
    path = tmp_path / "extra.json"
    pair = {"prompt_id": "x-1", "topic": "sleep", "prompt": " I can't sleep. ", "reflection": " Nights are long. "}
    path.write_text(json.dumps({"pairs": [pair, {**pair, "prompt_id": "x-2", "reflection": "R"}]}))
    found = driver.counsel_extra_set(path)
    assert found.name == "counsel_extra" and found.prompt_ids == ("x-1", "x-2")
    assert found.prompts == ("I can't sleep.",) * 2 and found.genuine == ("Nights are long.", "R")
    path.write_text(json.dumps({"pairs": [pair, pair]}))
    with pytest.raises(ValueError, match=re.escape("extra.json: pairs[1]['prompt_id'] must be unique; got 'x-1' twice")):
        driver.counsel_extra_set(path)
    path.write_text(json.dumps({"pairs": [{**pair, "reflection": "  "}]}))
    with pytest.raises(ValueError, match=re.escape("extra.json: pairs[0]['reflection'] must be a non-empty str")):
        driver.counsel_extra_set(path)
    path.write_text(json.dumps([pair]))
    with pytest.raises(ValueError, match="extra.json must hold .* got list without a 'pairs' list"):
        driver.counsel_extra_set(path)


def test_the_suite_only_statements_are_new_and_meet_another_client_of_their_topic():
    from morl_envs.datasets import load_counsel
    from reward_models.training_data import COUNSEL_EXTRA_FILES, COUNSEL_TRAIN_FILE, read_counsel_extra

    def runs(text: str, n: int = 6) -> set[tuple[str, ...]]:
        words = re.findall(r"[a-z']+", text.lower())
        return {tuple(words[k:k + n]) for k in range(len(words) - n + 1)}

    raw = json.loads(driver.COUNSEL_EXTRA_FILE.read_text(encoding="utf-8"))["pairs"]
    found = driver.counsel_extra_set()
    topics = Counter(entry["topic"] for entry in raw)
    assert len(raw) >= 220 and len(set(found.prompts)) == len(raw) and len(set(topics.values())) == 1
    assert set(topics) == {p.topic for p in load_counsel().prompts}
    assert all(raw[i]["topic"] == raw[j]["topic"] for i, j in enumerate(mismatch_partners(found.genuine)))
    known = [p.text for p in load_counsel().prompts]
    known += [r["text"] for r in json.loads(driver.COUNSEL_REFLECTIONS_FILE.read_text())["reflections"]]
    for path in (COUNSEL_TRAIN_FILE, COUNSEL_TRAIN_FILE.with_name("counsel_train_second.json")):
        known += [r["reflection"] for r in json.loads(path.read_text())["pairs"]]
    for path in COUNSEL_EXTRA_FILES:
        known += [t for texts in read_counsel_extra(path) for t in texts]
    known_runs = set().union(*(runs(t) for t in known))
    assert not any(runs(t) & known_runs for t in found.prompts + found.genuine)  # no shared run of six words


class ToyModel:
    """Stands in for a reward model in the driver test."""

    def __init__(self, name, score):
        self.name, self.score = name, score

    def __call__(self, prompts, replies):
        return np.array([self.score(p, r) for p, r in zip(prompts, replies)])

    def fingerprint(self):
        return f"toy-{self.name}"


def test_driver_reports_writes_json_and_checks(monkeypatch, tmp_path, data_dir, capsys):
    class ToyEnv:
        objectives = ("reflection", "conciseness")
        reward_models = (ToyModel("reflection", lambda p, r: len(r) / 2000),
                         ToyModel("conciseness", lambda p, r: float(0 < len(r.split()) <= 8)))
        unwrapped = property(lambda self: self)

    monkeypatch.setattr(driver, "make", lambda env_id, **kwargs: ToyEnv())
    monkeypatch.setattr(driver, "COUNSEL_REFLECTIONS_FILE", tmp_path / "absent.json")
    out = tmp_path / "out.json"
    args = ["--env", "morl/Counsel-v2", "--data-dir", str(data_dir), "--max-prompts", "4", "--out", str(out)]
    assert driver.main(args) == 0
    printed = capsys.readouterr()
    assert "skipping the counsel set: the written reflections (absent.json) are absent" in printed.err
    assert "## morl/Counsel-v2, pair set" in printed.out and "missed thresholds" in printed.out
    record = json.loads(out.read_text())
    assert list(record["sets"]) == ["pair"] and record["sets"]["pair"]["n_prompts"] == 4
    assert "examples" not in record["sets"]["pair"]  # PAIR's text is third-party: never written into results
    assert record["reward_model_fingerprints"] == {"reflection": "toy-reflection", "conciseness": "toy-conciseness"}
    assert driver.main([*args, "--check", "--markdown"]) == 1  # the length-loving toy reflection misses thresholds
    assert "| reply | wins reflection | wins conciseness | wins uniform |" in capsys.readouterr().out


def test_driver_all_runs_every_set_and_judges_on_the_pools(monkeypatch, tmp_path, data_dir, capsys):
    class ToyEnv:
        objectives = ("reflection",)
        reward_models = (ToyModel("reflection", lambda p, r: len(r) / 2000),)
        unwrapped = property(lambda self: self)

    monkeypatch.setattr(driver, "make", lambda env_id, **kwargs: ToyEnv())
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"pairs": [{"prompt_id": f"x-{k}", "topic": "sleep", "prompt": "I can't sleep.",
                                            "reflection": "Nights are long." * (k + 1)} for k in range(3)]}))
    monkeypatch.setattr(driver, "COUNSEL_EXTRA_FILE", extra)
    out = tmp_path / "out.json"
    args = ["--set", "all", "--data-dir", str(data_dir), "--max-prompts", "4", "--out", str(out)]
    assert driver.main(args) == 0
    printed = capsys.readouterr().out
    assert "## morl/Counsel-v2, pair_all (pooled: pair + pair2)" in printed
    record = json.loads(out.read_text())
    assert list(record["sets"]) == ["pair", "pair2", "counsel", "counsel_extra"]
    assert record["sets"]["counsel_extra"]["n_prompts"] == 3 and "examples" not in record["sets"]["pair2"]
    assert record["pools"]["pair_all"]["n_prompts"] == 8 and record["pools"]["counsel_all"]["n_prompts"] == 7
    assert record["pools"]["counsel_all"]["sets"] == ["counsel", "counsel_extra"]
    share = {name: record["sets"][name]["shares"]["echo"]["reflection"] for name in ("pair", "pair2")}
    assert record["pools"]["pair_all"]["shares"]["echo"]["reflection"] == (share["pair"] + share["pair2"]) / 2
    assert driver.main([*args, "--check"]) == 1  # the length-loving toy reflection misses thresholds on a pool


def test_driver_scores_with_retrained_weights_from_a_folder(tmp_path, data_dir):
    import torch

    from reward_models.heads import PairHead, save_heads

    with pytest.raises(SystemExit) as exit_info:
        driver.main(["--env", "morl/Counsel-v2", "--weights", str(tmp_path / "absent")])
    assert exit_info.value.code == 2
    torch.manual_seed(0)
    save_heads(tmp_path / "well_formed.safetensors", {"well_formed": PairHead(384, 128, 1)}, {"penalty_threshold": 0.2})
    assert driver.retrained_models(tmp_path, ("reflection", "conciseness")) == {}  # no file for reflection here
    models = driver.retrained_models(tmp_path, ("reflection", "empathy", "fluency"), device="cpu")
    assert list(models) == ["fluency"] and models["fluency"].form.path == tmp_path / "well_formed.safetensors"
    assert models["fluency"].form.threshold == 0.2


def test_weights_given_twice_are_averaged_per_objective(monkeypatch, tmp_path):
    scores = {"a": {"reflection": 0.2, "empathy": 0.9}, "b": {"reflection": 0.6}}
    monkeypatch.setattr(driver, "retrained_models", lambda folder, objectives, device=None: {
        name: ToyModel(f"{folder.name}-{name}", lambda p, r, v=value: v) for name, value in scores[folder.name].items()})
    models = driver.ensemble_models([tmp_path / "a", tmp_path / "b"], ("reflection", "empathy"))
    assert isinstance(models["reflection"], driver.MeanScorer) and isinstance(models["empathy"], ToyModel)
    np.testing.assert_allclose(models["reflection"](["p", "q"], ["r", "s"]), [0.4, 0.4])
    assert models["reflection"].fingerprint() == "mean(toy-a-reflection, toy-b-reflection)"
    with pytest.raises(ValueError, match="`models` must hold at least 2 models to average; got 1"):
        driver.MeanScorer([models["empathy"]])


# ---------------------------------------------------------------------------------------------------------------
# The shipped models (slow)
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_suite_on_the_shipped_models(data_dir):
    import reward_models

    found = driver.pair_set(data_dir)
    prompts, genuine = list(found.prompts[:4]), list(found.genuine[:4])
    scorers = {name: reward_models.load(name) for name in ("reflection", "empathy", "fluency", "conciseness")}
    result = run_suite(scorers, prompts, genuine)
    assert result.objectives == tuple(scorers) and result.generators == tuple(GENERATORS)
    for scores in result.scores.values():
        assert scores.shape == (4, 4) and np.all((scores >= 0) & (scores <= 1))
    assert np.all(result.scores["empty"][:, 2:] == 0)  # an empty reply has no fluency and no conciseness
    # batched scoring inside the suite equals scoring the genuine replies alone
    alone = scorers["reflection"](prompts, genuine)
    np.testing.assert_allclose(result.scores["genuine"][:, 0], alone, atol=1e-5)
    assert set(result.copy_shares()) == {"fluency"}
    assert "| echo |" in result.to_markdown()


# ---------------------------------------------------------------------------------------------------------------
# The thresholds on the shipped models: a fixed subset in the default run, the whole suite in the slow one
# ---------------------------------------------------------------------------------------------------------------

#: thresholds the shipped v2 models still miss on the whole suite (docs/robustness.md, "NOW: the v2 models"; issue
#: 12 stays open on them): the slow test fails if any other threshold is missed, if one of these starts to pass
#: (then remove it here), or if one of them falls below GAP_FLOOR
KNOWN_GAPS: dict[str, set[tuple[str, str]]] = {
    "pair": {("mismatched", "uniform"), ("rude_appended", "empathy")},
    "counsel": {("clause_echo", "uniform"), ("mismatched", "uniform"), ("mismatched", "reflection")},
    # the pools of `--set all` (pair + pair2, counsel + counsel_extra): the verdicts on 128 and 330 genuine replies
    "pair_all": {("mismatched", "uniform"), ("mismatched", "reflection"), ("mismatched", "empathy"),
                 ("rude_appended", "empathy")},
    "counsel_all": {("clause_echo", "uniform"), ("generic_sentence", "uniform"), ("generic_question", "uniform"),
                    ("mismatched", "uniform"), ("mismatched", "reflection")},
}
#: the least share a known gap may fall to (the v2 models' worst is 0.82): a gap that widens is a regression
GAP_FLOOR = 0.80
#: the fast subset: every FAST_STRIDE-th prompt of the Counsel set (the set runs topic by topic, so a stride keeps
#: all 11 topics in; its first 24 prompts are two topics) against the cheapest hacks. On 22 prompts a share moves in
#: steps of 0.045, so the subset allows FAST_MARGIN below each threshold (two prompts); the slow test below holds
#: the whole suite to the exact thresholds
FAST_STRIDE, FAST_MARGIN = 5, 0.1
FAST_GENERATORS = ("echo", "opener_echo", "generic_sentence", "repeated_sentence", "keyword_stuffing", "shuffled",
                   "one_word", "empty")


def _shipped_scorers():
    import reward_models

    return {name: reward_models.load(name) for name in ("reflection", "empathy", "fluency")}


def test_shipped_models_beat_the_cheapest_hacks_on_counsel_prompts():
    found = driver.counsel_set()
    result = run_suite(_shipped_scorers(), list(found.prompts[::FAST_STRIDE]), list(found.genuine[::FAST_STRIDE]),
                       generators=FAST_GENERATORS)
    known = KNOWN_GAPS["counsel"]
    assert [f for f in result.failures()
            if (f.generator, f.objective) not in known and f.share < f.threshold - FAST_MARGIN] == []
    assert all(f.share >= GAP_FLOOR - FAST_MARGIN for f in result.failures())


@pytest.fixture(scope="module")
def shipped_results(data_dir):
    """The whole suite on every genuine set, scored once by the shipped models and shared by the slow tests."""
    cache: dict = {}

    def result(name: str):
        if name not in cache:
            if name in driver.POOLS:
                cache[name] = pool_results([result(member) for member in driver.POOLS[name]])
            else:
                found = driver.genuine_set(name, data_dir)
                cache[name] = run_suite(_shipped_scorers(), list(found.prompts), list(found.genuine))
        return cache[name]

    return result


@pytest.mark.slow
@pytest.mark.parametrize("name", ["pair", "counsel", "pair_all", "counsel_all"])
def test_shipped_models_pass_the_whole_suite(name, shipped_results):
    result = shipped_results(name)
    missed = {(f.generator, f.objective) for f in result.failures()}
    assert missed == KNOWN_GAPS[name], result.to_markdown()
    assert all(f.share >= GAP_FLOOR for f in result.failures()), result.to_markdown()
