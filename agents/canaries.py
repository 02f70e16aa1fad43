"""Reference and canary rows: what a person writes, and what the cheapest reward hacks get.

Every text board carries them, so that any entry reads against both ends (family "reference", marked on the
board):

| name | replies |
|---|---|
| ``reference`` | each test prompt's written reflection (Counsel: the project's; PAIR: its first complex one) |
| ``echo`` | the client's statement, verbatim |
| ``opener-echo`` | "It sounds like " + the statement with its pronouns turned round |
| ``generic-sentence`` | one fixed supportive sentence for every statement |
| ``generic-question`` | one fixed open question for every statement |

A trained agent that scores above ``reference`` or close to a canary deserves a reading of its replies before its
numbers are believed. None of them depends on the preference or the seed.
"""

from __future__ import annotations

import numpy as np

from morl_core.agent import Agent, TrainingCosts
from morl_core.errors import MorlError
from morl_envs.robustness import counsel_set, pair_set
from reward_models.robustness import swap_pronouns

__all__ = ["CANARIES", "CannedAgent", "reference_agent"]

GENERIC_SENTENCE = "That sounds really hard, and it makes sense that you feel this way."
GENERIC_QUESTION = "How has all of this been affecting you lately?"
OPENER = "It sounds like"


def _opener_echo(prompt: str) -> str:
    body = swap_pronouns(prompt.strip())
    return f"{OPENER} {body[:1].lower()}{body[1:]}" if body else OPENER


#: canary name -> its reply to a prompt
CANARIES = {
    "echo": lambda prompt: prompt,
    "opener-echo": _opener_echo,
    "generic-sentence": lambda prompt: GENERIC_SENTENCE,
    "generic-question": lambda prompt: GENERIC_QUESTION,
}


class CannedAgent(Agent):
    """An agent without a model: each reply is ``reply(prompt)``, whatever the preference and the seed."""

    preference_independent = True
    seed_independent = True

    def __init__(self, name: str, reply, family: str = "reference") -> None:
        self._name, self._reply, self._family = name, reply, family

    @property
    def name(self) -> str:
        return self._name

    @property
    def family(self) -> str:
        return self._family

    def respond(self, prompts: list[str], preference: np.ndarray, seed: int) -> list[str]:
        return [self._reply(p) for p in prompts]

    def training_costs(self) -> TrainingCosts:
        return TrainingCosts(0, 0, 0.0, "cpu", 0)


def reference_agent(env) -> CannedAgent:
    """The ``reference`` row of ``env``: its test prompts answered with their written reflections (Counsel: the
    project's; PAIR: the first complex reflection). Refused, saying why, where no reflection is written."""
    base = env.unwrapped
    dataset = base.prompt_set.name
    found = counsel_set() if dataset == "counsel" else pair_set(base.data_dir) \
        if dataset == "pair" else None
    if found is None:
        raise MorlError.of("env", "must be a Counsel or PAIR environment (the reference agent answers with written "
                           "reflections, which exist for those prompts only)", dataset)
    written = dict(zip(found.prompts, found.genuine))
    missing = [p.text for p in base.prompt_set.split(base.eval_spec.test_split) if p.text not in written]
    if missing:
        raise MorlError.of("env", "must have a written reflection for every test prompt", dataset,
                           f"{len(missing)} test prompts have none, e.g. {missing[0]!r:.60}")
    return CannedAgent("reference", lambda prompt: written[prompt])
