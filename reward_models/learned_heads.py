"""Reflection and empathy: trained heads on a frozen MiniLM sentence encoder (see ``reward_models.heads``).

- ``reflection`` (PAIR, Min et al. 2022): P(reply is a reflection) from a head trained with target level / 2 on
  PAIR's graded replies (complex reflection 2, simple 1, non-reflection 0). Plays the role of EMORL's RoBERTa
  cross-encoder, whose weights are not public.
- ``empathy`` (EPITOME, Sharma et al. 2020): one 3-level classifier per communication mechanism (emotional
  reactions, interpretations, explorations); the score is the mean over mechanisms of the expected level / 2.

Both embed prompt and reply with the same shared encoder; the encoder caches recent embeddings, so scoring the same
batch with both models encodes each text once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from morl_core.files import file_sha256
from reward_models.base import RewardModel
from reward_models.encoder import shared_encoder
from reward_models.heads import WEIGHTS_DIR, load_heads, pair_features, reply_features


class HeadRewardModel(RewardModel):
    """Shared machinery: load heads from a safetensors file, embed, apply."""

    default_file: str = ""

    def __init__(self, heads_path: str | Path | None = None, device: str | None = None,
                 encoder_path: str | None = None) -> None:
        self.heads_path = Path(heads_path) if heads_path else WEIGHTS_DIR / self.default_file
        if not self.heads_path.is_file():
            raise FileNotFoundError(f"`heads_path` must be a safetensors file written by reward_models.train; "
                                    f"{str(self.heads_path)!r} does not exist")
        self.encoder = shared_encoder(encoder_path, device)
        heads, self.facts = load_heads(self.heads_path)
        self.heads = {name: head.to(self.encoder.device) for name, head in heads.items()}
        self._digest = file_sha256(self.heads_path)

    def identity(self) -> dict:
        return {"heads_sha256": self._digest, "encoder": self.encoder.identity()}

    @torch.inference_mode()
    def _features(self, prompts: list[str], responses: list[str]) -> torch.Tensor:
        """The features the heads were trained on, as their weights file records: the pair-and-surface features
        of :func:`~reward_models.heads.reply_features` (``"features": "bi+pair+surface"``), else the bi-encoder
        features ``[u, v, u*v, |u-v|]`` of the shipped heads."""
        if self.facts.get("features") == "bi+pair+surface":
            return reply_features(self.encoder, prompts, responses)
        u, v = self.encoder.encode(prompts), self.encoder.encode(responses)
        return pair_features(u, v).to(self.encoder.device)


class ReflectionModel(HeadRewardModel):
    """Reflection score in [0, 1]: sigmoid of the PAIR-trained head."""

    name = "reflection"
    default_file = "reflection.safetensors"

    @torch.inference_mode()
    def _score(self, prompts: list[str], responses: list[str]) -> np.ndarray:
        logits = self.heads["reflection"](self._features(prompts, responses))  # (B, 1)
        return torch.sigmoid(logits).squeeze(-1).float().cpu().numpy()


class EmpathyModel(HeadRewardModel):
    """Empathy score in [0, 1]: mean over EPITOME's three mechanisms of the expected level / 2."""

    name = "empathy"
    default_file = "empathy.safetensors"
    MECHANISMS = ("emotional-reactions", "interpretations", "explorations")

    @torch.inference_mode()
    def _score(self, prompts: list[str], responses: list[str]) -> np.ndarray:
        features = self._features(prompts, responses)
        levels = torch.tensor([0.0, 0.5, 1.0], device=features.device)
        per_mechanism = [torch.softmax(self.heads[m](features), dim=-1) @ levels for m in self.MECHANISMS]
        return torch.stack(per_mechanism, dim=-1).mean(-1).float().cpu().numpy()  # (B,)

    def mechanism_scores(self, prompts: list[str], responses: list[str]) -> dict[str, np.ndarray]:
        """Expected level / 2 for each mechanism separately, for analysis."""
        with torch.inference_mode():
            features = self._features(prompts, responses)
            levels = torch.tensor([0.0, 0.5, 1.0], device=features.device)
            return {m: (torch.softmax(self.heads[m](features), -1) @ levels).float().cpu().numpy()
                    for m in self.MECHANISMS}
