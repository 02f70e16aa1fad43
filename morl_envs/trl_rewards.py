"""An environment's objectives as TRL reward functions: train with TRL's ``GRPOTrainer`` against the board's models.

TRL's trainers take a list of reward functions ``f(prompts, completions, **kwargs) -> list[float]`` and combine them
with ``reward_weights``. :func:`trl_rewards` gives one function per objective, **in the environment's objective
order** and named after it (TRL logs each as ``rewards/<objective>``), and the preference as those weights:

    rewards = trl_rewards("morl/Counsel-v2", preference=[0.5, 0.25, 0.25])
    config = GRPOConfig(..., reward_weights=rewards.weights,
                        multi_objective_aggregation="normalize_then_sum")   # or TRL's default "sum_then_normalize"
    trainer = GRPOTrainer(model, reward_funcs=rewards.functions, args=config,
                          train_dataset=Dataset.from_list(rewards.dataset("train", system_prompt=...)))

TRL 1.16's ``multi_objective_aggregation`` chooses between summing the weighted rewards before the group
normalisation (``"sum_then_normalize"``) and normalising each objective within its group first
(``"normalize_then_sum"``, GDPO): both see the per-objective scores these functions return.

The functions score exactly as the environment's ``step`` does (the same reward models, replies cut at 2,048
characters), so what TRL optimises is what the board measures. All objectives of a batch are scored in one pass
(one batched call per reward model) on the first function's call and handed to the others from a one-batch cache.
Prompts may be conversational (a list of messages: the client's statement is the last ``user`` message) or plain
strings (the client's statement itself); a ``client`` dataset column, when present, takes precedence. Completions
may be strings or lists of messages (the assistant's contents joined).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from morl_core.errors import MorlError
from morl_core.simplex import check_weight_rows
from morl_envs.registry import describe, make

__all__ = ["ObjectiveReward", "TRLRewards", "client_text", "reply_text", "trl_rewards"]


def client_text(prompt: Any) -> str:
    """The client's statement in a TRL prompt: the string itself, or the last ``user`` message's content.

    >>> client_text([{"role": "system", "content": "Be kind."}, {"role": "user", "content": "I feel stuck."}])
    'I feel stuck.'
    """
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and all(isinstance(m, dict) for m in prompt):
        users = [m.get("content", "") for m in prompt if m.get("role") == "user"]
        if users and isinstance(users[-1], str):
            return users[-1]
    raise MorlError.of("prompts", "must hold strings or conversations (lists of {'role', 'content'} messages with a "
                                  "'user' message)", prompt)


def reply_text(completion: Any) -> str:
    """The reply in a TRL completion: the string itself, or the contents of its messages joined.

    >>> reply_text([{"role": "assistant", "content": "You feel stuck."}])
    'You feel stuck.'
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and all(isinstance(m, dict) for m in completion):
        return "".join(str(m.get("content", "")) for m in completion)
    raise MorlError.of("completions", "must hold strings or lists of {'role', 'content'} messages", completion)


@dataclass
class _Scores:
    """The environment's scorer and the reward matrix of the last batch it scored (a one-batch cache)."""

    env: Any
    key: tuple = ()
    rewards: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))

    def of(self, prompts: Sequence[Any], completions: Sequence[Any], clients: Sequence[str] | None) -> np.ndarray:
        texts = [str(c) for c in clients] if clients is not None else [client_text(p) for p in prompts]
        replies = [reply_text(c) for c in completions]
        if len(texts) != len(replies):
            raise MorlError.of("completions", f"must have one entry per prompt ({len(texts)})", len(replies))
        key = (tuple(texts), tuple(replies))
        if key != self.key:
            self.rewards, self.key = self.env.score(texts, replies), key
        return self.rewards


class ObjectiveReward:
    """One objective's reward function in TRL's signature; ``__name__`` is the objective's name."""

    def __init__(self, objective: str, column: int, scores: _Scores) -> None:
        self.__name__, self.column, self._scores = objective, column, scores

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float]:
        """The objective's score in [0, 1] of each completion (``kwargs['client']``, when given, holds the client
        statements; TRL passes every dataset column this way)."""
        rewards = self._scores.of(prompts, completions, kwargs.get("client"))
        return rewards[:, self.column].astype(float).tolist()


@dataclass(frozen=True)
class TRLRewards:
    """TRL's view of an environment: ``functions`` (one per objective, in order), ``weights`` (the preference,
    for ``GRPOConfig(reward_weights=...)``), the ``objectives`` and the built environment ``env``."""

    env_id: str
    objectives: tuple[str, ...]
    weights: list[float]
    functions: list[ObjectiveReward]
    env: Any

    def dataset(self, split: str = "train", system_prompt: str | None = None) -> list[dict[str, Any]]:
        """The split's prompts as TRL conversational rows ``{"prompt": [messages], "client": statement,
        "prompt_id": id}`` (system message first when ``system_prompt`` is given), for ``Dataset.from_list``."""
        head = [{"role": "system", "content": system_prompt}] if system_prompt else []
        return [{"prompt": [*head, {"role": "user", "content": p.text}], "client": p.text, "prompt_id": p.id}
                for p in self.env.unwrapped.prompt_set.split(split)]


def trl_rewards(env_id: str, preference: Sequence[float] | None = None, **env_kwargs: Any) -> TRLRewards:
    """The reward functions of text environment ``env_id`` (built with ``env_kwargs``) for TRL, with
    ``preference`` (default uniform; a simplex point with one weight per objective) as the reward weights."""
    if describe(env_id).kind != "text":
        raise MorlError.of("env_id", "must be a text environment (TRL trains language models on replies)", env_id)
    env = make(env_id, **env_kwargs)
    objectives = tuple(env.unwrapped.objectives)
    d = len(objectives)
    w = np.full(d, 1.0 / d) if preference is None else check_weight_rows(preference, d, "preference", max_rows=1,
                                                                       vector_is_row=True)[0]
    scores = _Scores(env.unwrapped)
    functions = [ObjectiveReward(name, k, scores) for k, name in enumerate(objectives)]
    return TRLRewards(env_id, objectives, [float(x) for x in w], functions, env)
