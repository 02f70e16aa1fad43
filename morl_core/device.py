"""Where models run, and what a run cost in memory: one definition for reward models, policies and the protocol."""

from __future__ import annotations

import platform
import resource
import sys

import torch

__all__ = ["default_device", "device_and_peak_memory", "reset_peak_memory"]


def default_device() -> torch.device:
    """The GPU when there is one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def reset_peak_memory() -> None:
    """Start a new peak-memory measurement on the GPU (a CPU's peak resident set size cannot be reset)."""
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def device_and_peak_memory(device: torch.device | None = None) -> tuple[str, int]:
    """The device's name and its peak memory in bytes: CUDA allocations since the last reset on a GPU, else the
    process's maximum resident set size. ``device=None`` means the GPU when there is one."""
    device = default_device() if device is None else torch.device(device)
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}", int(torch.cuda.max_memory_allocated(device))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return f"cpu:{platform.machine()}", int(rss if sys.platform == "darwin" else rss * 1024)
