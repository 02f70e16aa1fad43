"""A shared sentence encoder (all-MiniLM-L6-v2 by default): single-text embeddings for the heads that read them.

The fluency objective's well-formedness head reads the reply's embedding, the choice environments and the gate
read the prompt's, so the encoder is loaded once per (path, device) and shared, with a cache of recent texts.
Embeddings are mean-pooled over tokens and L2-normalised, exactly as sentence-transformers does for this model, so
that heads trained by ``reward_models.train`` see the same features at run time.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from morl_core.assets import minilm_path, quiet_loading
from morl_core.device import default_device
from morl_core.files import file_sha256
from morl_core.precision import autocast_state

MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained with 256-token inputs; longer inputs are truncated.


class SentenceEncoder:
    """Batched mean-pooled, L2-normalised sentence embeddings from a transformers encoder folder.

    On GPU the encoder runs in bf16; on CPU in float32. ``encode`` returns float32 NumPy of shape (B, dim).
    """

    def __init__(self, path: str | Path, device: torch.device, batch_size: int = 64,
                 cache_size: int = 8192) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.path = Path(path)
        self.device = device
        self.batch_size = batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(self.path)
        dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
        with quiet_loading():
            self.model = AutoModel.from_pretrained(self.path, dtype=dtype).to(device).eval()
        self.dim = int(self.model.config.hidden_size)
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._identity: dict | None = None

    def identity(self) -> dict:
        """What determines the embeddings: the weight file's sha256 and the pooling rule."""
        if self._identity is None:
            weights = sorted(self.path.glob("*.safetensors")) or sorted(self.path.glob("*.bin"))
            self._identity = {"encoder_weights_sha256": [file_sha256(w) for w in weights],
                              "pooling": "mean+l2", "max_tokens": MAX_TOKENS}
        return self._identity

    def clear_cache(self) -> None:
        """Forget cached embeddings (benchmarks use it to time the raw forward pass)."""
        self._cache.clear()

    @torch.inference_mode()
    def _embed(self, texts: list[str]) -> np.ndarray:
        """Embeddings of ``texts``, ``batch_size`` texts per forward, run in order of length (characters) so a
        chunk pads only to texts like its own, and returned in the given order. The
        chunks' embeddings stay on the device until the end, so on a GPU the host tokenises chunk i + 1 while the
        device still computes chunk i (one synchronisation per call, not per chunk)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")  # a chunk of like lengths pads little
        texts = [texts[i] for i in order]
        chunks = []
        for start in range(0, len(texts), self.batch_size):
            stop = start + self.batch_size
            batch = self.tokenizer(texts[start:stop], padding=True, truncation=True,
                                   max_length=MAX_TOKENS, return_tensors="pt").to(self.device, non_blocking=True)
            hidden = self.model(**batch).last_hidden_state.float()  # (b, T, dim)
            mask = batch["attention_mask"].unsqueeze(-1).float()  # (b, T, 1)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            chunks.append(torch.nn.functional.normalize(pooled, dim=-1))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        out[order] = torch.cat(chunks).float().cpu().numpy()
        return out

    def _cached(self, keys: list, embed: Callable[[list], np.ndarray]) -> np.ndarray:
        """Rows for ``keys`` from the cache, embedding each distinct missing key once with ``embed``."""
        missing = list(dict.fromkeys(k for k in keys if k not in self._cache))
        if missing:
            for key, row in zip(missing, embed(missing)):
                self._cache[key] = row
        out = np.stack([self._cache[k] for k in keys]) if keys else np.zeros((0, self.dim), np.float32)
        for key in keys:
            self._cache.move_to_end(key)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return out

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embeddings of single texts, shape (B, dim); each distinct uncached text is encoded once. Cached per
        autocast state: an embedding computed in bf16 (training's scoring) never answers a float32 call."""
        state = autocast_state()
        return self._cached([(state, t) for t in texts], lambda keys: self._embed([t for _, t in keys]))


def shared_encoder(path: str | None = None, device: str | None = None) -> SentenceEncoder:
    """The process-wide encoder for ``path`` (default: the shipped MiniLM) on ``device`` (default: GPU if any)."""
    return _encoder(str(Path(path or minilm_path()).resolve()), str(torch.device(device) if device else
                                                                    default_device()))


@functools.lru_cache(maxsize=4)
def _encoder(path: str, device: str) -> SentenceEncoder:
    return SentenceEncoder(path, torch.device(device))
