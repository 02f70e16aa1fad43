"""What an entry's agent said: a sample of its replies per preference, read from the answers the entry stores.

A board ranks numbers; a reader should also see the words behind them, so that a front reached by parroting or by
stock phrases is visible at a glance. :func:`reply_samples` takes the preferences at the corners of the simplex
(all weight on one objective) and the one nearest the uniform weighting, and for each the first few test prompts
with the reply the agent gave at the first seed: a text environment's reply as written, a choice environment's
chosen candidate. The entry pages of :mod:`leaderboards.render` show them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import morl_envs
from leaderboards.answers import unpack_answers
from morl_core.errors import MorlError
from morl_envs.counsel_env import load_prompt_set

__all__ = ["SAMPLE_PROMPTS", "ReplySample", "sample_preferences", "reply_samples"]

SAMPLE_PROMPTS = 4  # test prompts shown per preference


@dataclass(frozen=True)
class ReplySample:
    """One preference's sample: the weights and (prompt, reply) pairs; ``prompt`` is None where the prompt text is
    not available here (PAIR without its data folder)."""

    preference: tuple[float, ...]
    pairs: tuple[tuple[str | None, str], ...]


def sample_preferences(weights: np.ndarray) -> list[int]:
    """Indices of the rows of ``weights`` (m, d) to show: each corner (all weight on one objective) present in the
    set, then the row nearest the uniform weighting, without repeats.

    >>> sample_preferences(np.array([[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]]))
    [2, 0, 1]
    """
    weights = np.asarray(weights, dtype=np.float64)
    d = weights.shape[1]
    chosen = [int(np.flatnonzero(np.isclose(weights[:, k], 1.0))[0]) for k in range(d)
              if np.isclose(weights[:, k], 1.0).any()]
    uniform = int(np.argmin(np.abs(weights - 1.0 / d).sum(axis=1)))
    return chosen + ([uniform] if uniform not in chosen else [])


def _texts(env_id: str) -> tuple[list[str] | None, Callable[[object, int], str]]:
    """The test prompts of ``env_id`` (None when they cannot be loaded here) and how an answer to prompt i reads."""
    entry = morl_envs.describe(env_id)
    if entry.kind == "choice":
        env = morl_envs.make(env_id).unwrapped
        rows = env.split_rows(entry.test_split)
        prompts = [env.prompt_text(int(r)) for r in rows]
        return prompts, lambda answer, i: str(env.table.replies[rows[i], int(answer)])
    try:
        prompts = [p.text for p in load_prompt_set(entry.kwargs["dataset"], None).split(entry.test_split)]
    except MorlError:  # PAIR without MORL_DATA_DIR: the replies are shown without their prompts
        prompts = None
    return prompts, lambda answer, i: str(answer)


def reply_samples(entry: dict, per_preference: int = SAMPLE_PROMPTS) -> list[ReplySample]:
    """The sample of a stored board ``entry``'s replies (see the module docstring), one :class:`ReplySample` per
    preference shown; an entry without answers (stored before results carried them) gives none."""
    result = entry["result"]
    if "answers" not in result:
        return []
    table, index = unpack_answers(result["answers"])
    prompts, reply = _texts(result["env_id"])
    out = []
    for p in sample_preferences(np.asarray(result["preferences"])):
        shown = range(min(per_preference, len(index[0][p])))
        pairs = tuple((prompts[i] if prompts is not None else None, reply(table[index[0][p][i]], i)) for i in shown)
        out.append(ReplySample(tuple(result["preferences"][p]), pairs))
    return out
