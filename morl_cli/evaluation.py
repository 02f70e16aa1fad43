"""Evaluate anything in one call: an agent object, a registered agent, your own agent class, or a model checkpoint.

    from morl_cli import evaluate
    result = evaluate(MyAgent(), "morl/Counsel-v2", out="my-agent.json")        # an object implementing Agent
    result = evaluate("my_package.agents:MyAgent", "morl/Counsel-v2")          # imported, built with agent_kwargs
    result = evaluate("path/to/checkpoint", "morl/Counsel-v2", adapter="path/to/lora")   # any causal LM

then ``morl-bench submit my-agent.json``. It is what ``morl-bench evaluate`` runs; this layer is the only one that
sees both the agents and the leaderboard's protocols, so the one call lives here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import morl_envs
from agents.baselines import DefaultPolicyAgent, RandomChoiceAgent
from agents.model_agent import ModelAgent
from agents.registry import agent_entry, agent_names, import_agent, is_agent_spec
from leaderboards.protocol import PROTOCOLS
from leaderboards.submission import write_result
from morl_core.agent import BaseAgent
from morl_core.errors import MorlError, did_you_mean

__all__ = ["evaluate", "resolve_agent"]


def _check_out(out: str | Path | None) -> Path | None:
    if out is None:
        return None
    out = Path(out)
    if out.is_dir():
        raise MorlError.of("out", "must be a file path, not a folder", str(out))
    if not out.parent.is_dir():
        raise MorlError.of("out", "must be in an existing folder", str(out))
    return out




def resolve_agent(agent_or_model: BaseAgent | str | Path, env: Any, *, agent_kwargs: dict | None = None,
                  adapter: str | Path | None = None, preference_prompt: str | None = None,
                  name: str | None = None) -> BaseAgent:
    """The agent ``agent_or_model`` stands for in the built environment ``env``, tried in this order: an agent
    object as it is; a registered untrained agent's name (``default``, ``reference``, ``echo``, ``random`` ...);
    ``"package.module:Name"``, imported and called with ``agent_kwargs``; otherwise a causal LM checkpoint (local
    folder or cached hub id) as a :class:`~agents.model_agent.ModelAgent` with ``adapter``, ``preference_prompt``,
    ``name`` and ``agent_kwargs`` (the policy's options). Options that do not apply are refused by name."""
    kind, objectives = morl_envs.describe(env.spec.id).kind, tuple(env.unwrapped.objectives)
    model_only = {k: v for k, v in (("adapter", adapter), ("preference_prompt", preference_prompt), ("name", name))
                  if v is not None}
    if model_only and (isinstance(agent_or_model, BaseAgent) or (isinstance(agent_or_model, str) and (
            agent_or_model in agent_names() or is_agent_spec(agent_or_model)))):
        field, value = next(iter(model_only.items()))
        raise MorlError.of(field, "applies to a model checkpoint only (--model)", value)
    if isinstance(agent_or_model, BaseAgent):
        if agent_kwargs is not None:
            raise MorlError.of("agent_kwargs", "applies to an agent built here (a 'module:Name' or a model), not "
                                               "to an agent object", agent_kwargs)
        return agent_or_model
    if not isinstance(agent_or_model, str | Path):
        raise MorlError.of("agent_or_model", "must be an Agent / ChoiceAgent, an agent's name, 'module:Name' or a "
                                             "model folder or hub id", type(agent_or_model).__name__)
    text = str(agent_or_model)
    if text in agent_names():
        entry = agent_entry(text)
        if entry.trained:
            raise MorlError.of("agent", "must be an untrained agent here: trained agents are evaluated by "
                                        "`morl-bench train ... --result R.json`", text)
        if entry.kind != kind:
            usable = [n for n in agent_names(trained=False) if agent_entry(n).kind == kind]
            raise MorlError.of("agent", f"must be one of {usable} for the {kind} environment {env.spec.id!r}", text)
        if agent_kwargs is not None:
            raise MorlError.of("agent_kwargs", "applies to 'module:Name' and model agents, not registered ones",
                               agent_kwargs)
        return entry.build(env)
    if is_agent_spec(text):
        return import_agent(text, agent_kwargs)
    if kind != "text":
        raise MorlError.of("agent_or_model", f"must be a choice agent for the {kind} environment {env.spec.id!r} "
                                             "(a model answers text environments)", text,
                           did_you_mean(text, agent_names(trained=False)))
    if agent_kwargs is not None and not isinstance(agent_kwargs, dict):
        raise MorlError.of("agent_kwargs", "must be a JSON object of keyword arguments", agent_kwargs)
    agent = ModelAgent(agent_or_model, adapter, preference_prompt=preference_prompt, objectives=objectives,
                       name=name, **(agent_kwargs or {}))
    agent.policy  # noqa: B018 -- load it now, so a bad checkpoint fails before the evaluation starts
    return agent


def _baseline(agent: BaseAgent, kind: str, env: Any) -> BaseAgent | None:
    """The board's inference-cost baseline for ``kind`` (None when ``agent`` is that baseline)."""
    if isinstance(agent, DefaultPolicyAgent | RandomChoiceAgent):
        return None
    return DefaultPolicyAgent() if kind == "text" else RandomChoiceAgent(int(env.action_space.n))


def evaluate(agent_or_model: BaseAgent | str | Path, env_id: str, *, seeds: Sequence[int] = (0, 1, 2),
             out: str | Path | None = None, agent_kwargs: dict | None = None, adapter: str | Path | None = None,
             preference_prompt: str | None = None, name: str | None = None, baseline: bool = True,
             max_prompts: int | None = None, progress: bool | None = None) -> dict:
    """The board result of ``agent_or_model`` (see :func:`resolve_agent`) on ``env_id`` by the board's protocol
    (every preference of the eval spec, ``seeds``, the whole test split unless ``max_prompts``, which ``submit``
    refuses), written atomically to ``out`` when given. ``baseline``: time the inference cost against the board's
    baseline (the untrained default policy, or random picks on a choice environment) as the board expects; False
    times the agent against itself (1.0). Returns the result (its metrics in ``result["claimed_metrics"]``)."""
    out = _check_out(out)
    if env_id not in morl_envs.env_ids():
        ids = morl_envs.env_ids()
        raise MorlError.of("env_id", f"must be a registered id {ids}", env_id, did_you_mean(str(env_id), ids))
    kind = morl_envs.describe(env_id).kind
    if kind != "text" and max_prompts is not None:
        raise MorlError.of("max_prompts", "applies to text environments only (a choice env's rewards are a table "
                                          "look-up)", max_prompts)
    env = morl_envs.make(env_id)
    try:
        agent = resolve_agent(agent_or_model, env, agent_kwargs=agent_kwargs, adapter=adapter,
                              preference_prompt=preference_prompt, name=name)
        options: dict[str, Any] = {"max_prompts": max_prompts, "progress": progress} if kind == "text" else {}
        result = PROTOCOLS.get(kind)(agent, env_id, seeds=seeds, env=env,
                                     baseline=_baseline(agent, kind, env) if baseline else None, **options)
    finally:
        env.close()
    if out is not None:
        write_result(result, out)
    return result
