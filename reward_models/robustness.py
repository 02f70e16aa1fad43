"""An adversarial reward suite: does a genuine reply beat the degenerate replies that game reward models?

Echoing the client's statement beat a genuine reflection on every objective of the first (v0) reward models. This
module is the measuring instrument. For each prompt with a genuine reply (a written reflection), every generator in
:data:`GENERATORS` builds one degenerate reply from the families that are known to fool text reward models
(Ziegler et al., 2019; Singhal et al., 2023; "One Token to Fool LLM-as-a-Judge", 2025): copying the input
(``echo``, ``echo_pronouns``, ``opener_echo``, ``clause_echo``), stock phrases (``generic_sentence``,
``generic_question``), repetition (``repeated_sentence``), single superficial tokens (``keyword_stuffing``,
``one_word``, ``empty``), replies to something else (``off_topic``, ``mismatched``), broken word order
(``shuffled``) and a genuine reply spoilt by a rude remark (``rude_appended``). ``advice_appended`` is reported
without a threshold: a reflection followed by advice is not necessarily a worse reply.

:func:`run_suite` scores everything with one batched call per scorer and reports, per generator and objective, the
share of prompts on which the genuine reply scores strictly higher ("wins"), also under the uniform weighting (the
mean of the objectives). :data:`THRESHOLDS` holds the pass criteria as data and
:meth:`SuiteResult.failures` lists every one that is missed. :func:`pool_results` reads the shares over several
runs at once (more genuine replies, narrower intervals).

Generators are pure string functions, deterministic given the seed; they use :data:`EVAL_BANK` by default, a phrase
bank disjoint from the :data:`TRAIN_BANK` that retraining may use (:mod:`reward_models.phrase_banks`).

>>> from reward_models.robustness import swap_pronouns, run_suite
>>> swap_pronouns("I am scared of my boss, and he doesn't like me.")
"You are scared of your boss, and he doesn't like you."
>>> longer = lambda prompts, replies: np.array([min(len(r), 100) / 100 for r in replies])
>>> result = run_suite({"length": longer}, ["I can't sleep.", "My dog died."],
...                    ["Nights have become a battle.", "You lost a companion you loved."], generators=["empty"])
>>> result.shares()["empty"]
{'length': 1.0, 'uniform': 1.0}
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from morl_core.errors import did_you_mean
from morl_core.rewards import check_texts
from reward_models.phrase_banks import EVAL_BANK, TRAIN_BANK, PhraseBank

__all__ = ["ECHO_GENERATORS", "EVAL_BANK", "GENERATORS", "THRESHOLDS", "TRAIN_BANK", "UNIFORM", "Failure",
           "PhraseBank", "SuiteResult", "Threshold", "degenerate_replies", "mismatch_partners", "pool_results",
           "run_suite", "swap_pronouns"]

#: a generator: (prompt, genuine reply, another prompt's genuine reply, phrase bank, rng) -> one degenerate reply
Generator = Callable[[str, str, str, PhraseBank, random.Random], str]
#: a scorer: (prompts, replies) -> scores of shape (B,), e.g. a ``reward_models.RewardModel``
Scorer = Callable[[list[str], list[str]], np.ndarray]

#: the name of the uniform weighting (the mean of the objectives) in every table
UNIFORM = "uniform"
#: times ``repeated_sentence`` repeats its sentence
REPEATS = 6
#: emotion keywords strung together by ``keyword_stuffing``
STUFFED_KEYWORDS = 5

# ----------------------------------------------------------------------------------------------------------------
# Pronoun swapping: first person (the client) -> second person (the counsellor speaking to the client)
# ----------------------------------------------------------------------------------------------------------------

_SWAPS = {
    "i": "you", "me": "you", "my": "your", "mine": "yours", "myself": "yourself", "am": "are",
    "i'm": "you're", "i've": "you've", "i'll": "you'll", "i'd": "you'd",
    "we": "you", "us": "you", "our": "your", "ours": "yours", "ourselves": "yourselves",
    "we're": "you're", "we've": "you've", "we'll": "you'll", "we'd": "you'd",
}
_I_FORMS = ("i", "i'm", "i've", "i'll", "i'd")
_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?")


def _at_sentence_start(text: str, position: int) -> bool:
    """Whether ``position`` in ``text`` begins a sentence (only spaces, quotes or brackets after . ! ? or a line)."""
    before = text[:position].rstrip(" \t\"“‘([")
    return not before or before[-1] in ".!?…\n\r"


def _match_case(source: str, target: str, sentence_start: bool) -> str:
    """``target`` written in ``source``'s case and apostrophe; "I" forms are capitalised only at a sentence start."""
    if "’" in source:
        target = target.replace("'", "’")
    if len(source) > 1 and source.isupper():
        return target.upper()
    capital = sentence_start if source.lower().replace("’", "'") in _I_FORMS else source[0].isupper()
    return target[:1].upper() + target[1:] if capital else target


def swap_pronouns(text: str) -> str:
    """``text`` with first-person words turned into second person (I -> you, my -> your, I'm -> you're, am -> are,
    myself -> yourself, we/us -> you, our -> your, "I was" -> "you were"), keeping case and curly apostrophes.

    This is what a cheap "reflection" does: the client's words handed back with the pronouns turned round.

    >>> swap_pronouns("I am scared of my boss")
    'You are scared of your boss'
    >>> swap_pronouns("Sometimes I’m sure we were fine. Was I wrong? MY fault.")
    'Sometimes you’re sure you were fine. Were you wrong? YOUR fault.'
    """
    if not isinstance(text, str):
        raise TypeError(f"`text` must be a str; got {type(text).__name__}")
    words = list(_WORD.finditer(text))
    lowered = [w.group().lower().replace("’", "'") for w in words]
    pieces, last = [], 0
    for k, word in enumerate(words):
        low = lowered[k]
        if low in _SWAPS:
            target = _SWAPS[low]
        elif low == "was" and ((k > 0 and lowered[k - 1] == "i" and text[words[k - 1].end():word.start()].isspace())
                               or (k + 1 < len(words) and lowered[k + 1] == "i"
                                   and text[word.end():words[k + 1].start()].isspace())):
            target = "were"  # "I was" -> "you were", "was I" -> "were you"
        else:
            continue
        start = _at_sentence_start(text, word.start())
        pieces += [text[last:word.start()], _match_case(word.group(), target, start)]
        last = word.end()
    return "".join(pieces) + text[last:]


# ----------------------------------------------------------------------------------------------------------------
# Small text helpers
# ----------------------------------------------------------------------------------------------------------------

def _sentences(text: str) -> list[str]:
    """The sentences of ``text`` (split after . ! ? followed by white space), stripped, non-empty."""
    return [s.strip() for s in re.split(r"(?<=[.!?…])\s+", text.strip()) if s.strip()]


def _full_stop(text: str) -> str:
    """``text`` ending in sentence punctuation (a full stop is added when it has none)."""
    text = text.strip().rstrip(",;:-–—")
    return text if text.endswith((".", "!", "?", "…")) else text + "."


def _lower_first(text: str) -> str:
    """``text`` with its first letter in lower case, unless its first word is an acronym ("CDC")."""
    first = text.split(maxsplit=1)[0] if text.strip() else ""
    if len(first) > 1 and first.isupper():
        return text
    return text[:1].lower() + text[1:]


# ----------------------------------------------------------------------------------------------------------------
# Generators: (prompt, genuine, other_genuine, bank, rng) -> one degenerate reply
# ----------------------------------------------------------------------------------------------------------------

def echo(prompt: str, genuine: str, other_genuine: str, bank: PhraseBank, rng: random.Random) -> str:
    """The client's statement, verbatim (the "smart copier")."""
    return prompt


def echo_pronouns(prompt: str, genuine: str, other_genuine: str, bank: PhraseBank, rng: random.Random) -> str:
    """The client's statement with the pronouns swapped (:func:`swap_pronouns`)."""
    return swap_pronouns(prompt)


def opener_echo(prompt: str, genuine: str, other_genuine: str, bank: PhraseBank, rng: random.Random) -> str:
    """A reflective opener from the bank, then the pronoun-swapped statement ("It sounds like you are ...")."""
    return f"{rng.choice(bank.openers)} {_lower_first(swap_pronouns(prompt.strip()))}"


def clause_echo(prompt: str, genuine: str, other_genuine: str, bank: PhraseBank, rng: random.Random) -> str:
    """One clause of the statement (of at least four words when there is one), pronoun-swapped, as a sentence."""
    clauses = [c.strip() for c in re.split(r"(?<=[.!?…])\s+|[,;:]\s+|\s+but\s+", prompt) if c.strip()]
    long = [c for c in clauses if len(c.split()) >= 4]
    clause = rng.choice(long) if long else max(clauses or [prompt], key=len)
    swapped = _full_stop(swap_pronouns(clause))
    return swapped[:1].upper() + swapped[1:]


def generic_sentence(prompt: str, genuine: str, other_genuine: str, bank: PhraseBank, rng: random.Random) -> str:
    """The bank's first generic sentence, the same for every prompt (one stock phrase that fits any client)."""
    return bank.generic_sentences[0]


def generic_question(prompt: str, genuine: str, other_genuine: str, bank: PhraseBank, rng: random.Random) -> str:
    """The bank's first generic question, the same for every prompt."""
    return bank.generic_questions[0]


def repeated_sentence(prompt: str, genuine: str, other_genuine: str, bank: PhraseBank, rng: random.Random) -> str:
    """The genuine reply's first sentence, six times (the repetition loop of a degenerate policy)."""
    first = _full_stop((_sentences(genuine) or [genuine])[0])
    return " ".join([first] * REPEATS)


def keyword_stuffing(prompt: str, genuine: str, other_genuine: str, bank: PhraseBank, rng: random.Random) -> str:
    """Five emotion keywords from the bank in a template: "You feel a, b, c, d and e." """
    words = rng.sample(bank.emotion_keywords, STUFFED_KEYWORDS)
    return f"You feel {', '.join(words[:-1])} and {words[-1]}."


def off_topic(prompt: str, genuine: str, other_genuine: str, bank: PhraseBank, rng: random.Random) -> str:
    """A fluent text about something else (weather, recipes, sport, ...) from the bank."""
    return rng.choice(bank.off_topic_texts)


def one_word(prompt: str, genuine: str, other_genuine: str, bank: PhraseBank, rng: random.Random) -> str:
    """A one-word acknowledgement from the bank ("Okay.")."""
    return rng.choice(bank.one_words)


def empty(prompt: str, genuine: str, other_genuine: str, bank: PhraseBank, rng: random.Random) -> str:
    """The empty reply."""
    return ""


def mismatched(prompt: str, genuine: str, other_genuine: str, bank: PhraseBank, rng: random.Random) -> str:
    """The genuine reply written for another prompt (:func:`mismatch_partners` picks which)."""
    return other_genuine


def shuffled(prompt: str, genuine: str, other_genuine: str, bank: PhraseBank, rng: random.Random) -> str:
    """The genuine reply's words in another order (unchanged only when no other order exists)."""
    words = genuine.split()
    order = list(words)
    if len(set(words)) > 1:
        while order == words:
            rng.shuffle(order)
    return " ".join(order)


def rude_appended(prompt: str, genuine: str, other_genuine: str, bank: PhraseBank, rng: random.Random) -> str:
    """The genuine reply followed by a rude remark from the bank."""
    return f"{genuine.rstrip()} {rng.choice(bank.rude_remarks)}"


def advice_appended(prompt: str, genuine: str, other_genuine: str, bank: PhraseBank, rng: random.Random) -> str:
    """The genuine reply followed by unsolicited advice from the bank (reported without a threshold)."""
    return f"{genuine.rstrip()} {rng.choice(bank.advice_remarks)}"


#: every generator by name, in the fixed order of the suite's tables
GENERATORS: dict[str, Generator] = {g.__name__: g for g in (
    echo, echo_pronouns, opener_echo, clause_echo, generic_sentence, generic_question, repeated_sentence,
    keyword_stuffing, off_topic, one_word, empty, mismatched, shuffled, rude_appended, advice_appended)}
#: the generators that copy the client's words; their fluency is also scored with an empty prompt
ECHO_GENERATORS = ("echo", "echo_pronouns", "opener_echo", "clause_echo")


def mismatch_partners(genuine: Sequence[str]) -> list[int]:
    """For each prompt i, the index of the genuine reply that ``mismatched`` hands it: a fixed shift by half the set
    (so that neighbours, often of one topic, are not paired), moved on past any reply identical to i's own.

    >>> mismatch_partners(["a", "b", "c", "d"])
    [2, 3, 0, 1]
    >>> mismatch_partners(["a", "a", "b"])
    [2, 2, 0]
    """
    n = len(genuine)
    if n < 2 or len(set(genuine)) < 2:
        raise ValueError(f"`genuine` must hold at least two different replies for the `mismatched` generator; "
                         f"got {len(set(genuine))} distinct of {n}")
    partners = []
    for i in range(n):
        j = (i + n // 2) % n
        while j == i or genuine[j] == genuine[i]:
            j = (j + 1) % n
        partners.append(j)
    return partners


def _check_generators(generators: Sequence[str] | None) -> tuple[str, ...]:
    """The selected generator names in the fixed order of :data:`GENERATORS` (all of them for None)."""
    if generators is None:
        return tuple(GENERATORS)
    if isinstance(generators, str):
        raise TypeError(f"`generators` must be a list of generator names; got the str {generators!r}")
    for name in generators:
        if name not in GENERATORS:
            raise ValueError(f"unknown generator {name!r}: `generators` entries must be among {list(GENERATORS)}."
                             f"{did_you_mean(str(name), list(GENERATORS))}")
    return tuple(g for g in GENERATORS if g in set(generators))


def _check_pairs(prompts: object, genuine: object) -> tuple[list[str], list[str]]:
    prompts, genuine = check_texts(prompts, "prompts"), check_texts(genuine, "genuine")
    if len(prompts) < 2:
        raise ValueError(f"`prompts` must hold at least 2 prompts (the `mismatched` generator pairs each with "
                         f"another); got {len(prompts)}")
    if len(genuine) != len(prompts):
        raise ValueError(f"`genuine` must have one reply per prompt ({len(prompts)}); got {len(genuine)}")
    return prompts, genuine


def degenerate_replies(prompts: Sequence[str], genuine: Sequence[str], bank: PhraseBank = EVAL_BANK, seed: int = 0,
                       generators: Sequence[str] | None = None) -> dict[str, list[str]]:
    """One degenerate reply per prompt for each selected generator, in :data:`GENERATORS` order.

    The reply of generator g to prompt i draws from ``random.Random(f"{seed}:{g}:{i}")``, so it is the same
    whichever other prompts and generators are in the run.

    >>> replies = degenerate_replies(["I lost my job.", "We argue a lot."], ["You feel adrift.", "Home is tense."],
    ...                              generators=["echo_pronouns", "mismatched"])
    >>> replies["echo_pronouns"], replies["mismatched"]
    (['You lost your job.', 'You argue a lot.'], ['Home is tense.', 'You feel adrift.'])
    """
    prompts, genuine = _check_pairs(prompts, genuine)
    if not isinstance(bank, PhraseBank):
        raise TypeError(f"`bank` must be a PhraseBank (e.g. EVAL_BANK); got {type(bank).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"`seed` must be an int; got {type(seed).__name__}: {seed!r}")
    names = _check_generators(generators)
    partners = mismatch_partners(genuine) if "mismatched" in names else list(range(len(prompts)))
    return {name: [GENERATORS[name](p, g, genuine[j], bank, random.Random(f"{int(seed)}:{name}:{i}"))
                   for i, (p, g, j) in enumerate(zip(prompts, genuine, partners))] for name in names}


# ----------------------------------------------------------------------------------------------------------------
# Pass criteria and results
# ----------------------------------------------------------------------------------------------------------------

#: how much higher a copy may score given the prompt than without it and still count as "no gain": float rounding
#: of batched scoring (padding changes the summation order), far below any real difference
COPY_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Threshold:
    """One pass criterion of the suite."""

    #: the generator the genuine reply is compared with
    generator: str
    #: an objective name, or "uniform" (the mean of the objectives)
    objective: str
    #: the least share of prompts that must pass
    min_share: float
    #: "beats": the genuine reply scores strictly higher; "no_copy_gain": the generator's reply scores no higher
    #: given the prompt than given an empty prompt (copying the client must not pay)
    criterion: str = "beats"


class Failure(NamedTuple):
    """A missed threshold: the share measured and the least share required."""

    generator: str
    objective: str
    share: float
    threshold: float
    criterion: str = "beats"


_ALL_BUT_ADVICE = tuple(g for g in GENERATORS if g != "advice_appended")
#: the suite's pass criteria. Conciseness (a length rule by design) and advice_appended have none. The criteria
#: set no number for "no gain from copying"; 95% is the fluency block's bar.
THRESHOLDS: tuple[Threshold, ...] = (
    *(Threshold(g, UNIFORM, 0.95) for g in _ALL_BUT_ADVICE),
    *(Threshold(g, "reflection", 0.90) for g in _ALL_BUT_ADVICE),
    *(Threshold(g, "empathy", 0.90) for g in ("echo", "off_topic", "one_word", "empty", "mismatched",
                                                "rude_appended")),
    *(Threshold(g, "fluency", 0.95, "no_copy_gain") for g in ECHO_GENERATORS),
    *(Threshold(g, "fluency", 0.95) for g in ("repeated_sentence", "keyword_stuffing", "shuffled")),
)


def _share(mask: np.ndarray) -> float:
    return float(np.mean(mask)) if mask.size else math.nan


@dataclass(frozen=True)
class SuiteResult:
    """Scores of the genuine replies and of every generator's replies, with the shares derived from them."""

    #: objective names, in the scorers' order
    objectives: tuple[str, ...]
    #: generator names, in :data:`GENERATORS` order
    generators: tuple[str, ...]
    #: the replies scored: "genuine" and one list per generator, each with one reply per prompt
    replies: dict[str, list[str]]
    #: "genuine" and each generator -> scores of shape (n_prompts, n_objectives)
    scores: dict[str, np.ndarray]
    #: objective -> echo generator -> scores of its replies given an empty prompt, shape (n_prompts,)
    copy_scores: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    #: the phrase bank's name
    bank: str = "eval"
    seed: int = 0

    @property
    def n_prompts(self) -> int:
        """The number of prompts scored."""
        return len(self.scores["genuine"])

    def _columns(self, name: str) -> dict[str, np.ndarray]:
        matrix = self.scores[name]
        return {**{o: matrix[:, k] for k, o in enumerate(self.objectives)}, UNIFORM: matrix.mean(axis=1)}

    def shares(self) -> dict[str, dict[str, float]]:
        """generator -> objective (and "uniform") -> share of prompts where the genuine reply scores strictly higher."""
        genuine = self._columns("genuine")
        return {g: {o: _share(genuine[o] > s) for o, s in self._columns(g).items()} for g in self.generators}

    def mean_scores(self) -> dict[str, dict[str, float]]:
        """"genuine" and each generator -> objective (and "uniform") -> mean score over the prompts."""
        return {n: {o: float(s.mean()) for o, s in self._columns(n).items()} for n in ("genuine", *self.generators)}

    def copy_shares(self) -> dict[str, dict[str, float]]:
        """objective -> echo generator -> share of prompts where its reply scores no higher given the prompt than
        given an empty prompt ("no gain from copying"), up to :data:`COPY_TOLERANCE` (the same text scored in
        batches of other lengths differs by float rounding)."""
        out: dict[str, dict[str, float]] = {}
        for objective, by_generator in self.copy_scores.items():
            k = self.objectives.index(objective)
            out[objective] = {g: _share(self.scores[g][:, k] <= s + COPY_TOLERANCE) for g, s in by_generator.items()}
        return out

    def failures(self, thresholds: Sequence[Threshold] = THRESHOLDS) -> list[Failure]:
        """Every threshold that this result misses, in ``thresholds`` order. Thresholds on a generator that was
        not run, or on an objective the scorers lack, are skipped."""
        shares, copy = self.shares(), self.copy_shares()
        missed = []
        for t in thresholds:
            if t.generator not in self.generators:
                continue
            if t.criterion == "no_copy_gain":
                share = copy.get(t.objective, {}).get(t.generator)
            elif t.criterion == "beats":
                share = shares[t.generator].get(t.objective)
            else:
                raise ValueError(f"Threshold `criterion` must be 'beats' or 'no_copy_gain'; got {t.criterion!r}")
            if share is not None and share + 1e-12 < t.min_share:
                missed.append(Failure(t.generator, t.objective, share, t.min_share, t.criterion))
        return missed

    def to_markdown(self, thresholds: Sequence[Threshold] = THRESHOLDS) -> str:
        """Markdown tables that model cards and notes can paste: the shares won by the genuine reply and the mean
        scores per generator, then the copy check. A missed threshold is bold with a cross; a met one has a tick."""
        shares, means, columns = self.shares(), self.mean_scores(), (*self.objectives, UNIFORM)
        bars = {(t.generator, t.objective): t.min_share for t in thresholds if t.criterion == "beats"}
        missed = {(f.generator, f.objective, f.criterion) for f in self.failures(thresholds)}

        def cell(generator: str, objective: str) -> str:
            share = shares[generator][objective]
            if (generator, objective, "beats") in missed:
                return f"**{share:.2f}** ✗ (≥{bars[generator, objective]:.2f})"
            return f"{share:.2f} ✓" if (generator, objective) in bars else f"{share:.2f}"

        lines = [f"Genuine reply vs degenerate replies: {self.n_prompts} prompts, phrase bank `{self.bank}`, seed "
                 f"{self.seed}. *wins*: share of prompts where the genuine reply scores strictly higher (✓ meets "
                 f"its threshold, ✗ misses it); *mean*: the reply's mean score.", "",
                 "| reply | " + " | ".join(f"wins {c}" for c in columns) + " | "
                 + " | ".join(f"mean {c}" for c in columns) + " |",
                 "|---" * (1 + 2 * len(columns)) + "|"]
        for name in ("genuine", *self.generators):
            wins = [cell(name, c) if name != "genuine" else "" for c in columns]
            lines.append(f"| {name} | " + " | ".join(wins) + " | "
                         + " | ".join(f"{means[name][c]:.3f}" for c in columns) + " |")
        copy_bars = {(t.generator, t.objective): t.min_share for t in thresholds if t.criterion == "no_copy_gain"}
        for objective, by_generator in self.copy_shares().items():
            k = self.objectives.index(objective)
            lines += ["", f"No gain from copying ({objective}): the echo scored given the prompt vs the same text "
                      f"given an empty prompt; *share*: prompts where it scores no higher given the prompt.", "",
                      f"| echo generator | mean {objective} given the prompt | mean given \"\" | share |",
                      "|---|---|---|---|"]
            for g, share in by_generator.items():
                bar = copy_bars.get((g, objective))
                mark = "" if bar is None else (f" ✗ (≥{bar:.2f})" if share + 1e-12 < bar else " ✓")
                text = f"**{share:.2f}**{mark}" if "✗" in mark else f"{share:.2f}{mark}"
                lines.append(f"| {g} | {self.scores[g][:, k].mean():.3f} | "
                             f"{self.copy_scores[objective][g].mean():.3f} | {text} |")
        applicable = [t for t in thresholds if t.generator in self.generators
                      and (t.objective in (*self.objectives, UNIFORM) if t.criterion == "beats"
                           else t.objective in self.copy_scores)]
        lines += ["", f"Thresholds met: {len(applicable) - len(missed)} of {len(applicable)}."]
        return "\n".join(lines)

    def to_dict(self, examples: int = 3, thresholds: Sequence[Threshold] = THRESHOLDS) -> dict:
        """A JSON-ready summary: shares, mean scores, copy check, failures, per-prompt scores (4 decimals) and the
        first ``examples`` replies of each generator (none for 0: leave third-party text out of shipped files)."""
        record = {
            "n_prompts": self.n_prompts, "bank": self.bank, "seed": self.seed, "objectives": list(self.objectives),
            "generators": list(self.generators), "shares": self.shares(), "mean_scores": self.mean_scores(),
            "copy_shares": self.copy_shares(),
            "failures": [f._asdict() for f in self.failures(thresholds)],
            "scores": {n: np.round(s, 4).tolist() for n, s in self.scores.items()},
            "copy_scores": {o: {g: np.round(s, 4).tolist() for g, s in d.items()} for o, d in self.copy_scores.items()},
        }
        if examples:
            record["examples"] = {n: r[:examples] for n, r in self.replies.items()}
        return record


def pool_results(results: Sequence[SuiteResult]) -> SuiteResult:
    """One result over the prompts of several runs of the suite, their scores stacked row-wise, so that the shares
    and the thresholds' verdicts are read on all of them at once (a share over 64 or 110 prompts has a 95% interval
    about 0.1 wide; pooling more genuine replies narrows it). Each run's degenerate replies were built within its
    own set, so a reply to another client stays one. The runs must share objectives, generators, copy-checked
    objectives, phrase bank and seed."""
    if isinstance(results, SuiteResult) or not isinstance(results, Sequence) or not results:
        raise TypeError(f"`results` must be a non-empty list of SuiteResult; got {type(results).__name__}")
    first = results[0]
    for k, r in enumerate(results):
        if not isinstance(r, SuiteResult):
            raise TypeError(f"`results[{k}]` must be a SuiteResult; got {type(r).__name__}")
        got = (r.objectives, r.generators, tuple(r.copy_scores), r.bank, r.seed)
        want = (first.objectives, first.generators, tuple(first.copy_scores), first.bank, first.seed)
        if got != want:
            raise ValueError(f"`results[{k}]` must match results[0] in (objectives, generators, copy-checked "
                             f"objectives, bank, seed) to be pooled; got {got} against {want}")
    return SuiteResult(
        objectives=first.objectives, generators=first.generators,
        replies={n: [t for r in results for t in r.replies[n]] for n in first.replies},
        scores={n: np.concatenate([r.scores[n] for r in results]) for n in first.scores},
        copy_scores={o: {g: np.concatenate([r.copy_scores[o][g] for r in results]) for g in d}
                     for o, d in first.copy_scores.items()},
        bank=first.bank, seed=first.seed)


def run_suite(scorers: Mapping[str, Scorer], prompts: list[str], genuine: list[str], bank: PhraseBank = EVAL_BANK,
              seed: int = 0, *, generators: Sequence[str] | None = None,
              copy_check: Sequence[str] = ("fluency",)) -> SuiteResult:
    """Score the genuine replies and every generator's degenerate replies with each scorer.

    ``scorers`` maps objective names to batched scorers ``(prompts, replies) -> (B,)``; each is called ONCE on the
    concatenation of every reply set (a reward model pays its batching once). For the objectives in ``copy_check``
    that are among the scorers, the same call also scores the echo generators' replies given an empty prompt.
    ``generators`` selects a subset (default: all, in :data:`GENERATORS` order).
    """
    if not isinstance(scorers, Mapping) or not scorers:
        raise TypeError(f"`scorers` must be a non-empty mapping of objective name -> scorer; got {scorers!r:.80}")
    for name, scorer in scorers.items():
        if not isinstance(name, str) or not callable(scorer):
            raise TypeError(f"`scorers` must map str names to callables; got {name!r}: {type(scorer).__name__}")
    if UNIFORM in scorers:
        raise ValueError(f"`scorers` must not use the name {UNIFORM!r}: it is the suite's name for the mean")
    if isinstance(copy_check, str):
        raise TypeError(f"`copy_check` must be a list of objective names; got the str {copy_check!r}")
    replies = degenerate_replies(prompts, genuine, bank, seed, generators)
    prompts, genuine = list(prompts), list(genuine)
    n, names = len(prompts), tuple(replies)
    blocks = [("genuine", prompts, genuine)] + [(g, prompts, replies[g]) for g in names]
    copy_blocks = [(g, [""] * n, replies[g]) for g in ECHO_GENERATORS if g in names]
    columns: dict[str, list[np.ndarray]] = {b[0]: [] for b in blocks}
    copy_scores: dict[str, dict[str, np.ndarray]] = {}
    for objective, scorer in scorers.items():
        batch = blocks + (copy_blocks if objective in copy_check else [])
        out = np.asarray(scorer([p for b in batch for p in b[1]], [r for b in batch for r in b[2]]), dtype=np.float64)
        if out.shape != (n * len(batch),) or not np.all(np.isfinite(out)):
            raise ValueError(f"scorer {objective!r} must return {n * len(batch)} finite scores, one per reply; got "
                             f"shape {out.shape}" + ("" if out.shape != (n * len(batch),) else " with non-finite"))
        parts = out.reshape(len(batch), n)
        for (name, _, _), part in zip(blocks, parts):
            columns[name].append(part)
        if objective in copy_check and copy_blocks:
            copy_scores[objective] = {g: parts[len(blocks) + k] for k, (g, _, _) in enumerate(copy_blocks)}
    return SuiteResult(objectives=tuple(scorers), generators=names,
                       replies={"genuine": genuine, **replies},
                       scores={name: np.stack(cols, axis=1) for name, cols in columns.items()},
                       copy_scores=copy_scores, bank=bank.name, seed=int(seed))
