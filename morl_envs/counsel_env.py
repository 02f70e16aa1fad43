"""Single-turn counselling-reply generation with a vector of learned rewards."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

import reward_models
from morl_core.errors import DataNotFoundError, did_you_mean
from morl_core.rewards import check_texts, reward_matrix
from morl_core.simplex import preference_set
from morl_envs.datasets import (
    MAX_PROMPT_CHARS,
    SPLITS,
    Prompt,
    PromptSet,
    load_counsel,
    load_pair,
    load_psych8k,
    resolve_data_dir,
)
from morl_envs.options import reset_options
from morl_envs.spaces import NaturalText, check_natural_text
from morl_envs.spec import EvalSpec

DATASETS = ("counsel", "pair", "psych8k")
DEFAULT_OBJECTIVES = ("reflection", "empathy", "fluency")
MAX_REPLY_CHARS = 2048
#: what an empty (or whitespace-only) reply scores on every objective: it says nothing to the client
EMPTY_REPLY_SCORE = 0.0
_warned_fallback = False


def load_prompt_set(dataset: str, data_dir: str | None) -> PromptSet:
    """The prompt set called ``dataset``; Psych8k falls back to the Counsel prompts (warning once) when absent."""
    global _warned_fallback
    if dataset not in DATASETS:
        raise ValueError(f"`dataset` must be one of {DATASETS}; got {dataset!r}.{did_you_mean(dataset, DATASETS)}")
    if dataset == "counsel":
        return load_counsel()
    folder = resolve_data_dir(data_dir)
    if dataset == "pair":
        if folder is None:
            raise DataNotFoundError("PAIR data not found: pass `data_dir=` (the folder holding pair/pair.csv) or "
                                    "set the MORL_DATA_DIR environment variable; neither is set")
        return load_pair(folder)
    found = load_psych8k(folder)
    if found is not None:
        return found
    if not _warned_fallback:
        warnings.warn("Psych8k is not available (no psych8k/*.json under `data_dir` / MORL_DATA_DIR and not in the "
                      "hub cache): morl/Psych8k-v2 runs on the Counsel prompts instead; its data fingerprint and "
                      "eval spec say so", stacklevel=3)
        _warned_fallback = True
    return load_counsel()


def empty_replies(replies: Sequence[str]) -> np.ndarray:
    """Which replies are empty or whitespace only (they score :data:`EMPTY_REPLY_SCORE` on every objective)."""
    return np.array([not r.strip() for r in replies], dtype=bool)


def score_replies(models: Sequence[reward_models.RewardModel], prompts: list[str], replies: list[str]) -> np.ndarray:
    """The reward matrix of replies already checked and cut: one batched call per reward model, float32 of shape
    (B, n_objectives); empty replies score :data:`EMPTY_REPLY_SCORE` everywhere. Environments score through
    :meth:`CounselEnv.score`, which checks and cuts first."""
    rewards = reward_matrix([model(prompts, replies) for model in models])
    rewards[empty_replies(replies)] = EMPTY_REPLY_SCORE
    return rewards


def load_task(dataset: str, objectives: Sequence[str], data_dir: str | None,
              device: str | None) -> tuple[PromptSet, tuple[reward_models.RewardModel, ...], tuple[str, ...]]:
    """What a text environment is made of: its prompt set, its reward models and their objective names in order."""
    if isinstance(objectives, str) or len(objectives) < 1:
        raise ValueError(f"`objectives` must be a non-empty sequence of reward model names; got {objectives!r}")
    prompt_set = load_prompt_set(dataset, data_dir)  # first: a missing data set fails before any model loads
    models = tuple(reward_models.load(name, device) for name in objectives)
    return prompt_set, models, tuple(model.name for model in models)


class CounselEnv(gym.Env):
    """
    ## Description
    A client says something to a counsellor; the agent answers with one reply, which learned reward models score on
    several objectives at once. The task family of DynaOpt (Min et al., 2024) and EMORL (Kong et al., 2025):
    counsellor reflections that restate the client's meaning and feeling.

    ## Observation Space
    ``NaturalText(4096)``: the client's statement.

    ## Action Space
    ``NaturalText(2048, min_length=0)``: the counsellor's reply. Longer replies are truncated to 2048 characters
    and flagged with ``info["reply_truncated"] = True``. An empty (or whitespace-only) reply is legal and scores 0
    on every objective, flagged with ``info["empty_reply"] = True``: it says nothing to the client, and without
    the rule conciseness would give it its best score (:data:`EMPTY_REPLY_SCORE`).

    ## Reward Space
    ``Box(0, 1, (n,), float32)``, one component per objective, in ``env.unwrapped.objectives`` order. Defaults:
    - reflection, [0, 1]: a MiniLM cross-encoder reading prompt and reply, trained on PAIR's graded reflections
      and the adversarial suite's negatives (reward_models/cards).
    - empathy, [0, 1]: the same cross-encoder trunk with heads for EPITOME's three empathy mechanisms.
    - fluency, [0, 1]: 1 - NLL per reply token / ln(vocabulary) of the reply alone under SmolLM2-135M-Instruct,
      times 1 - repeated trigrams, times a well-formedness factor.
    - conciseness, [0, 1] (relationship variants): 1 up to 8 words, falling linearly to 0 at 64 words.

    ## Starting State
    ``reset(options={"split": s, "index": i})`` picks prompt i of split s ("train", "validation", "test");
    ``options={"prompt": text}`` uses the caller's own statement; otherwise a prompt of ``options["split"]``
    (default "train") is drawn with ``self.np_random``.

    ## Episode End
    Single turn: ``terminated=True`` after the one step; never truncated.

    ## Arguments
    - ``dataset``: "counsel" (embedded, default), "pair" or "psych8k".
    - ``objectives``: reward model names (``reward_models.available()``), local checkpoint folders or hub ids.
    - ``data_dir``: folder holding third-party data (else ``$MORL_DATA_DIR``).
    - ``device``: where reward models run (default: the GPU if any, in bf16).

    ## Version History
    - v1: the reward models that survive the adversarial suite (a cross-encoder for reflection and empathy,
      fluency of the reply alone with penalties for loops and malformed text); ``-v0`` ids are retired.
    - v0: initial release.
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(self, dataset: str = "counsel", objectives: Sequence[str] = DEFAULT_OBJECTIVES,
                 data_dir: str | None = None, device: str | None = None, render_mode: str | None = None) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"`render_mode` must be None or one of {self.metadata['render_modes']}; "
                             f"got {render_mode!r}")
        self.render_mode = render_mode
        self.prompt_set, self.reward_models, self.objectives = load_task(dataset, objectives, data_dir, device)
        self.data_dir = data_dir
        self.reward_dim = len(self.objectives)
        self.observation_space = NaturalText(MAX_PROMPT_CHARS)
        self.action_space = NaturalText(MAX_REPLY_CHARS, min_length=0)
        self.reward_space = spaces.Box(0.0, 1.0, shape=(self.reward_dim,), dtype=np.float32)
        self._prompt: Prompt | None = None
        self._last: tuple[str, np.ndarray] | None = None

    @property
    def eval_spec(self) -> EvalSpec:
        """The evaluation contract: objectives, reference point, preferences, data and model fingerprints."""
        env_id = self.spec.id if self.spec is not None else f"unregistered/{self.prompt_set.name}"
        return EvalSpec(
            env_id=env_id, objectives=self.objectives, reference_point=(0.0,) * self.reward_dim,
            preferences=tuple(map(tuple, preference_set(self.reward_dim).tolist())),
            dataset=self.prompt_set.name, data_fingerprint=self.prompt_set.fingerprint,
            reward_model_fingerprints={m.name: m.fingerprint() for m in self.reward_models})

    def split_size(self, split: str) -> int:
        """The number of prompts of ``split`` ("train", "validation", "test")."""
        return len(self.prompt_set.split(split))

    def score(self, prompts: Sequence[str], replies: Sequence[str]) -> np.ndarray:
        """The reward matrix (B, n_objectives), float32 in [0, 1], of ``replies`` to ``prompts``, exactly as
        :meth:`step` rewards them: replies cut to 2,048 characters, one batched call per reward model. Training,
        evaluation and submission all score through this."""
        prompts = check_texts(prompts, "prompts")
        replies, _ = clip_replies(replies, "replies")
        if len(prompts) != len(replies):
            raise ValueError(f"`replies` must have one entry per prompt ({len(prompts)}); got {len(replies)}")
        return score_replies(self.reward_models, prompts, replies)

    def score_answers(self, answers: Sequence[str], rows: Sequence[int] | np.ndarray,
                      split: str = "test") -> np.ndarray:
        """The reward matrix (B, n_objectives) of replies ``answers[i]`` to prompt ``rows[i]`` of ``split`` (its
        reset-index order), scored as :meth:`score` scores them: how ``submit`` re-scores a result's replies."""
        pool = self.prompt_set.split(split)
        return self.score([pool[int(i)].text for i in rows], list(answers))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict]:
        super().reset(seed=seed)
        self._prompt = None  # a reset that raises leaves no episode to step into
        self._prompt = select_prompt(self.prompt_set, options, self.np_random)
        self._last = None
        return self._prompt.text, {"prompt_id": self._prompt.id, "topic": self._prompt.topic,
                                   "split": self._prompt.split}

    def step(self, action: str) -> tuple[str, np.ndarray, bool, bool, dict]:
        if self._prompt is None:
            raise gym.error.ResetNeeded("call reset() before step(): each episode is one reply to one prompt")
        if not isinstance(action, str):
            raise TypeError(f"`action` must be a str (the counsellor's reply); got {type(action).__name__}: "
                            f"{action!r:.60}")
        replies, truncated = clip_replies([action], "action")
        check_natural_text(replies[0], "action", 0, MAX_REPLY_CHARS)
        prompt = self._prompt
        reward = score_replies(self.reward_models, [prompt.text], replies)[0]
        self._prompt = None  # only once scored: a failed scoring call leaves the episode open
        self._last = (prompt.text, replies[0], reward)
        info = {"prompt_id": prompt.id, "scores": dict(zip(self.objectives, reward.tolist())),
                "reply_truncated": truncated[0], "empty_reply": bool(empty_replies(replies)[0])}
        return prompt.text, reward, True, False, info

    def render(self) -> str | None:
        if self.render_mode != "ansi" or self._last is None:
            return None
        prompt, reply, reward = self._last
        scores = ", ".join(f"{n}={v:.3f}" for n, v in zip(self.objectives, reward))
        return f"client:     {prompt}\ncounsellor: {reply}\nreward:     {scores}\n"


def select_prompt(prompt_set: PromptSet, options: dict[str, Any] | None, rng: np.random.Generator,
                  index: int | None = None) -> Prompt:
    """The prompt chosen by reset ``options`` (see CounselEnv's Starting State); ``index`` overrides the option."""
    options = reset_options(options, ("split", "index", "prompt"))
    if "prompt" in options:
        text = check_natural_text(options["prompt"], "options['prompt']", 1, MAX_PROMPT_CHARS)
        return Prompt("custom", text, "custom", "custom")
    split = options.get("split", "train")
    if split not in SPLITS:
        raise ValueError(f"options['split'] must be one of {SPLITS}; got {split!r}")
    pool = prompt_set.split(split)
    index = options.get("index") if index is None else index
    if index is None:
        return pool[int(rng.integers(len(pool)))]
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < len(pool):
        raise ValueError(f"options['index'] must be an int in [0, {len(pool) - 1}] for split {split!r}; got {index!r}")
    return pool[int(index)]


def clip_replies(actions: Sequence[Any], name: str) -> tuple[list[str], list[bool]]:
    """Replies checked to be str and cut to MAX_REPLY_CHARS, with a flag per reply that was cut."""
    replies = check_texts(list(actions), name)
    return [r[:MAX_REPLY_CHARS] for r in replies], [len(r) > MAX_REPLY_CHARS for r in replies]
