"""Sweeps on a tiny random GPT-2: the grid, the local backend, skipping finished jobs on a rerun, config errors, and
the Ray backend on a local Ray with this machine's CPUs (when the optional extra is installed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from morl_cli.sweep import expand, load_config, run_sweep
from morl_core.errors import MorlError
from tests.test_policy import make_tiny_lm


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory) -> Path:
    return make_tiny_lm(tmp_path_factory.mktemp("tiny-gpt2"))


def write_config(folder: Path, tiny_lm: Path, extra: str = "", agents: str = '["linear", "pama"]') -> Path:
    path = folder / "sweep.toml"
    path.write_text(f'''env = "morl/Counsel-v2"
agents = {agents}
seeds = [0]
preferences = [[1.0, 0.0], [0.0, 1.0]]
out = "{folder / 'out'}"
{extra}
[train]
objectives = ["conciseness", "conciseness"]
steps = 1
model = "{tiny_lm}"
device = "cpu"
max-new-tokens = 4
prompts-per-step = 2
k = 2
eval-prompts = 2
summary-prompts = 0
''')
    return path


def test_grid_expands_agents_seeds_and_preferences(tiny_lm, tmp_path):
    jobs = expand(load_config(write_config(tmp_path, tiny_lm)))
    assert [j.id for j in jobs] == ["linear-seed0-pref00", "linear-seed0-pref01", "pama-seed0"]
    assert jobs[0].argv[:9] == ["train", "--env", "morl/Counsel-v2", "--agent", "linear", "--seed", "0", "--out",
                                str(tmp_path / "out" / "linear-seed0-pref00")]
    assert "--preference" not in jobs[2].argv and ["--objectives", "conciseness", "conciseness"] == \
        jobs[0].argv[jobs[0].argv.index("--objectives"):][:3]


def test_local_backend_runs_every_job_once_and_a_rerun_skips_them(tiny_lm, tmp_path, capsys):
    config = load_config(write_config(tmp_path, tiny_lm, "eval_seeds = [0]\n", agents='["linear"]'))
    config.train["max-prompts"] = 2
    assert run_sweep(config) == {"linear-seed0-pref00": "done", "linear-seed0-pref01": "done"}
    for job in expand(config):
        assert job.done and (job.out_dir / "result.json").is_file()
        summary = json.loads((job.out_dir / "pref-00" / "summary.json").read_text())
        assert summary["run_state"]["step"] == 1
    assert run_sweep(config) == {"linear-seed0-pref00": "skipped", "linear-seed0-pref01": "skipped"}
    status = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert status["jobs"] == {"linear-seed0-pref00": "skipped", "linear-seed0-pref01": "skipped"}
    capsys.readouterr()


def test_sweep_command_dry_run_and_errors(tiny_lm, tmp_path, capsys):
    import argparse

    from morl_cli import sweep as commands

    parser = argparse.ArgumentParser(prog="morl-bench")
    commands.add_commands(parser.add_subparsers(dest="command", required=True))
    path = write_config(tmp_path, tiny_lm)
    assert commands.run(parser.parse_args(["sweep", str(path), "--dry-run"])) == 0
    out = capsys.readouterr().out
    assert "3 jobs" in out and "todo  pama-seed0: morl-bench train" in out
    for text, message in (
        ('agents = ["linaer"]', "sweep config `agents` must be a non-empty list of"),
        ("seeds = [-1]", "sweep config `seeds` must be a non-empty list of integers >= 0; got [-1]"),
        ("colour = 1", "sweep config `colour` is not a sweep key"),
    ):
        bad = path.read_text().replace('agents = ["linear", "pama"]', text if text.startswith("agents") else
                                       'agents = ["linear", "pama"]\n' + text)
        if text.startswith("seeds"):
            bad = bad.replace("seeds = [0]\n", "")
        path.write_text(bad)
        assert commands.run(parser.parse_args(["sweep", str(path)])) == 2
        assert message in capsys.readouterr().err
        path = write_config(tmp_path, tiny_lm)


def test_dry_run_checks_every_jobs_train_options(tiny_lm, tmp_path, capsys):
    """A preference of the wrong length, or a value train refuses, fails the dry run naming the job; nothing is
    written."""
    from morl_cli.main import main

    path = write_config(tmp_path, tiny_lm)
    path.write_text(path.read_text().replace("preferences = [[1.0, 0.0], [0.0, 1.0]]",
                                             "preferences = [[1.0, 0.0], [0.2, 0.3, 0.5]]"))
    assert main(["sweep", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: job linear-seed0-pref01 (morl-bench train") and "`--preference` must have 2" in err
    path.write_text(write_config(tmp_path, tiny_lm).read_text().replace("k = 2", "k = 1"))
    assert main(["sweep", str(path), "--dry-run"]) == 2
    assert "error: job linear-seed0-pref00" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_ray_backend_runs_jobs_as_tasks(tiny_lm, tmp_path):
    ray = pytest.importorskip("ray", reason="the optional extra: pip install -e '.[ray]' (make test-extras)")
    config = load_config(write_config(tmp_path, tiny_lm, "[resources]\nnum_cpus = 1\n", agents='["linear"]'))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        assert run_sweep(config, backend="ray") == {"linear-seed0-pref00": "done", "linear-seed0-pref01": "done"}
        assert run_sweep(config, backend="ray") == {"linear-seed0-pref00": "skipped",
                                                    "linear-seed0-pref01": "skipped"}
    finally:
        ray.shutdown()
    assert all(job.done for job in expand(config))


@pytest.mark.parametrize("change, message", [
    (("steps = 1", "step = 1"), "sweep config `train.step` must be an option of `morl-bench train` (exactly, no "
                                "abbreviation); got 1. Did you mean 'steps'?"),
    (("k = 2", "colour = 2"), "sweep config `train.colour` must be an option of `morl-bench train`"),
    (("k = 2", "k = [2"), "is not valid TOML: "),
])
def test_bad_train_keys_and_bad_toml_are_named(tiny_lm, tmp_path, change, message):
    """A [train] key must be exactly one of train's options (argparse's prefix matching would take `step` for
    `--steps`); a file that is not TOML is named in the error."""
    path = write_config(tmp_path, tiny_lm)
    path.write_text(path.read_text().replace(*change))
    with pytest.raises(MorlError) as caught:
        load_config(path)
    assert message in str(caught.value) and (str(path) in str(caught.value) or "train." in str(caught.value))


def test_snake_case_train_keys_are_the_flags(tiny_lm, tmp_path):
    path = write_config(tmp_path, tiny_lm)
    path.write_text(path.read_text().replace("prompts-per-step = 2", "prompts_per_step = 2\nlearning_rate = 0.001"))
    argv = expand(load_config(path))[0].argv
    assert argv[argv.index("--prompts-per-step") + 1] == "2" and argv[argv.index("--learning-rate") + 1] == "0.001"
