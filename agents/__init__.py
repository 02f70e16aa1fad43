"""Agents that act on the morl environments. For now: the default (untrained) policy."""

from agents.policy import CausalLMPolicy

__all__ = ["CausalLMPolicy"]
