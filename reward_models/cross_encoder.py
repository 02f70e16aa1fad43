"""A cross-encoder that reads prompt and reply together: the trunk of the reflection and empathy models.

MiniLM (all-MiniLM-L6-v2, shipped offline) reads ``[CLS] prompt [SEP] reply [SEP]`` as one sequence, so every
reply token attends to the client's words: a reply that hands those words back, or that answers another client,
reads differently from one that restates their meaning. The encoder's lower layers stay frozen and are shared by
every objective (:class:`CrossTrunk`); each objective fine-tunes its own copy of the top layers and puts small
heads on their mean-pooled output (:class:`CrossBranch`; a branch trained with ``"reply"`` pooling also reads the mean
and the maximum over the reply's own tokens, so one sentence of a long pair, a rude ending say, is not averaged
away among the client's words). A branch may also read the bi-encoder view of the pair,
``[u, v, u*v, |u-v|]`` of the separately embedded prompt and reply (:func:`~reward_models.heads.pair_features`):
the reflection branch does, since how close the reply's meaning stays to the client's is what tells a reflection of
*this* client from a fine reflection of another. Only the fine-tuned layers and heads are stored, as one
safetensors file per objective inside the package (layers in bf16, about 7 MB), with their training facts in its
metadata.

Scoring a batch runs the frozen layers once for all objectives: the trunk keeps the last few batches' states, so
the reflection and empathy models scoring the same (prompt, reply) pairs share that work.
"""

from __future__ import annotations

import copy
import functools
import json
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from morl_core.assets import minilm_path, quiet_loading
from morl_core.device import default_device
from morl_core.files import file_sha256
from morl_core.precision import autocast_state
from reward_models.base import RewardModel
from reward_models.encoder import shared_encoder
from reward_models.heads import WEIGHTS_DIR, PairHead, pair_features

MAX_PAIR_TOKENS = 192  # prompt + reply; the longer of the two is cut first ("longest_first")
ENCODER_LAYERS = 6  # the shipped MiniLM's transformer layers
FROZEN_LAYERS = 4  # of those: the shared trunk; the top 2 are each objective's own
BATCH = 64
TRUNK_CACHE = 4  # batches whose trunk states are kept for the next objective scoring the same pairs


def extended_mask(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Additive attention mask (B, 1, 1, T) from a 0/1 padding mask (B, T): 0 where attended, the dtype's
    minimum on padding (what BERT layers expect for eager and SDPA attention alike)."""
    return (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of the token states over the attended positions, (B, T, d) -> (B, d)."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)


#: how a branch pools its top layer's token states: "mean" over the whole pair (the -v2 branches); "reply": that
#: mean followed by the mean and the elementwise maximum over the reply's tokens (the second segment); "reply_max":
#: the whole pair's mean and the maximum over the reply's tokens, without the reply's own mean
POOLINGS = ("mean", "reply", "reply_max")


def pooled_dim(dim: int, pooling: str) -> int:
    """Width of a branch's pooled state for token states of width ``dim`` (its heads read this plus any extra)."""
    return {"mean": dim, "reply": 3 * dim, "reply_max": 2 * dim}[pooling]


def pool(hidden: torch.Tensor, mask: torch.Tensor, pooling: str, reply: torch.Tensor | None) -> torch.Tensor:
    """The pooled state (B, :func:`pooled_dim`) of token states ``hidden`` (B, T, d): see :data:`POOLINGS`;
    ``reply`` (B, T) is 1 on the reply's tokens (the tokenizer's ``token_type_ids``), needed by "reply" pooling.
    A pair whose reply was cut to nothing pools zeros for the reply part."""
    whole = mean_pool(hidden, mask)
    if pooling == "mean":
        return whole
    if reply is None:
        raise ValueError(f"`reply` (the reply's token mask) is needed for {pooling!r} pooling; got None")
    inside = (reply * mask).unsqueeze(-1).bool()
    peak = hidden.masked_fill(~inside, torch.finfo(hidden.dtype).min).amax(1)
    peak = torch.where(inside.any(1), peak, torch.zeros_like(peak))
    if pooling == "reply_max":
        return torch.cat([whole, peak], dim=-1)
    return torch.cat([whole, mean_pool(hidden, reply * mask), peak], dim=-1)


class CrossBranch(nn.Module):
    """One objective's fine-tuned top layers and its named heads over their pooled output (``pooling``: one of
    :data:`POOLINGS`)."""

    def __init__(self, layers: nn.ModuleList, heads: dict[str, PairHead], pooling: str = "mean") -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"`pooling` must be one of {POOLINGS}; got {pooling!r}")
        self.layers = layers
        self.heads = nn.ModuleDict(heads)
        self.pooling = pooling

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor, extra: torch.Tensor | None = None,
                reply: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Logits of every head for trunk states ``hidden`` (B, T, d) with padding mask ``mask`` (B, T); ``extra``
        (B, e) features are appended to the pooled state (the bi-encoder view, for branches trained with it);
        ``reply`` (B, T): the reply's token mask, read by "reply" pooling (:func:`pool`)."""
        additive = extended_mask(mask, hidden.dtype)
        for layer in self.layers:
            out = layer(hidden, attention_mask=additive)
            hidden = out[0] if isinstance(out, tuple) else out
        pooled = pool(hidden, mask, self.pooling, reply).float()
        if extra is not None:
            pooled = torch.cat([pooled, extra.float()], dim=-1)
        return {name: head(pooled) for name, head in self.heads.items()}


class CrossTrunk:
    """The frozen lower layers of the cross-encoder and its tokenizer; :meth:`states` runs them on pairs."""

    def __init__(self, path: str | Path, device: torch.device, frozen_layers: int = FROZEN_LAYERS) -> None:
        from transformers import AutoModel, AutoTokenizer  # deliberately lazy: a heavy import

        self.path = Path(path)
        self.device = device
        self.frozen_layers = frozen_layers
        self.dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
        self.tokenizer = AutoTokenizer.from_pretrained(self.path)
        with quiet_loading():
            model = AutoModel.from_pretrained(self.path, dtype=self.dtype)
        total = len(model.encoder.layer)
        if not 1 <= frozen_layers < total:
            raise ValueError(f"`frozen_layers` must leave a branch at least one of the encoder's {total} layers and "
                             f"freeze at least one: 1 to {total - 1}; got {frozen_layers}")
        self.top_layers = model.encoder.layer[frozen_layers:]  # the pretrained start of every branch
        model.encoder.layer = model.encoder.layer[:frozen_layers]
        model.config.num_hidden_layers = frozen_layers
        self.model = model.to(device).eval().requires_grad_(False)
        self.dim = int(model.config.hidden_size)
        self._cache: OrderedDict[tuple, list[tuple[torch.Tensor, ...]]] = OrderedDict()
        weights = sorted(self.path.glob("*.safetensors")) or sorted(self.path.glob("*.bin"))
        self._identity = {"encoder_weights_sha256": [file_sha256(w) for w in weights], "frozen_layers": frozen_layers,
                          "max_pair_tokens": MAX_PAIR_TOKENS}

    def identity(self) -> dict:
        """What determines the trunk's states: the encoder's weights digest, the frozen depth, the truncation."""
        return self._identity

    def tokenize(self, prompts: list[str], replies: list[str]) -> dict[str, torch.Tensor]:
        """Token ids of (prompt, reply) sequence pairs, padded to the longest, on the trunk's device."""
        return self.tokenizer(prompts, replies, padding=True, truncation="longest_first",
                              max_length=MAX_PAIR_TOKENS, return_tensors="pt").to(self.device)

    @torch.inference_mode()
    def run(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Frozen-layer states (B, T, d) of a tokenized batch."""
        return self.model(**batch).last_hidden_state

    def states(self, prompts: list[str], replies: list[str]) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """(states, mask, reply token mask) per chunk of :data:`BATCH` pairs, from the cache when the same pairs were
        just scored."""
        key = (autocast_state(), tuple(prompts), tuple(replies))  # bf16 states never answer a float32 call
        if key not in self._cache:
            chunks = []
            for start in range(0, len(prompts), BATCH):
                batch = self.tokenize(prompts[start:start + BATCH], replies[start:start + BATCH])
                chunks.append((self.run(batch), batch["attention_mask"], batch.get("token_type_ids")))
            self._cache[key] = chunks
            while len(self._cache) > TRUNK_CACHE:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        return self._cache[key]

    def clear_cache(self) -> None:
        """Forget the kept batches (benchmarks use it to time the raw forward pass)."""
        self._cache.clear()

    def new_branch(self, heads: dict[str, PairHead], pooling: str = "mean") -> CrossBranch:
        """A branch that starts from the pretrained top layers (what training fine-tunes)."""
        return CrossBranch(copy.deepcopy(self.top_layers).float().requires_grad_(True), heads, pooling)


def round_to_stored(branch: CrossBranch) -> CrossBranch:
    """Round ``branch``'s layer weights to bf16, in place, as :func:`save_branch` stores them (the heads stay
    float32): figures measured after this describe the branch a :func:`load_branch` of the file gives back."""
    with torch.no_grad():
        for value in branch.layers.state_dict().values():
            value.copy_(value.to(torch.bfloat16).to(value.dtype))
    return branch


def save_branch(path: Path, branch: CrossBranch, facts: dict) -> None:
    """Write a branch's layers (bf16) and heads (fp32) with its facts to one safetensors file, atomically."""
    tensors = {f"layers.{k}": v.detach().to(torch.bfloat16).contiguous()
               for k, v in branch.layers.state_dict().items()}
    tensors.update({f"heads.{k}": v.detach().float().contiguous() for k, v in branch.heads.state_dict().items()})
    shapes = {name: [h.net[0].in_features, h.net[0].out_features, h.net[3].out_features]
              for name, h in branch.heads.items()}
    meta = {"shapes": json.dumps(shapes, sort_keys=True), "facts": json.dumps(facts, sort_keys=True),
            "layers": str(len(branch.layers)), **({} if branch.pooling == "mean" else {"pooling": branch.pooling})}
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(path)


def load_branch(path: Path, trunk: CrossTrunk) -> tuple[CrossBranch, dict]:
    """Read a branch written by :func:`save_branch` onto ``trunk``'s device; returns (branch in eval mode, facts)."""
    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata()
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    if not meta or not {"layers", "shapes", "facts"} <= set(meta):
        raise ValueError(f"`{path.name}` is not a cross-encoder branch written by reward_models.train (its metadata "
                         f"lacks layers, shapes and facts): retrain with `python -m reward_models.train`")
    n_layers = int(meta["layers"])
    if n_layers != len(trunk.top_layers):
        raise ValueError(f"`{path.name}` holds {n_layers} fine-tuned layers; the trunk freezes "
                         f"{trunk.frozen_layers} of {trunk.frozen_layers + len(trunk.top_layers)}, leaving "
                         f"{len(trunk.top_layers)}")
    heads = {name: PairHead(n_in, hidden, n_out) for name, (n_in, hidden, n_out) in json.loads(meta["shapes"]).items()}
    pooling = meta.get("pooling", "mean")
    if pooling not in POOLINGS:
        raise ValueError(f"`{path.name}` pools its states by {pooling!r}; this version knows {POOLINGS}")
    branch = CrossBranch(copy.deepcopy(trunk.top_layers), heads, pooling)
    state = {k[len("layers."):]: v for k, v in tensors.items() if k.startswith("layers.")}
    branch.layers.load_state_dict({k: v.to(trunk.dtype) for k, v in state.items()})
    branch.heads.load_state_dict({k[len("heads."):]: v for k, v in tensors.items() if k.startswith("heads.")})
    branch.layers.to(trunk.dtype)
    return branch.to(trunk.device).eval().requires_grad_(False), json.loads(meta["facts"])


def shared_trunk(path: str | None = None, device: str | None = None,
                 frozen_layers: int = FROZEN_LAYERS) -> CrossTrunk:
    """The process-wide trunk for encoder folder ``path`` (default: the shipped MiniLM) on ``device``, freezing its
    lowest ``frozen_layers`` layers (objectives whose branches share the depth share one trunk and its states)."""
    return _trunk(str(Path(path or minilm_path()).resolve()),
                  str(torch.device(device) if device else default_device()), frozen_layers)


@functools.lru_cache(maxsize=4)
def _trunk(path: str, device: str, frozen_layers: int) -> CrossTrunk:
    return CrossTrunk(path, torch.device(device), frozen_layers)


def branch_layers(path: Path) -> int:
    """How many fine-tuned layers the branch file ``path`` holds (its metadata's ``layers``), read without its
    tensors: a branch sits on the trunk that freezes the encoder's other layers."""
    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata() or {}
    if not str(meta.get("layers", "")).isdigit():
        raise ValueError(f"`{path.name}` is not a cross-encoder branch written by reward_models.train (its metadata "
                         f"lacks layers): retrain with `python -m reward_models.train`")
    return int(meta["layers"])


def branch_trunk(path: Path, encoder_path: str | None, device: str | None) -> CrossTrunk:
    """The shared trunk the branch file ``path`` was trained on: the encoder's layers below the branch's own."""
    default = shared_trunk(encoder_path, device)
    total = default.frozen_layers + len(default.top_layers)
    n_layers = branch_layers(path)
    if not 1 <= n_layers < total:
        raise ValueError(f"`{path.name}` holds {n_layers} fine-tuned layers; a branch on this {total}-layer encoder "
                         f"holds 1 to {total - 1}")
    return default if n_layers == len(default.top_layers) else shared_trunk(encoder_path, device, total - n_layers)


class CrossEncoderRewardModel(RewardModel):
    """A reward model made of the shared trunk and one branch read from a safetensors file inside the package.

    Subclasses set ``default_file`` and turn the branch's head logits into one score per pair
    (:meth:`score_logits`)."""

    default_file: str = ""

    def __init__(self, weights: str | Path | None = None, device: str | None = None,
                 encoder_path: str | None = None) -> None:
        self.weights = Path(weights) if weights else WEIGHTS_DIR / self.default_file
        if not self.weights.is_file():
            raise FileNotFoundError(f"`weights` must be a safetensors file written by reward_models.train; "
                                    f"{str(self.weights)!r} does not exist")
        self.encoder_path = encoder_path
        self.trunk = branch_trunk(self.weights, encoder_path, device)
        self.branch, self.facts = load_branch(self.weights, self.trunk)
        self._digest = file_sha256(self.weights)

    def identity(self) -> dict:
        identity = {"branch_sha256": self._digest, "trunk": self.trunk.identity()}
        if self.facts.get("inputs") == "cross+bi":
            identity["encoder"] = shared_encoder(self.encoder_path, str(self.trunk.device)).identity()
        return identity

    def score_logits(self, logits: dict[str, torch.Tensor]) -> torch.Tensor:
        """One score in [0, 1] per pair from the branch's head logits."""
        raise NotImplementedError

    @torch.inference_mode()
    def logits(self, prompts: list[str], responses: list[str]) -> dict[str, torch.Tensor]:
        """The branch's head logits for every pair, concatenated over the trunk's chunks (float32). A branch trained
        with the bi-encoder view (facts ``"inputs": "cross+bi"``) also reads ``[u, v, u*v, |u-v|]`` of the pair."""
        extra = None
        if self.facts.get("inputs") == "cross+bi":
            encoder = shared_encoder(self.encoder_path, str(self.trunk.device))
            extra = pair_features(encoder.encode(prompts), encoder.encode(responses)).to(self.trunk.device)
        outs = [self.branch(states, mask, None if extra is None else extra[k * BATCH:(k + 1) * BATCH], reply)
                for k, (states, mask, reply) in enumerate(self.trunk.states(prompts, responses))]
        return {name: torch.cat([o[name] for o in outs]).float() for name in outs[0]}

    def _score(self, prompts: list[str], responses: list[str]) -> np.ndarray:
        return self.score_logits(self.logits(prompts, responses)).float().cpu().numpy()
