"""Real checkpoints from a hub id or a local directory, behind the same scorer interface.

- A sequence classifier (``*ForSequenceClassification``, e.g. EMORL's empathy model ``MoaazZaki/bert-empathy``):
  one output logit is mapped to [0, 1] by ``transform`` ("clamp", EMORL's choice, or "sigmoid"); K > 1 outputs give
  the expected class index / (K - 1). ``pair_input`` feeds (prompt, reply) as a sequence pair (a cross-encoder);
  otherwise the reply alone, as EMORL's empathy classifier is used.
- A causal LM (``*ForCausalLM`` / ``*LMHeadModel``, e.g. GPT-2 as in EMORL) becomes a fluency scorer.

Hub ids load only when the files are already in the local Hugging Face cache or the hub is reachable; in this
project's offline default they are not, and the error says to pass a local directory instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from huggingface_hub import snapshot_download

from morl_core.assets import quiet_loading
from morl_core.device import default_device
from morl_core.files import file_sha256
from reward_models.base import RewardModel

TRANSFORMS = ("clamp", "sigmoid")
MAX_TOKENS = 512


def resolve_checkpoint(name_or_path: str) -> Path:
    """A local folder for ``name_or_path``: the folder itself, or the hub snapshot already in the local cache."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    try:

        return Path(snapshot_download(name_or_path))
    except Exception as error:  # network, authentication, missing repo: all mean "not available here"
        raise FileNotFoundError(
            f"reward model checkpoint {name_or_path!r} is neither a local directory nor loadable from the hub "
            f"({type(error).__name__}); download it where the hub is reachable and pass the local directory"
        ) from error


def is_causal_lm(folder: Path) -> bool:
    """Whether the checkpoint's config declares a causal language model."""
    config = json.loads((folder / "config.json").read_text())
    return any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in config.get("architectures") or [])


class ClassifierModel(RewardModel):
    """A sequence classifier checkpoint as a scorer in [0, 1]."""

    def __init__(self, checkpoint: str | Path, device: str | None = None, transform: str = "clamp",
                 pair_input: bool = False, name: str | None = None) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        if transform not in TRANSFORMS:
            raise ValueError(f"`transform` must be one of {TRANSFORMS}; got {transform!r}")
        self.folder = resolve_checkpoint(str(checkpoint))
        self.name = name or self.folder.name
        self.transform, self.pair_input = transform, pair_input
        self.device = torch.device(device) if device else default_device()
        dtype = torch.bfloat16 if self.device.type == "cuda" else torch.float32
        self.tokenizer = AutoTokenizer.from_pretrained(self.folder)
        with quiet_loading():
            self.model = AutoModelForSequenceClassification.from_pretrained(self.folder, dtype=dtype)
        self.model = self.model.to(self.device).eval()
        if self.tokenizer.pad_token is None:  # GPT-2-style classifiers have no pad token
            self.tokenizer.pad_token = self.tokenizer.eos_token
            self.model.config.pad_token_id = self.tokenizer.pad_token_id

    def identity(self) -> dict:
        weights = sorted(self.folder.glob("*.safetensors")) or sorted(self.folder.glob("*.bin"))
        return {"weights_sha256": [file_sha256(w) for w in weights], "transform": self.transform,
                "pair_input": self.pair_input}

    @torch.inference_mode()
    def _score(self, prompts: list[str], responses: list[str]) -> np.ndarray:
        out = []
        for start in range(0, len(responses), 64):
            first = prompts[start:start + 64] if self.pair_input else responses[start:start + 64]
            second = responses[start:start + 64] if self.pair_input else None
            batch = self.tokenizer(first, second, padding=True, truncation=True, max_length=MAX_TOKENS,
                                   return_tensors="pt").to(self.device)
            logits = self.model(**batch).logits.float()  # (b, K)
            if logits.shape[-1] == 1:
                x = logits[:, 0]
                out.append(x.clamp(0, 1) if self.transform == "clamp" else torch.sigmoid(x))
            else:
                grid = torch.linspace(0, 1, logits.shape[-1], device=logits.device)
                out.append(torch.softmax(logits, -1) @ grid)
        return torch.cat(out).float().cpu().numpy()
