"""TRL's GRPOTrainer against a morl environment's reward models, then evaluated and submitted like any board entry.

    pip install -e ".[trl]"      # TRL 1.16.0 (the optional extra)
    OMP_NUM_THREADS=2 python examples/trl_grpo.py [--env morl/Counsel-FluencyConciseness-v2] \
        [--preference 0.25 0.75] [--steps 30] [--aggregation sum_then_normalize] --out-dir runs/trl \
        [--out trl.json [--submit]]

The environment's objectives become TRL reward functions (:func:`morl_envs.trl_rewards.trl_rewards`: one per
objective, in order, scored exactly as ``env.step`` scores) and the preference becomes ``reward_weights``; TRL's
``multi_objective_aggregation`` decides whether the weighted sum is taken before or after each objective is
normalised within its group of ``num_generations`` replies (``--aggregation``). The policy is SmolLM2-135M-Instruct
(shipped) with LoRA adapters (r 8, alpha 32, no dropout), prompted with the project's counsellor system prompt, as
``morl-bench train`` trains it; GRPO samples ``--num-generations`` replies per prompt (TRL's loss "dapo", KL weight
``--beta``).

The trained adapter is then evaluated by the board's protocol (:func:`morl_cli.evaluate` with ``--model`` and
``--adapter``, every preference and ``--eval-seeds``): one policy trained at one preference answers them all, so the
result records a reduced preference set (family single-policy, as ``morl-bench train --agent linear`` does).
Training resumes from the newest checkpoint in ``--out-dir`` (``--save-steps``); a finished run is not repeated.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from agents.policy import SYSTEM_PROMPT
from morl_cli.board import parse_with_result_arguments, save_result
from morl_cli.evaluation import evaluate
from morl_core.agent import TrainingCosts
from morl_core.assets import smollm2_path
from morl_core.device import device_and_peak_memory
from morl_core.extras import MissingExtraError, require_extra
from morl_envs.trl_rewards import trl_rewards


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The training options, and the result options of :func:`morl_cli.board.parse_with_result_arguments`."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("--env", default="morl/Counsel-FluencyConciseness-v2", help="registered text environment id")
    parser.add_argument("--preference", type=float, nargs="+", default=[0.25, 0.75], help="the reward weights")
    parser.add_argument("--model", default=None, help="causal LM folder or cached hub id (default: shipped SmolLM2)")
    parser.add_argument("--steps", type=int, default=30, help="GRPO optimiser steps")
    parser.add_argument("--prompts-per-step", type=int, default=8, help="prompts per step")
    parser.add_argument("--num-generations", type=int, default=3, help="replies sampled per prompt (GRPO's group)")
    parser.add_argument("--max-new-tokens", type=int, default=48, help="longest reply, in tokens")
    parser.add_argument("--learning-rate", type=float, default=5e-4, help="AdamW step size of the LoRA adapters")
    parser.add_argument("--beta", type=float, default=0.05, help="KL weight against the adapter-free model")
    parser.add_argument("--aggregation", default="sum_then_normalize",
                        choices=("sum_then_normalize", "normalize_then_sum"),
                        help="TRL's multi_objective_aggregation (normalize_then_sum: GDPO)")
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    parser.add_argument("--save-steps", type=int, default=10, help="steps between checkpoints (resume points)")
    parser.add_argument("--out-dir", type=Path, required=True, help="run folder: checkpoints and the final adapter")
    parser.add_argument("--name", default="trl-grpo", help="the agent's board name")
    parser.add_argument("--max-prompts", type=int, default=None,
                        help="evaluate on the first N test prompts only (quick checks: submit refuses such results)")
    args = parse_with_result_arguments(parser, argv)
    for flag in ("steps", "prompts_per_step", "num_generations", "max_new_tokens", "save_steps"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be >= 1; got {getattr(args, flag)}")
    if args.num_generations < 2:
        parser.error(f"--num-generations must be >= 2 (GRPO compares replies within a group); got "
                     f"{args.num_generations}")
    return args


def train(args: argparse.Namespace, rewards) -> tuple[Path, TrainingCosts]:
    """GRPO with LoRA on the environment's training prompts; the final adapter in ``out_dir/adapter``."""
    trl, peft, datasets = (require_extra(m, "trl") for m in ("trl", "peft", "datasets"))
    adapter, model = args.out_dir / "adapter", str(args.model or smollm2_path())
    costs_file = args.out_dir / "costs.json"
    if (adapter / "adapter_config.json").is_file() and costs_file.is_file():
        print(f"{adapter} exists: training finished earlier, not repeated")
        return adapter, TrainingCosts(**json.loads(costs_file.read_text()))
    batch, cuda = args.prompts_per_step * args.num_generations, torch.cuda.is_available()
    config = trl.GRPOConfig(
        output_dir=str(args.out_dir), max_steps=args.steps, per_device_train_batch_size=batch,
        num_generations=args.num_generations, max_completion_length=args.max_new_tokens, temperature=0.7,
        learning_rate=args.learning_rate, beta=args.beta, reward_weights=rewards.weights,
        multi_objective_aggregation=args.aggregation, gradient_checkpointing=False, use_cpu=not cuda, bf16=cuda,
        seed=args.seed, logging_steps=1, save_steps=args.save_steps, report_to="none",
        disable_tqdm=not sys.stderr.isatty(), lr_scheduler_type="constant", warmup_steps=0)
    lora = peft.LoraConfig(r=8, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")
    train_set = datasets.Dataset.from_list(rewards.dataset("train", system_prompt=SYSTEM_PROMPT))
    trainer = trl.GRPOTrainer(model=model, reward_funcs=rewards.functions, args=config, train_dataset=train_set,
                              peft_config=lora)
    resume = any(args.out_dir.glob("checkpoint-*"))
    start = time.perf_counter()
    trainer.train(resume_from_checkpoint=True if resume else None)
    trainer.model.save_pretrained(str(adapter))
    lengths = [row["completions/mean_length"] for row in trainer.state.log_history if "completions/mean_length" in row]
    device, peak = device_and_peak_memory()
    costs = TrainingCosts(env_samples=args.steps * batch, tokens_generated=int(sum(lengths) * batch),
                          train_seconds=time.perf_counter() - start, device=device, peak_memory_bytes=peak)
    costs_file.write_text(json.dumps(costs.__dict__))
    for row in trainer.state.log_history[-1:]:
        print(f"last logged step: {json.dumps({k: round(v, 4) for k, v in row.items() if isinstance(v, float)})}")
    return adapter, costs


def main(argv: list[str] | None = None) -> int:
    """Train, evaluate through the board's protocol, print the metrics; write and submit on request."""
    args = parse(argv)
    try:
        rewards = trl_rewards(args.env, preference=args.preference)
        adapter, costs = train(args, rewards)
    except (MissingExtraError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    details = {"trainer": "trl.GRPOTrainer 1.16.0", "aggregation": args.aggregation,
               "trained_preferences": [rewards.weights], "reduced_preference_set": True, "steps": args.steps,
               "prompts_per_step": args.prompts_per_step, "num_generations": args.num_generations, "seed": args.seed}
    result = evaluate(str(args.model or smollm2_path()), args.env, seeds=args.eval_seeds, adapter=adapter,
                      name=args.name, agent_kwargs={"details": details, "costs": costs},
                      max_prompts=args.max_prompts)
    print(json.dumps({"agent": result["agent"], "metrics": result["claimed_metrics"]}, indent=1))
    save_result(result, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
