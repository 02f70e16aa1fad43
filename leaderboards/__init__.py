"""Multi-objective indicators (and, later, the submission format and the boards).

- ``indicators`` / ``pareto``: hypervolume, EUM, cardinality, sparsity, IGD, MUL; Pareto filtering.
- ``protocol``: the ``Agent`` interface and ``evaluate(agent, env_id)``, which turns any agent into a result JSON
  (per-seed, per-preference mean reward vectors on the test split, plus costs); ``DefaultPolicyAgent``.
- ``choice``: ``ChoiceAgent`` and ``evaluate_choice(agent, env_id)`` for the choice environments (actions pick
  candidate replies; exact rewards), same result schema; ``RandomChoiceAgent``.
- ``submission``: the result schema (version 1), ``validate``, ``compute_metrics`` and ``submit`` (verified, atomic,
  duplicate-free storage under ``leaderboards/entries/<env-slug>/``); IGD and MUL against the choice environments'
  known fronts.
- ``board`` / ``render``: ranked tables, the competing-vs-correlated report, markdown and static HTML pages.
- ``commands``: ``morl-bench evaluate | submit | leaderboard | report``.
"""
