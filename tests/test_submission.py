"""Submissions: schema validation with exact messages, re-scoring of the answers, metric recomputation by hand,
storage, duplicates, races. The results are made on a stub environment whose reward models read the rewards off the
replies (:mod:`tests.stub_env`), so that hand-made reward vectors survive ``submit``'s re-scoring."""

from __future__ import annotations

import base64
import copy
import json
import math
import re
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import morl_envs
from leaderboards.answers import ENCODING, unpack_answers
from leaderboards.submission import SubmissionError, compute_metrics, content_hash, read_result, submit, validate
from morl_cli.main import main as bench
from tests.stub_env import STUB_ENVS, answers_for, stub_envs

REPO = Path(__file__).resolve().parents[1]
ENV = next(i for i, r in STUB_ENVS.items() if r == "competing")
SLUG = ENV.replace("/", "-")
# Hand-made 2-objective result (11 preferences w = (a, 1 - a), a = 0, 0.1, ..., 1). Seed 0 reaches three points:
# (0.2, 0.9) at a = 0, (0.9, 0.2) at a = 1 and (0.5, 0.5) elsewhere; seed 1 gives (0.5, 0.5) everywhere.
SEED0 = [[0.2, 0.9]] + [[0.5, 0.5]] * 9 + [[0.9, 0.2]]
SEED1 = [[0.5, 0.5]] * 11


@pytest.fixture(scope="module", autouse=True)
def _stubs():
    """The stub environments, registered while this module's tests run."""
    with stub_envs():
        yield


@pytest.fixture(scope="module")
def env(_stubs):
    """The installed stub environment."""
    return gym.make(ENV).unwrapped


def synthetic_result(env, rewards=(SEED0, SEED1), name="hand", family="multi-policy", seeds=None,
                     per_prompt=None) -> dict:
    """A schema-2 result for ``env`` with the given per-seed per-preference mean reward vectors, and replies that
    score exactly those on a stub environment; ``per_prompt`` (S, m, n, 2): the vector each reply scores instead
    (``rewards`` are then their means)."""
    spec = env.eval_spec
    n_prompts = len(env.prompt_set.split("test"))
    if per_prompt is not None:
        rewards = np.asarray(per_prompt).mean(axis=2).tolist()
    return {
        "schema_version": 2, "env_id": spec.env_id, "objectives": list(spec.objectives),
        "reference_point": list(spec.reference_point),
        "fingerprints": {"data": spec.data_fingerprint, "reward_models": dict(spec.reward_model_fingerprints),
                         "eval_spec": spec.fingerprint},
        "agent": {"name": name, "family": family}, "code_version": "test",
        "evaluation": {"split": "test", "n_prompts": n_prompts,
                       "preference_independent": False},
        "seeds": list(seeds if seeds is not None else range(len(rewards))),
        "preferences": [list(w) for w in spec.preferences], "rewards": [list(map(list, b)) for b in rewards],
        "answers": answers_for(rewards, n_prompts, per_prompt),
        "costs": {"env_samples": 1000, "tokens_generated": 48000, "train_seconds": 12.5, "train_device": "cpu",
                  "train_peak_memory_bytes": 10**9, "eval_device": "cpu", "eval_peak_memory_bytes": 10**9,
                  "eval_seconds": 3.0, "eval_seconds_per_reply": 0.02, "baseline_seconds_per_reply": 0.01}}


def write(path: Path, result: dict) -> Path:
    path.write_text(json.dumps(result))
    return path


def snapshot(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def _set(path: str, value):
    def mutate(result):
        *parents, last = path.split(".")
        target = result
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        target[int(last) if last.isdigit() else last] = value
    return mutate


def _answers(change):
    """A mutation of the decoded answers: ``change(table, index)`` edits them in place, then they are packed again."""
    def mutate(result):
        table, index = unpack_answers(result["answers"])
        change(table, index)
        result["answers"] = {"encoding": ENCODING, "data": base64.b64encode(zlib.compress(
            json.dumps({"table": table, "index": index}).encode())).decode()}
    return mutate


def _raw_answers(payload: bytes):
    return _set("answers.data", base64.b64encode(zlib.compress(payload)).decode())


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


CASES = {
    "wrong objective count": (_set("rewards.0.0", [0.5]),
                              "`rewards[0][0]` must have 2 entries, one per objective; got 1"),
    "wrong preference count": (lambda r: r["rewards"].__setitem__(0, r["rewards"][0][:5]),
                               "`rewards[0]` must have 11 rows, one per preference of the eval spec; got 5"),
    "missing seed block": (lambda r: r["rewards"].pop(), "`rewards` must have 2 blocks, one per (training seed, evaluation seed); got 1"),
    "nan": (_set("rewards.0.2.1", math.nan), "`rewards[0][2][1]` must be finite; got nan"),
    "inf": (_set("rewards.1.4.0", math.inf), "`rewards[1][4][0]` must be finite; got inf"),
    "above range": (_set("rewards.1.3.0", 1.5), "`rewards[1][3][0]` must lie in reward_space [0, 1]; got 1.5"),
    "below range": (_set("rewards.0.0.1", -0.1), "`rewards[0][0][1]` must lie in reward_space [0, 1]; got -0.1"),
    "string reward": (_set("rewards.0.0.0", "0.5"), "`rewards[0][0][0]` must be a number; got '0.5'"),
    "data fingerprint": (_set("fingerprints.data", "0" * 64),
                         "`fingerprints.data` must match the installed environment's data fingerprint {data}"),
    "model fingerprint": (lambda r: r["fingerprints"]["reward_models"].__setitem__(r["objectives"][1], "f" * 64),
                          "`fingerprints.reward_models.{obj1}` must match the installed environment's '{obj1}' "
                          "reward model fingerprint"),
    "spec fingerprint": (_set("fingerprints.eval_spec", "x"),
                         "`fingerprints.eval_spec` must match the installed environment's eval spec fingerprint"),
    "objectives": (lambda r: r["objectives"].reverse(),
                   "`objectives` must be the installed environment's objectives ['{obj0}', '{obj1}']"),
    "too many seeds": (_set("seeds", list(range(101))), "`seeds` must have 1 to 100 seeds; got 101"),
    "repeated seed": (_set("seeds", [3, 3]), "`seeds` must not repeat a seed; got [3, 3]"),
    "bool seed": (_set("seeds", [True, 2]), "`seeds[0]` must be an integer in [0, 4294967295]; got True"),
    "too many preferences": (_set("preferences", [[0.5, 0.5]] * 1001),
                             "`preferences` must have 1 to 1000 rows; got 1001"),
    "other preferences": (_set("preferences.3", [0.25, 0.75]),
                          "`preferences` must be the eval spec's preference set (11 weights)"),
    "cut test split": (_set("evaluation.n_prompts", 4),
                       "`evaluation.n_prompts` must be the whole test split (55 prompts); got 4. Re-run"),
    "unknown env": (_set("env_id", "morl/Counsel-v9"),
                    "`env_id` must be a registered environment id"),
    "schema version": (_set("schema_version", 3), "`schema_version` must be 2 (the only schema this version reads)"),
    "schema version 1": (_set("schema_version", 1), "`schema_version` must be 2 (the only schema this version reads); "
                         "got 1. A schema-1 result carries no replies, so the board cannot score it: evaluate the "
                         "agent again with this version (`morl-bench evaluate --agent NAME --env ID --out "
                         "RESULT.json`"),
    "unknown field": (lambda r: r.__setitem__("rewardz", r.pop("rewards")),
                      "`rewardz` is not a field of schema version 2; got 'rewardz'. Did you mean 'rewards'?"),
    "missing field": (lambda r: r.pop("costs"), "`costs` is required; got 'nothing (missing)'"),
    "family": (_set("agent.family", "multi"),
               "`agent.family` must be one of ('single-policy', 'multi-policy', 'meta-policy', 'reference'); got 'multi'"),
    "negative cost": (_set("costs.train_seconds", -1.0), "`costs.train_seconds` must lie in [0, inf]; got -1.0"),
    "unreported eval cost": (_set("costs.eval_device", None),
                             "`costs.eval_device` must be reported (null is allowed for training costs only)"),
    "details not an object": (_set("agent.details", ["reduced"]),
                              "`agent.details` must be a JSON object of at most 20,000 characters; got 'list'"),
    "unknown claim": (_set("claimed_metrics", {"hv": 0.3}),
                      "`claimed_metrics.hv` is not a field of schema version 2; got 'hv'"),
    "huge integer reward": (_set("rewards.0.0.0", 10**400),
                            "`rewards[0][0][0]` must be an integer of magnitude at most 2**63; got 1000"),
    "nan in details": (_set("agent.details", {"a": [1.0, math.nan]}), "`agent.details.a[1]` must be finite; got nan"),
    "lone surrogate key": (_set("agent.details", {"\ud800": 1}),
                           "`agent.details key` must be valid Unicode (no lone surrogates); got '\\ud800'"),
    "lone surrogate name": (_set("code_version", "v\udfff"),
                            "`code_version` must be valid Unicode (no lone surrogates)"),
    "deep details": (_set("agent.details", {"x": _nested(40)}),
                     "must not nest arrays and objects more than 16 deep; got 17"),
    "independent flag contradicted": (_set("evaluation.preference_independent", True),
                                      "`evaluation.preference_independent` must be false when the answers differ "
                                      "between preferences; got True. answers.index[0] varies across preferences"),
    "bool reference point": (_set("reference_point", [False, False]), "`reference_point[0]` must be a number; got False"),
    "answers not base64": (_set("answers.data", "%%%"), "`answers.data` must be base64 of one zlib stream of the JSON "
                           "object {{\"table\": [...], \"index\": [...]}}; got '%%%...'. not base64"),
    "answers not zlib": (_set("answers.data", base64.b64encode(b"plain").decode()), "not zlib data"),
    "decompression bomb": (_raw_answers(b" " * 40_000_000), "inflates past 32000000 bytes"),
    "answers not the object": (_raw_answers(b"[1, 2]"), 'not the JSON object {{"table": [...], "index": [...]}}'),
    "unknown encoding": (_set("answers.encoding", "gzip"), "`answers.encoding` must be 'json+zlib+base64'; got 'gzip'"),
    "answer out of the table": (_answers(lambda t, i: i[1][2].__setitem__(7, len(t))),
                                "`answers.index[1][2][7]` must be an index into answers.table (0 to "),
    "bool answer index": (_answers(lambda t, i: i[0][0].__setitem__(0, True)),
                          "`answers.index[0][0]` must hold integers (indices into answers.table); got True"),
    "prompt missing": (_answers(lambda t, i: i[0][3].pop()),
                       "`answers.index[0][3]` must have 55 answers, one per test prompt; got 54"),
    "seed missing": (_answers(lambda t, i: i.pop()), "`answers.index` must have 2 blocks, one per (training seed, evaluation seed); got 1"),
    "not a reply": (_answers(lambda t, i: t.__setitem__(0, 5)), "`answers.table[0]` must be a reply (a string); got 5"),
    "lone surrogate reply": (_answers(lambda t, i: t.__setitem__(0, "0.5 \ud800")),
                             "`answers.table[0]` must be valid Unicode (no lone surrogates)"),
}
NAMES = ["../x", "..", "a/b", "/etc/passwd", "..\\x", "", "x" * 65, ".hidden", "name with space", 7]


@pytest.mark.parametrize("case", list(CASES))
def test_invalid_result_is_refused_with_its_field_and_nothing_is_written(env, tmp_path, case):
    mutate, fragment = CASES[case]
    result = synthetic_result(env)
    spec = env.eval_spec
    fragment = fragment.format(data=spec.data_fingerprint, obj0=spec.objectives[0], obj1=spec.objectives[1])
    mutate(result)
    board = tmp_path / "board"
    with pytest.raises(SubmissionError) as caught:
        submit(write(tmp_path / "r.json", result), board)
    assert fragment in str(caught.value)
    assert not board.exists()


@pytest.mark.parametrize("name", NAMES)
def test_names_that_could_escape_the_board_are_refused(env, tmp_path, name):
    board = tmp_path / "board"
    with pytest.raises(SubmissionError, match=r"`agent.name` must be 1 to 64 characters from \[A-Za-z0-9._-\], "
                                              r"starting with a letter or digit; got "):
        submit(write(tmp_path / "r.json", synthetic_result(env, name=name)), board)
    assert snapshot(tmp_path) == ["r.json"]


def test_malformed_files_are_refused(env, tmp_path):
    board = tmp_path / "board"
    text = json.dumps(synthetic_result(env))
    cases = {"truncated": (text[:-20], "`path` must hold valid JSON; got"),
             "not an object": ("[1, 2]", "`result` must be a JSON object; got 'list'"),
             "duplicate key": ('{"seeds": [0], "seeds": [1]}', "`seeds` appears more than once in a JSON object"),
             "not utf-8": (b"\xff\xfe{}", "`path` must be UTF-8 text"),
             "nan literal": (text.replace('"rewards": [[[0.2, 0.9]', '"rewards": [[[0.2, NaN]'),
                             "`rewards[0][0][1]` must be finite; got nan"),
             "absurd size": (text + " " * 4_000_000, "`path` must be a file of at most 4000000 bytes; got '"),
             "5000-digit integer": (text.replace('"env_samples": 1000', '"env_samples": ' + "9" * 5000),
                                    "`path` must hold JSON nested at most 16 deep, with integers of magnitude at most "
                                    "2**63; got '"),
             "nested past the parser": ("[" * 100_000 + "]" * 100_000, "`path` must hold JSON nested at most 16 deep")}
    for label, (content, fragment) in cases.items():
        path = tmp_path / f"{label.replace(' ', '_')}.json"
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        with pytest.raises(SubmissionError) as caught:
            submit(path, board)
        assert fragment in str(caught.value), label
    with pytest.raises(SubmissionError, match="`path` must be an existing result file"):
        read_result(tmp_path / "absent.json")
    with pytest.raises(SubmissionError, match=r"`path` must be a readable result file; got '.*\. File name too long"):
        read_result(tmp_path / ("x" * 300 + ".json"))
    with pytest.raises(SubmissionError, match=r"`board_dir` must be a folder that can be created and written; got "
                                              r"'.*\. File name too long"):
        submit(write(tmp_path / "ok.json", synthetic_result(env)), tmp_path / ("b" * 300))
    assert not board.exists()


def test_integers_too_long_to_print_are_refused_by_name(env):
    result = synthetic_result(env)
    result["costs"]["env_samples"] = 10**5000  # past Python's 4,300-digit limit on int -> str
    with pytest.raises(SubmissionError, match=r"`costs.env_samples` must be an integer of magnitude at most 2\*\*63; "
                                              r"got <an integer of 16610 bits>"):
        validate(result)


def test_a_symlinked_board_folder_is_refused_and_nothing_lands_outside(env, tmp_path):
    board, outside = tmp_path / "board", tmp_path / "outside"
    board.mkdir()
    outside.mkdir()
    (board / SLUG).symlink_to(outside, target_is_directory=True)
    with pytest.raises(SubmissionError, match="`env_id` must name a board folder that is not a symbolic link"):
        submit(write(tmp_path / "r.json", synthetic_result(env)), board)
    assert list(outside.iterdir()) == []


def test_metrics_are_recomputed_as_by_hand(env):
    result = synthetic_result(env)
    result["claimed_metrics"] = {"hv_mean": 99.0}  # ignored
    validate(result)
    metrics = compute_metrics(result)
    # HV seed 0: 0.2 * 0.9 + (0.5 - 0.2) * 0.5 + (0.9 - 0.5) * 0.2 = 0.41; seed 1: 0.5 * 0.5 = 0.25.
    assert metrics["hv_mean"] == pytest.approx(0.33, abs=1e-12)
    assert metrics["hv_eval_std"] == pytest.approx(0.08, abs=1e-12) and metrics["hv_std"] is None  # one model
    # EUM seed 0: max over the points of w . r for a = 0..1 is 0.9, .83, .76, .69, .62, .55, .62, ..., 0.9 (sum 8.15).
    assert metrics["eum"] == pytest.approx((8.15 / 11 + 0.5) / 2, abs=1e-12)
    assert metrics["cardinality"] == 2.0  # 3 and 1
    assert metrics["balance"] == pytest.approx((1.6 / 3 + 0.5) / 2, abs=1e-12)  # min of front means; 0.5
    # Seed 0: ranks of w_i are 1..11, of r_i 1, 6 (x9), 11: rho = 50 / sqrt(110 * 50) = sqrt(5/11) for both
    # objectives; seed 1: r constant, rho undefined -> 0.
    assert metrics["controllability"] == pytest.approx(math.sqrt(5 / 11) / 2, abs=1e-12)
    assert metrics["inference_cost"] == pytest.approx(2.0)
    assert (metrics["env_samples"], metrics["train_seconds"]) == (1000, 12.5)


def test_claims_are_ignored_and_disagreements_reported(env, tmp_path):
    result = synthetic_result(env)
    result["claimed_metrics"] = {"hv_mean": 0.33 + 1e-9, "eum": 0.9, "env_samples": None}
    done = submit(write(tmp_path / "r.json", result), tmp_path / "board")
    assert done.metrics["eum"] == pytest.approx((8.15 / 11 + 0.5) / 2)
    assert len(done.disagreements) == 2
    assert done.disagreements[0].startswith("claimed eum=0.9 disagrees with the recomputed 0.6204")
    assert done.disagreements[1].startswith("claimed env_samples=None disagrees with the recomputed 1000")
    stored = json.loads(done.path.read_text())
    assert stored["metrics"] == done.metrics and stored["submitted_rewards"] == result["rewards"]
    rescored = stored["result"].pop("rewards")  # the rest is the submitted result, as it was
    assert stored["result"] == {k: v for k, v in result.items() if k != "rewards"}
    assert np.allclose(rescored, result["rewards"], rtol=0, atol=1e-7)  # float32 scores of the replies "0.2 0.9", ...
    assert stored["sha256"] == content_hash({**result, "rewards": rescored})
    assert done.path.name == f"hand-{done.sha256[:12]}.json" and done.path.parent.name == SLUG


def test_forged_rewards_are_replaced_by_what_the_replies_score(env, tmp_path):
    forged = synthetic_result(env, rewards=[[[0.3, 0.3]] * 11])
    forged["rewards"] = [[[1.0, 1.0]] * 11]  # the all-ones claim; the replies say (0.3, 0.3)
    done = submit(write(tmp_path / "r.json", forged), tmp_path / "board")
    assert done.metrics["hv_mean"] == pytest.approx(0.09, abs=1e-6)  # 0.3 * 0.3, not 1.0
    assert done.disagreements[0].startswith("submitted rewards differ from the re-scored ones by up to 0.7 (at "
                                            "rewards[0][0][0]); the re-scored rewards are stored and ranked")
    stored = json.loads(done.path.read_text())
    assert np.allclose(stored["result"]["rewards"], 0.3, rtol=0, atol=1e-7)
    assert stored["submitted_rewards"] == [[[1.0, 1.0]] * 11]


def test_replies_that_do_not_depend_on_the_preference_or_seed_are_stored_once(env):
    result = synthetic_result(env, rewards=[[[0.4, 0.6]] * 11] * 3, seeds=[0, 1, 2])
    table, index = unpack_answers(result["answers"])
    assert table == ["0.4 0.6"] and len(index) == 3 and len(index[0]) == 11 and len(index[0][0]) == 55
    assert len(result["answers"]["data"]) < 200  # 1,815 answers compressed into one line


def test_agent_details_are_kept(env, tmp_path):
    result = synthetic_result(env)
    result["agent"]["details"] = {"trained_preferences": [[1.0, 0.0], [0.0, 1.0]], "reduced_preference_set": True}
    done = submit(write(tmp_path / "r.json", result), tmp_path / "board")
    assert json.loads(done.path.read_text())["result"]["agent"]["details"]["reduced_preference_set"] is True


def test_exact_duplicate_is_refused_and_changes_nothing(env, tmp_path):
    board, path = tmp_path / "board", write(tmp_path / "r.json", synthetic_result(env))
    first = submit(path, board)
    before = snapshot(board)
    with pytest.raises(SubmissionError, match=r"`result` must differ from every stored entry \(exact duplicate "
                                              r"refused\); got '.*hand-"):
        submit(path, board)
    assert snapshot(board) == before and first.path.is_file()
    other = synthetic_result(env, seeds=[5, 6])  # any change makes a new entry
    submit(write(tmp_path / "r2.json", other), board)
    assert len(list((board / SLUG).glob("*.json"))) == 2


def test_near_duplicates_are_refused_whatever_the_name_or_claims(env, tmp_path):
    board = tmp_path / "board"
    submit(write(tmp_path / "r.json", synthetic_result(env)), board)
    before = snapshot(board)
    renamed = synthetic_result(env, name="pama", family="single-policy")
    nudged = synthetic_result(env, name="nudged")
    nudged["rewards"][0][3][1] += 1e-15
    claimed = synthetic_result(env, name="claims")
    claimed["claimed_metrics"] = {"hv_mean": 0.9}
    for i, result in enumerate((renamed, nudged, claimed)):
        with pytest.raises(SubmissionError, match=r"`rewards` must differ from every stored entry's seeds and rewards "
                                                  r"\(to 9 decimals; .*got 'hand-"):
            submit(write(tmp_path / f"d{i}.json", result), board)
    assert snapshot(board) == before
    assert not list(board.rglob("*.lock"))  # refusals at the storage step leave no lock file


def test_concurrent_threads_lose_no_entry_and_store_one_duplicate(env, tmp_path):
    board = tmp_path / "board"
    paths = [write(tmp_path / f"r{i}.json", synthetic_result(env, name=f"agent{i}", seeds=[2 * i, 2 * i + 1]))
             for i in range(7)]
    paths += [paths[0]]  # the same result twice at once: exactly one may be stored
    outcomes: list[object] = [None] * len(paths)
    start = threading.Barrier(len(paths))

    def worker(i: int) -> None:
        start.wait()
        try:
            outcomes[i] = submit(paths[i], board)
        except SubmissionError as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(paths))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    errors = [o for o in outcomes if isinstance(o, SubmissionError)]
    assert len(errors) == 1 and "exact duplicate refused" in str(errors[0])
    stored = sorted(p.name.split("-")[0] for p in (board / SLUG).glob("*.json"))
    assert stored == [f"agent{i}" for i in range(7)]


def test_concurrent_processes_both_stored(env, tmp_path):
    board = tmp_path / "board"
    paths = [write(tmp_path / f"p{i}.json", synthetic_result(env, name=f"proc{i}", seeds=[2 * i, 2 * i + 1]))
             for i in range(2)]
    code = ("import sys; from leaderboards.submission import submit; from tests.stub_env import stub_envs\n"
            "with stub_envs(): submit(sys.argv[1], sys.argv[2])")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(p), str(board)], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for p in paths]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
    names = sorted(p.name.split("-")[0] for p in (board / SLUG).glob("*.json"))
    assert names == ["proc0", "proc1"]
    assert not list(board.rglob("*.tmp"))


def test_submit_command_exit_codes(env, tmp_path, capsys):
    board, path = tmp_path / "board", write(tmp_path / "r.json", synthetic_result(env))
    assert bench(["submit", str(path), "--board-dir", str(board)]) == 0
    assert "stored " in capsys.readouterr().out
    bad = copy.deepcopy(synthetic_result(env))
    bad["rewards"][0][0][0] = 2.0
    before = snapshot(board)
    assert bench(["submit", str(write(tmp_path / "bad.json", bad)), "--board-dir", str(board)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: `rewards[0][0][0]` must lie in reward_space [0, 1]; got 2.0")
    assert snapshot(board) == before


def test_a_bundle_of_training_seeds_measures_stability_over_them(env, tmp_path):
    from leaderboards.protocol import bundle

    run_a = synthetic_result(env)  # evaluation seeds 0, 1: HV 0.41 and 0.25
    run_b = synthetic_result(env, rewards=([[0.6, 0.6]] * 11, [[0.6, 0.6]] * 11))  # HV 0.36 twice
    result = bundle([run_a, run_b], [7, 8])
    assert result["training_seeds"] == [7, 8] and len(result["rewards"]) == 4
    assert (result["costs"]["env_samples"], result["costs"]["train_seconds"]) == (2000, 25.0)
    done = submit(write(tmp_path / "b.json", result), tmp_path / "board")
    assert done.metrics["hv_mean"] == pytest.approx(0.345, abs=1e-6)
    assert done.metrics["hv_std"] == pytest.approx(0.015, abs=1e-6)  # the models' means 0.33 and 0.36
    assert done.metrics["hv_eval_std"] == pytest.approx(0.04, abs=1e-6)  # mean of 0.08 and 0.0
    assert done.disagreements == []
    with pytest.raises(ValueError, match=r"`results\[1\].agent` must equal `results\[0\].agent`"):
        bundle([run_a, synthetic_result(env, name="other")], [7, 8])
    with pytest.raises(ValueError, match=r"`results` must hold 2 to 20 results, one per training seed \(3\); got 2"):
        bundle([run_a, run_b], [1, 2, 3])
    short = copy.deepcopy(result)
    short["training_seeds"] = [7, 8, 9]
    with pytest.raises(SubmissionError, match=r"`rewards` must have 6 blocks, one per \(training seed, evaluation "
                                              r"seed\); got 4"):
        validate(short)


def test_bundle_command(env, tmp_path, capsys):
    runs = [write(tmp_path / f"run{t}.json", synthetic_result(env, rewards=([[v, v]] * 11, [[v, v]] * 11)))
            for t, v in enumerate((0.5, 0.7))]
    out = tmp_path / "bundled.json"
    assert bench(["bundle", *map(str, runs), "--training-seeds", "0", "1", "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out}: 2 trained models, training seeds [0, 1]")
    done = submit(out, tmp_path / "board")
    assert done.metrics["hv_std"] == pytest.approx(0.12, abs=1e-6)  # std of 0.25 and 0.49
    assert bench(["bundle", str(runs[0]), "--training-seeds", "0", "--out", str(out)]) == 2
    assert "`results` must hold 2 to 20 results" in capsys.readouterr().err


def test_cheap_checks_refuse_before_any_environment_is_built(env, monkeypatch):
    """Objectives, reference point, preferences, costs and claims need only the registry: a result that fails them
    is refused before the environment (its models, a choice table to build) is made."""
    built = []
    monkeypatch.setattr(morl_envs, "make", lambda *a, **k: built.append(a) or pytest.fail("built an environment"))
    for mutate, fragment in ((_set("objectives", ["a", "b"]), "`objectives` must be the installed environment's"),
                             (_set("preferences.3", [0.25, 0.75]), "`preferences` must be the eval spec's"),
                             (_set("costs.train_seconds", -1.0), "`costs.train_seconds` must lie in [0, inf]"),
                             (_set("claimed_metrics", {"hv_mean": "x"}), "`claimed_metrics.hv_mean` must be a number")):
        result = synthetic_result(env)
        mutate(result)
        with pytest.raises(SubmissionError, match=re.escape(fragment)):
            validate(result)
    assert built == []
