"""Reflection: how much a reply restates the client's meaning, as a PAIR-trained cross-encoder judges it.

PAIR (Min et al., 2022) grades counsellor replies to client statements: complex reflection (level 2), simple
reflection (1), non-reflection (0). The model reads prompt and reply together (:mod:`reward_models.cross_encoder`)
and outputs P(the reply is a reflection) from one logit, trained on target level / 2 with a ranking loss that puts
each genuine reflection above the adversarial suite's degenerate replies to the same *training* prompt (copies of
the client's words, stock phrases, loops, a reflection of another client, ...). It plays the role of EMORL's
RoBERTa reflection scorer, whose weights are not public. Card: ``reward_models/cards/reflection.md``.
"""

from __future__ import annotations

import torch

from reward_models.cross_encoder import CrossEncoderRewardModel


class ReflectionModel(CrossEncoderRewardModel):
    """Reflection score in [0, 1]: the sigmoid of the branch's one logit."""

    name = "reflection"
    version = 2
    default_file = "reflection.safetensors"

    def score_logits(self, logits: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.sigmoid(logits["reflection"]).squeeze(-1)
