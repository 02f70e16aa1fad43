"""Choice environments: contextual bandits over fixed candidate replies, with exactly known Pareto fronts.

Each prompt comes with K candidate replies whose reward vectors were computed once, so stepping is a table look-up
(pure NumPy, no model in ``reset``/``step``) and the Pareto front of the expected return over deterministic policies
is computable (:func:`minkowski_pareto_front`, :func:`linear_optima`), as MO-Gymnasium's Deep Sea Treasure exposes
its front. Classic MORL agents (stable-baselines3, morl-baselines) need exactly this: a Box observation (the prompt's
MiniLM embedding) and a Discrete action.

Tables are :class:`CandidateTable` ``.npz`` files (``allow_pickle=False``):

- ``morl/Counsel-Choice-v2``: ``morl_envs/data/counsel_choice.npz``, made by ``scripts/make_choice_data.py``.
- ``morl/PAIR-Choice-v2``: PAIR's 8 human-written replies per prompt, read from ``data_dir`` / ``$MORL_DATA_DIR``
  and scored once with the installed reward models; the table is cached in ``morl_core.assets.cache_dir()``
  under a key made of the data and model fingerprints.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import moocore
import numpy as np
from gymnasium import spaces

import reward_models
from morl_core.assets import cache_dir
from morl_core.errors import MorlError, did_you_mean
from morl_core.files import write_atomic
from morl_core.pair_data import PAIR_REPLY_COLUMNS, read_pair_rows
from morl_core.simplex import preference_set, simplex_lattice
from morl_envs.counsel_env import DEFAULT_OBJECTIVES, load_prompt_set, score_replies
from morl_envs.datasets import SPLITS, PromptSet, resolve_data_dir
from morl_envs.options import reset_options
from morl_envs.spec import EvalSpec

__all__ = ["COUNSEL_CHOICE_FILE", "CandidateTable", "ChoiceDataError", "ChoiceEnv", "convex_coverage_set",
           "linear_optima", "minkowski_pareto_front"]

FORMAT_VERSION = 1
COUNSEL_CHOICE_FILE = Path(__file__).resolve().parent / "data" / "counsel_choice.npz"
CHOICE_DATASETS = ("counsel", "pair")
PAIR_SOURCES = tuple(f"pair:{column}" for column in PAIR_REPLY_COLUMNS)
CCS_GRID_STEPS = 100  # simplex lattice step 1/100 for d >= 3 (5,151 weights for 3 objectives)


_FRONTS: dict[tuple[str, str, str], np.ndarray] = {}  # (table fingerprint, split, kind) -> front, per process


class ChoiceDataError(MorlError):
    """A candidate table is malformed or does not match the prompt set or the installed reward models."""


def _sha256(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8") if isinstance(part, str) else part)
    return digest.hexdigest()


@dataclass(frozen=True, eq=False)
class CandidateTable:
    """K candidate replies per prompt with their reward vectors and the prompt embeddings (N prompts, d objectives).

    ``meta`` records how the table was made; it must hold ``data_fingerprint`` (of the prompt set) and
    ``reward_model_fingerprints`` ({objective: sha256}).
    """

    dataset: str
    prompt_ids: np.ndarray  # (N,) str
    replies: np.ndarray  # (N, K) str
    sources: tuple[str, ...]  # (K,) how each column was made
    embeddings: np.ndarray  # (N, D) float32 (stored as float16)
    rewards: np.ndarray  # (N, K, d) float32 in [0, 1]
    objectives: tuple[str, ...]
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n, k = self.replies.shape if self.replies.ndim == 2 else (-1, -1)
        checks = [(self.prompt_ids.shape == (n,), f"prompt_ids {self.prompt_ids.shape}, replies {self.replies.shape}"),
                  (len(self.sources) == k, f"{len(self.sources)} sources for {k} candidates"),
                  (self.embeddings.ndim == 2 and self.embeddings.shape[0] == n, f"embeddings {self.embeddings.shape}"),
                  (self.rewards.shape == (n, k, len(self.objectives)), f"rewards {self.rewards.shape}, "
                   f"expected {(n, k, len(self.objectives))}"),
                  (bool(np.all((self.rewards >= 0) & (self.rewards <= 1))), "rewards outside [0, 1]"),
                  ({"data_fingerprint", "reward_model_fingerprints"} <= set(self.meta), "meta lacks fingerprints")]
        for ok, what in checks:
            if not ok:
                raise ChoiceDataError(f"malformed candidate table for {self.dataset!r}: {what}")
        for array in (self.prompt_ids, self.replies, self.embeddings, self.rewards):
            array.setflags(write=False)  # shared between envs of a process

    @functools.cached_property
    def fingerprint(self) -> str:
        """sha256 over the prompt set's fingerprint, objectives, replies, rewards and embeddings."""
        return _sha256(self.meta["data_fingerprint"], json.dumps(self.objectives), "\x00".join(self.replies.ravel()),
                       np.ascontiguousarray(self.rewards, np.float32).tobytes(),
                       np.ascontiguousarray(self.embeddings, np.float16).tobytes())

    def save(self, path: str | os.PathLike) -> None:
        """Write the table as a compressed ``.npz`` atomically (temporary file, then rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, format_version=np.int64(FORMAT_VERSION), dataset=np.str_(self.dataset),
                            prompt_ids=self.prompt_ids.astype(str), replies=self.replies.astype(str),
                            sources=np.array(self.sources, dtype=str), objectives=np.array(self.objectives),
                            embeddings=self.embeddings.astype(np.float16), rewards=self.rewards.astype(np.float32),
                            meta=np.str_(json.dumps(self.meta)))
        write_atomic(path, buffer.getvalue())

    @classmethod
    def load(cls, path: str | os.PathLike) -> CandidateTable:
        """Read a table written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            version = int(data["format_version"])
            if version != FORMAT_VERSION:
                raise ChoiceDataError(f"candidate table {path} has format version {version}; this code reads "
                                      f"{FORMAT_VERSION}: regenerate it with scripts/make_choice_data.py")
            return cls(dataset=str(data["dataset"]), prompt_ids=data["prompt_ids"], replies=data["replies"],
                       sources=tuple(data["sources"].tolist()), embeddings=data["embeddings"].astype(np.float32),
                       rewards=data["rewards"].astype(np.float32), objectives=tuple(data["objectives"].tolist()),
                       meta=json.loads(str(data["meta"])))


# ---- known fronts ------------------------------------------------------------------------------------------------

def _check_choices(rewards: np.ndarray) -> np.ndarray:
    values = np.asarray(rewards, dtype=np.float64)
    if values.ndim != 3 or 0 in values.shape or not np.isfinite(values).all():
        raise ValueError(f"`rewards` must be a finite array of shape (n_prompts, k_candidates, n_objectives) with "
                         f"no empty axis; got shape {values.shape}")
    return values


def _nondominated(points: np.ndarray) -> np.ndarray:
    """The distinct non-dominated rows of ``points`` (maximisation), in moocore's O(n log n) sweep for d <= 3."""
    return points[moocore.is_nondominated(points, maximise=True, keep_weakly=False)]


def _thin(front: np.ndarray, cell: float) -> np.ndarray:
    """One point per grid cell of side ``cell`` (the one with the largest sum), then the non-dominated ones: every
    dropped point ``p`` keeps a point ``q >= p - cell`` in every objective."""
    keys = np.floor(front / cell).astype(np.int64)
    order = np.argsort(-front.sum(axis=1), kind="stable")
    _, first = np.unique(keys[order], axis=0, return_index=True)
    return _nondominated(front[order[first]])


def minkowski_pareto_front(rewards: np.ndarray, max_points: int = 250_000) -> tuple[np.ndarray, float]:
    """The Pareto front of the expected returns of deterministic policies of a choice table, and its error bound.

    A deterministic policy picks one candidate per prompt; its expected return over uniformly drawn prompts is the
    mean of the chosen reward vectors, so the set of returns is the Minkowski average of the per-prompt candidate
    sets. A sum is Pareto-optimal only if each partial sum is, so merging the prompts one by one and pruning
    dominated partial sums after each merge is exact (the dynamic programme of multi-objective knapsacks).

    Returns ``(front, error)``: the front sorted, float64 of shape (m, d), and 0.0 when it is exact. Whenever a
    partial front exceeds ``max_points`` it is thinned on an epsilon-grid (one point per cell of side ``c``, the
    smallest power-of-two multiple of the front's extent / ``sqrt(max_points)`` that leaves at most a quarter of
    ``max_points``); each thinning moves no exact point by more than ``c`` in any objective, so every point of the
    exact front is weakly dominated by a returned point plus ``error`` = (sum of the ``c``) / n_prompts in every
    objective. Returned points are always exactly achievable returns. Counsel-Choice's test and validation splits
    (55 prompts) stay exact; its 220 training prompts need thinning.

    >>> front, error = minkowski_pareto_front(np.array([[[1, 0], [0, 1]], [[1, 0], [0, 1]]]))
    >>> front.tolist(), error
    ([[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]], 0.0)
    """
    values = _check_choices(rewards)
    if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 4:
        raise ValueError(f"`max_points` must be an int >= 4; got {max_points!r}")
    front, error = np.zeros((1, values.shape[2])), 0.0
    for candidates in values:  # (k, d)
        front = _nondominated((front[:, None, :] + _nondominated(candidates)[None, :, :]).reshape(-1, front.shape[1]))
        if front.shape[0] > max_points:
            cell = float(np.ptp(front, axis=0).max()) / np.sqrt(max_points)
            while (thinned := _thin(front, cell)).shape[0] > max_points // 4:
                cell *= 2
            front, error = thinned, error + cell
    front = front / values.shape[0]
    return front[np.lexsort(front.T[::-1])], error / values.shape[0]


def linear_optima(rewards: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Expected return of the optimal deterministic policy for each linear utility ``w . r``: shape (m, d).

    For a weight ``w`` the optimum picks, independently per prompt, the candidate maximising ``w . r``; ties go to
    the candidate with the larger reward sum, so no weakly dominated choice is made where a better one ties.
    """
    values = _check_choices(rewards)
    weights = np.asarray(weights, dtype=np.float64)
    utility = np.einsum("md,nkd->mnk", weights, values)  # (m, n, k)
    ties = utility >= utility.max(axis=2, keepdims=True) - 1e-12
    choice = np.where(ties, values.sum(axis=2)[None], -np.inf).argmax(axis=2)  # (m, n)
    return values[np.arange(values.shape[0])[None], choice].mean(axis=1)  # (m, d)


def _breakpoint_weights(values: np.ndarray) -> np.ndarray:
    """Two objectives: a weight strictly between every pair of consecutive changes of any per-prompt argmax, so
    the optima at these weights are every vertex of the convex coverage set."""
    diff = values[:, :, None, :] - values[:, None, :, :]  # (n, k, k, 2)
    # w = (t, 1 - t) ties candidates i and j where t * (d0 - d1) + d1 = 0
    denom = diff[..., 0] - diff[..., 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -diff[..., 1] / denom
    t = np.unique(np.concatenate([[0.0, 1.0], t[np.isfinite(t) & (t > 0) & (t < 1)]]))
    t = np.concatenate([[0.0, 1.0], (t[:-1] + t[1:]) / 2])  # at a breakpoint itself a tie could pick a non-vertex
    return np.stack([t, 1 - t], axis=1)


def convex_coverage_set(rewards: np.ndarray, steps: int = CCS_GRID_STEPS) -> np.ndarray:
    """The convex coverage set of deterministic policies of a choice table for linear utilities, shape (m, d).

    Every returned vector is exactly achievable and optimal for some weight (:func:`linear_optima`); dominated and
    duplicate vectors are dropped. Two objectives: exact (weights between all argmax breakpoints). Three or more:
    the optima over ``simplex_lattice(d, steps)``; a vertex whose optimality region holds no grid weight can be
    missed, but the utility lost for any weight is at most ``d / (4 * steps)`` (0.0075 for d = 3 at the default
    step 1/100), since the nearest grid weight is within L1 distance ``d / (2 * steps)`` and rewards lie in [0, 1].
    """
    values = _check_choices(rewards)
    weights = _breakpoint_weights(values) if values.shape[2] == 2 else simplex_lattice(values.shape[2], steps)
    optima = _nondominated(linear_optima(values, weights))
    return optima[np.lexsort(optima.T[::-1])]


# ---- tables --------------------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def _read_table(path: str, mtime_ns: int) -> CandidateTable:
    return CandidateTable.load(path)


def load_counsel_table(path: str | os.PathLike = COUNSEL_CHOICE_FILE) -> CandidateTable:
    """The shipped Counsel candidate table (read once per process and file version)."""
    path = Path(path)
    if not path.is_file():
        raise ChoiceDataError(f"candidate table not found: {path}; regenerate it with scripts/make_choice_data.py")
    return _read_table(str(path), path.stat().st_mtime_ns)


def read_pair_replies(data_dir: Path) -> list[list[str]]:
    """The 8 human-written replies of every PAIR prompt (``pair.csv`` columns hq1, hq2, mq1, lq1..lq5)."""
    return [[reply.strip() for reply in row[1:9]] for row in read_pair_rows(data_dir)]


def build_pair_table(data_dir: str | None, device: str | None = "cpu") -> CandidateTable:
    """PAIR's candidate table, scored once with the installed reward models and cached on disk.

    The cache file name holds the sha256 of the replies, the prompt set, the reward models' and the encoder's
    fingerprints and the scoring device type, so any change rebuilds it; it is written atomically.
    """
    import torch  # deliberately lazy: the choice environments themselves are pure NumPy

    from reward_models.encoder import shared_encoder

    prompt_set = load_prompt_set("pair", data_dir)  # raises DataNotFoundError naming data_dir / MORL_DATA_DIR
    replies = read_pair_replies(resolve_data_dir(data_dir))
    models = [reward_models.load(name, device) for name in DEFAULT_OBJECTIVES]
    encoder = shared_encoder(device=device)
    fingerprints = {model.name: model.fingerprint() for model in models}
    device_type = torch.device(device).type if device else encoder.device.type
    key = _sha256(prompt_set.fingerprint, json.dumps(replies), json.dumps(fingerprints, sort_keys=True),
                  json.dumps(encoder.identity(), sort_keys=True), device_type, str(FORMAT_VERSION))
    path = cache_dir() / "choice" / f"pair-choice-{key[:24]}.npz"
    if path.is_file():
        return _read_table(str(path), path.stat().st_mtime_ns)
    prompts = [p.text for p in prompt_set.prompts]
    flat = [reply for row in replies for reply in row]
    rewards = score_replies(models, [p for p in prompts for _ in PAIR_SOURCES], flat)  # (N * 8, d)
    table = CandidateTable(
        dataset="pair", prompt_ids=np.array([p.id for p in prompt_set.prompts]), replies=np.array(replies),
        sources=PAIR_SOURCES, embeddings=encoder.encode(prompts),
        rewards=rewards.reshape(len(prompts), len(PAIR_SOURCES), -1), objectives=DEFAULT_OBJECTIVES,
        meta={"data_fingerprint": prompt_set.fingerprint, "reward_model_fingerprints": fingerprints,
              "encoder": encoder.identity(), "scoring_device": device_type, "source": prompt_set.source})
    table.save(path)
    return _read_table(str(path), path.stat().st_mtime_ns)


def verify_reward_models(table: CandidateTable, device: str | None = None) -> None:
    """Raise :class:`ChoiceDataError` unless the installed reward models have the table's fingerprints (this loads
    the models: a few seconds)."""
    stored = table.meta["reward_model_fingerprints"]
    for name in table.objectives:
        installed = reward_models.load(name, device).fingerprint()
        if stored.get(name) != installed:
            raise ChoiceDataError(f"the {table.dataset!r} candidate table was scored with reward model {name!r} "
                                  f"{str(stored.get(name))[:12]}, but the installed one is {installed[:12]}: "
                                  f"regenerate the table (scripts/make_choice_data.py) or install the matching model")


# ---- the environment ---------------------------------------------------------------------------------------------

class ChoiceEnv(gym.Env):
    """
    ## Description
    A contextual bandit over fixed candidate replies: a client statement is drawn, the agent picks one of K
    candidate replies, and receives that reply's reward vector, computed once by the learned reward models. Because
    every candidate's rewards are known, the Pareto front (:meth:`pareto_front`) and the convex coverage set
    (:meth:`convex_coverage_set`) of the expected return over deterministic policies are known exactly.

    ## Observation Space
    ``Box(-1, 1, (384,), float32)``: the statement's L2-normalised all-MiniLM-L6-v2 embedding (stored as float16).

    ## Action Space
    ``Discrete(8)``: the candidate reply to send; ``env.unwrapped.sources`` says how each column was made.
    - Counsel: 0-5 the default policy (SmolLM2-135M-Instruct) at temperatures 0.3 / 0.7 / 1.0 with 16 and 48 new
      tokens each, fixed seeds; 6 a written generic reflection; 7 a written piece of advice.
    - PAIR: its human-written replies: 0-1 complex reflections, 2 a simple reflection, 3-7 non-reflections.

    ## Reward Space
    ``Box(0, 1, (3,), float32)``, the reward models of ``morl/Counsel-v2`` applied to the chosen reply:
    - reflection, [0, 1]: MiniLM embeddings + head trained on PAIR graded reflections.
    - empathy, [0, 1]: MiniLM embeddings + heads trained on EPITOME's three empathy mechanisms.
    - fluency, [0, 1]: 1 - NLL per reply token / ln(vocabulary) under SmolLM2-135M-Instruct.

    ## Starting State
    ``reset(options={"split": s, "index": i})`` picks prompt i of split s ("train", "validation", "test", the
    text env's splits); otherwise a prompt of ``options["split"]`` (default: the ``default_split`` argument,
    "train") is drawn with ``self.np_random``.

    ## Episode End
    One step: ``terminated=True`` after the action; never truncated.

    ## Arguments
    - ``dataset``: "counsel" (shipped table, default) or "pair" (built from ``data_dir`` / ``$MORL_DATA_DIR``).
    - ``data_dir``: folder holding ``pair/pair.csv`` (PAIR only).
    - ``device``: where PAIR's table is scored when it is not cached yet (default "cpu": float32, the same table
      on every machine).
    - ``verify_models``: load the installed reward models and check the table's fingerprints against them.
    - ``table``: path of another Counsel table (e.g. regenerated with ``scripts/make_choice_data.py --limit``).
    - ``default_split``: the split drawn from when reset options name none (default "train"; "test" trains on
      the prompts whose known front :meth:`pareto_front` gives, the optimisation protocol of docs/choice_envs.md).

    ## Version History
    - v1: the same candidates scored by the v1 reward models (see ``CounselEnv``); ``-v0`` ids are retired.
    - v0: initial release (Counsel table format 1: 330 prompts x 8 candidates).
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(self, dataset: str = "counsel", data_dir: str | None = None, device: str | None = "cpu",
                 verify_models: bool = False, table: str | os.PathLike | None = None, default_split: str = "train",
                 render_mode: str | None = None) -> None:
        if dataset not in CHOICE_DATASETS:
            raise ValueError(f"`dataset` must be one of {CHOICE_DATASETS}; got {dataset!r}."
                             f"{did_you_mean(str(dataset), CHOICE_DATASETS)}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"`render_mode` must be None or one of {self.metadata['render_modes']}; "
                             f"got {render_mode!r}")
        if default_split not in SPLITS:
            raise ValueError(f"`default_split` must be one of {SPLITS}; got {default_split!r}."
                             f"{did_you_mean(str(default_split), SPLITS)}")
        if table is not None and dataset != "counsel":
            raise ValueError(f"`table` applies to dataset 'counsel' only; got dataset {dataset!r}")
        self.render_mode, self.default_split = render_mode, default_split
        self.table = build_pair_table(data_dir, device) if dataset == "pair" else load_counsel_table(
            table or COUNSEL_CHOICE_FILE)
        self.prompt_set: PromptSet = load_prompt_set(dataset, data_dir)
        self._check_table()
        if verify_models:
            verify_reward_models(self.table)
        self.objectives = self.table.objectives
        self.sources = self.table.sources
        self.reward_dim = len(self.objectives)
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(self.table.embeddings.shape[1],), dtype=np.float32)
        self.action_space = spaces.Discrete(len(self.sources))
        self.reward_space = spaces.Box(0.0, 1.0, shape=(self.reward_dim,), dtype=np.float32)
        by_id = {p.id: p for p in self.prompt_set.prompts}
        self._prompts = [by_id[i] for i in self.table.prompt_ids.tolist()]
        self._rows = {s: np.array([r for r, p in enumerate(self._prompts) if p.split == s], dtype=np.int64)
                      for s in SPLITS}
        self._row: int | None = None
        self._last: tuple[int, int] | None = None

    def _check_table(self) -> None:
        found = self.table.meta["data_fingerprint"]
        if found != self.prompt_set.fingerprint:
            raise ChoiceDataError(f"the {self.table.dataset!r} candidate table was made for prompt set "
                                  f"{found[:12]}, but the installed one is {self.prompt_set.fingerprint[:12]}: "
                                  f"regenerate it with scripts/make_choice_data.py")
        known = {p.id for p in self.prompt_set.prompts}
        unknown = [i for i in self.table.prompt_ids.tolist() if i not in known]
        if self.table.dataset != self.prompt_set.name or unknown:
            raise ChoiceDataError(f"candidate table of {self.table.dataset!r} does not fit prompt set "
                                  f"{self.prompt_set.name!r} (unknown prompt ids {unknown[:3]})")

    @property
    def eval_spec(self) -> EvalSpec:
        """The evaluation contract; its data fingerprint covers the prompts and the whole candidate table."""
        env_id = self.spec.id if self.spec is not None else f"unregistered/{self.table.dataset}-choice"
        return EvalSpec(env_id=env_id, objectives=self.objectives, reference_point=(0.0,) * self.reward_dim,
                        preferences=tuple(map(tuple, preference_set(self.reward_dim).tolist())),
                        dataset=f"{self.table.dataset}-choice", data_fingerprint=self.table.fingerprint,
                        reward_model_fingerprints=dict(self.table.meta["reward_model_fingerprints"]))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._row = None  # a reset that raises leaves no episode to step into
        options = reset_options(options, ("split", "index"),
                                " (candidates exist only for the data set's own prompts)")
        split = options.get("split", self.default_split)
        if split not in SPLITS:
            raise ValueError(f"options['split'] must be one of {SPLITS}; got {split!r}")
        rows = self._rows[split]
        index = options.get("index")
        if index is None:
            index = int(self.np_random.integers(len(rows)))
        elif isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < len(rows):
            raise ValueError(f"options['index'] must be an int in [0, {len(rows) - 1}] for split {split!r}; "
                             f"got {index!r}")
        self._row = int(rows[index])
        self._last = None
        prompt = self._prompts[self._row]
        return self.table.embeddings[self._row].copy(), {"prompt_id": prompt.id, "topic": prompt.topic,
                                                          "split": prompt.split}

    def step(self, action: int | np.integer) -> tuple[np.ndarray, np.ndarray, bool, bool, dict]:
        if self._row is None:
            raise gym.error.ResetNeeded("call reset() before step(): each episode is one reply to one prompt")
        if isinstance(action, bool) or not self.action_space.contains(action):
            raise ValueError(f"`action` must be an int in [0, {self.action_space.n - 1}] (a candidate index); "
                             f"got {action!r}")
        row, action = self._row, int(action)
        self._row, self._last = None, (row, action)
        reward = self.table.rewards[row, action].copy()
        info = {"prompt_id": self._prompts[row].id, "reply": str(self.table.replies[row, action]),
                "source": self.sources[action], "scores": dict(zip(self.objectives, reward.tolist()))}
        return self.table.embeddings[row].copy(), reward, True, False, info

    def render(self) -> str | None:
        if self.render_mode != "ansi" or self._last is None:
            return None
        row, action = self._last
        scores = ", ".join(f"{n}={v:.3f}" for n, v in zip(self.objectives, self.table.rewards[row, action]))
        return (f"client:     {self._prompts[row].text}\ncounsellor: {self.table.replies[row, action]}\n"
                f"reward:     {scores}\n")

    # ---- the known answers ----------------------------------------------------------------------------------
    def split_rows(self, split: str = "test") -> np.ndarray:
        """Table rows of ``split`` in reset-index order (``reset(options={"split": split, "index": i})``)."""
        if split not in SPLITS:
            raise ValueError(f"`split` must be one of {SPLITS}; got {split!r}")
        return self._rows[split]

    def prompt_text(self, row: int) -> str:
        """The client's statement of table row ``row`` (the rows of a split: :meth:`split_rows`)."""
        return self._prompts[int(row)].text

    def split_size(self, split: str) -> int:
        """The number of prompts of ``split`` in the candidate table."""
        return len(self.split_rows(split))

    def observations(self, split: str = "test") -> np.ndarray:
        """The observations of every prompt of ``split`` in index order, float32 of shape (n, 384)."""
        return self.table.embeddings[self.split_rows(split)].copy()

    def candidate_rewards(self, split: str = "test") -> np.ndarray:
        """Reward vectors of every candidate of every prompt of ``split``, float32 of shape (n, K, d)."""
        return self.table.rewards[self.split_rows(split)].copy()

    def expected_return(self, actions: Sequence[int] | np.ndarray, split: str = "test") -> np.ndarray:
        """Expected return (mean reward vector over uniformly drawn prompts) of the deterministic policy taking
        ``actions[i]`` on prompt i of ``split``: float64 of shape (d,)."""
        rows = self.split_rows(split)
        actions = np.asarray(actions)
        if actions.shape != rows.shape or actions.dtype.kind not in "iu" or actions.min() < 0 \
                or actions.max() >= self.action_space.n:
            raise ValueError(f"`actions` must hold one int in [0, {self.action_space.n - 1}] per prompt of split "
                             f"{split!r} ({len(rows)}); got shape {actions.shape}, dtype {actions.dtype}")
        return self.table.rewards[rows, actions].astype(np.float64).mean(axis=0)

    def score_answers(self, answers: Sequence[int] | np.ndarray, rows: Sequence[int] | np.ndarray,
                      split: str = "test") -> np.ndarray:
        """The reward vectors (B, d), float32, of candidate ``answers[i]`` on prompt ``rows[i]`` of ``split``: a
        table look-up (how ``submit`` re-scores a result's actions; the text environments' method of the same name
        runs their reward models)."""
        table_rows = self.split_rows(split)[np.asarray(rows, dtype=np.int64)]
        return self.table.rewards[table_rows, np.asarray(answers, dtype=np.int64)].astype(np.float32)

    def pareto_front(self, split: str = "test") -> np.ndarray:
        """The Pareto front of expected returns over deterministic policies on ``split``, shape (m, d), sorted
        (:func:`minkowski_pareto_front`): exact for Counsel-Choice's test and validation splits (about 4 s, cached
        per table); on bigger splits a thinned front, with a warning that states its error bound."""
        key = (self.table.fingerprint, split, "pf")
        if key not in _FRONTS:
            front, error = minkowski_pareto_front(self.candidate_rewards(split))
            _FRONTS[key] = front
            if error > 0:
                warnings.warn(f"the Pareto front of split {split!r} was thinned on an epsilon-grid to keep it small: "
                              f"every exact point is within {error:.2g} (each objective) of a returned point",
                              stacklevel=2)
        return _FRONTS[key].copy()

    def convex_coverage_set(self, split: str = "test") -> np.ndarray:
        """The convex coverage set (linear utilities) of deterministic policies on ``split``, shape (m, d)
        (:func:`convex_coverage_set`: exact for 2 objectives, simplex grid of step 1/100 beyond)."""
        key = (self.table.fingerprint, split, "ccs")
        if key not in _FRONTS:
            _FRONTS[key] = convex_coverage_set(self.candidate_rewards(split))
        return _FRONTS[key].copy()
