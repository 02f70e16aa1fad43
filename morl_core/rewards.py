"""The reward contract shared by reward models, environments, agents and the board.

A reward model scores a batch of (prompt, reply) pairs into a float32 vector of shape (B,) with values in [0, 1];
an environment stacks its models' vectors into the reward matrix of shape (B, n_objectives), float32, columns in
its ``objectives`` order. :func:`check_texts` is the input check every scorer and environment applies;
:func:`reward_matrix` the one way columns become the matrix.

>>> reward_matrix([np.array([0.5, 1.0]), np.array([0.25, 0.0])]).tolist()
[[0.5, 0.25], [1.0, 0.0]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["check_texts", "reward_matrix"]


def check_texts(texts: object, name: str) -> list[str]:
    """``texts`` as a list of str, or a TypeError naming the parameter and the offending entry."""
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise TypeError(f"`{name}` must be a list of str; got {type(texts).__name__}")
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"`{name}[{index}]` must be a str; got {type(text).__name__}: {text!r:.60}")
    return list(texts)


def reward_matrix(columns: Sequence[np.ndarray]) -> np.ndarray:
    """Per-objective score vectors, each (B,), stacked into the float32 reward matrix (B, n_objectives)."""
    return np.stack([np.asarray(c) for c in columns], axis=1).astype(np.float32)
