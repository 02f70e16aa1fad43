"""Fits on a cross-encoder branch's heads that need no pass through its layers: the bi-encoder start of the empathy
heads, the calibration of the reflection logit, the refitted class biases of the empathy levels.

Each works on logits or features already at hand (full-batch, L-BFGS or AdamW, seconds on a CPU), so the trainer
(:mod:`reward_models.train`) runs them before or after fine-tuning as its recipe asks, and an ablation can apply one
to a finished branch.
"""

from __future__ import annotations

import functools

import torch

from reward_models.branch_training import batch_logits
from reward_models.heads import PairHead
from reward_models.training_data import EPITOME_MECHANISMS, MASKED

WARM_STEPS, HEAD_LR = 100, 1e-3  # the -v0 empathy heads' full-batch training


def class_bias(logits: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """The offsets (c,) that, added to ``logits`` (n, c), minimise their cross-entropy against ``truth`` (n,)."""
    bias = torch.zeros(logits.shape[1], requires_grad=True)
    optimizer = torch.optim.LBFGS([bias], max_iter=200)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits + bias, truth)
        loss.backward()
        return loss

    optimizer.step(closure)
    return bias.detach()


def logit_calibration(logits: torch.Tensor, targets: torch.Tensor) -> tuple[float, float]:
    """The scale ``a > 0`` and shift ``b`` minimising the binary cross-entropy of ``sigmoid(a * logits + b)`` against
    ``targets`` in [0, 1] (L-BFGS on ``log a`` and ``b``)."""
    params = torch.zeros(2, requires_grad=True)
    optimizer = torch.optim.LBFGS([params], max_iter=200)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(params[0].exp() * logits + params[1], targets)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(params[0].detach().exp()), float(params[1].detach())


def calibrate_reflection(branch: torch.nn.Module, states: list[torch.Tensor], extra: torch.Tensor, rows: list[int],
                         targets: torch.Tensor, replies: list[torch.Tensor] | None = None) -> dict[str, float]:
    """Fold :func:`logit_calibration`, fitted on the trained branch's logits of ``rows`` (PAIR's graded training
    pairs, ``targets`` their level / 2), into the reflection head's output layer; returns the scale and shift
    (``replies``: the reply token masks, for a branch with "reply" pooling)."""
    with torch.no_grad():
        logits = torch.cat([batch_logits(branch, states, rows[k:k + 256], extra, replies)["reflection"].squeeze(-1)
                            for k in range(0, len(rows), 256)]).float()
    scale, shift = logit_calibration(logits, targets[rows])
    last = branch.heads["reflection"].net[-1]
    with torch.no_grad():
        last.weight *= scale
        last.bias.mul_(scale).add_(shift)
    return {"scale": round(scale, 4), "shift": round(shift, 4), "pairs": len(rows)}


def refit_level_bias(branch: torch.nn.Module, states: list[torch.Tensor], extra: torch.Tensor, rows: list[int],
                     levels: torch.Tensor, replies: list[torch.Tensor] | None = None) -> dict[str, list[float]]:
    """Add to each mechanism head's output bias the three offsets that minimise its cross-entropy on ``rows``
    (EPITOME's training pairs, ``levels`` (n, 3) their labels), fitted by L-BFGS on the trained logits; returns the
    offsets. Only the output biases move; the layers and the rest of the heads stay as trained (``replies``: as for
    :func:`calibrate_reflection`)."""
    with torch.no_grad():
        logits = {m: torch.cat([batch_logits(branch, states, rows[k:k + 256], extra, replies)[m]
                                for k in range(0, len(rows), 256)]) for m in EPITOME_MECHANISMS}
    offsets = {}
    for k, mechanism in enumerate(EPITOME_MECHANISMS):
        bias = class_bias(logits[mechanism], levels[rows, k].long())
        with torch.no_grad():
            branch.heads[mechanism].net[-1].bias += bias
        offsets[mechanism] = [round(float(b), 4) for b in bias]
    return offsets


def fit_head(head: PairHead, features: torch.Tensor, loss_fn, steps: int) -> float:
    """Train ``head`` by full-batch AdamW on ``loss_fn(head(features))`` (seeded by the caller; lr :data:`HEAD_LR`)
    and leave it in eval mode; returns the last step's loss."""
    optimizer = torch.optim.AdamW(head.parameters(), lr=HEAD_LR, weight_decay=1e-2)
    head.train()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(head(features))
        loss.backward()
        optimizer.step()
    head.eval()
    return float(loss.detach())


def bi_level_head(features: torch.Tensor, levels: torch.Tensor, hidden: int, seed: int) -> PairHead:
    """A 3-level head fitted on bi-encoder features (n, e) against ``levels`` (n,) as the -v0 empathy model's heads
    were (:data:`WARM_STEPS` full-batch AdamW steps, seeded): the warm start of the empathy heads, and the -v0
    baseline an empathy branch is compared with on EPITOME's held-out replies."""
    torch.manual_seed(seed)
    head = PairHead(features.shape[1], hidden, 3)
    fit_head(head, features, functools.partial(torch.nn.functional.cross_entropy, target=levels.long()), WARM_STEPS)
    return head


def warm_start_heads(heads: dict[str, PairHead], extra: torch.Tensor, rows: list[int], levels: torch.Tensor,
                     cross_dim: int, seed: int) -> None:
    """Set each mechanism head (input: the ``cross_dim`` pooled cross-encoder features, then the bi-encoder view) to
    a head fitted on the bi-encoder view ``extra[rows]`` of EPITOME's training rows alone (``levels`` (n, 3) their
    labels; masked ones left out): its weights on the cross features 0, so it starts as that head's function."""
    for k, mechanism in enumerate(EPITOME_MECHANISMS):
        keep = [row for row in rows if int(levels[row, k]) != MASKED]
        fitted = bi_level_head(extra[keep], levels[keep, k], heads[mechanism].net[0].out_features, seed)
        first, last = heads[mechanism].net[0], heads[mechanism].net[3]
        with torch.no_grad():
            first.weight.zero_()
            first.weight[:, cross_dim:] = fitted.net[0].weight
            first.bias.copy_(fitted.net[0].bias)
            last.load_state_dict(fitted.net[3].state_dict())
