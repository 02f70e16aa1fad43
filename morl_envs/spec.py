"""What the leaderboard needs to evaluate an environment: objectives, reference point, preferences, fingerprints.

Every reward lies in [0, 1], so the hypervolume reference point is the origin for every environment: it is
dominated by every reward vector, fixed once, and makes hypervolumes comparable across agents (no paper in this
area fixed one; see REFERENCE.md section 5).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from itertools import product

import numpy as np


def preference_set(n_objectives: int) -> np.ndarray:
    """The leaderboard's preference set: 11 evenly spaced weights for 2 objectives; for more, the simplex lattice
    with step 1/4 (15 weights for 3 objectives). Rows sum to 1, shape (m, n_objectives).

    >>> preference_set(2)[:3].tolist()
    [[0.0, 1.0], [0.1, 0.9], [0.2, 0.8]]
    >>> preference_set(3).shape
    (15, 3)
    """
    if not isinstance(n_objectives, int) or n_objectives < 1:
        raise ValueError(f"`n_objectives` must be a positive int; got {n_objectives!r}")
    if n_objectives == 1:
        return np.ones((1, 1))
    steps = 10 if n_objectives == 2 else 4
    rows = [c for c in product(range(steps + 1), repeat=n_objectives) if sum(c) == steps]
    return np.array(sorted(rows), dtype=np.float64) / steps


@dataclass(frozen=True)
class EvalSpec:
    """The evaluation contract of one environment: results with different specs must never be compared."""

    env_id: str
    objectives: tuple[str, ...]
    reference_point: tuple[float, ...]
    preferences: tuple[tuple[float, ...], ...]
    dataset: str
    data_fingerprint: str
    reward_model_fingerprints: dict[str, str] = field(default_factory=dict)
    test_split: str = "test"

    @property
    def fingerprint(self) -> str:
        """sha256 over the whole spec."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()

    def to_dict(self) -> dict:
        """A JSON-ready copy."""
        return asdict(self)
