"""Small trained heads on frozen encoder features: the learned part of the reflection and empathy models.

A head sees, for a (prompt, reply) pair (:func:`reply_features`, 1,930 numbers with the shipped MiniLM):

- ``[u, v, u * v, |u - v|]``: the bi-encoder pair features of the prompt embedding ``u`` and the reply embedding
  ``v`` (InferSent / Sentence-BERT);
- ``w``: the embedding of prompt and reply read together as one sequence pair, so that attention crosses between
  them (a frozen cross-encoder view: a reply that hands the client's words back reads differently from one that
  restates their meaning);
- the ten surface features of :mod:`reward_models.text_features` (copying, repetition, length, questions);

and outputs logits through ``Linear(in, hidden) - ELU - Dropout - Linear(hidden, out)``, the shape of EMORL's
reflection head. Heads are stored as safetensors files inside the package, with their training facts in the file's
metadata.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from reward_models.encoder import SentenceEncoder
from reward_models.text_features import copy_features

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def pair_features(u: np.ndarray | torch.Tensor, v: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Bi-encoder pair features of prompt and response embeddings, shape (B, 4 * dim)."""
    u = torch.as_tensor(u, dtype=torch.float32)
    v = torch.as_tensor(v, dtype=torch.float32)
    return torch.cat([u, v, u * v, (u - v).abs()], dim=-1)


def reply_features(encoder: SentenceEncoder, prompts: list[str], replies: list[str]) -> torch.Tensor:
    """The features every head reads (see the module docstring), shape (B, 5 * dim + 10), on the encoder's device.

    One batched call per encoder view: prompts and replies are embedded singly (cached, so scoring k replies to one
    prompt embeds it once) and as pairs."""
    u, v = encoder.encode(prompts), encoder.encode(replies)  # (B, dim) each
    w = encoder.encode_pairs(prompts, replies)  # (B, dim)
    surface = copy_features(prompts, replies)  # (B, 10)
    return torch.cat([pair_features(u, v), torch.as_tensor(w), torch.as_tensor(surface)], dim=-1).to(encoder.device)


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
