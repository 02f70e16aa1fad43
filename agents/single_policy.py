"""Single-policy agents: one k-SCST-trained policy per preference, scalarized by a fixed or a dynamic scalarizer.

- ``linear`` / ``chebyshev``: a fixed preference w per policy. The agent's front for the leaderboard is one trained
  policy per preference of the evaluation set: the MORLHF baseline (Rame et al., 2023, "Rewarded soups", and Zhou et
  al., 2023, "Beyond one-preference-fits-all alignment", compare against it). A reduced set of trained preferences
  is allowed (it is far cheaper: 15 runs for 3 objectives otherwise); ``respond`` then answers each evaluated
  preference with the policy trained for the nearest one (Euclidean distance, first on ties), and
  :meth:`ScalarizedAgent.details` records the trained set and that assignment.
- ``dynaopt`` (Min et al., 2024, arXiv 2403.13578): the preference is the bandit's starting weights.
- ``pama`` (He & Maghsudi, 2025, arXiv 2508.07768) and ``mgda`` (Sener & Koltun, 2018, arXiv 1810.04650): the
  weights come from each batch, so one policy serves every preference (``preference_independent``).

All trained adapters share one copy of the base model at inference (peft named adapters, one active at a time).

>>> from agents.config import TrainConfig
>>> ScalarizedAgent(TrainConfig(scalarizer="pama", out_dir="runs/x")).trained_preferences is None
True
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

import morl_envs
from agents.checkpoint import read_summary
from agents.config import PolicyConfig, TrainConfig
from agents.policy import CausalLMPolicy
from agents.rl import train
from agents.scalarizers import SCALARIZERS
from morl_core.agent import Agent, TrainingCosts
from morl_core.files import write_atomic
from morl_core.simplex import check_weight_rows

__all__ = ["ScalarizedAgent"]


def _check_preferences(preferences: npt.ArrayLike, scalarizer: str) -> np.ndarray:
    prefs = check_weight_rows(preferences, None, max_rows=1000, vector_is_row=True)
    if not SCALARIZERS.get(scalarizer).takes_preference:
        raise ValueError(f"`preferences` must be None for {scalarizer!r}, which sets its own weights from each "
                         f"batch (one policy serves every preference); got {prefs.tolist()!r:.120}")
    return prefs


class ScalarizedAgent(Agent):
    """The single-policy agents (family "single-policy"): ``config.scalarizer`` picks the method.

    ``preferences``: (m, n) trained preferences; None means the evaluation set of ``config.env_id`` (all of it:
    the full MORLHF front), or, for PAMA and MGDA, a single preference-free run. Runs go to
    ``<config.out_dir>/pref-XX``; :meth:`train` trains them in turn, :meth:`load` reads a trained agent back.
    ``family="multi-policy"`` labels the full grid of preferences as the Pareto-set baseline ``weight-grid``.
    """

    def __init__(self, config: TrainConfig, preferences: npt.ArrayLike | None = None, name: str | None = None,
                 eval_preferences: npt.ArrayLike | None = None, family: str = "single-policy") -> None:
        if config.preference is not None:
            raise ValueError(f"`config.preference` must be None for ScalarizedAgent: pass the trained preferences "
                             f"as `preferences`; got {config.preference}")
        self.config = config
        self.trained_preferences = None if preferences is None else _check_preferences(preferences,
                                                                                         config.scalarizer)
        self._eval_preferences = None if eval_preferences is None else np.asarray(eval_preferences, np.float64)
        if family not in ("single-policy", "multi-policy"):
            raise ValueError(f"`family` must be 'single-policy' or 'multi-policy' (the weight grid); got {family!r}")
        self._name, self._family = name or config.scalarizer, family
        self._policy: CausalLMPolicy | None = None
        self._summaries: list[dict] = []
        self.assignments: dict[tuple[float, ...], int] = {}  # evaluated preference -> trained run used

    # --- the Agent interface ---------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def family(self) -> str:
        return self._family

    @property
    def preference_independent(self) -> bool:  # type: ignore[override]
        """True when one policy answers every preference (PAMA, MGDA, or a single trained preference)."""
        return self.trained_preferences is None or len(self.trained_preferences) == 1

    def respond(self, prompts: list[str], preference: np.ndarray, seed: int) -> list[str]:
        policy = self.policy
        index = self.nearest(preference)
        self.assignments[tuple(float(x) for x in np.asarray(preference))] = index
        policy.set_adapter(self._adapter_name(index))
        with policy.merged():
            return policy.respond(list(prompts), seed=seed, do_sample=True)

    def training_costs(self) -> TrainingCosts:
        states = [s["run_state"] for s in self.summaries]
        return TrainingCosts(env_samples=sum(s["env_samples"] for s in states),
                             tokens_generated=sum(s["tokens_generated"] for s in states),
                             train_seconds=float(sum(s["train_seconds"] for s in states)),
                             device=states[-1]["device"] or "unknown",
                             peak_memory_bytes=max(s["peak_memory_bytes"] for s in states))

    # --- training and loading ----------------------------------------------------------------------------------
    @property
    def run_dirs(self) -> list[Path]:
        """One run folder per trained preference (one in all for PAMA and MGDA)."""
        m = 1 if self.trained_preferences is None else len(self.trained_preferences)
        return [Path(self.config.out_dir) / f"pref-{i:02d}" for i in range(m)]

    def run_configs(self) -> list[TrainConfig]:
        """The TrainConfig of each run: this agent's config with the run's preference and folder."""
        prefs = [None] if self.trained_preferences is None else [tuple(w) for w in self.trained_preferences.tolist()]
        return [dataclasses.replace(self.config, preference=w, out_dir=str(folder))
                for w, folder in zip(prefs, self.run_dirs)]

    def train(self, progress: bool = False, env: Any = None) -> list[Any]:
        """Train every run in turn (resuming each when ``config.resume``) in ``env`` (an environment of
        ``config.env_id``, or None: each run builds its own); returns their final ``RunState``. The first run's
        trained policy becomes the agent's policy and the other runs' adapters join it from disk, so inference
        starts without reloading the base model; the other runs' policies are released."""
        self._resolve_default_preferences()
        self._write_manifest()
        states, policy = [], None
        for i, config in enumerate(self.run_configs()):
            if progress and len(self.run_dirs) > 1:
                print(f"[{self.name}] run {i + 1}/{len(self.run_dirs)}: preference {config.preference}", flush=True)
            result = train(config, progress=progress, env=env, adapter_name=self._adapter_name(i))
            states.append(result.state)
            if policy is None:
                policy = result.policy
            else:
                policy.load_adapter(self.run_dirs[i] / "adapter", self._adapter_name(i))
        policy.model.eval()
        self._summaries, self._policy = [], policy
        return states

    def _resolve_default_preferences(self) -> None:
        if self.trained_preferences is None and SCALARIZERS.get(self.config.scalarizer).takes_preference:
            self.trained_preferences = morl_envs.describe(self.config.env_id, **self.config.env_kwargs).preferences

    def _write_manifest(self) -> None:
        out = Path(self.config.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        manifest = {"name": self.name, "family": self.family, "config": dataclasses.asdict(self.config),
                    "trained_preferences": None if self.trained_preferences is None
                    else self.trained_preferences.tolist()}
        write_atomic(out / "agent.json", json.dumps(manifest, indent=1) + "\n")

    @classmethod
    def load(cls, out_dir: str | Path, name: str | None = None) -> ScalarizedAgent:
        """The agent trained into ``out_dir`` (by :meth:`train` or ``morl-bench train``)."""
        path = Path(out_dir) / "agent.json"
        if not path.is_file():
            raise FileNotFoundError(f"no trained agent in {str(out_dir)!r}: {path.name} is missing")
        manifest = json.loads(path.read_text())
        raw = manifest["config"]
        config = TrainConfig(**{**raw, "policy": PolicyConfig(**raw["policy"]), "out_dir": str(out_dir),
                                "resume": False})
        return cls(config, manifest["trained_preferences"], name or manifest["name"],
                   family=manifest.get("family", "single-policy"))

    @property
    def summaries(self) -> list[dict]:
        """``summary.json`` of every run (raises if a run has not finished)."""
        if not self._summaries:
            self._summaries = [read_summary(folder) for folder in self.run_dirs]
        return self._summaries

    @property
    def policy(self) -> CausalLMPolicy:
        """One base model carrying every run's adapters (loaded on first use, unless :meth:`train` left it)."""
        if self._policy is None:
            policy = CausalLMPolicy(**self.config.policy.policy_kwargs())
            for i, folder in enumerate(self.run_dirs):
                policy.load_adapter(folder / "adapter", self._adapter_name(i))
            policy.model.eval()
            self._policy = policy
        return self._policy

    @staticmethod
    def _adapter_name(index: int) -> str:
        return f"pref-{index:02d}"

    def nearest(self, preference: npt.ArrayLike) -> int:
        """Index of the trained preference nearest to ``preference`` (0 for a preference-free agent)."""
        if self.trained_preferences is None:
            return 0
        w = np.asarray(preference, dtype=np.float64)
        if w.shape != self.trained_preferences.shape[1:]:
            raise ValueError(f"`preference` must have {self.trained_preferences.shape[1]} entries, one per "
                             f"objective; got shape {w.shape}")
        return int(np.argmin(np.linalg.norm(self.trained_preferences - w, axis=1)))

    def details(self) -> dict[str, Any]:
        """What the leaderboard result should record about this agent: the method, the trained preferences,
        whether the set was reduced, and which trained run answered each evaluated preference."""
        trained = None if self.trained_preferences is None else self.trained_preferences.tolist()
        return {"scalarizer": self.config.scalarizer, "trained_preferences": trained,
                "reduced_preference_set": self._is_reduced(),
                "assignments": [{"preference": list(w), "trained_run": i} for w, i in self.assignments.items()],
                "steps": [s["run_state"]["step"] for s in self.summaries],
                "stop_reasons": [s["run_state"]["stop_reason"] for s in self.summaries]}

    def _is_reduced(self) -> bool:
        if self.trained_preferences is None:
            return False
        if self._eval_preferences is None:
            self._eval_preferences = morl_envs.describe(self.config.env_id, **self.config.env_kwargs).preferences
        eval_prefs = self._eval_preferences
        return eval_prefs.shape != self.trained_preferences.shape or not np.allclose(eval_prefs,
                                                                                    self.trained_preferences)
