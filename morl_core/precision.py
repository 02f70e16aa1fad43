"""Numeric precision: bf16 where the hardware computes it natively, float32 elsewhere; one rule for every model.

Why: on this project's CPU machines (AVX-512 BF16 and AMX units) a bf16 matrix product runs about 2.4x faster than
a float32 one, and SmolLM2's forward and backward passes about 1.7x; the GPU path has run in bf16 from the start.
Three settings, for a policy (``PolicyConfig.precision``, ``--policy-precision``) or for the whole process (the
``MORL_PRECISION`` environment variable, read when a setting is ``"auto"``):

- ``"auto"`` (default): bf16 on a GPU and on a CPU with bf16 units (detected), float32 on any other CPU;
- ``"bf16"``: bf16 wherever the device runs it (a CPU without bf16 units emulates it: slower, never wrong);
- ``"fp32"``: float32 everywhere; the fast CPU path off.

What bf16 covers: a policy's frozen base weights (its LoRA adapters, their gradients and the optimizer state stay
float32, as peft keeps them) and, inside training only, the reward models' forward passes (:func:`autocast`). The
rewards a leaderboard ranks are always computed in float32 on a CPU (evaluation and submission never autocast), so
a board entry does not depend on the precision an agent was trained in.

>>> resolve("fp32", torch.device("cpu"))
torch.float32
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import torch

from morl_core.errors import MorlError, message

__all__ = ["PRECISIONS", "ENV_VAR", "autocast", "autocast_state", "cpu_has_bf16", "resolve"]

#: the settings a policy or the process may ask for
PRECISIONS = ("auto", "bf16", "fp32")
#: the process-wide setting consulted by "auto"
ENV_VAR = "MORL_PRECISION"


@functools.lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """Whether this CPU has native bf16 arithmetic (AVX-512 BF16 or AMX tiles), as oneDNN uses it."""
    cpu = getattr(torch, "cpu", None)
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        check = getattr(cpu, probe, None)
        if check is not None and check():
            return True
    return False


def _check(precision: str, field: str) -> str:
    if precision not in PRECISIONS:
        raise MorlError(message(field, f"must be one of {PRECISIONS}", precision))
    return precision


def resolve(precision: str, device: torch.device) -> torch.dtype:
    """The dtype a model on ``device`` computes in under ``precision`` ("auto" defers to ``$MORL_PRECISION``, then
    to the hardware)."""
    precision = _check(precision, "precision")
    if precision == "auto":
        precision = _check(os.environ.get(ENV_VAR, "auto").strip() or "auto", ENV_VAR)
    if precision == "auto":
        return torch.bfloat16 if device.type == "cuda" or cpu_has_bf16() else torch.float32
    return torch.bfloat16 if precision == "bf16" else torch.float32


@contextmanager
def autocast(dtype: torch.dtype, device: torch.device | None = None) -> Iterator[None]:
    """CPU autocast to bf16 when ``dtype`` is bf16 and the models run on a CPU (``device``: where they run, default
    the CPU), else nothing. Training wraps its reward calls in it; float32 weights stay float32 and the outputs are
    cast back to float32 by the scorers."""
    on_cpu = device is None or torch.device(device).type == "cpu"
    with torch.autocast("cpu", dtype=torch.bfloat16) if dtype == torch.bfloat16 and on_cpu else nullcontext():
        yield


def autocast_state() -> tuple[bool, torch.dtype]:
    """The CPU autocast state, for caches whose entries depend on it (an embedding computed under bf16 autocast
    must never be served to a float32 call)."""
    return torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")
