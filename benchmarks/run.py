"""Run every benchmark of the project and write one table of same-run ratios: benchmarks/RESULTS.md.

    python benchmarks/run.py [--quick] [--only env_step rollout rl_step evaluate_cost moe_decode scorer
                                                hypervolume rescoring] [--report-only]

Each benchmark is its own script (``env_step.py``: vector env step against the raw reward-model passes;
``rollout.py``: the fast decoder's tokens/s against ``generate()`` (plain, LoRA, batched experts) and whether their
tokens agree; ``rl_step.py``: one k-SCST step split into generation, scoring and update, float32 against the
fast path, and PAMA's weighting against MGDA's; ``evaluate_cost.py``: the evaluation protocol's seconds before and
after (default policy, a canned agent);
``moe_decode.py``: meta-policy decoding, batched experts against one after another and the single policy;
``scorer.py``: a RoBERTa-base-size reward scorer's samples/s and TFLOP/s against the matmul rate of the same run;
``hypervolume.py``: the board's indicators against pymoo's; ``rescoring.py``: what ``submit`` pays to score an
entry's replies again, against evaluating it). This harness runs them one after another in
subprocesses (``--quick``: small sizes, a few minutes on a CPU), each writing ``benchmarks/results/<name>.json``
keyed by device kind, then renders every stored result, with its device and date, into ``benchmarks/RESULTS.md``.
``--report-only`` re-renders without running anything. On the GPU machine (the ``device`` tool), from the repository
root: ``PYTHONPATH=. python3 benchmarks/run.py --gpu-machine && cp benchmarks/results/*.json $OUT/`` runs what needs no
asset package; ``env_step`` and ``rl_step`` need the shipped models, which do not travel: ``stand_in.py`` rebuilds them
there with random weights (its docstring has the commands). Copy the JSON files back into benchmarks/results here and
re-render with ``--report-only``. Every figure in the table is a ratio measured within one run of one script on one
device, never a comparison across runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
BENCHMARKS = ("env_step", "rollout", "rl_step", "evaluate_cost", "moe_decode", "scorer", "hypervolume", "rescoring")
QUICK = {"env_step": ["--batches", "1", "16", "--repeats", "1"],
         "rollout": ["--batches", "2", "8", "--new-tokens", "16", "--repeats", "1"],
         "rl_step": ["--prompts", "4", "--repeats", "1", "--weighting-repeats", "5", "--equivalence-prompts", "8"],
         "evaluate_cost": ["--seeds", "0", "1", "--max-prompts", "8"],
         "moe_decode": ["--batches", "1", "8", "--new-tokens", "16", "--repeats", "1"],
         "scorer": ["--batches", "8", "32", "--tokens", "64", "--repeats", "2"],
         "hypervolume": ["--sizes", "100", "10000", "--repeats", "3"],
         "rescoring": ["--seeds", "0"]}


#: what runs on the GPU machine, whose image lacks this project's asset packages (the shipped SmolLM2 and MiniLM are
#: larger than a device call may carry): these benchmarks need only torch, transformers and peft, on random-init
#: models of the real sizes
GPU_MACHINE = {"rollout": [], "moe_decode": ["--model", "synthetic"], "scorer": []}


def run(name: str, quick: bool, extra: list[str] = ()) -> None:
    """Run ``benchmarks/<name>.py`` (with the quick sizes when ``quick``, then ``extra``); raise when it fails."""
    cmd = [sys.executable, str(HERE / f"{name}.py"), *(QUICK[name] if quick else []), *extra]
    print(f"$ {' '.join(cmd)}", flush=True)
    subprocess.run(cmd, check=True, cwd=HERE.parent)


def _records(name: str) -> dict[str, dict]:
    """Stored results of one benchmark by device kind ({} when it never ran)."""
    path = RESULTS / f"{name}.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    return data if "date" not in data else {"cpu": data}  # single-record files (env_step, hypervolume)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def _stand_in(r: dict) -> str:
    """A heading's note when the record ran on random-weight stand-ins of the shipped models (stand_in.py)."""
    return ", random-init stand-in models" if r.get("stand_in_assets") else ""


def _env_step(kind: str, r: dict) -> list[str]:
    out = [f"## Vector env step against raw reward-model passes ({kind}: {r['device']}{_stand_in(r)}, {r['date']})",
           ""]
    return out + _table(["batch", "replies/s", "env step / raw passes"],
                        [[str(x["batch"]), f"{x['replies_per_s']:.1f}", f"{x['ratio_env_over_raw']:.2f}x"]
                         for x in r["rows"]])


def _rl_step(kind: str, r: dict) -> list[str]:
    w = r["weighting"]
    out = [f"## One RL step ({kind}: {r['device']}{_stand_in(r)}, {r.get('torch_threads', '?')} threads, {r['date']}; "
           f"{r['replies']} replies x {r['max_new_tokens']} tokens)", ""]
    paths = r.get("paths", {"fast": {"dtype": r["dtype"], "seconds": r["seconds"],
                                     "generation_tokens_per_second": r["generation_tokens_per_second"]}})
    rows = []
    for name, p in paths.items():
        s = p["seconds"]
        rows.append([name, p["dtype"], f"{s['generation']:.2f}", f"{s['scoring']:.2f}", f"{s['update_linear']:.2f}",
                     f"{s['step_linear']:.2f}", f"{p['generation_tokens_per_second']:.0f}"])
    if "speedup" in r:
        x = r["speedup"]
        rows.append(["fp32 / fast", "", f"{x['generation']:.2f}x", f"{x['scoring']:.2f}x", f"{x['update_linear']:.2f}x",
                     f"**{x['step_linear']:.2f}x**", ""])
    out += _table(["path", "dtype", "generation s", "scoring s", "update s (linear)", "step s", "tokens/s"], rows)
    out += ["", f"Fast path: LoRA on the top {r.get('lora_layers', 0) or 'all'} layers, LoRA dropout "
                f"{r.get('lora_dropout', 0.05)}. Weighting alone: MGDA / PAMA {w['mgda_over_pama']:.0f}x; update "
                f"MGDA / PAMA {w['update_mgda_over_pama']:.2f}x."]
    if "equivalence" in r:
        e = r["equivalence"]
        out += ["", f"Step-0 validation rewards, fast - fp32 ({e['seeds']} seeds; within 2 x noise: "
                    f"{e['within_noise']}): " + ", ".join(f"{o} {v['difference']:+.4f} (noise {v['noise']:.4f})"
                                                         for o, v in e["per_objective"].items())]
    if r.get("lora_layers_scan"):
        out += ["", "Fast path's update with LoRA on the top L layers (0: every layer), same rollout:", ""]
        out += _table(["L", "update s (linear)", "LoRA parameters"],
                      [[str(x["lora_layers"]), f"{x['update_linear']:.2f}", f"{x['lora_parameters']:,}"]
                       for x in r["lora_layers_scan"]])
    return out


def _evaluate_cost(kind: str, r: dict) -> list[str]:
    out = [f"## Evaluation cost before and after ({kind}: {r['device']}, {r['torch_threads']} threads, {r['date']}; "
           f"{r['env']}, {r['prompts']} test prompts, seeds {r['seeds']})", ""]
    def hv(run: dict) -> str:
        return f"{run['hv_mean']:.4f} +- {run['hv_eval_std']:.4f}"

    rows = [[agent, f"{r[f'{agent}_before']['seconds']:.1f}", f"{r[f'{agent}_after']['seconds']:.1f}",
             f"{r[f'{agent}_speedup']:.2f}x", hv(r[f"{agent}_before"]), hv(r[f"{agent}_after"])]
            for agent in ("default", "echo")]
    return out + _table(["agent", "before s", "after s", "before / after", "HV before (+- eval-seed std)", "HV after"],
                        rows)


def _rollout(kind: str, r: dict) -> list[str]:
    out = [f"## Rollouts: fast decoder against generate() ({kind}: {r['device']}, {r['dtype']}, {r['model']} model, "
           f"{r['new_tokens']} new tokens, CUDA graphs {'on' if r['graphs'] else 'off'}, {r['date']})", "",
           f"Same tokens as `generate()` at the smallest batch: greedy {r['same_greedy']}, seeded sampling "
           f"{r['same_sampled']}.", ""]
    rows = [[b, f"{v['generate']['tokens_per_s']:.0f}", f"{v['fast']['tokens_per_s']:.0f}",
             f"{v['fast']['x_baseline']:.2f}x", f"{v['generate_lora']['tokens_per_s']:.0f}",
             f"{v['fast_lora']['x_baseline']:.2f}x", f"{v['experts_fast']['x_baseline']:.2f}x"]
            for b, v in r["batches"].items()]
    return out + _table(["batch", "generate tok/s", "fast tok/s", "fast / generate", "generate+LoRA tok/s",
                         "fast+LoRA / generate+LoRA", "3 experts fast / generate+LoRA"], rows)


def _moe_decode(kind: str, r: dict) -> list[str]:
    out = [f"## Meta-policy decoding, {r['experts']} experts ({kind}: {r['device']}, {r['dtype']}, "
           f"{r['torch_threads']} threads, {r['date']})", ""]
    rows = [[b, f"{v['single']['ms_per_step']:.1f}", f"{v['experts_batched']['x_single']:.2f}x",
             f"{v['experts_sequential']['x_single']:.2f}x",
             f"{v['experts_batched']['ms_per_step'] / v['experts_sequential']['ms_per_step']:.2f}x"]
            for b, v in r["batches"].items()]
    return out + _table(["batch", "single ms/token", "batched / single", "sequential / single",
                         "batched / sequential"], rows)


def _scorer(kind: str, r: dict) -> list[str]:
    """Scorer section: raw and end-to-end rates as shares of the same run's matmul rate (the issue's 40% target)."""
    m = r["matmul"]
    out = [f"## Reward scorer, RoBERTa-base-size encoder against the matrix rate ({kind}: {r['device']}, {r['dtype']}, "
           f"{r['torch_threads']} threads, {r['date']}; matmul {m['size']}^3 {m['dtype']} {m['tflops']:.3g} TFLOP/s)",
           ""]
    rows = [[str(x["batch"]), str(x["tokens"]), f"{x['raw']['samples_per_s']:.1f}", f"{x['raw']['tflops']:.3g}",
             f"{x['raw']['over_matmul']:.1%}", f"{x['end_to_end']['samples_per_s']:.1f}",
             f"{x['end_to_end']['over_matmul']:.1%}", f"{1e3 * x['tokenise_s']:.1f}",
             f"{x['end_to_end_default_batch']['over_matmul']:.1%}" if "end_to_end_default_batch" in x else "-"]
            for x in r["rows"]]
    return out + _table(["batch", "tokens", "raw samples/s", "raw TFLOP/s", "raw / matmul", "end-to-end samples/s",
                         "end-to-end / matmul", "tokenise ms",
                         f"end-to-end / matmul, chunks of {r['default_batch_size']}"], rows)


def _hypervolume(kind: str, r: dict) -> list[str]:
    out = [f"## Indicators against pymoo ({kind}: {r['device']}, {r['date']})", ""]
    rows = [[str(x["objectives"]), str(x["points"]), f"{x['hypervolume_ms']:.2f}", f"{x['hv_over_pymoo']:.2f}x",
             f"{x['pareto_mask_ms']:.2f}", f"{x['pareto_mask_over_pymoo']:.2f}x"] for x in r["rows"]]
    return out + _table(["objectives", "points", "hypervolume ms", "/ pymoo", "Pareto filter ms", "/ pymoo"], rows)


def _rescoring(kind: str, r: dict) -> list[str]:
    x = r["rows"]
    out = [f"## Re-scoring a submitted entry against evaluating it ({kind}: {r['device']}, {r['threads']} threads, "
           f"{r['date']}; {r['env']}, the default policy, evaluation seeds {r['seeds']})", ""]
    row = [f"{x['evaluate_s']:.1f}", f"{x['submit_s']:.1f}", f"{x['rescore_s']:.1f} ({x['rescore_pairs']})",
           f"{x['ratio_submit_over_evaluate']:.3f}x", f"{x['worst_case_rescore_s']:.1f} ({x['worst_case_pairs']})",
           f"{x['ratio_worst_rescore_over_evaluate']:.3f}x", f"{x['worst_case_packed_bytes']:,}"]
    return out + _table(["evaluate s", "submit s", "re-score s (pairs)", "submit / evaluate",
                         "all replies distinct: re-score s (pairs)", "/ evaluate", "its packed answers (bytes)"], [row])


SECTIONS = {"env_step": _env_step, "rollout": _rollout, "rl_step": _rl_step, "evaluate_cost": _evaluate_cost,
            "moe_decode": _moe_decode,
            "scorer": _scorer, "hypervolume": _hypervolume, "rescoring": _rescoring}


def render() -> str:
    """The markdown of every stored result."""
    out = ["# Benchmark results", "", "Written by `python benchmarks/run.py`; ratios are measured within one run.", ""]
    for name, section in SECTIONS.items():
        for kind, record in _records(name).items():
            out += section(kind, record) + [""]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (a few minutes on a CPU)")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, default=list(BENCHMARKS))
    parser.add_argument("--report-only", action="store_true", help="only re-render RESULTS.md from stored results")
    parser.add_argument("--gpu-machine", action="store_true",
                        help=f"run only what the bare GPU machine can: {', '.join(GPU_MACHINE)} (synthetic models)")
    args = parser.parse_args()
    if not args.report_only:
        for name in args.only:
            if not args.gpu_machine or name in GPU_MACHINE:
                run(name, args.quick, GPU_MACHINE.get(name, []) if args.gpu_machine else [])
    path = HERE / "RESULTS.md"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(render() + "\n")
    tmp.replace(path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
