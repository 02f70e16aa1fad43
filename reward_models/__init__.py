"""Reward models: one objective, one batched scorer ``scorer(prompts, responses) -> np.ndarray`` in [0, 1].

>>> import reward_models
>>> reward_models.available()
('reflection', 'empathy', 'fluency', 'conciseness')
>>> scorer = reward_models.load("conciseness")
>>> scorer(["I can't sleep."], ["You are exhausted."]).tolist()
[1.0]

``load`` also takes a local checkpoint directory or a hub id (see :mod:`reward_models.checkpoint`). Loaded models
are shared within a process (scoring is stateless), so many environments cost one copy of each model.
"""

from __future__ import annotations

import threading
from pathlib import Path

from reward_models.base import NonFiniteRewardError, RewardModel, did_you_mean

__all__ = ["NonFiniteRewardError", "RewardModel", "available", "load"]

_BUILTIN = ("reflection", "empathy", "fluency", "conciseness")
_LOADED: dict[tuple, RewardModel] = {}
_LOCK = threading.Lock()


def available() -> tuple[str, ...]:
    """Names of the built-in reward models."""
    return _BUILTIN


def _construct(name: str, device: str | None, options: dict) -> RewardModel:
    if name == "reflection":
        from reward_models.learned_heads import ReflectionModel
        return ReflectionModel(device=device, **options)
    if name == "empathy":
        from reward_models.learned_heads import EmpathyModel
        return EmpathyModel(device=device, **options)
    if name == "fluency":
        from reward_models.fluency import FluencyModel
        return FluencyModel(device=device, **options)
    if name == "conciseness":
        from reward_models.conciseness import ConcisenessModel
        return ConcisenessModel(device=device, **options)
    from reward_models.checkpoint import ClassifierModel, is_causal_lm, resolve_checkpoint
    folder = resolve_checkpoint(name)
    if is_causal_lm(folder):
        from reward_models.fluency import FluencyModel
        return FluencyModel(lm=folder, device=device, **options)
    return ClassifierModel(folder, device=device, **options)


def load(name: str, device: str | None = None, **options: object) -> RewardModel:
    """The scorer called ``name``: a built-in name, a local checkpoint directory, or a hub id ("org/model").

    ``device`` defaults to the GPU when there is one (scored in bf16), else the CPU. ``options`` go to the model's
    constructor (e.g. ``transform="sigmoid"`` for a classifier checkpoint).
    """
    if not isinstance(name, str):
        raise TypeError(f"`name` must be a str naming a reward model; got {type(name).__name__}")
    if name not in _BUILTIN and "/" not in name and not Path(name).expanduser().is_dir():
        raise ValueError(f"unknown reward model {name!r}: `name` must be one of {list(_BUILTIN)}, a local "
                         f"checkpoint directory or a hub id.{did_you_mean(name, _BUILTIN)}")
    key = (name, device, tuple(sorted(options.items())))
    with _LOCK:
        if key not in _LOADED:
            model = _construct(name, device, dict(options))
            model._load_key = key  # lets pickling rebuild the model through this cache
            _LOADED[key] = model
        return _LOADED[key]


def _reload(key: tuple) -> RewardModel:
    name, device, options = key
    return load(name, device, **dict(options))
