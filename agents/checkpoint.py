"""Checkpoints of a training run: enough to resume and end exactly where an uninterrupted run would.

A run folder holds::

    config.json                      the run's TrainConfig (resume refuses a config that changes the trajectory)
    checkpoints/step-00000008/       one complete checkpoint per saved step (the newest ``keep`` are kept)
        adapter/                     the LoRA adapters (peft format, safetensors)
        optimizer.pt                 AdamW's state (tensors only: loads with ``weights_only=True``)
        rng.pt                       torch's CPU (and CUDA) generator states
        state.json                   step, validation history, counters, scalarizer state, Python and NumPy RNGs
        manifest.json                sha256 of every other file of the checkpoint, written last
    adapter/, summary.json           the final adapters and the run's summary, written at the end
    tensorboard/                     events (``agents.rl``)

Every checkpoint is written into a temporary folder next to its final place and renamed into place with
``os.replace``, so a run killed while saving leaves the previous checkpoint intact and never a half-written one.
A checkpoint damaged later (a truncated file, a flipped byte) fails its manifest: :func:`latest` skips it with a
warning that names it and the file, and the run resumes from the newest intact one. Temporary folders of a write
that was killed are removed on resume (:func:`remove_temporaries`).

Exactness: the prompt draws (a NumPy generator), sampling and adapter dropout (torch's generator) and validation
(a forked generator seeded with the run's seed) are all restored, so on the CPU a resumed run ends bit for bit where
an uninterrupted one would (``tests/test_rl.py``). On a GPU the same holds up to CUDA kernels that are not
deterministic (e.g. atomics in some backward kernels); set ``torch.use_deterministic_algorithms(True)`` for that.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import tempfile
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.config import TrainConfig
from agents.policy import CausalLMPolicy
from morl_core.files import file_sha256, write_atomic

__all__ = ["RunState", "latest", "save", "load", "write_config", "save_final", "read_summary", "STEP_RE", "verify",
           "remove_temporaries", "MANIFEST"]

STEP_RE = re.compile(r"step-(\d{8})")
#: config fields that may differ between a run and its resumption (they do not change the trajectory)
RESUMABLE_CHANGES = ("max_steps", "resume", "out_dir", "save_every", "keep_checkpoints")
MANIFEST = "manifest.json"


@dataclass
class RunState:
    """Everything of a run that is not a tensor: saved in every checkpoint."""

    step: int = 0  # completed updates
    val_steps: list[int] = field(default_factory=list)
    val_rewards: list[list[float]] = field(default_factory=list)  # (V, n) mean validation reward vectors
    val_scores: list[float] = field(default_factory=list)  # (V,) preference-weighted, for the stop rule
    env_samples: int = 0  # replies scored, training and validation
    tokens_generated: int = 0  # policy tokens generated, training and validation
    train_seconds: float = 0.0
    stop_reason: str | None = None
    device: str = ""  # where it trained, e.g. "cpu:x86_64" or "cuda:NVIDIA H100 80GB HBM3"
    peak_memory_bytes: int = 0  # max over the sessions of a resumed run


def _atomic_dir(target: Path, write: Any) -> None:
    """Call ``write(tmp)`` on a fresh temporary folder beside ``target``, then move it to ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        write(tmp)
        if target.exists():  # re-saving the same step: move the old one aside first
            old = target.with_name(f".{target.name}-old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _json_config(config: TrainConfig) -> dict:
    return json.loads(json.dumps(asdict(config)))


def write_config(out: Path, config: TrainConfig) -> None:
    """Write ``config.json`` for a new run."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(_json_config(config), indent=1) + "\n")


def _check_same_run(out: Path, config: TrainConfig) -> None:
    path = out / "config.json"
    if not path.is_file():
        return
    saved, current = json.loads(path.read_text()), _json_config(config)
    for where in ("device", "fast_decode", "precision"):  # where and how it computes may change between sessions
        saved["policy"].pop(where, None), current["policy"].pop(where, None)
    saved["policy"].setdefault("lora_layers", 0)  # runs written before the option adapted every layer
    for key in sorted(set(saved) | set(current)):
        if key in RESUMABLE_CHANGES:
            continue
        if saved.get(key) != current.get(key):
            raise ValueError(f"`{key}` must equal the value of the run being resumed in {str(out)!r} "
                             f"({saved.get(key)!r}) to end where that run would; got {current.get(key)!r}. "
                             f"Resume with the same settings, or train into another --out folder")


def _write_manifest(folder: Path) -> None:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    manifest = {str(p.relative_to(folder)): file_sha256(p) for p in files}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def verify(folder: Path) -> str | None:
    """What is wrong with checkpoint ``folder`` by its manifest (a missing, extra-short or changed file, or no
    manifest), or None when every file matches its recorded sha256."""
    try:
        manifest = json.loads((Path(folder) / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        return f"{MANIFEST} is missing or unreadable ({type(exc).__name__})"
    for name, digest in sorted(manifest.items()):
        path = Path(folder) / name
        try:
            if file_sha256(path) != digest:
                return f"{name} does not match its checksum"
        except OSError as exc:
            return f"{name} cannot be read ({exc.strerror or type(exc).__name__})"
    return None


def latest(out: Path) -> Path | None:
    """The newest *intact* checkpoint folder under ``out/checkpoints`` (see :func:`verify`), or None; each newer
    damaged one is skipped with a warning that names it and what is wrong."""
    folder = Path(out) / "checkpoints"
    found = sorted(p for p in folder.glob("step-*") if STEP_RE.fullmatch(p.name)) if folder.is_dir() else []
    for candidate in reversed(found):
        problem = verify(candidate)
        if problem is None:
            return candidate
        warnings.warn(f"checkpoint {str(candidate)!r} is damaged ({problem}); skipping it for the previous intact "
                      f"one", RuntimeWarning, stacklevel=2)
    return None


def remove_temporaries(out: Path) -> list[Path]:
    """Delete the temporary folders a killed write left in run folder ``out`` (``checkpoints/.step-*`` and
    ``.adapter-*``); returns what was removed. Call only when no other process writes into ``out``."""
    out = Path(out)
    leftovers = sorted([*out.glob(".adapter-*"), *(out / "checkpoints").glob(".step-*")])
    for path in leftovers:
        shutil.rmtree(path, ignore_errors=True)
    return leftovers


def _rng_states(rng: np.random.Generator) -> dict:
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"python": [version, list(internal), gauss], "numpy_global": [name, keys.tolist(), pos, has_gauss, cached],
            "numpy_generator": rng.bit_generator.state}


def _set_rng_states(states: dict, rng: np.random.Generator) -> None:
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = states["numpy_global"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    rng.bit_generator.state = states["numpy_generator"]


def save(out: Path, state: RunState, policy: CausalLMPolicy, optimizer: torch.optim.Optimizer, scalarizer: Any,
         rng: np.random.Generator, keep: int = 2) -> Path:
    """Write the checkpoint of step ``state.step`` atomically and delete all but the newest ``keep``."""
    target = Path(out) / "checkpoints" / f"step-{state.step:08d}"

    def write(tmp: Path) -> None:
        policy.save_adapter(tmp / "adapter")
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch_states = {"cpu": torch.get_rng_state()}
        if torch.cuda.is_available():
            torch_states["cuda"] = torch.cuda.get_rng_state_all()
        torch.save(torch_states, tmp / "rng.pt")
        blob = {"run_state": asdict(state), "scalarizer": scalarizer.state_dict(), "rng": _rng_states(rng)}
        (tmp / "state.json").write_text(json.dumps(blob) + "\n")
        _write_manifest(tmp)

    try:
        _atomic_dir(target, write)
    except (OSError, RuntimeError) as exc:  # torch.save reports a full disk as a RuntimeError
        raise OSError(f"could not write the checkpoint {str(target)!r}: {exc}".splitlines()[0]) from None
    for old in sorted(p for p in target.parent.glob("step-*") if STEP_RE.fullmatch(p.name))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def load(folder: Path, config: TrainConfig, policy: CausalLMPolicy, optimizer: torch.optim.Optimizer,
         scalarizer: Any, rng: np.random.Generator) -> RunState:
    """Restore adapters, optimizer, scalarizer and every RNG from checkpoint ``folder``; returns the RunState."""
    _check_same_run(folder.parent.parent, config)
    policy.load_adapter(folder / "adapter", policy.model.active_adapter)
    optimizer.load_state_dict(torch.load(folder / "optimizer.pt", map_location=policy.device, weights_only=True))
    blob = json.loads((folder / "state.json").read_text())
    scalarizer.load_state_dict(blob["scalarizer"])
    _set_rng_states(blob["rng"], rng)
    torch_states = torch.load(folder / "rng.pt", weights_only=True)
    torch.set_rng_state(torch_states["cpu"])
    if "cuda" in torch_states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(torch_states["cuda"])
    return RunState(**blob["run_state"])


def save_final(out: Path, state: RunState, policy: CausalLMPolicy, scalarizer: Any, objectives: tuple[str, ...],
               preference: np.ndarray) -> None:
    """Write the final adapters (``out/adapter``) and ``out/summary.json`` (what ``ScalarizedAgent.load`` reads)."""
    _atomic_dir(Path(out) / "adapter", lambda tmp: policy.save_adapter(tmp))
    summary = {"objectives": list(objectives), "preference": [float(x) for x in preference],
               "run_state": asdict(state), "scalarizer": scalarizer.state_dict(),
               "weights": [float(x) for x in np.asarray(scalarizer.weights())]}
    write_atomic(Path(out) / "summary.json", json.dumps(summary, indent=1) + "\n")


def read_summary(out: Path) -> dict:
    """``summary.json`` of a finished run folder, with a clear error when the run has not finished."""
    path = Path(out) / "summary.json"
    if not path.is_file():
        raise FileNotFoundError(f"no finished run in {str(out)!r}: {path.name} is missing (train it first, or "
                                f"resume it with --resume)")
    return json.loads(path.read_text())
