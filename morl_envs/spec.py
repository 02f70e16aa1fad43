"""What the leaderboard needs to evaluate an environment: objectives, reference point, preferences, fingerprints.

Every reward lies in [0, 1], so the hypervolume reference point is the origin for every environment: it is
dominated by every reward vector, fixed once, and makes hypervolumes comparable across agents (no paper in this
area fixed one).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field


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
