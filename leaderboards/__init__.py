"""Multi-objective indicators, the evaluation protocols, verified submissions and the boards.

- ``indicators`` / ``pareto``: hypervolume, EUM, cardinality, sparsity, IGD, MUL; Pareto filtering.
- ``protocol``: ``evaluate(agent, env_id)``, which turns any text agent (``morl_core.agent.Agent``) into a result
  JSON (every reply, the per-seed, per-preference mean reward vectors on the test split, costs); ``bundle`` for
  several trained models of one agent; :data:`PROTOCOLS`, one protocol per kind of environment.
- ``choice``: ``evaluate_choice(agent, env_id)`` for the choice environments (actions pick candidate replies; exact
  rewards), same result schema.
- ``answers``: the replies (or actions) a result carries, packed, and ``rescore``, which scores them again.
- ``carry_over``: a result's stored answers scored by a newer version of its environment (no generation).
- ``submission``: the result schema (version 2), ``validate``, ``compute_metrics`` and ``submit`` (re-scored,
  verified, atomic, duplicate-free storage under ``leaderboards/entries/<env-slug>/``); IGD and MUL against the
  choice environments' known fronts. ``verify``: an entry re-scored and its metrics recomputed.
- ``board`` / ``render`` / ``samples``: ranked tables (ties where HV intervals overlap), the competing-vs-correlated
  report, markdown and static HTML pages, a page per entry with a sample of its replies.

This package never imports ``agents``: whoever evaluates hands the agents in, the untrained baseline included.
"""

from leaderboards.choice import evaluate_choice
from leaderboards.protocol import PROTOCOLS, evaluate
from leaderboards.submission import submit

__all__ = ["PROTOCOLS", "evaluate", "evaluate_choice", "submit"]
