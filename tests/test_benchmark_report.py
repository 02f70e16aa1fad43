"""The benchmark harness: every benchmark it lists has its script, quick sizes and a section, and the report renders
every stored result (device and date in each heading)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _harness():
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_benchmark_has_script_sizes_and_section() -> None:
    run = _harness()
    for name in run.BENCHMARKS:
        assert (ROOT / "benchmarks" / f"{name}.py").is_file(), name
        assert name in run.QUICK and name in run.SECTIONS, name


def test_report_renders_a_rollout_record(tmp_path, monkeypatch) -> None:
    run = _harness()
    row = {"generate": {"tokens_per_s": 100.0}, "fast": {"tokens_per_s": 1200.0, "x_baseline": 12.0},
           "generate_lora": {"tokens_per_s": 90.0}, "fast_lora": {"tokens_per_s": 990.0, "x_baseline": 11.0},
           "experts_fast": {"tokens_per_s": 810.0, "x_baseline": 9.0}}
    record = {"date": "2026-11-22T00:00:00+00:00", "device": "cuda:H100", "dtype": "bfloat16", "model": "synthetic",
              "new_tokens": 64, "graphs": True, "same_greedy": True, "same_sampled": False, "batches": {"64": row}}
    (tmp_path / "rollout.json").write_text(json.dumps({"cuda": record}))
    monkeypatch.setattr(run, "RESULTS", tmp_path)
    text = run.render()
    assert "## Rollouts: fast decoder against generate() (cuda: cuda:H100, bfloat16" in text
    assert "| 64 | 100 | 1200 | 12.00x | 90 | 11.00x | 9.00x |" in text
    assert "greedy True, seeded sampling False" in text
