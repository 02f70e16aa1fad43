"""Property-based fuzzing (hypothesis): ``submit`` stores a valid entry or refuses with a ``SubmissionError`` and
leaves the board as it was, whatever a result holds; ``reset`` and ``step`` of a text and a choice environment
either work or raise a typed error that names the parameter, and a failed ``reset`` leaves no episode behind.

The text environment is a stub whose reward models read the rewards off the reply (:mod:`tests.stub_env`), so that
a thousand submissions take minutes, not hours. Slow: ``make test-slow`` (and CI) runs it.
"""

from __future__ import annotations

import base64
import copy
import json
import zlib
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import morl_envs
from leaderboards.submission import SubmissionError, submit, validate
from morl_core.errors import MorlError
from tests.stub_env import STUB_ENVS, stub_envs
from tests.test_submission import SEED0, snapshot, synthetic_result

pytestmark = pytest.mark.slow
ENV = next(i for i, r in STUB_ENVS.items() if r == "competing")
EXAMPLES = 1000

#: any JSON value a hostile file could hold, including what JSON forbids but Python's parser accepts
LEAVES = (st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80)
          | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30)
          | st.sampled_from(["", "\ud800", "\x00", "0.5 0.5", "morl/Counsel-v2", "../x"]))
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                            max_size=4), max_leaves=12)


def _paths(value: object, prefix: tuple = ()) -> list[tuple]:
    """Every path (keys and indices) into a JSON value, the root excluded."""
    out = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in items:
        out.append(prefix + (key,))
        out += _paths(child, prefix + (key,))
    return out


def _apply(result: dict, path: tuple, action: str, value: object) -> None:
    parent = result
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "replace":
        parent[last] = value
    elif isinstance(parent, dict):
        parent[f"{last}_extra"] = value
    else:
        parent.append(value)


@pytest.fixture(scope="module", autouse=True)
def _stubs():
    with stub_envs():
        yield


@pytest.fixture(scope="module")
def base_result(_stubs):
    return synthetic_result(gym.make(ENV).unwrapped, rewards=(SEED0,))


def _decoded(result: dict) -> dict:
    """The result with its answers as a plain JSON tree (so that mutations reach inside them)."""
    payload = json.loads(zlib.decompress(base64.b64decode(result["answers"]["data"])))
    return {**result, "answers": {**result["answers"], "data": payload}}


def _encoded(result: dict) -> dict:
    data = result.get("answers", {}).get("data") if isinstance(result.get("answers"), dict) else None
    if not isinstance(data, (dict, list)):
        return result
    text = json.dumps(data, allow_nan=True).encode("utf-8", "surrogatepass")
    return {**result, "answers": {**result["answers"], "data": base64.b64encode(zlib.compress(text)).decode()}}


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.data())
def test_submit_stores_a_valid_entry_or_refuses_and_changes_nothing(base_result, tmp_path_factory, data):
    board = tmp_path_factory.mktemp("board")
    result = _decoded(copy.deepcopy(base_result))
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        paths = _paths(result)
        path = data.draw(st.sampled_from(paths), label="path")
        action = data.draw(st.sampled_from(["replace", "delete", "add"]), label="action")
        _apply(result, path, action, data.draw(VALUES, label="value"))
    text = json.dumps(_encoded(result), allow_nan=True, ensure_ascii=True)
    path = Path(board.parent / f"{board.name}.json")
    path.write_text(text, encoding="utf-8")
    before = snapshot(board)
    try:
        done = submit(path, board)
    except SubmissionError:
        event("refused")
        assert snapshot(board) == before
        return
    event("stored")
    stored = json.loads(done.path.read_text(encoding="utf-8"))
    validate(stored["result"])  # what was stored is a valid result


OPTIONS = st.none() | VALUES | st.fixed_dictionaries({}, optional={
    "split": st.sampled_from(["train", "validation", "test", "dev", ""]) | LEAVES,
    "index": st.integers(-3, 400) | LEAVES, "prompt": st.text(max_size=40) | LEAVES})
ACTIONS = (st.text(max_size=60) | st.integers(-3, 12) | LEAVES | st.lists(st.integers(0, 7), max_size=3)
           | st.sampled_from([np.int64(3), np.array([1]), "\x00\u202e", "ok \ud800"]))


def _fuzz_env(env: gym.Env, options: object, action: object, typed: tuple[type[BaseException], ...]) -> None:
    env.reset(seed=0)  # a good episode first: a failed reset must not leave it usable
    try:
        env.reset(seed=0, options=options)
    except typed:
        with pytest.raises(gym.error.ResetNeeded):
            env.step(action)  # a failed reset leaves no episode to step into
        return
    try:
        _, reward, terminated, _, _ = env.step(action)
    except typed:
        return
    assert np.all(np.isfinite(reward)) and terminated


TYPED = (ValueError, TypeError, MorlError, gym.error.ResetNeeded)


@pytest.mark.parametrize("kind", ["text", "choice"])
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(options=OPTIONS, action=ACTIONS)
def test_reset_and_step_work_or_raise_a_typed_error(kind, options, action):
    env = gym.make(ENV if kind == "text" else morl_envs.env_ids("choice")[0]).unwrapped
    _fuzz_env(env, options, action, TYPED)
