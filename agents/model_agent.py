"""Any causal LM checkpoint as a board agent: a local folder or a hub id, optionally with a LoRA adapter folder.

:class:`ModelAgent` wraps :class:`~agents.policy.CausalLMPolicy` (same chat formatting, batching and seeding as the
project's own policies), so a model trained anywhere (TRL, another RL library, a fine-tune) is evaluated by exactly
the protocol the board's entries went through: ``morl-bench evaluate --model PATH [--adapter DIR]``.

A plain model answers every preference alike (it is asked once per seed). A *preference-conditioned* model (one
trained with its preference in the prompt, as Rewards-in-Context and Panacea do) gets ``preference_prompt``: a
``str.format`` template appended to the system prompt for each preference, with the fields

- ``{weights}``: ``"reflection 0.50, empathy 0.25, fluency 0.25"`` (names where the objectives are known, else
  the numbers alone: ``"0.50, 0.25, 0.25"``);
- ``{w}``: the weights as a list of floats, so ``{w[0]:.1f}`` is the first objective's;
- each objective's name, when the objectives are known: ``{reflection:.2f}``.

>>> preference_text("Weights: {weights}.", np.array([0.5, 0.25, 0.25]), ("reflection", "empathy", "fluency"))
'Weights: reflection 0.50, empathy 0.25, fluency 0.25.'
>>> preference_text("<r>{w[0]:.1f}<e>{w[1]:.1f}", np.array([0.75, 0.25]), None)
'<r>0.8<e>0.2'
>>> check_preference_prompt("{kindness}", ("reflection", "empathy"))
Traceback (most recent call last):
...
morl_core.errors.MorlError: `preference_prompt` must use only the fields {weights}, {w[i]} and ... KeyError: 'kindness'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agents.policy import SYSTEM_PROMPT, CausalLMPolicy
from morl_core.agent import AGENT_NAME_RE, FAMILIES, Agent, TrainingCosts
from morl_core.errors import MorlError

__all__ = ["ModelAgent", "check_preference_prompt", "model_name", "preference_text"]


def preference_text(template: str, preference: np.ndarray, objectives: Sequence[str] | None) -> str:
    """``template`` filled in for ``preference`` (see the module docstring for its fields)."""
    w = [float(x) for x in preference]
    names = list(objectives) if objectives is not None else None
    weights = ", ".join(f"{n} {x:.2f}" for n, x in zip(names, w)) if names else ", ".join(f"{x:.2f}" for x in w)
    return template.format(weights=weights, w=w, **(dict(zip(names, w)) if names else {}))


def check_preference_prompt(template: str, objectives: Sequence[str] | None, d: int | None = None) -> None:
    """``template`` fills in for a uniform preference over ``objectives`` (or ``d`` unnamed ones), or a
    :class:`MorlError` naming ``preference_prompt``, the fields it may use and what failed."""
    if not isinstance(template, str) or not template.strip():
        raise MorlError.of("preference_prompt", "must be a non-empty format string", template)
    n = len(objectives) if objectives is not None else (d or 1)
    try:
        preference_text(template, np.full(n, 1.0 / n), objectives)
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        names = f" and the objectives' names {tuple(objectives)}" if objectives is not None else ""
        raise MorlError.of("preference_prompt", f"must use only the fields {{weights}}, {{w[i]}}{names}", template,
                           f"It failed with {type(exc).__name__}: {exc}") from None


def model_name(model: str | Path, adapter: str | Path | None = None) -> str:
    """A board-safe agent name for a checkpoint: its folder name (or the hub id's last part), plus the adapter
    folder's name; characters outside ``[A-Za-z0-9._-]`` become ``-``.

    >>> model_name("HuggingFaceTB/SmolLM2-135M-Instruct", "runs/grpo/adapter")
    'SmolLM2-135M-Instruct-adapter'
    """
    parts = [Path(str(model).rstrip("/")).name] + ([Path(str(adapter).rstrip("/")).name] if adapter else [])
    name = re.sub(r"[^A-Za-z0-9._]+", "-", "-".join(p for p in parts if p)).strip("-._")[:64]
    return name if name and AGENT_NAME_RE.fullmatch(name) else "model"


class ModelAgent(Agent):
    """A causal LM checkpoint (``model``: a local transformers folder or a hub id in the local cache; None: the
    shipped SmolLM2) with an optional LoRA ``adapter`` folder (peft's ``adapter_config.json`` +
    ``adapter_model.safetensors``), sampled as the project's policies are.

    ``preference_prompt``: a template for preference-conditioned models (module docstring); without it the
    agent is ``preference_independent``. ``objectives``: the environment's objective names (for the template's
    named fields and ``{weights}``). ``name`` (default: from the folder names) and ``family`` are the board's.
    ``details`` (a JSON object: how it was trained) is recorded with the result, ``costs`` as its training costs.
    ``policy_kwargs`` go to :class:`~agents.policy.CausalLMPolicy` (``max_new_tokens``, ``temperature``,
    ``system_prompt``, ``precision``, ``device`` ...). The checkpoint loads on first use.
    """

    def __init__(self, model: str | Path | None = None, adapter: str | Path | None = None, *,
                 preference_prompt: str | None = None, objectives: Sequence[str] | None = None,
                 name: str | None = None, family: str = "single-policy", details: dict | None = None,
                 costs: TrainingCosts | None = None, **policy_kwargs: Any) -> None:
        if model is not None and str(model).startswith(("/", ".", "~")) and not Path(model).expanduser().is_dir():
            raise MorlError.of("model", "must be an existing folder (or a hub id in the local cache)", str(model))
        if adapter is not None and not (Path(adapter) / "adapter_config.json").is_file():
            raise MorlError.of("adapter", "must be a folder holding a peft adapter (adapter_config.json and "
                                          "adapter_model.safetensors)", str(adapter))
        if details is not None and not isinstance(details, dict):
            raise MorlError.of("details", "must be a JSON object (how the checkpoint was trained)", details)
        if costs is not None and not isinstance(costs, TrainingCosts):
            raise MorlError.of("costs", "must be a morl_core.agent.TrainingCosts", type(costs).__name__)
        if family not in FAMILIES:
            raise MorlError.of("family", f"must be one of {FAMILIES}", family)
        if preference_prompt is not None:
            check_preference_prompt(preference_prompt, objectives)
        self._name = model_name(model or "SmolLM2-135M-Instruct", adapter) if name is None else name
        if not isinstance(self._name, str) or AGENT_NAME_RE.fullmatch(self._name) is None:
            raise MorlError.of("name", "must be 1 to 64 characters from [A-Za-z0-9._-], starting with a letter or "
                                       "digit", self._name)
        self.model, self.adapter, self._family = model, adapter, family
        self.preference_prompt, self.objectives = preference_prompt, objectives
        self.preference_independent = preference_prompt is None
        self._details, self._costs = details or {}, costs
        self._policy_kwargs, self._policy = policy_kwargs, None
        self._system = policy_kwargs.pop("system_prompt", SYSTEM_PROMPT)

    @property
    def name(self) -> str:
        return self._name

    @property
    def family(self) -> str:
        return self._family

    @property
    def policy(self) -> CausalLMPolicy:
        """The wrapped policy, loaded (with its adapter) on first use; a checkpoint that cannot be loaded is an
        ``OSError`` naming ``model`` or ``adapter``."""
        if self._policy is None:
            try:
                policy = CausalLMPolicy(self.model, system_prompt=self._system, **self._policy_kwargs)
            except OSError as exc:
                raise OSError(f"`model` must be a local transformers folder or a hub id in the local cache (no "
                              f"network is used); got {str(self.model)!r}: {str(exc).splitlines()[0]}") from None
            if self.adapter is not None:
                try:
                    policy.load_adapter(self.adapter)
                except (OSError, ValueError, KeyError, RuntimeError) as exc:
                    raise OSError(f"`adapter` must be a LoRA adapter of {str(self.model)!r}; loading "
                                  f"{str(self.adapter)!r} failed: {str(exc).splitlines()[0]}") from None
            self._policy = policy
        return self._policy

    def respond(self, prompts: list[str], preference: np.ndarray, seed: int) -> list[str]:
        policy = self.policy
        policy.system_prompt = self._system if self.preference_prompt is None else \
            f"{self._system} {preference_text(self.preference_prompt, preference, self.objectives)}"
        return policy.respond(list(prompts), seed=seed, do_sample=True)

    def training_costs(self) -> TrainingCosts | None:
        """What training the checkpoint cost, when the caller reported it (``costs``)."""
        return self._costs

    def details(self) -> dict:
        """The checkpoint, adapter and preference template, and the caller's ``details``, recorded in the result."""
        return {"model": str(self.model) if self.model is not None else "SmolLM2-135M-Instruct (shipped)",
                "adapter": None if self.adapter is None else str(self.adapter),
                "preference_prompt": self.preference_prompt, **self._details}
