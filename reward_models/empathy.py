"""Empathy: EPITOME's three communication mechanisms, as a cross-encoder fine-tuned on EPITOME judges them.

EPITOME (Sharma et al., 2020) rates a reply to a help-seeking post on three mechanisms, each at level 0 (none),
1 (weak) or 2 (strong): emotional reactions, interpretations, explorations. The model reads post and reply together
(:mod:`reward_models.cross_encoder`); one 3-level head per mechanism sits on the shared fine-tuned layers, and the
score is the mean over mechanisms of the expected level / 2. Besides EPITOME's labels, training sees the
adversarial suite's degenerate replies to training prompts (a rude remark appended, off-topic text, one word,
nothing, an echo, a reply written for another client) at level 0, ranked below the genuine reply to the same
prompt. A branch trained with a "genuine" gate (a fourth head, one logit: is this a genuine reply to this post, or one
of the hacks) multiplies that mean by the gate's probability, so the mechanism heads judge the levels and the gate
the hacks. Card: ``reward_models/cards/empathy.md``.
"""

from __future__ import annotations

import numpy as np
import torch

from reward_models.cross_encoder import CrossEncoderRewardModel

MECHANISMS = ("emotional-reactions", "interpretations", "explorations")
LEVELS = (0.0, 0.5, 1.0)  # level / 2


GATE = "genuine"  # the gate head's name, in branches trained with one


def gated_levels(logits: dict[str, torch.Tensor]) -> torch.Tensor:
    """:func:`expected_levels` times the gate's probability where the branch has a gate head (else unchanged)."""
    levels = expected_levels(logits)
    return levels * torch.sigmoid(logits[GATE]) if GATE in logits else levels


def expected_levels(logits: dict[str, torch.Tensor]) -> torch.Tensor:
    """Expected level / 2 of every mechanism, shape (B, 3), from the heads' 3-way logits."""
    levels = torch.tensor(LEVELS, device=logits[MECHANISMS[0]].device)
    return torch.stack([torch.softmax(logits[m], dim=-1) @ levels for m in MECHANISMS], dim=-1)


class EmpathyModel(CrossEncoderRewardModel):
    """Empathy score in [0, 1]: the mean over EPITOME's three mechanisms of the expected level / 2 (times the gate's
    probability for a branch with a gate head)."""

    name = "empathy"
    version = 2
    default_file = "empathy.safetensors"
    MECHANISMS = MECHANISMS

    def score_logits(self, logits: dict[str, torch.Tensor]) -> torch.Tensor:
        return gated_levels(logits).mean(-1)

    def mechanism_scores(self, prompts: list[str], responses: list[str]) -> dict[str, np.ndarray]:
        """Expected level / 2 for each mechanism separately (gated as the score is), for analysis."""
        per = gated_levels(self.logits(list(prompts), list(responses))).float().cpu().numpy()
        return {m: per[:, k] for k, m in enumerate(MECHANISMS)}
