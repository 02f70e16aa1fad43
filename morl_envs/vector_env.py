"""A native batched vector env: ``num_envs`` counselling episodes scored in one call per reward model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from morl_envs.counsel_env import (
    DEFAULT_OBJECTIVES,
    MAX_REPLY_CHARS,
    CounselEnv,
    clip_replies,
    empty_replies,
    load_task,
    score_replies,
    select_prompt,
)
from morl_envs.datasets import MAX_PROMPT_CHARS, Prompt
from morl_envs.spaces import NaturalText


class CounselVectorEnv(VectorEnv):
    """``num_envs`` copies of :class:`~morl_envs.counsel_env.CounselEnv` stepped as one batch.

    Where ``MOSyncVectorEnv`` calls every reward model once per sub-environment, this env stacks the ``num_envs``
    replies and calls each reward model once. Rewards have shape (num_envs, reward_dim), float32;
    ``reward_space`` is the single-episode ``Box(0, 1, (reward_dim,))``, as in MO-Gymnasium's vector envs.

    Autoreset follows Gymnasium's ``NEXT_STEP`` mode by default (the step after a terminated episode resets it
    and returns zero reward), which ``MORecordEpisodeStatistics`` expects. With
    ``autoreset_mode=AutoresetMode.SAME_STEP`` each step scores the replies and already returns the next prompts,
    the finished prompts going to ``info["final_obs"]``: half the calls for an RL loop.

    ``reset(options=...)`` takes the single env's options, or per-env lists: ``{"split": s, "indices": [i, ...]}``
    or ``{"prompts": [text, ...]}``.
    """

    def __init__(self, num_envs: int, dataset: str = "counsel", objectives: Sequence[str] = DEFAULT_OBJECTIVES,
                 data_dir: str | None = None, device: str | None = None,
                 autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP, **unused: Any) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"`num_envs` must be a positive int; got {num_envs!r}")
        unused.pop("max_episode_steps", None)  # single-turn episodes: gymnasium passes the spec's value along
        if unused:
            raise TypeError(f"CounselVectorEnv got unexpected keyword arguments {sorted(unused)}")
        modes = {AutoresetMode.NEXT_STEP: AutoresetMode.NEXT_STEP, "NextStep": AutoresetMode.NEXT_STEP,
                 AutoresetMode.SAME_STEP: AutoresetMode.SAME_STEP, "SameStep": AutoresetMode.SAME_STEP}
        if autoreset_mode not in modes:
            raise ValueError(f"`autoreset_mode` must be AutoresetMode.NEXT_STEP or AutoresetMode.SAME_STEP (or "
                             f"'NextStep' / 'SameStep'); got {autoreset_mode!r}")
        mode = modes[autoreset_mode]
        self.metadata = {"autoreset_mode": mode, "render_modes": []}
        self.num_envs = num_envs
        self.prompt_set, self.reward_models, self.objectives = load_task(dataset, objectives, data_dir, device)
        self.reward_dim = len(self.objectives)
        self.single_observation_space = NaturalText(MAX_PROMPT_CHARS)
        self.single_action_space = NaturalText(MAX_REPLY_CHARS, min_length=0)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.reward_space = spaces.Box(0.0, 1.0, shape=(self.reward_dim,), dtype=np.float32)
        self._prompts: list[Prompt] | None = None
        self._options: dict[str, Any] = {}
        self._needs_reset = np.zeros(num_envs, dtype=bool)

    eval_spec = CounselEnv.eval_spec
    score = CounselEnv.score
    split_size = CounselEnv.split_size

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[tuple, dict]:
        super().reset(seed=seed)
        self._options = dict(options or {})
        self._prompts = self._draw(self._options)
        self._needs_reset[:] = False
        return self._observe(), self._infos()

    def _draw(self, options: dict[str, Any]) -> list[Prompt]:
        options = dict(options)
        if "prompts" in options:
            prompts = options.pop("prompts")
            self._check_length(prompts, "options['prompts']")
            return [select_prompt(self.prompt_set, {**options, "prompt": p}, self.np_random) for p in prompts]
        indices = options.pop("indices", None)
        if indices is None:
            return [select_prompt(self.prompt_set, options, self.np_random) for _ in range(self.num_envs)]
        self._check_length(indices, "options['indices']")
        return [select_prompt(self.prompt_set, options, self.np_random, index=i) for i in indices]

    def _check_length(self, values: Any, name: str) -> None:
        if isinstance(values, str) or not isinstance(values, Sequence) or len(values) != self.num_envs:
            raise ValueError(f"`{name}` must be a list with one entry per env (num_envs={self.num_envs}); "
                             f"got {values!r:.80}")

    def _observe(self) -> tuple[str, ...]:
        return tuple(p.text for p in self._prompts)

    def _infos(self) -> dict[str, Any]:
        return {"prompt_id": np.array([p.id for p in self._prompts], dtype=object),
                "_prompt_id": np.ones(self.num_envs, dtype=bool)}

    def step(self, actions: Sequence[str]) -> tuple[tuple, np.ndarray, np.ndarray, np.ndarray, dict]:
        if self._prompts is None:
            raise RuntimeError("call reset() before step()")
        self._check_length(actions, "actions")
        rewards = np.zeros((self.num_envs, self.reward_dim), dtype=np.float32)
        if self._needs_reset.all():  # NEXT_STEP: every episode ended last step (they end together)
            self._prompts = self._draw({k: v for k, v in self._options.items() if k == "split"})
            self._needs_reset[:] = False
            return self._observe(), rewards, self._needs_reset.copy(), self._needs_reset.copy(), self._infos()
        replies, truncated = clip_replies(actions, "actions")
        texts = [p.text for p in self._prompts]
        rewards = score_replies(self.reward_models, texts, replies)  # (num_envs, reward_dim)
        infos = self._infos()
        infos["scores"] = {name: rewards[:, i].copy() for i, name in enumerate(self.objectives)}
        infos["reply_truncated"] = np.array(truncated)
        infos["empty_reply"] = empty_replies(replies)
        terminated = np.ones(self.num_envs, dtype=bool)
        if self.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP:
            infos["final_obs"] = np.array(texts, dtype=object)
            infos["final_info"] = {"prompt_id": infos["prompt_id"]}
            self._prompts = self._draw({k: v for k, v in self._options.items() if k == "split"})
            infos["prompt_id"] = np.array([p.id for p in self._prompts], dtype=object)
        else:
            self._needs_reset[:] = True
        return self._observe(), rewards, terminated, np.zeros(self.num_envs, dtype=bool), infos
