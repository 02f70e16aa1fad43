"""Fluency: how natural the reply reads on its own, mapped to [0, 1].

    fluency = clip(1 - mean_nll / ln(V), 0, 1) * (1 - repeated_trigrams) * min(1, P(well-formed) / t)

- ``mean_nll``: the mean negative log-likelihood (nats per token) of the reply's tokens under a causal language
  model, the reply read *on its own* (after the beginning-of-sequence token only). ``ln(V)`` is the NLL of a uniform
  guess over its vocabulary of V tokens, so the first factor is 1 for perfectly predictable text, 0 for text no
  better than random tokens, and falls strictly as perplexity rises (ppl 10 -> 0.79, ppl 50 -> 0.64, ppl 500 ->
  0.43 for SmolLM2's V = 49,152). The client's words are not in the context, so handing them back earns nothing
  over saying them unprompted.
- ``repeated_trigrams``: the share of the reply's word trigrams that already occurred in it
  (:mod:`reward_models.text_features`): a sentence said six times keeps a sixth of its score, though a language
  model finds the loop very predictable.
- ``P(well-formed)``: a small head on the reply's MiniLM embedding (:mod:`reward_models.well_formed`) trained to
  tell human replies from shuffled words, lists of feeling words and word salad, which predictability alone does
  not punish. It only penalises: a reply with P at or above ``t`` keeps its full score, where ``t`` is the 2nd
  percentile of P over held-out human replies (stored with the head; about 0.2).

The reply is read with its typographic punctuation made plain (curly quotes, ``…``, dashes:
:func:`~reward_models.text_features.plain_punctuation`), so typesetting costs nothing. (A head trained before its
threshold was stored with it, such as the one the ``-v1`` environments were published with, keeps the original
formula: ``min(1, 2 * P)``, punctuation as written.)

An empty reply scores 0. Default LM: SmolLM2-135M-Instruct (shipped offline, see ``morl_core.assets``). EMORL uses
``(50 - ppl) / 50`` under GPT-2, which is flat at 0 beyond ppl 50 and so cannot tell a clumsy reply from word salad;
the first factor keeps the ordering everywhere.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from morl_core.assets import quiet_loading, smollm2_gguf_path, smollm2_path
from morl_core.device import default_device
from morl_core.files import file_sha256
from reward_models.base import RewardModel
from reward_models.encoder import shared_encoder
from reward_models.text_features import plain_punctuation, repeated_trigrams
from reward_models.well_formed import FORM_FILE, WellFormedHead

MAX_REPLY_TOKENS = 128  # replies are truncated from the right
BATCH = 32
TOKEN_CHUNK = 2048  # vocabulary projections are computed for at most this many reply tokens at once


class FluencyModel(RewardModel):
    """Perplexity-based fluency under a causal LM folder (default: the prepared SmolLM2-135M-Instruct)."""

    name = "fluency"

    version = 2

    def __init__(self, lm: str | Path | None = None, device: str | None = None,
                 encoder_path: str | None = None, well_formed: str | Path | None = None) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer  # deliberately lazy: a heavy import

        self.lm_path = Path(lm) if lm else smollm2_path()
        self.device = torch.device(device) if device else default_device()
        dtype = torch.bfloat16 if self.device.type == "cuda" else torch.float32
        self.tokenizer = AutoTokenizer.from_pretrained(self.lm_path)
        with quiet_loading():
            self.model = AutoModelForCausalLM.from_pretrained(self.lm_path, dtype=dtype).to(self.device).eval()
        self.log_vocab = math.log(self.model.config.vocab_size)
        self.form = WellFormedHead(shared_encoder(encoder_path, str(self.device)), Path(well_formed or FORM_FILE))
        self._identity: dict | None = None

    def identity(self) -> dict:
        """The LM's weights digest (for the default: the shipped GGUF the cache is converted from, which is
        byte-identical on every machine) and the formula's constants."""
        if self._identity is None:
            if self.lm_path == smollm2_path():
                weights = [smollm2_gguf_path()]
            else:
                weights = sorted(self.lm_path.glob("*.safetensors")) or sorted(self.lm_path.glob("*.bin"))
            self._identity = {"lm_weights_sha256": [file_sha256(w) for w in weights],
                              **self._formula(),
                              "max_reply_tokens": MAX_REPLY_TOKENS, "well_formed_sha256": file_sha256(self.form.path),
                              "encoder": self.form.encoder.identity()}
        return self._identity

    def _formula(self) -> dict:
        """The formula's identity. A head trained before the threshold and plain punctuation were stored with it
        keeps its original formula (and so the fingerprints made with it)."""
        if not self.form.calibrated:
            return {"formula": "(1-nll/lnV)*(1-repeated_trigrams)*min(1,2*well_formed), reply alone"}
        return {"formula": "(1-nll/lnV)*(1-repeated_trigrams)*min(1,well_formed/t), plain punctuation, reply alone",
                "well_formed_threshold": self.form.threshold}

    def _encode(self, responses: list[str]) -> list[tuple[list[int], int]]:
        """Token ids of the start token + reply, and the number of reply tokens, per sample."""
        tok = self.tokenizer
        reply_ids = tok(responses, add_special_tokens=False)["input_ids"]
        start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        return [([start] + r[:MAX_REPLY_TOKENS], len(r[:MAX_REPLY_TOKENS])) for r in reply_ids]

    @torch.inference_mode()
    def mean_nll(self, responses: list[str]) -> np.ndarray:
        """Mean NLL in nats per reply token, the reply read on its own, shape (B,); NaN for empty replies."""
        encoded = self._encode(responses)
        nll = np.full(len(encoded), np.nan, dtype=np.float64)
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]))  # similar lengths share a batch
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        for start in range(0, len(order), BATCH):
            rows = [i for i in order[start:start + BATCH] if encoded[i][1] > 0]
            if not rows:
                continue
            width = max(len(encoded[i][0]) for i in rows)
            ids = torch.full((len(rows), width), pad, dtype=torch.long)
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            target = torch.zeros((len(rows), width), dtype=torch.bool)  # positions whose NEXT token is a reply token
            for row, i in enumerate(rows):
                seq, n_reply = encoded[i]
                ids[row, : len(seq)] = torch.tensor(seq)
                mask[row, : len(seq)] = 1
                target[row, len(seq) - n_reply - 1: len(seq) - 1] = True
            ids, mask, target = ids.to(self.device), mask.to(self.device), target.to(self.device)
            hidden = self.model.base_model(input_ids=ids, attention_mask=mask).last_hidden_state  # (b, T, H)
            labels = ids[:, 1:][target[:, :-1]]  # (N,) the reply tokens
            states = hidden[target]  # (N, H) the states that predict them
            losses = torch.cat([torch.nn.functional.cross_entropy(
                self.model.get_output_embeddings()(states[c:c + TOKEN_CHUNK]).float(),
                labels[c:c + TOKEN_CHUNK], reduction="none") for c in range(0, len(labels), TOKEN_CHUNK)])
            per_row = torch.zeros(len(rows), device=self.device).index_add_(
                0, target.nonzero()[:, 0], losses) / target.sum(1)
            nll[rows] = per_row.float().cpu().numpy()
        return nll

    def _score(self, prompts: list[str], responses: list[str]) -> np.ndarray:
        if self.form.calibrated:
            responses = [plain_punctuation(r) for r in responses]
        nll = self.mean_nll(responses)
        predictable = np.where(np.isnan(nll), 0.0, np.clip(1.0 - nll / self.log_vocab, 0.0, 1.0))
        return predictable * (1.0 - repeated_trigrams(responses)) * self.form.penalty(responses)
