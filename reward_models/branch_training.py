"""Fine-tuning a cross-encoder branch on the CPU: trunk states computed once, the top layers trained on them.

The trunk's frozen layers (:class:`~reward_models.cross_encoder.CrossTrunk`) give the same states in every epoch,
so they are computed once per training pair and kept in memory (bf16, unpadded); each step pads one batch of them
and runs only the branch's layers forward and backward, under bf16 autocast where the CPU has bf16 units (AVX-512
BF16 or AMX) and in float32 elsewhere (emulated bf16 is many times slower than float32).
Batches hold whole groups (all replies to one prompt), so ranking losses can compare replies to the same prompt.
A run given a checkpoint file saves its progress there every :data:`CHECKPOINT_EVERY` steps and picks up from it when
restarted, ending where an uninterrupted run ends (the batch plan is fixed by the seed, and the checkpoint carries the
optimiser's and the random generator's states).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from morl_core.errors import MorlError
from morl_core.files import write_atomic
from morl_core.precision import cpu_has_bf16
from reward_models.cross_encoder import BATCH, MAX_PAIR_TOKENS, CrossBranch, CrossTrunk

STATES_BATCH = 128  # pairs per trunk forward while precomputing
WARMUP_STEPS = 50
HEAD_LR = 1e-3
MICRO_BATCH = 16  # pairs per forward pass inside a training batch (see batch_logits)
CHECKPOINT_EVERY = 100  # training steps between two saves of a resumable run's progress


def trunk_states(trunk: CrossTrunk, prompts: Sequence[str], replies: Sequence[str]) -> list[torch.Tensor]:
    """The trunk's states of every pair, each (T_i, d) in bf16 without padding. Pairs are run sorted by length,
    so a batch pads little."""
    lengths = [len(ids) for ids in trunk.tokenizer(list(prompts), list(replies), truncation="longest_first",
                                                   max_length=MAX_PAIR_TOKENS)["input_ids"]]
    order = np.argsort(lengths, kind="stable")
    out: list[torch.Tensor] = [torch.empty(0)] * len(prompts)
    for start in range(0, len(order), STATES_BATCH):
        rows = order[start:start + STATES_BATCH].tolist()
        batch = trunk.tokenize([prompts[i] for i in rows], [replies[i] for i in rows])
        states, kept = trunk.run(batch), batch["attention_mask"].sum(1).tolist()
        for k, i in enumerate(rows):
            out[i] = states[k, :kept[k]].to(torch.bfloat16).clone()
    return out


def reply_tokens(trunk: CrossTrunk, prompts: Sequence[str], replies: Sequence[str]) -> list[torch.Tensor]:
    """Each pair's reply token mask (T_i,), uint8 without padding, aligned with :func:`trunk_states` (1 on the reply's
    tokens, its closing separator included): what a branch with "reply" pooling reads besides the states."""
    encoded = trunk.tokenizer(list(prompts), list(replies), truncation="longest_first", max_length=MAX_PAIR_TOKENS,
                              return_token_type_ids=True)
    return [torch.tensor(types, dtype=torch.uint8) for types in encoded["token_type_ids"]]


def pair_key(prompt: str, reply: str) -> str:
    """A (prompt, reply) pair's key in a states cache: a digest of both texts."""
    return hashlib.sha256(json.dumps([prompt, reply], ensure_ascii=False).encode("utf-8")).hexdigest()[:32]


def cached_trunk_states(trunk: CrossTrunk, prompts: Sequence[str], replies: Sequence[str],
                        cache: Path | None) -> list[torch.Tensor]:
    """:func:`trunk_states`, kept in ``cache`` (a folder, or None for no cache) pair by pair: one file per trunk
    identity maps each pair's :func:`pair_key` to its states, so a rerun with other loss settings skips the trunk
    pass, and a training set that differs in a few pairs (other negatives) runs only those. New pairs are added by
    rewriting the file atomically (two runs adding at once keep the later one's pairs; the others are recomputed
    when next asked for)."""
    if cache is None:
        return trunk_states(trunk, prompts, replies)
    identity = json.dumps(trunk.identity(), sort_keys=True)
    path = Path(cache) / f"trunk-states-{hashlib.sha256(identity.encode('utf-8')).hexdigest()[:24]}.pt"
    stored: dict[str, torch.Tensor] = torch.load(path, weights_only=True) if path.is_file() else {}
    keys = [pair_key(p, r) for p, r in zip(prompts, replies)]
    missing = {key: i for i, key in enumerate(keys) if key not in stored}
    if missing:
        rows = list(missing.values())
        stored.update(zip(missing, trunk_states(trunk, [prompts[i] for i in rows], [replies[i] for i in rows])))
        buffer = io.BytesIO()
        torch.save(stored, buffer)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, buffer.getvalue())
    return [stored[key] for key in keys]


def collate(states: list[torch.Tensor], rows: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded float32 states (b, T, d) and their 0/1 mask (b, T) for the pairs ``rows``."""
    width = max(states[i].shape[0] for i in rows)
    hidden = torch.zeros(len(rows), width, states[rows[0]].shape[1])
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for k, i in enumerate(rows):
        hidden[k, :states[i].shape[0]] = states[i].float()
        mask[k, :states[i].shape[0]] = 1
    return hidden, mask


def collate_reply(replies: list[torch.Tensor], rows: Sequence[int], width: int) -> torch.Tensor:
    """The reply token masks of the pairs ``rows``, padded with 0 to ``width`` (long, (b, width))."""
    out = torch.zeros(len(rows), width, dtype=torch.long)
    for k, i in enumerate(rows):
        out[k, :replies[i].shape[0]] = replies[i].long()
    return out


def batch_logits(branch: CrossBranch, states: list[torch.Tensor], rows: Sequence[int],
                 extra: torch.Tensor | None = None,
                 replies: list[torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """The branch's float32 logits for the pairs ``rows``, in that order. The rows run in length-sorted chunks of
    :data:`MICRO_BATCH`, so a chunk pads only to its own longest pair (one batch of whole groups mixes lengths: padded
    to its longest, it costs about 2.6 times its tokens); the chunks' logits are joined for one loss. ``replies``:
    every pair's reply token mask (:func:`reply_tokens`), for a branch with "reply" pooling."""
    order = sorted(range(len(rows)), key=lambda k: states[rows[k]].shape[0])
    parts: list[dict[str, torch.Tensor]] = []
    for start in range(0, len(order), MICRO_BATCH):
        chunk = [rows[k] for k in order[start:start + MICRO_BATCH]]
        hidden, mask = collate(states, chunk)
        reply = None if replies is None else collate_reply(replies, chunk, mask.shape[1])
        parts.append(branch(hidden, mask, None if extra is None else extra[chunk], reply))
    inverse = torch.empty(len(order), dtype=torch.long)
    inverse[torch.tensor(order)] = torch.arange(len(order))
    return {name: torch.cat([part[name] for part in parts]).float()[inverse] for name in parts[0]}


def group_batches(groups: np.ndarray, seed: int, size: int = BATCH,
                  owners: np.ndarray | None = None) -> list[list[int]]:
    """Row indices in batches of whole groups (shuffled with ``seed``), each closed once it holds ``size`` rows.
    With ``owners`` (n,) (a row index or -1 per row), every batch also holds the owner rows of its rows."""
    order = np.random.default_rng(seed).permutation(np.unique(groups))
    members = {g: np.flatnonzero(groups == g).tolist() for g in order}
    batches, current = [], []
    for group in order:
        current.extend(members[group])
        if len(current) >= size:
            batches.append(current)
            current = []
    batches += [current] if current else []
    if owners is None:
        return batches
    return [rows + sorted({int(owners[i]) for i in rows if owners[i] >= 0} - set(rows)) for rows in batches]


def ranking_loss(scores: torch.Tensor, better: torch.Tensor) -> torch.Tensor:
    """Mean pairwise logistic loss ``softplus(s_j - s_i)`` over the pairs (i, j) where ``better[i, j]``."""
    i, j = better.nonzero(as_tuple=True)
    return torch.nn.functional.softplus(scores[j] - scores[i]).mean()


def save_progress(path: Path, key: str, step: int, running: float | None, branch: CrossBranch,
                  optimizer: torch.optim.Optimizer) -> None:
    """Write a run's progress to ``path`` atomically: the branch, the optimiser, the CPU random generator, the steps
    done and the run's ``key`` (what :func:`load_progress` checks before resuming)."""
    buffer = io.BytesIO()
    torch.save({"key": key, "step": step, "running": running, "branch": branch.state_dict(),
                "optimizer": optimizer.state_dict(), "rng": torch.get_rng_state()}, buffer)
    write_atomic(path, buffer.getvalue())


def load_progress(path: Path, key: str, branch: CrossBranch,
                  optimizer: torch.optim.Optimizer) -> tuple[int, float | None]:
    """Restore a run saved by :func:`save_progress` into ``branch`` and ``optimizer`` and return (steps done, running
    loss). Raises MorlError when the file is not a checkpoint or was saved by a run with other settings or data
    (another ``key``): resuming it would mix two runs."""
    try:
        saved = torch.load(path, weights_only=True)
        found = saved["key"]
    except Exception as error:  # a truncated or foreign file: say which, keep it for inspection
        raise MorlError.of("checkpoint", "must be a training checkpoint written by this trainer", str(path)) from error
    if found != key:
        raise MorlError.of("checkpoint", f"must come from a run with the same settings and data (key {key}); delete "
                           "it to start afresh", f"{path} with key {found}")
    branch.load_state_dict(saved["branch"])
    optimizer.load_state_dict(saved["optimizer"])
    torch.set_rng_state(saved["rng"])
    return int(saved["step"]), saved["running"]


def fine_tune(branch: CrossBranch, states: list[torch.Tensor], groups: np.ndarray,
              loss_fn: Callable[[dict[str, torch.Tensor], list[int]], torch.Tensor], epochs: int, lr: float,
              seed: int, log: Callable[[str], None] = print, extra: torch.Tensor | None = None,
              owners: np.ndarray | None = None, checkpoint: Path | None = None, run_key: str = "",
              replies: list[torch.Tensor] | None = None) -> CrossBranch:
    """Train ``branch`` on the precomputed ``states``: AdamW (layers at ``lr``, heads at :data:`HEAD_LR`), linear
    warm-up then linear decay to 0, gradients clipped at norm 1; ``loss_fn(logits, rows)`` gives a batch's loss;
    ``extra`` (n, e): per-pair features appended to the pooled state (see :class:`CrossBranch`); ``owners``: see
    :func:`group_batches`; ``replies``: the reply token masks (see :func:`batch_logits`); ``checkpoint``: a file
    to save progress to every :data:`CHECKPOINT_EVERY` steps and at the end, and to resume from when it exists
    (``run_key`` names the caller's settings and data, checked on resuming; the caller deletes the file once the
    result is saved).
    Deterministic for a given seed on one machine, resumed or not."""
    torch.manual_seed(seed)
    fast = cpu_has_bf16()
    optimizer = torch.optim.AdamW([{"params": branch.layers.parameters(), "lr": lr},
                                   {"params": branch.heads.parameters(), "lr": HEAD_LR}], weight_decay=1e-2)
    plan = [group_batches(groups, seed + epoch, owners=owners) for epoch in range(epochs)]
    total, step, running = sum(map(len, plan)), 0, None
    key = hashlib.sha256(json.dumps([run_key, epochs, lr, seed, len(states), groups.tolist()]).encode("utf-8"))
    key = key.hexdigest()[:16]
    if checkpoint is not None and Path(checkpoint).is_file():
        step, running = load_progress(Path(checkpoint), key, branch, optimizer)
        log(f"  resumed from {checkpoint} at step {step}/{total}")
    branch.train()
    for done, (epoch, rows) in enumerate((e, rows) for e, batches in enumerate(plan) for rows in batches):
        if done < step:
            continue
        scale = min(1.0, (step + 1) / WARMUP_STEPS) * max(0.0, 1.0 - step / total)
        for group, base in zip(optimizer.param_groups, (lr, HEAD_LR)):
            group["lr"] = base * scale
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=fast):
            logits = batch_logits(branch, states, rows, extra, replies)
        loss = loss_fn(logits, rows)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(branch.parameters(), 1.0)
        optimizer.step()
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        step += 1
        if step % 100 == 0:
            log(f"  epoch {epoch + 1}/{epochs} step {step}/{total} loss {running:.4f}")
        if checkpoint is not None and (step % CHECKPOINT_EVERY == 0 or step == total):
            save_progress(Path(checkpoint), key, step, running, branch, optimizer)
    return branch.eval().requires_grad_(False)
