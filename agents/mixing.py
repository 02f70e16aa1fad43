"""Mixing experts token by token: the mixture check and the mixed next-token distribution.

Shared by the reference decoding of ``agents.aggregation`` and the captured decode step of ``agents.fast_decode``;
it needs no policy, so both import it without importing each other.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch

from morl_core.simplex import check_weights

__all__ = ["check_mixture", "mix_probs"]


def check_mixture(mixture: npt.ArrayLike, n_experts: int, name: str = "mixture") -> np.ndarray:
    """``mixture`` as float64 (n_experts,), checked: finite, non-negative, summing to 1 (within 1e-6)."""
    return check_weights(mixture, n_experts, name, unit="expert")


def mix_probs(logits: torch.Tensor, mixture: torch.Tensor, aggregation: str,
              temperature: float = 1.0) -> torch.Tensor:
    """Next-token probabilities (N, V) of the mixture from the experts' logits (E, N, V) and weights (E,).

    ``hidden``: ``softmax(sum_e m_e z_e / T)`` (= the head applied to the mixed hidden state);
    ``logit``: ``sum_e m_e softmax(z_e / T)``. With one expert of weight 1 both are ``softmax(z / T)``, exactly
    what ``generate()`` samples from.

    >>> z = torch.tensor([[[0.0, 0.0]], [[0.0, 2.0]]])
    >>> [round(x, 3) for x in mix_probs(z, torch.tensor([0.5, 0.5]), "hidden")[0].tolist()]
    [0.269, 0.731]
    >>> [round(x, 3) for x in mix_probs(z, torch.tensor([0.5, 0.5]), "logit")[0].tolist()]
    [0.31, 0.69]
    """
    m = mixture.to(logits).view(-1, 1, 1)  # (E, 1, 1)
    if aggregation == "hidden":
        return ((m * logits).sum(dim=0) / temperature).softmax(dim=-1)
    if aggregation == "logit":
        return (m * (logits / temperature).softmax(dim=-1)).sum(dim=0)
    raise ValueError(f"`aggregation` must be 'hidden' or 'logit' for token-level mixing; got {aggregation!r}")
