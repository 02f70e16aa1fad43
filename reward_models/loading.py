"""Loading reward models by name: the registry of built-in scorers and the process-wide cache of loaded ones.

Scoring is stateless, so every environment of a process shares one copy of each model (keyed by name, device and
options); a pickled model is rebuilt through the same cache (:func:`reload`), so worker processes load it once.
This module imports no scorer class at import time: entries name them as "module:Class" strings.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from morl_core.errors import did_you_mean
from morl_core.registry import Registry, resolve

if TYPE_CHECKING:  # annotations only: reward_models.base imports this module
    from reward_models.base import RewardModel

__all__ = ["REWARD_MODELS", "available", "load", "reload"]

#: built-in name -> "module:Class" of its scorer, imported on first use (``import reward_models`` stays light)
REWARD_MODELS: Registry[str] = Registry("reward model")
REWARD_MODELS.register("reflection", "reward_models.reflection:ReflectionModel")
REWARD_MODELS.register("empathy", "reward_models.empathy:EmpathyModel")
REWARD_MODELS.register("fluency", "reward_models.fluency:FluencyModel")
REWARD_MODELS.register("conciseness", "reward_models.conciseness:ConcisenessModel")
_LOADED: dict[tuple, RewardModel] = {}
_LOCK = threading.Lock()


def available() -> tuple[str, ...]:
    """Names of the built-in reward models."""
    return REWARD_MODELS.names()


def _construct(name: str, device: str | None, options: dict) -> RewardModel:
    if name in REWARD_MODELS:
        return resolve(REWARD_MODELS.get(name))(device=device, **options)
    # hub ids and local folders; deliberately lazy: the checkpoint module imports torch
    from reward_models.checkpoint import ClassifierModel, is_causal_lm, resolve_checkpoint
    folder = resolve_checkpoint(name)
    if is_causal_lm(folder):
        return resolve(REWARD_MODELS.get("fluency"))(lm=folder, device=device, **options)
    return ClassifierModel(folder, device=device, **options)


def load(name: str, device: str | None = None, **options: object) -> RewardModel:
    """The scorer called ``name``: a built-in name, a local checkpoint directory, or a hub id ("org/model").

    ``device`` defaults to the GPU when there is one (scored in bf16), else the CPU. ``options`` go to the model's
    constructor (e.g. ``transform="sigmoid"`` for a classifier checkpoint).
    """
    if not isinstance(name, str):
        raise TypeError(f"`name` must be a str naming a reward model; got {type(name).__name__}")
    if name not in REWARD_MODELS and "/" not in name and not Path(name).expanduser().is_dir():
        raise ValueError(f"unknown reward model {name!r}: `name` must be one of {list(REWARD_MODELS)}, a local "
                         f"checkpoint directory or a hub id.{did_you_mean(name, REWARD_MODELS)}")
    key = (name, device, tuple(sorted(options.items())))
    with _LOCK:
        if key not in _LOADED:
            model = _construct(name, device, dict(options))
            model._load_key = key  # lets pickling rebuild the model through this cache
            _LOADED[key] = model
        return _LOADED[key]


def reload(key: tuple) -> RewardModel:
    """The model cached under ``key`` (name, device, options), loading it on first use: how a pickled model is
    rebuilt."""
    name, device, options = key
    return load(name, device, **dict(options))
