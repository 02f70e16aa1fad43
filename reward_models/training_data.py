"""The training sets of the reflection and empathy heads: graded human replies plus hard negatives.

Sources, all read from a path (third-party data is never copied into the package):

- PAIR (Min et al., 2022), ``pair/pair.csv``: per prompt 2 complex reflections (level 2), 1 simple (1), 5
  non-reflections (0). Its held-out prompts (:func:`held_out_groups`: a seeded fifth) never enter training; they are
  the test split of ``morl/PAIR-v2`` and the PAIR set of the adversarial suite.
- EPITOME (Sharma et al., 2020), ``epitome/*-reddit.csv``: 3-level labels of three empathy mechanisms; a fifth of
  the seeker posts is held out.
- The project's own 220 training statements with a written complex reflection (``reward_models/data/
  counsel_train_pairs.json``, CC0), and a second reflection of each that restates it in other words
  (``counsel_train_second.json``, CC0; used when a recipe asks for two per statement, as PAIR has two per prompt).
  The validation and test statements and their reflections never enter training. A recipe may add 220 or 440 extra
  statements written for training only (``counsel_train_extra.json`` and ``counsel_train_extra2.json``, CC0: each
  the same 11 topics and 11 others, two reflections each; no environment serves them).
- Hard negatives (:func:`hard_negatives`): the degenerate replies of the adversarial suite
  (``reward_models.robustness``) built on the *training* prompts from the *training* phrase bank only, so the suite,
  which uses held-out prompts and a disjoint phrase bank, measures generalisation rather than memorised phrases.

Labels of the negatives: a reflection target of 0 (a copy, a stock phrase, a loop, a reply to another client or a
reflection spoilt by a rude remark is not a complex reflection) and empathy level 0 on every mechanism. The written
and PAIR complex reflections carry empathy labels on one mechanism only: level 2 of *interpretations*, EPITOME's
"communicates an understanding of the seeker's feelings and experiences ... specific" (the other two mechanisms are
left unlabelled, masked out of the loss).
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from morl_core.pair_data import PAIR_LEVELS, read_pair_rows
from reward_models.encoder import shared_encoder
from reward_models.phrase_banks import PhraseBank
from reward_models.robustness import GENERATORS, TRAIN_BANK, degenerate_replies
from reward_models.text_features import plain_punctuation

__all__ = ["COUNSEL_EXTRA_FILE", "COUNSEL_EXTRA_FILES", "COUNSEL_SECOND_FILE", "COUNSEL_TRAIN_FILE",
           "EPITOME_MECHANISMS", "MASKED", "ReplySet", "counsel_training", "empathy_set", "hard_negatives",
           "held_out_groups", "held_out_responses",
           "read_counsel_extra", "read_counsel_pairs", "read_counsel_second", "read_epitome", "reflection_set",
           "training_replies"]

EPITOME_MECHANISMS = ("emotional-reactions", "interpretations", "explorations")
COUNSEL_TRAIN_FILE = Path(__file__).resolve().parent / "data" / "counsel_train_pairs.json"
COUNSEL_SECOND_FILE = COUNSEL_TRAIN_FILE.with_name("counsel_train_second.json")
COUNSEL_EXTRA_FILE = COUNSEL_TRAIN_FILE.with_name("counsel_train_extra.json")
#: the files of extra training statements, in the order a recipe adds them (``counsel_training``'s ``extra``)
COUNSEL_EXTRA_FILES = (COUNSEL_EXTRA_FILE, COUNSEL_TRAIN_FILE.with_name("counsel_train_extra2.json"))
HELD_OUT_FRACTION = 0.2
SEED = 0
MASKED = -1  # an empathy label left out of the loss
#: reflection negatives written for another prompt, per genuine reply, on top of the suite generator's one: telling
#: a reflection of this client from one of another client is the hardest family, so it gets the most examples
EXTRA_MISMATCHED = 6
#: the suite's generators that make negatives ("advice_appended" has no threshold: a reflection plus advice is not
#: necessarily a worse reply, so it is no negative either)
NEGATIVE_GENERATORS = tuple(g for g in GENERATORS if g != "advice_appended")
#: the generators whose replies are empathy negatives (the families the suite's empathy thresholds name, plus the
#: other copies of the client's words)
EMPATHY_NEGATIVES = ("echo", "echo_pronouns", "opener_echo", "one_word", "empty", "off_topic", "rude_appended",
                     "mismatched")


@dataclass
class ReplySet:
    """(prompt, reply) pairs with their targets: ``targets`` (n,) reflection in [0, 1], or (n, 3) empathy levels
    (``MASKED`` where unlabelled); ``groups`` ties the replies to one prompt together (for ranking losses);
    ``owners`` gives, for a reply written for another prompt, the row of that same reply with its own prompt (-1
    for every other row), so a loss can compare one reply under two prompts; ``bases`` gives, for a genuine reply
    spoilt by a rude ending, the row of that genuine reply (same prompt and group; -1 for every other row), so a loss
    can compare one reply with and without the ending."""

    prompts: list[str] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    targets: list = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    owners: list[int] = field(default_factory=list)
    bases: list[int] = field(default_factory=list)

    def add(self, prompts: list[str], replies: list[str], target: object, groups: list[int], kind: str,
            owners: list[int] | None = None, bases: list[int] | None = None) -> list[int]:
        """Append pairs that share one target and one kind (``owners``, ``bases``: see the class docstring); returns
        their row indices."""
        start = len(self.prompts)
        self.prompts += prompts
        self.replies += replies
        self.targets += [target] * len(prompts)
        self.groups += groups
        self.kinds += [kind] * len(prompts)
        self.owners += owners if owners is not None else [-1] * len(prompts)
        self.bases += bases if bases is not None else [-1] * len(prompts)
        return list(range(start, len(self.prompts)))


def held_out_groups(n_groups: int) -> np.ndarray:
    """Sorted indices of the held-out groups: a seeded permutation's first fifth."""
    order = np.random.default_rng(SEED).permutation(n_groups)
    return np.sort(order[: int(round(HELD_OUT_FRACTION * n_groups))])


def read_counsel_pairs(path: Path = COUNSEL_TRAIN_FILE) -> tuple[list[str], list[str]]:
    """The project's training statements and their written reflections."""
    pairs = json.loads(path.read_text(encoding="utf-8"))["pairs"]
    return [p["prompt"] for p in pairs], [p["reflection"] for p in pairs]


def read_counsel_second(path: Path = COUNSEL_SECOND_FILE, first: Path = COUNSEL_TRAIN_FILE) -> list[str]:
    """The second written reflection of every training statement, in the order of :func:`read_counsel_pairs`
    (``first``); raises ValueError naming a statement of ``first`` that ``path`` lacks."""
    second = {p["prompt_id"]: p["reflection"] for p in json.loads(path.read_text(encoding="utf-8"))["pairs"]}
    ids = [p["prompt_id"] for p in json.loads(first.read_text(encoding="utf-8"))["pairs"]]
    missing = [i for i in ids if i not in second]
    if missing:
        raise ValueError(f"{path.name} must hold a second reflection of every statement of {first.name}; "
                         f"got none for {len(missing)}, e.g. {missing[0]!r}")
    return [second[i] for i in ids]


def read_counsel_extra(path: Path = COUNSEL_EXTRA_FILE) -> tuple[list[str], list[str], list[str]]:
    """The extra training statements (written for training only; no environment serves them) with their first and
    second written reflections."""
    pairs = json.loads(path.read_text(encoding="utf-8"))["pairs"]
    return [p["prompt"] for p in pairs], [p["reflection"] for p in pairs], [p["second"] for p in pairs]


def counsel_training(counsel_reflections: int = 1,
                     extra: int = 0) -> tuple[list[str], list[str], list[str] | None]:
    """The written training statements, their first reflections and, with ``counsel_reflections`` 2, their second
    ones (else None); ``extra``: how many of :data:`COUNSEL_EXTRA_FILES` to append (:func:`read_counsel_extra`)."""
    prompts, first = read_counsel_pairs()
    second = read_counsel_second() if counsel_reflections == 2 else None
    for path in COUNSEL_EXTRA_FILES[:int(extra)]:
        more, more_first, more_second = read_counsel_extra(path)
        prompts, first = prompts + more, first + more_first
        second = None if second is None else second + more_second
    return prompts, first, second


def hard_negatives(prompts: list[str], genuine: list[str], seed: int,
                   generators: tuple[str, ...] = NEGATIVE_GENERATORS,
                   bank: PhraseBank = TRAIN_BANK) -> dict[str, list[str]]:
    """The suite's degenerate replies to ``prompts`` from a training phrase bank (``bank``: :data:`TRAIN_BANK`, or
    it with more rude remarks); the stock sentence and question are drawn from the whole bank per prompt (the suite
    uses one fixed phrase for every prompt)."""
    out = degenerate_replies(prompts, genuine, bank=bank, seed=seed, generators=generators)
    rng = random.Random(seed)
    for name, pool in (("generic_sentence", bank.generic_sentences),
                       ("generic_question", bank.generic_questions)):
        if name in out:
            out[name] = [rng.choice(pool) for _ in prompts]
    return out


def _pair_training_rows(data_dir: Path) -> tuple[list[list[str]], list[int]]:
    rows = read_pair_rows(data_dir)
    held = set(held_out_groups(len(rows)).tolist())
    return rows, [i for i in range(len(rows)) if i not in held]


def reflection_set(data_dir: Path, nearest_mismatched: int = 0, counsel_reflections: int = 1,
                   counsel_extra: int = 0, bank: PhraseBank = TRAIN_BANK) -> ReplySet:
    """PAIR's graded training replies (target level / 2), the written Counsel reflections (1) and the hard negatives
    of both (0), two negatives per generator and prompt (built on each prompt's two genuine replies);
    ``nearest_mismatched``: how many of the extra mismatched replies come from similar prompts (see
    :func:`add_mismatched`; 0 in the shipped recipe); ``counsel_reflections``: 1 (both sets of a statement's
    negatives built on its one reflection) or 2 (the shipped recipe: its second reflection too,
    :func:`read_counsel_second`, carrying the second set); ``counsel_extra``: how many files of extra statements to add
    (:func:`counsel_training`); ``bank``: the training phrase bank of the negatives (:func:`hard_negatives`)."""
    data = ReplySet()
    rows, train = _pair_training_rows(data_dir)
    complex_rows: dict[int, list[int]] = {1: [], 2: []}  # per complex-reflection column: its row of each prompt
    for i in train:
        for column, level in enumerate(PAIR_LEVELS, start=1):
            added = data.add([rows[i][0]], [rows[i][column].strip()], level / 2, [i], f"pair-level-{level}")
            if column in complex_rows:
                complex_rows[column] += added
    prompts = [rows[i][0] for i in train]
    for seed, column in ((0, 1), (1, 2)):  # the negatives of each of the two complex reflections
        for name, replies in hard_negatives(prompts, [rows[i][column].strip() for i in train], seed,
                                            bank=bank).items():
            data.add(prompts, replies, 0.0, train, name, bases=_spoilt_bases(name, complex_rows[column]))
    counsel_prompts, written, second = counsel_training(counsel_reflections, counsel_extra)
    groups = [len(rows) + k for k in range(len(counsel_prompts))]
    columns = [(written, data.add(counsel_prompts, written, 1.0, groups, "counsel-written"))]
    if second is not None:
        columns.append((second, data.add(counsel_prompts, second, 1.0, groups, "counsel-written")))
    for seed in (0, 1):
        genuine, genuine_rows = columns[min(seed, len(columns) - 1)]
        for name, replies in hard_negatives(counsel_prompts, genuine, seed, bank=bank).items():
            data.add(counsel_prompts, replies, 0.0, groups, name, bases=_spoilt_bases(name, genuine_rows))
    add_mismatched(data, ("pair-level-2", "counsel-written"), EXTRA_MISMATCHED, seed=1, nearest=nearest_mismatched)
    return data


def _spoilt_bases(generator: str, genuine_rows: list[int]) -> list[int] | None:
    """The ``bases`` of a generator's negatives: the genuine rows they extend for ``rude_appended``, else None."""
    return genuine_rows if generator == "rude_appended" else None


def add_mismatched(data: ReplySet, genuine_kinds: tuple[str, ...], per_reply: int, seed: int,
                   target: object = 0.0, nearest: int = 0) -> None:
    """Append ``per_reply`` more "mismatched" negatives (``target``) for every reply of ``genuine_kinds``: genuine
    replies of other prompts drawn at random (the suite's own generator pairs each prompt with one fixed partner).
    With ``nearest`` > 0, that many of each reply's partners are instead drawn from the replies to the
    :data:`NEAR_POOL` prompts most like its own (:func:`similar_prompts`): a reflection of another client with the
    same worry is the hardest mismatch, and the one a random partner seldom is."""
    genuine = [i for i, kind in enumerate(data.kinds) if kind in genuine_kinds]
    rng = random.Random(seed)
    near = similar_prompts([data.prompts[i] for i in genuine], [data.groups[i] for i in genuine]) if nearest else None
    for k, i in enumerate(genuine):
        partners = [genuine[j] for j in rng.sample(near[k], min(nearest, len(near[k])))] if near else []
        drawn = [j for j in rng.sample(genuine, per_reply + 3 + len(partners))
                 if data.groups[j] != data.groups[i] and j not in partners]
        partners += drawn[:per_reply - len(partners)]
        data.add([data.prompts[i]] * len(partners), [data.replies[j] for j in partners], target,
                 [data.groups[i]] * len(partners), "mismatched", owners=partners)


#: how many of the most similar prompts a hard mismatch is drawn from, and the prompt similarity from which two
#: prompts count as one (a reply to a near-duplicate prompt may well fit it, so it is no negative)
NEAR_POOL, NEAR_DUPLICATE = 24, 0.9


def similar_prompts(prompts: list[str], groups: list[int]) -> list[list[int]]:
    """For each position, the positions of the :data:`NEAR_POOL` most similar prompts of other groups (cosine of
    the shared sentence encoder's embeddings, near-duplicates above :data:`NEAR_DUPLICATE` left out)."""
    embedded = shared_encoder(device="cpu").encode(prompts)  # L2-normalised, so the dot product is the cosine
    similarity = embedded @ embedded.T
    same = np.asarray(groups)[:, None] == np.asarray(groups)[None, :]
    similarity[same | (similarity > NEAR_DUPLICATE)] = -np.inf
    order = np.argsort(-similarity, axis=1, kind="stable")[:, :NEAR_POOL]
    return [[int(j) for j in row if np.isfinite(similarity[k, j])] for k, row in enumerate(order)]


def read_epitome(data_dir: Path) -> tuple[list[str], list[str], list[str], dict[str, np.ndarray]]:
    """EPITOME pairs (seeker id, seeker post, response) with one level array per mechanism, aligned by pair id."""
    levels: dict[str, dict[tuple[str, str], int]] = {}
    texts: dict[tuple[str, str], tuple[str, str]] = {}
    for mechanism in EPITOME_MECHANISMS:
        with open(data_dir / "epitome" / f"{mechanism}-reddit.csv", encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                key = (row["sp_id"], row["rp_id"])
                texts[key] = (row["seeker_post"], row["response_post"])
                levels.setdefault(mechanism, {})[key] = int(row["level"])
    keys = sorted(k for k in texts if all(k in levels[m] for m in EPITOME_MECHANISMS))
    return ([k[0] for k in keys], [texts[k][0] for k in keys], [texts[k][1] for k in keys],
            {m: np.array([levels[m][k] for k in keys]) for m in EPITOME_MECHANISMS})


def epitome_held_out(seekers: list[str]) -> np.ndarray:
    """Boolean mask (n,) of the EPITOME pairs whose seeker is held out (a seeded fifth of the seekers)."""
    unique = sorted(set(seekers))
    held = {unique[i] for i in held_out_groups(len(unique))}
    return np.array([s in held for s in seekers])


def training_replies(data_dir: Path) -> list[str]:
    """Every human reply of the training parts: PAIR's eight replies per training prompt and EPITOME's responses to
    training seeker posts (non-empty, stripped)."""
    rows, train = _pair_training_rows(data_dir)
    replies = [rows[i][column].strip() for i in train for column in range(1, len(PAIR_LEVELS) + 1)]
    seekers, _, responses, _ = read_epitome(data_dir)
    replies += [r.strip() for r, held in zip(responses, epitome_held_out(seekers)) if not held]
    return [r for r in replies if r]


def held_out_responses(data_dir: Path) -> list[str]:
    """EPITOME's responses to held-out seeker posts (non-empty, stripped, punctuation made plain) that are not also
    training replies (EPITOME repeats some texts under several seekers): human replies no head trains on, where the
    fluency penalty's threshold is fixed."""
    seekers, _, responses, _ = read_epitome(data_dir)
    seen = {plain_punctuation(r) for r in training_replies(data_dir)}
    held = [plain_punctuation(r.strip()) for r, out in zip(responses, epitome_held_out(seekers)) if out]
    return [r for r in held if r and r not in seen]


def empathy_set(data_dir: Path, negative_share: float = 0.35, nearest_mismatched: int = 0,
                counsel_reflections: int = 1, counsel_extra: int = 0,
                bank: PhraseBank = TRAIN_BANK) -> ReplySet:
    """EPITOME's training pairs with their three levels; hard negatives (level 0 everywhere) on a share of its
    training posts and on every PAIR and Counsel training prompt; the PAIR and written complex reflections as
    interpretations of level 2 (the other mechanisms masked); ``nearest_mismatched``: as for
    :func:`reflection_set`; ``counsel_reflections`` 2 adds each statement's second reflection as one more level-2
    interpretation (with its extra mismatched negatives); ``counsel_extra`` and ``bank``: as for
    :func:`reflection_set`."""
    data = ReplySet()
    seekers, posts, replies, levels = read_epitome(data_dir)
    train = np.flatnonzero(~epitome_held_out(seekers))
    epitome_rows = [row for i in train for row in data.add(
        [posts[i]], [replies[i]], [int(levels[m][i]) for m in EPITOME_MECHANISMS], [int(i)], "epitome")]
    rng = random.Random(SEED)
    train_posts, train_replies = [posts[i] for i in train], [replies[i] for i in train]
    for name, negatives in hard_negatives(train_posts, train_replies, SEED,
                                          ("echo", "one_word", "empty", "off_topic", "rude_appended",
                                           "mismatched"), bank).items():
        keep = [k for k in range(len(train)) if rng.random() < negative_share]
        data.add([train_posts[k] for k in keep], [negatives[k] for k in keep], [0, 0, 0],
                 [int(train[k]) for k in keep], name, bases=_spoilt_bases(name, [epitome_rows[k] for k in keep]))
    rows, pair_train = _pair_training_rows(data_dir)
    counsel_prompts, written, second = counsel_training(counsel_reflections, counsel_extra)
    prompts = [rows[i][0] for i in pair_train] + counsel_prompts
    genuine = [rows[i][1].strip() for i in pair_train] + written
    groups = [-1 - k for k in range(len(prompts))]
    genuine_rows = data.add(prompts, genuine, [MASKED, 2, MASKED], groups, "complex-reflection")
    for name, negatives in hard_negatives(prompts, genuine, SEED + 2, EMPATHY_NEGATIVES, bank).items():
        data.add(prompts, negatives, [0, 0, 0], groups, name, bases=_spoilt_bases(name, genuine_rows))
    if second is not None:
        data.add(counsel_prompts, second, [MASKED, 2, MASKED], groups[len(pair_train):],
                 "complex-reflection")
    add_mismatched(data, ("complex-reflection",), EXTRA_MISMATCHED // 2, seed=3, target=[0, 0, 0],
                   nearest=nearest_mismatched)
    return data
