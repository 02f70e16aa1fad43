"""Timing helpers shared by the benchmark scripts: the median of repeated runs and the device's name.

The scripts import it as ``from bench_timing import ...`` (``python benchmarks/X.py`` puts this folder on the path).
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch


def timed(fn: Callable[[], Any], repeats: int, device: torch.device | None = None,
          before: Callable[[], object] | None = None) -> tuple[float, Any]:
    """Median wall-clock seconds of ``fn()`` over ``repeats`` runs and the last run's result. On a CUDA ``device``
    the GPU is synchronised around each run; ``before()`` runs untimed before each one (e.g. clearing caches)."""
    cuda = device is not None and device.type == "cuda"
    times, result = [], None
    for _ in range(repeats):
        if before is not None:
            before()
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        result = fn()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def device_name(device: torch.device) -> str:
    """``cuda:<GPU name>`` or ``cpu:<machine> (<processor>)``."""
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"cpu:{platform.machine()} ({platform.processor() or 'unknown'})"
