"""Fluency: how predictable the reply is to a real causal language model, mapped to [0, 1].

    fluency = clip(1 - mean_nll / ln(V), 0, 1)

where ``mean_nll`` is the mean negative log-likelihood (nats per token) of the reply's tokens given the prompt, and
``ln(V)`` is the NLL of a uniform guess over the model's vocabulary of V tokens. So 1 means perfectly predictable
text, 0 means no better than random tokens, and the score falls strictly as perplexity rises (ppl 10 -> 0.79,
ppl 50 -> 0.64, ppl 500 -> 0.43 for SmolLM2's V = 49,152). EMORL uses ``(50 - ppl) / 50`` under GPT-2, which is
flat at 0 beyond ppl 50 and so cannot tell a clumsy reply from word salad; this map keeps the ordering everywhere.
An empty reply scores 0. Default LM: SmolLM2-135M-Instruct (shipped offline, see ``morl_core.assets``).

``FluencyModel(reply_only=True)`` is the candidate for the next version of the objective: the reply is scored on its
own (after the beginning-of-sequence token only), so copying the client's words earns nothing over saying them
unprompted, and the score is multiplied by ``1 - repeated_trigrams`` (the share of the reply's word trigrams that
already occurred in it, ``reward_models.text_features``), which takes a loop of six identical sentences down to a
sixth. Measured with the adversarial suite's held-out sets: the copy gain is gone, and repeated sentences and
shuffled words lose to the genuine reply on every prompt; five feeling words in a list still beat the project's
written reflections on 18% of the Counsel statements (on none of PAIR's), because predictability also rewards
plain wording (docs/robustness.md).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from morl_core.assets import smollm2_gguf_path, smollm2_path
from morl_core.device import default_device
from morl_core.files import file_sha256
from reward_models.base import RewardModel
from reward_models.text_features import repeated_trigrams

MAX_PROMPT_TOKENS = 64  # prompts are truncated from the left (the end of the client's statement is kept)
MAX_REPLY_TOKENS = 128  # replies are truncated from the right
BATCH = 32
TOKEN_CHUNK = 2048  # vocabulary projections are computed for at most this many reply tokens at once


class FluencyModel(RewardModel):
    """Perplexity-based fluency under a causal LM folder (default: the prepared SmolLM2-135M-Instruct)."""

    name = "fluency"

    def __init__(self, lm: str | Path | None = None, device: str | None = None, reply_only: bool = False) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer  # deliberately lazy: a heavy import

        self.lm_path = Path(lm) if lm else smollm2_path()
        self.device = torch.device(device) if device else default_device()
        dtype = torch.bfloat16 if self.device.type == "cuda" else torch.float32
        self.tokenizer = AutoTokenizer.from_pretrained(self.lm_path)
        self.model = AutoModelForCausalLM.from_pretrained(self.lm_path, dtype=dtype).to(self.device).eval()
        self.log_vocab = math.log(self.model.config.vocab_size)
        self.reply_only = bool(reply_only)
        self._identity: dict | None = None

    def identity(self) -> dict:
        """The LM's weights digest (for the default: the shipped GGUF the cache is converted from, which is
        byte-identical on every machine) and the formula's constants."""
        if self._identity is None:
            if self.lm_path == smollm2_path():
                weights = [smollm2_gguf_path()]
            else:
                weights = sorted(self.lm_path.glob("*.safetensors")) or sorted(self.lm_path.glob("*.bin"))
            self._identity = {"lm_weights_sha256": [file_sha256(w) for w in weights], "formula": "1-nll/lnV",
                              "max_prompt_tokens": MAX_PROMPT_TOKENS, "max_reply_tokens": MAX_REPLY_TOKENS}
            if self.reply_only:
                self._identity.update(formula="(1-nll/lnV)*(1-repeated_trigrams), reply alone", max_prompt_tokens=0)
        return self._identity

    def _encode(self, prompts: list[str], responses: list[str]) -> list[tuple[list[int], int]]:
        """Token ids of prompt + newline + reply, and the number of reply tokens, per sample."""
        tok = self.tokenizer
        prompt_ids = tok([p + "\n" for p in prompts], add_special_tokens=False)["input_ids"]
        reply_ids = tok(responses, add_special_tokens=False)["input_ids"]
        start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        out = []
        for p, r in zip(prompt_ids, reply_ids):
            r = r[:MAX_REPLY_TOKENS]
            context = [] if self.reply_only else p[-MAX_PROMPT_TOKENS:]
            out.append(([start] + context + r, len(r)))  # never an empty prefix
        return out

    @torch.inference_mode()
    def mean_nll(self, prompts: list[str], responses: list[str]) -> np.ndarray:
        """Mean NLL in nats per reply token given the prompt, shape (B,); NaN for empty replies."""
        encoded = self._encode(prompts, responses)
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
            nll[rows] = per_row.cpu().numpy()
        return nll

    def _score(self, prompts: list[str], responses: list[str]) -> np.ndarray:
        nll = self.mean_nll(prompts, responses)
        score = np.where(np.isnan(nll), 0.0, np.clip(1.0 - nll / self.log_vocab, 0.0, 1.0))
        return score * (1.0 - repeated_trigrams(responses)) if self.reply_only else score
