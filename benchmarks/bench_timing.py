"""Helpers shared by the benchmark scripts: the median of repeated runs, the device's name, the result files.

The scripts import it as ``from bench_timing import ...`` (``python benchmarks/X.py`` puts this folder on the path).
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
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


def save_record(out: Path, kind: str, record: dict) -> None:
    """Store ``record`` under device kind ``kind`` ("cpu", "cuda") in the JSON file ``out``, keeping the other kinds'
    records; written atomically (a temporary file renamed into place)."""
    results = json.loads(out.read_text()) if out.is_file() else {}
    results = {} if not isinstance(results, dict) or "date" in results else results  # an old single-record file
    results[kind] = record
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1) + "\n")
    tmp.replace(out)
    print(f"wrote {out} [{kind}]")
