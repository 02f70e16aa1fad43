"""Verified leaderboard submissions: the result schema (version 2), its validation, re-scoring, metrics, storage.

A result (written by :func:`leaderboards.protocol.evaluate`) holds, per seed and per preference of the environment's
preference set, every answer the agent gave on the environment's test split (replies, or a choice environment's
candidate indices; packed by :mod:`leaderboards.answers`) and the mean reward vector it claims for them, plus costs
and fingerprints. ``submit`` re-instantiates the installed environment and checks the result against it
(dimensions, ``reward_space`` bounds, data / reward-model / eval-spec fingerprints), scores every answer again with
the environment's own reward models (:func:`leaderboards.answers.rescore`) and ranks those rewards: claimed rewards
and metrics are only compared and their disagreements reported, never trusted. The entry (the result with the
re-scored rewards; the submitted ones kept apart) is stored atomically under
``<board>/<env-slug>/<agent>-<sha256[:12]>.json``. Results of schema version 1 carried no answers and are refused.

The metrics are those of :mod:`leaderboards.metrics` (one registry: hypervolume, its std over seeds, EUM,
cardinality, balance, controllability, costs; IGD and MUL where the environment's fronts are known, as a choice
environment's are), recomputed here from the reward vectors.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import morl_envs
from leaderboards.answers import ENCODING, rescore, unpack_answers
from leaderboards.metrics import METRICS, KnownFronts, MetricInput, compute_all
from morl_core.agent import AGENT_NAME_RE, FAMILIES
from morl_core.errors import MorlError, did_you_mean, message
from morl_core.files import env_slug, folder_lock, write_atomic
from morl_envs.choice_env import CCS_GRID_STEPS  # the weight grid of the known coverage sets

__all__ = ["SCHEMA_VERSION", "SubmissionError", "Submission", "KnownFronts", "read_result", "validate", "validated",
           "known_fronts", "compute_metrics", "metric_agrees", "compare_claims", "reward_disagreements", "content_hash",
           "default_board_dir", "write_result", "submit"]

SCHEMA_VERSION = 2
MAX_BYTES = 4_000_000
MAX_SEEDS = 100
MAX_TRAINING_SEEDS = 20
MAX_PREFERENCES = 1000
MAX_TEXT = 200
CLAIM_TOLERANCE = 1e-6
MAX_DEPTH = 16  # the deepest nesting of arrays and objects a result may have (a schema-2 result needs 4)
MAX_INT = 2**63  # the largest integer magnitude anywhere in a result
REWARD_DECIMALS = 9  # rewards equal to this many decimals count as the same entry
FRONT_TOLERANCE = 1e-6  # float slack when a reward vector is compared with a known front
REWARD_TOLERANCE = 1e-5  # submitted and re-scored rewards further apart than this are reported (batching, device)
_TOP_KEYS = ("schema_version", "env_id", "objectives", "reference_point", "fingerprints", "agent", "code_version",
             "evaluation", "seeds", "preferences", "rewards", "answers", "costs")
_COST_KEYS = {  # key -> (kind, nullable): training costs may be unreported (null); evaluation costs may not
    "env_samples": ("int", True), "tokens_generated": ("int", True), "train_seconds": ("float", True),
    "train_device": ("str", True), "train_peak_memory_bytes": ("int", True), "eval_device": ("str", False),
    "eval_peak_memory_bytes": ("int", False), "eval_seconds": ("float", False),
    "eval_seconds_per_reply": ("float", False), "baseline_seconds_per_reply": ("float", False)}


class SubmissionError(MorlError):
    """A result or submission broke a rule. ``field``, ``rule`` and ``value`` are also kept as attributes."""

    def __init__(self, field: str, rule: str, value: object, hint: str = "") -> None:
        super().__init__(message(field, rule, value, hint), field=field, rule=rule, value=value, hint=hint)

    def __reduce__(self) -> tuple:
        return type(self), (self.field, self.rule, self.value, self.hint)  # picklable across processes


@dataclass(frozen=True)
class Submission:
    """What ``submit`` stored: the entry's path, content hash, recomputed metrics and claim disagreements."""

    path: Path
    sha256: str
    metrics: dict[str, float | None]
    disagreements: list[str] = field(default_factory=list)


def _fail(cond: bool, name: str, rule: str, value: object, hint: str = "") -> None:
    if not cond:
        raise SubmissionError(name, rule, value, hint)


def _keys(value: object, name: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
    _fail(isinstance(value, dict), name, "must be a JSON object", type(value).__name__)
    def path(key: object) -> str:
        return str(key) if name == "result" else f"{name}.{key}"

    for key in value:
        hint = did_you_mean(str(key), required + optional).strip()
        _fail(key in required or key in optional, path(key), f"is not a field of schema version {SCHEMA_VERSION}",
              key, hint)
    missing = [k for k in required if k not in value]
    _fail(not missing, path(missing[0]) if missing else name, "is required", "nothing (missing)")
    return value


def _int(value: object, name: str, lo: int, hi: int) -> int:
    ok = isinstance(value, int) and not isinstance(value, bool)
    _fail(ok and lo <= value <= hi, name, f"must be an integer in [{lo}, {hi}]", value)
    return value


def _number(value: object, name: str, lo: float = -math.inf, hi: float = math.inf, space: str = "") -> float:
    _fail(isinstance(value, (int, float)) and not isinstance(value, bool), name, "must be a number", value)
    _fail(math.isfinite(value), name, "must be finite", value)
    _fail(lo <= value <= hi, name, f"must lie in {space}[{lo:g}, {hi:g}]", value)
    return float(value)


def _text(value: object, name: str, max_len: int = MAX_TEXT) -> str:
    _fail(isinstance(value, str) and 1 <= len(value) <= max_len and value.isprintable(), name,
          f"must be a printable string of 1 to {max_len} characters", value)
    return value


def _list(value: object, name: str, lo: int, hi: int, what: str) -> list:
    _fail(isinstance(value, list), name, "must be a JSON array", type(value).__name__)
    _fail(lo <= len(value) <= hi, name, f"must have {lo if lo == hi else f'{lo} to {hi}'} {what}", len(value))
    return value


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    seen = [k for k, _ in pairs]
    dup = next((k for k in seen if seen.count(k) > 1), None)
    _fail(dup is None, str(dup), "appears more than once in a JSON object (ambiguous)", dup)
    return dict(pairs)


def _child_name(name: str, key: object) -> str:
    """The field name of ``key`` under ``name`` in the messages' notation: ``a.b``, ``a[3]``, ``b`` at the top."""
    if isinstance(key, int):
        return f"{name}[{key}]"
    return str(key) if name == "result" else f"{name}.{key}"


def check_tree(value: object, name: str = "result") -> None:
    """Refuse, naming the field, what no rule of the schema should ever meet: nesting deeper than
    :data:`MAX_DEPTH`, integers beyond :data:`MAX_INT`, non-finite floats and strings or keys that are not valid
    Unicode (lone surrogates). Iterative, so that no input can exhaust Python's recursion limit."""
    stack = [(value, name, 0)]
    while stack:
        node, where, depth = stack.pop()
        if isinstance(node, (dict, list)):
            _fail(depth < MAX_DEPTH, where, f"must not nest arrays and objects more than {MAX_DEPTH} deep", depth + 1)
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, child in items:
                if isinstance(key, str):
                    _unicode(key, f"{where} key")
                stack.append((child, _child_name(where, key), depth + 1))
        elif isinstance(node, bool) or node is None:
            continue
        elif isinstance(node, int):
            _fail(abs(node) <= MAX_INT, where, "must be an integer of magnitude at most 2**63", node)
        elif isinstance(node, float):
            _fail(math.isfinite(node), where, "must be finite", node)
        elif isinstance(node, str):
            _unicode(node, where)


def _unicode(text: str, name: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise SubmissionError(name, "must be valid Unicode (no lone surrogates)", text) from None


def read_result(path: str | os.PathLike) -> dict:
    """The result JSON at ``path``: at most 1 MB, UTF-8, one object, no duplicate keys (NaN, deep nesting within the
    parser's limit and huge integers parse, then fail :func:`validate`'s :func:`check_tree` with their field's
    name)."""
    path = Path(path)
    try:
        _fail(path.is_file(), "path", "must be an existing result file", str(path))
        size = path.stat().st_size
        _fail(size <= MAX_BYTES, "path", f"must be a file of at most {MAX_BYTES} bytes", f"{size} bytes ({path})")
        data = path.read_bytes()
    except OSError as exc:  # a name part over 255 bytes, no permission, ...
        raise SubmissionError("path", "must be a readable result file", str(path), str(exc.strerror)) from None
    try:
        result = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except UnicodeDecodeError as exc:
        raise SubmissionError("path", "must be UTF-8 text", f"{path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise SubmissionError("path", "must hold valid JSON", f"{path}: {exc}") from None
    except SubmissionError:  # a duplicate key, from the object hook
        raise
    except (RecursionError, ValueError) as exc:  # nesting past the parser's depth; an integer of over 4,300 digits
        raise SubmissionError("path", f"must hold JSON nested at most {MAX_DEPTH} deep, with integers of magnitude "
                                      f"at most 2**63", f"{path}: {type(exc).__name__}") from None
    _fail(isinstance(result, dict), "result", "must be a JSON object", type(result).__name__)
    return result


def _registered(env_id: object) -> Any:
    """The registry entry (:class:`morl_envs.EnvEntry`) of ``env_id``, a registered id; nothing is loaded."""
    ids = morl_envs.env_ids()
    _fail(isinstance(env_id, str) and env_id in ids, "env_id", f"must be a registered environment id {ids}",
          env_id, did_you_mean(str(env_id), ids))
    return morl_envs.describe(env_id)


def _check_fingerprints(value: object, spec: Any) -> None:
    fps = _keys(value, "fingerprints", ("data", "reward_models", "eval_spec"))
    rule = "must match the installed environment's {} fingerprint {}"
    _fail(fps["data"] == spec.data_fingerprint, "fingerprints.data", rule.format("data", spec.data_fingerprint),
          fps["data"])
    models = _keys(fps["reward_models"], "fingerprints.reward_models", tuple(spec.reward_model_fingerprints))
    for name, expected in spec.reward_model_fingerprints.items():
        _fail(models[name] == expected, f"fingerprints.reward_models.{name}",
              rule.format(f"{name!r} reward model", expected), models[name])
    _fail(fps["eval_spec"] == spec.fingerprint, "fingerprints.eval_spec", rule.format("eval spec", spec.fingerprint),
          fps["eval_spec"])


def _check_matrix(value: object, name: str, rows: int, cols: int, lo: float, hi: float, space: str = "") -> None:
    """A (rows, cols) list of lists of finite numbers in [lo, hi]; the size bound is checked before anything else."""
    _list(value, name, 1, MAX_PREFERENCES, "rows")
    _fail(len(value) == rows, name, f"must have {rows} rows, one per preference of the eval spec", len(value))
    for i, row in enumerate(value):
        _list(row, f"{name}[{i}]", cols, cols, "entries, one per objective")
        for j, x in enumerate(row):
            _number(x, f"{name}[{i}][{j}]", lo, hi, space)


def _check_costs(value: object) -> None:
    costs = _keys(value, "costs", tuple(_COST_KEYS))
    for key, (kind, nullable) in _COST_KEYS.items():
        name, x = f"costs.{key}", costs[key]
        if x is None:
            _fail(nullable, name, "must be reported (null is allowed for training costs only)", x)
        elif kind == "int":
            _int(x, name, 0, 2**63 - 1)
        elif kind == "float":
            _number(x, name, 0.0)
        else:
            _text(x, name)
    for key in ("eval_seconds_per_reply", "baseline_seconds_per_reply"):
        _fail(costs[key] > 0, f"costs.{key}", "must be > 0 (a measured time)", costs[key])


def _check_schema_version(result: object) -> None:
    """The schema version first, so that an old result hears how to make a new one rather than which fields of the
    new schema it lacks."""
    _fail(isinstance(result, dict), "result", "must be a JSON object", type(result).__name__)
    version = result.get("schema_version")
    old = version == 1 and type(version) is int
    _fail(version == SCHEMA_VERSION and type(version) is int, "schema_version",
          f"must be {SCHEMA_VERSION} (the only schema this version reads)", version,
          "A schema-1 result carries no replies, so the board cannot score it: evaluate the agent again with this "
          "version (`morl-bench evaluate --agent NAME --env ID --out RESULT.json`, or leaderboards.protocol."
          "evaluate) and submit the new file" if old else "")


def _check_header(result: dict) -> list[int]:
    """Agent, code version and seeds (the parts that need no environment); returns the seeds."""
    agent = _keys(result["agent"], "agent", ("name", "family"), ("details",))
    if "details" in agent:
        _fail(isinstance(agent["details"], dict) and len(json.dumps(agent["details"])) <= 20_000, "agent.details",
              "must be a JSON object of at most 20,000 characters", type(agent["details"]).__name__)
    _fail(isinstance(agent["name"], str) and AGENT_NAME_RE.fullmatch(agent["name"]) is not None, "agent.name",
          "must be 1 to 64 characters from [A-Za-z0-9._-], starting with a letter or digit", agent["name"])
    _fail(agent["family"] in FAMILIES, "agent.family", f"must be one of {FAMILIES}", agent["family"])
    _text(result["code_version"], "code_version")
    seeds = _list(result["seeds"], "seeds", 1, MAX_SEEDS, "seeds")
    for i, seed in enumerate(seeds):
        _int(seed, f"seeds[{i}]", 0, 2**32 - 1)
    _fail(len(set(seeds)) == len(seeds), "seeds", "must not repeat a seed", seeds)
    if "training_seeds" in result:
        runs = _list(result["training_seeds"], "training_seeds", 1, MAX_TRAINING_SEEDS, "training seeds")
        for i, seed in enumerate(runs):
            _int(seed, f"training_seeds[{i}]", 0, 2**32 - 1)
        _fail(len(set(runs)) == len(runs), "training_seeds", "must not repeat a seed", runs)
    return seeds


def training_runs(result: dict) -> int:
    """How many trained models a result bundles: ``len(training_seeds)``, 1 when it names none."""
    return len(result.get("training_seeds", [None]))


def _check_evaluation(value: object, env: Any) -> None:
    evaluation = _keys(value, "evaluation", ("split", "n_prompts", "preference_independent"))
    split = env.eval_spec.test_split
    _fail(evaluation["split"] == split, "evaluation.split", f"must be {split!r}", evaluation["split"])
    n_test = env.split_size(split)
    _fail(evaluation["n_prompts"] == n_test and type(evaluation["n_prompts"]) is int, "evaluation.n_prompts",
          f"must be the whole test split ({n_test} prompts)", evaluation["n_prompts"],
          "Re-run the evaluation without --max-prompts / max_prompts")
    _fail(isinstance(evaluation["preference_independent"], bool), "evaluation.preference_independent",
          "must be true or false", evaluation["preference_independent"])


def _check_answers(value: object, env: Any, n_seeds: int, independent: bool) -> tuple[list, np.ndarray]:
    """The decoded answers of a result: (table of distinct answers, index array (S, m, n) into it), checked against
    the environment: every answer of its kind (a reply, or a candidate index of its action space), one answer per
    seed, preference and test prompt, and the same answers for every preference when the result says they do not
    depend on it."""
    answers = _keys(value, "answers", ("encoding", "data"))
    _fail(answers["encoding"] == ENCODING, "answers.encoding", f"must be {ENCODING!r}", answers["encoding"])
    _fail(isinstance(answers["data"], str), "answers.data", "must be a string", type(answers["data"]).__name__)
    try:
        table, index = unpack_answers(answers)
    except ValueError as exc:
        raise SubmissionError("answers.data", "must be base64 of one zlib stream of the JSON object {\"table\": "
                              "[...], \"index\": [...]}", f"{answers['data'][:40]}...", str(exc)) from None
    check_tree({"table": table, "index": index}, "answers")
    m, n = len(env.eval_spec.preferences), env.split_size(env.eval_spec.test_split)
    kind = morl_envs.ENV_KINDS.get(morl_envs.describe(env.eval_spec.env_id).kind)
    _list(table, "answers.table", 1, n_seeds * m * n, "distinct answers")
    for k, answer in enumerate(table):
        if kind.answer_type is str:
            _fail(isinstance(answer, str), f"answers.table[{k}]", "must be a reply (a string)", answer)
        else:
            _int(answer, f"answers.table[{k}]", 0, int(env.action_space.n) - 1)
    _list(index, "answers.index", n_seeds, n_seeds, "blocks, one per (training seed, evaluation seed)")
    for s_, block in enumerate(index):
        _list(block, f"answers.index[{s_}]", m, m, "rows, one per preference of the eval spec")
        for i, row in enumerate(block):
            where = f"answers.index[{s_}][{i}]"
            _list(row, where, n, n, "answers, one per test prompt")
            _fail(all(type(x) is int for x in row), where, "must hold integers (indices into answers.table)",
                  next((x for x in row if type(x) is not int), None))
    array = np.asarray(index, dtype=np.int64)  # (S, m, n)
    bad = np.argwhere((array < 0) | (array >= len(table)))
    _fail(len(bad) == 0, "answers.index" + "".join(f"[{int(k)}]" for k in (bad[0] if len(bad) else ())),
          f"must be an index into answers.table (0 to {len(table) - 1})", array[tuple(bad[0])] if len(bad) else None)
    if independent:
        differs = np.flatnonzero((array != array[:, :1]).any(axis=(1, 2)))
        _fail(len(differs) == 0, "evaluation.preference_independent",
              "must be false when the answers differ between preferences", True,
              f"answers.index[{differs[0] if len(differs) else 0}] varies across preferences")
    return table, array


def validate(result: object) -> Any:
    """Check ``result`` against schema version 2 and the installed environment; return its ``EvalSpec``.

    Raises :class:`SubmissionError` (a ``ValueError``) naming the field, the rule and the value on the first
    failure. Sizes are bounded (<= 100 seeds, <= 1000 preferences, answers inflating to at most 32 MB) before
    anything is iterated; the environment is instantiated afresh, and the result must match its objectives,
    reference point, fingerprints, preference set, test split size and ``reward_space`` bounds, and give one answer
    of the environment's kind per seed, preference and test prompt.
    """
    return validated(result)[0].eval_spec


def validated(result: object) -> tuple[Any, list, np.ndarray]:
    """:func:`validate`, returning the fresh environment instance the result was checked against and its decoded
    answers (table, index array (S, m, n)): what re-scoring needs."""
    _check_schema_version(result)
    result = _keys(result, "result", _TOP_KEYS, ("claimed_metrics", "training_seeds"))
    check_tree(result)
    seeds = _check_header(result)
    registered = _registered(result["env_id"])  # the checks that need no model or data come first: cheap refusals
    d = len(registered.objectives)
    _fail(result["objectives"] == list(registered.objectives), "objectives",
          f"must be the installed environment's objectives {list(registered.objectives)}", result["objectives"])
    for i, x in enumerate(_list(result["reference_point"], "reference_point", d, d, "entries, one per objective")):
        _number(x, f"reference_point[{i}]")
    _fail(result["reference_point"] == list(registered.reference_point), "reference_point",
          f"must be the eval spec's reference point {list(registered.reference_point)}", result["reference_point"])
    m = len(registered.preferences)
    _check_matrix(result["preferences"], "preferences", m, d, 0.0, 1.0)
    _fail(np.allclose(result["preferences"], registered.preferences, rtol=0, atol=1e-9), "preferences",
          f"must be the eval spec's preference set ({m} weights)", result["preferences"])
    _check_costs(result["costs"])
    claims = _keys(result.get("claimed_metrics", {}), "claimed_metrics", (), METRICS.names())
    for key, x in claims.items():
        if x is not None:
            _number(x, f"claimed_metrics.{key}")
    env = morl_envs.make(result["env_id"]).unwrapped  # loads the reward models (a choice table may be built)
    _check_fingerprints(result["fingerprints"], env.eval_spec)
    _check_evaluation(result["evaluation"], env)
    low, high = float(env.reward_space.low.min()), float(env.reward_space.high.max())
    blocks = len(seeds) * training_runs(result)  # training-seed major: block t * S + s
    rewards = _list(result["rewards"], "rewards", blocks, blocks, "blocks, one per (training seed, evaluation seed)")
    for s, block in enumerate(rewards):
        _check_matrix(block, f"rewards[{s}]", m, d, low, high, "reward_space ")
    table, index = _check_answers(result["answers"], env, blocks, result["evaluation"]["preference_independent"])
    return env, table, index


def known_fronts(env: Any) -> KnownFronts | None:
    """The known fronts of ``env``'s test split (a choice environment's, exact: ``ChoiceEnv.pareto_front`` and
    ``ChoiceEnv.convex_coverage_set``, about 4 s on first use), or None for an environment without them."""
    if not morl_envs.ENV_KINDS.get(morl_envs.describe(env.unwrapped.eval_spec.env_id).kind).known_fronts:
        return None
    base = env.unwrapped
    split = base.eval_spec.test_split
    return KnownFronts(base.pareto_front(split), base.convex_coverage_set(split))


def compute_metrics(result: dict, known: KnownFronts | None = None,
                    prompt_rewards: np.ndarray | None = None) -> dict[str, float | int | None]:
    """Every registered board metric (:data:`leaderboards.metrics.METRICS`) of a validated result, recomputed from
    its reward vectors and costs; ``known``: the environment's true fronts (IGD and MUL are null without);
    ``prompt_rewards`` (S, m, n, d): the vectors per test prompt behind the mean ones (the HV interval is null
    without)."""
    data = MetricInput(rewards=np.asarray(result["rewards"], dtype=np.float64),  # (S, m, d)
                       weights=np.asarray(result["preferences"], dtype=np.float64),  # (m, d)
                       reference_point=np.asarray(result["reference_point"], dtype=np.float64),  # (d,)
                       costs=result["costs"], known=known, prompt_rewards=prompt_rewards,
                       training_runs=training_runs(result))
    return compute_all(data)


def check_plausible(result: dict, known: KnownFronts | None) -> None:
    """Refuse what no real agent can produce: a ``preference_independent`` flag its rows contradict and, where the
    environment's fronts are known, a mean reward vector that no point of the exact Pareto front of the test split
    weakly dominates (within :data:`FRONT_TOLERANCE`)."""
    rewards = np.asarray(result["rewards"], dtype=np.float64)  # (S, m, d)
    if result["evaluation"]["preference_independent"]:
        spread = np.abs(rewards - rewards[:, :1]).max(axis=(1, 2))  # (S,)
        bad = int(np.argmax(spread))
        _fail(spread[bad] <= 1e-12, "evaluation.preference_independent",
              "must be false when the reward rows differ between preferences", True,
              f"rewards[{bad}] varies by {spread[bad]:.3g} across preferences")
    if known is None:
        return
    front = np.asarray(known.pareto_front, dtype=np.float64)  # (P, d)
    for s, block in enumerate(rewards):
        for i, vector in enumerate(block):
            reached = np.all(front >= vector - FRONT_TOLERANCE, axis=1).any()
            _fail(bool(reached), f"rewards[{s}][{i}]", "must be achievable: no point of the environment's exact "
                  f"Pareto front of the test split reaches it (tolerance {FRONT_TOLERANCE:g})", vector.tolist())


def check_metric_ranges(metrics: dict[str, float | None], d: int) -> None:
    """Refuse metrics no real result can have: a negative IGD, or a maximum utility loss below what the coverage
    set's weight grid can miss (``-d / (4 * CCS_GRID_STEPS)``)."""
    if metrics.get("igd") is not None:
        _fail(metrics["igd"] >= 0.0, "rewards", "must give a non-negative IGD", metrics["igd"])
    if metrics.get("mul") is not None:
        floor = -d / (4 * CCS_GRID_STEPS) - FRONT_TOLERANCE
        _fail(metrics["mul"] >= floor, "rewards", f"must give a maximum utility loss of at least {floor:.4g} "
              f"(below it the rewards beat every achievable policy)", metrics["mul"])


def metric_agrees(value: float | None, actual: float | None) -> bool:
    """Whether a claimed or stored metric ``value`` is the recomputed ``actual``: both null, or within
    :data:`CLAIM_TOLERANCE` relative to max(1, |actual|) (re-scoring moves the 7th digit with the batching)."""
    if value is None or actual is None:
        return value is None and actual is None
    return abs(value - actual) <= CLAIM_TOLERANCE * max(1.0, abs(actual))


def compare_claims(claimed: dict, metrics: dict) -> list[str]:
    """One line per claimed metric that differs from the recomputed value (:func:`metric_agrees`); claims are
    reported, never used."""
    lines = []
    for key, value in claimed.items():
        actual = metrics.get(key)
        if not metric_agrees(value, actual):
            lines.append(f"claimed {key}={value!r} disagrees with the recomputed {actual!r}; the recomputed value "
                         f"is stored")
    return lines


def content_hash(result: dict) -> str:
    """sha256 of the canonical JSON of ``result`` (sorted keys, no whitespace): equal hashes mean duplicates."""
    canonical = json.dumps(result, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def rewards_key(result: dict) -> str:
    """sha256 of a result's seeds and reward vectors rounded to :data:`REWARD_DECIMALS` decimals: equal keys on one
    board mean the same agent behaviour, whatever the name, claims or a nudge below the rounding."""
    rounded = np.round(np.asarray(result["rewards"], dtype=np.float64), REWARD_DECIMALS) + 0.0  # -0.0 -> 0.0
    payload = json.dumps({"seeds": result["seeds"], "training_seeds": result.get("training_seeds"),
                          "rewards": rounded.tolist()}, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def default_board_dir() -> Path:
    """``leaderboards/entries`` next to this module."""
    return Path(__file__).resolve().parent / "entries"


def write_result(result: dict, path: str | os.PathLike) -> Path:
    """Write a result as the JSON ``submit`` reads (atomically); ``path``'s folder must exist."""
    path = Path(path)
    _fail(path.parent.is_dir() and not path.is_dir(), "path", "must be a file path in an existing folder", str(path))
    write_atomic(path, json.dumps(result, indent=1, allow_nan=False) + "\n")
    return path


def _store(board: Path, result: dict, entry: dict, digest: str) -> Path:
    """Store ``entry`` under a lock on the board folder (:func:`morl_core.files.folder_lock`: no lock file,
    released even if the process dies), refusing an exact duplicate or a copy of a stored entry's rewards; a
    failure removes the environment folder when this call created it."""
    try:
        board.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SubmissionError("board_dir", "must be a folder that can be created and written",
                              str(board), str(exc.strerror)) from None
    folder = board / env_slug(result["env_id"])
    target = folder / f"{result['agent']['name']}-{digest[:12]}.json"
    _fail(target.resolve().parent == folder.resolve(), "agent.name", "must not leave the board folder",
          result["agent"]["name"])
    _fail(not folder.is_symlink(), "env_id", "must name a board folder that is not a symbolic link (an entry "
          "stored through a link would land outside the board)", str(folder))
    with folder_lock(board, timeout=60):
        created = not folder.exists()
        try:
            folder.mkdir(exist_ok=True)
            key = rewards_key(result)
            for other in sorted(folder.glob("*.json")):  # each stored entry read once
                stored = json.loads(other.read_text(encoding="utf-8"))
                _fail(stored.get("sha256") != digest, "result",
                      "must differ from every stored entry (exact duplicate refused)", str(other))
                _fail(rewards_key(stored["result"]) != key, "rewards",
                      f"must differ from every stored entry's seeds and rewards (to {REWARD_DECIMALS} decimals; a "
                      f"renamed or re-claimed copy is a duplicate)", other.name)
            write_atomic(target, json.dumps(entry, indent=1, sort_keys=True, allow_nan=False) + "\n")
        except BaseException:
            if created:
                folder.rmdir()
            raise
    return target


def reward_disagreements(submitted: list, scored: np.ndarray) -> list[str]:
    """One line when the submitted mean rewards differ from the re-scored ones by more than
    :data:`REWARD_TOLERANCE` (the largest gap and where it is); submitted rewards are reported, never used."""
    gap = np.abs(np.asarray(submitted, dtype=np.float64) - scored)
    if gap.max() <= REWARD_TOLERANCE:
        return []
    where = "".join(f"[{int(k)}]" for k in np.unravel_index(int(np.argmax(gap)), gap.shape))
    return [f"submitted rewards differ from the re-scored ones by up to {gap.max():.6g} (at rewards{where}); the "
            f"re-scored rewards are stored and ranked"]


def submit(path: str | os.PathLike, board_dir: str | os.PathLike | None = None) -> Submission:
    """Validate the result at ``path``, score its answers again with the installed environment, recompute its
    metrics from those rewards, and store it on the board (``board_dir``, default ``leaderboards/entries``). Any
    failure raises :class:`SubmissionError` and leaves the board unchanged."""
    submitted = read_result(path)
    env, table, index = validated(submitted)
    per_prompt = rescore(env, table, index, env.eval_spec.test_split)  # (S, m, n, d)
    scored = per_prompt.mean(axis=2)  # (S, m, d)
    result = {**submitted, "rewards": scored.tolist()}
    known = known_fronts(env)
    check_plausible(submitted, known)  # a claim no policy can reach is refused, not merely reported
    metrics = compute_metrics(result, known, per_prompt)
    check_metric_ranges(metrics, env.reward_dim)
    disagreements = reward_disagreements(submitted["rewards"], scored)
    disagreements += compare_claims(result.get("claimed_metrics", {}), metrics)
    digest = content_hash(result)
    entry = {"entry_version": 2, "sha256": digest, "metrics": metrics, "claim_disagreements": disagreements,
             "submitted_rewards": submitted["rewards"],
             "submitted_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"), "result": result}
    board = Path(board_dir) if board_dir is not None else default_board_dir()
    stored = _store(board, result, entry, digest)
    return Submission(stored, digest, metrics, disagreements)
