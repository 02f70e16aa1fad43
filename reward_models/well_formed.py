"""Well-formedness: P(a reply is natural, well-formed text) from a small head on its MiniLM sentence embedding.

A language model's predictability rewards plain, frequent words whatever their order: a list of five feeling words
("You feel sad, lonely, tired, hurt and scared.") is about as predictable as a specific reflection, and word salad
of frequent words can beat a careful sentence. The fluency objective therefore multiplies its predictability term
by a penalty from this head (:mod:`reward_models.fluency`).

The head is trained (``python -m reward_models.train --only fluency``) on human replies from the training parts of
PAIR and EPITOME and the project's written training reflections (label 1) against the same number of malformed
texts made from them (label 0, :func:`malformed`): the reply's words shuffled, a list of feeling words from the
*training* phrase bank in one of several frames, word salad from the training vocabulary, a sentence said over and
over. It reads the reply alone, so the client's words cannot raise it.

The penalty is ``min(1, P / threshold)``: the threshold is the 2nd percentile of P over EPITOME's *held-out*
responses (human replies the head never saw), fixed by training and stored with the head, so that 98% of unseen
human replies keep their full score and only text the head is sure of loses it. (An embedding head is sure of
little: held-out human sentences of an unfamiliar register can fall near P = 0.3, where a threshold of 0.5 took
off 40%.)
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from reward_models.encoder import SentenceEncoder
from reward_models.heads import WEIGHTS_DIR, PairHead, load_heads

FORM_FILE = WEIGHTS_DIR / "well_formed.safetensors"
#: frames a list of feeling words is put in (the adversarial suite's own frame, "You feel ...", is among them)
#: the share of held-out human replies allowed under the penalty threshold (see the module docstring)
PENALTY_QUANTILE = 0.02
#: the threshold of heads trained before it was stored (P at even odds)
DEFAULT_THRESHOLD = 0.5
LIST_FRAMES = ("You feel {}.", "{}.", "Feeling {}.", "So {}.", "You are {}.", "I hear {}.", "Sounds {}.")


def malformed(texts: Sequence[str], keywords: Sequence[str], seed: int) -> list[str]:
    """One malformed text per input text (seeded): 30% its words shuffled, 35% a list of 3-6 of ``keywords`` in a
    frame of :data:`LIST_FRAMES`, 20% 6-25 words drawn from the texts' vocabulary, 15% its first sentence repeated
    3-6 times."""
    rng = random.Random(seed)
    vocabulary = sorted({word for text in texts for word in text.split()})
    out = []
    for text in texts:
        words, draw = text.split(), rng.random()
        if draw < 0.30:
            rng.shuffle(words)
            out.append(" ".join(words))
        elif draw < 0.65:
            chosen = rng.sample(list(keywords), rng.randint(3, 6))
            joined = ", ".join(chosen[:-1]) + rng.choice((" and ", ", ")) + chosen[-1]
            out.append(rng.choice(LIST_FRAMES).format(joined))
        elif draw < 0.85:
            out.append(" ".join(rng.choice(vocabulary) for _ in range(rng.randint(6, 25))))
        else:
            sentence = text.split(". ")[0].rstrip(".") + "."
            out.append(" ".join([sentence] * rng.randint(3, 6)))
    return out


class WellFormedHead:
    """The trained head and the encoder it reads; :meth:`__call__` gives P(well-formed) per text."""

    def __init__(self, encoder: SentenceEncoder, path: Path = FORM_FILE) -> None:
        if not Path(path).is_file():
            raise FileNotFoundError(f"the well-formedness head {str(path)!r} does not exist: train it with "
                                    f"`python -m reward_models.train --only fluency`")
        self.path = Path(path)
        heads, self.facts = load_heads(self.path)
        self.encoder = encoder
        self.head: PairHead = heads["well_formed"].to(encoder.device)
        #: a head trained with its threshold stored reads replies with plain punctuation (see the fluency formula)
        self.calibrated = "penalty_threshold" in self.facts
        self.threshold = float(self.facts.get("penalty_threshold", DEFAULT_THRESHOLD))

    @torch.inference_mode()
    def __call__(self, texts: list[str]) -> np.ndarray:
        """P(well-formed) of each text, shape (B,), float64."""
        embeddings = torch.as_tensor(self.encoder.encode(texts)).to(self.encoder.device)
        return torch.sigmoid(self.head(embeddings)).squeeze(-1).double().cpu().numpy()

    def penalty(self, texts: list[str]) -> np.ndarray:
        """The fluency factor ``min(1, P / threshold)`` of each text, shape (B,), float64."""
        return np.minimum(1.0, self(texts) / self.threshold)
