"""Multi-objective indicators (and, later, the submission format and the boards).

- ``indicators`` / ``pareto``: hypervolume, EUM, cardinality, sparsity, IGD, MUL; Pareto filtering.
- ``protocol``: the ``Agent`` interface and ``evaluate(agent, env_id)``, which turns any agent into a result JSON
  (per-seed, per-preference mean reward vectors on the test split, plus costs); ``DefaultPolicyAgent``.
- ``submission``: the result schema (version 1), ``validate``, ``compute_metrics`` and ``submit`` (verified, atomic,
  duplicate-free storage under ``leaderboards/entries/<env-slug>/``).
- ``board`` / ``render``: ranked tables, the competing-vs-correlated report, markdown and static HTML pages.
- ``commands``: ``morl-bench evaluate | submit | leaderboard | report``.
"""
