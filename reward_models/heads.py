"""Small trained heads: ``Linear(in, hidden) - ELU - Dropout - Linear(hidden, out)``, the shape of EMORL's
reflection head, stored as safetensors files inside the package with their training facts in the metadata.

The cross-encoder branches put them on their pooled state (:mod:`reward_models.cross_encoder`); the fluency
objective's well-formedness head reads a sentence embedding (:mod:`reward_models.well_formed`).
:func:`pair_features` is the bi-encoder view of a (prompt, reply) pair, ``[u, v, u*v, |u-v|]``
(InferSent / Sentence-BERT).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def pair_features(u: np.ndarray | torch.Tensor, v: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Bi-encoder pair features of prompt and response embeddings, shape (B, 4 * dim)."""
    u = torch.as_tensor(u, dtype=torch.float32)
    v = torch.as_tensor(v, dtype=torch.float32)
    return torch.cat([u, v, u * v, (u - v).abs()], dim=-1)


class PairHead(nn.Module):
    """``Linear(in, hidden) - ELU - Dropout - Linear(hidden, out)`` over pair features."""

    def __init__(self, in_features: int, hidden: int, out_features: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.ELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, out_features))

    def forward(self, features: torch.Tensor) -> torch.Tensor:  # (B, in) -> (B, out)
        return self.net(features)


def save_heads(path: Path, heads: dict[str, PairHead], metadata: dict) -> None:
    """Write named heads and their metadata to one safetensors file, atomically."""
    tensors = {f"{name}.{key}": value.detach().contiguous()
               for name, head in heads.items() for key, value in head.state_dict().items()}
    meta = {"heads": json.dumps(sorted(heads)), "shapes": json.dumps(
        {name: [head.net[0].in_features, head.net[0].out_features, head.net[3].out_features]
         for name, head in heads.items()}), "facts": json.dumps(metadata, sort_keys=True)}
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(path)


def load_heads(path: Path) -> tuple[dict[str, PairHead], dict]:
    """Read the heads written by :func:`save_heads`; returns (heads in eval mode, training facts)."""
    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata()
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    heads = {}
    for name, (n_in, hidden, n_out) in json.loads(meta["shapes"]).items():
        head = PairHead(n_in, hidden, n_out)
        prefix = f"{name}."
        head.load_state_dict({k[len(prefix):]: t for k, t in tensors.items() if k.startswith(prefix)})
        heads[name] = head.eval()
    return heads, json.loads(meta["facts"])
