"""Multi-objective k-SCST: REINFORCE with a leave-one-out baseline per objective, a KL penalty and LoRA adapters.

The training algorithm of DynaOpt (Min et al., 2024, arXiv 2403.13578) and EMORL (Kong et al., 2025, arXiv
2505.02579), ``docs/methods.md``, with the baseline taken per objective so that any scalarizer can combine the
advantages. One step, as :func:`train` reads top to bottom:

1. draw ``B = prompts_per_step`` training prompts; sample ``k`` replies each in one batched ``generate`` (N = B k);
2. score them with the environment's reward models, one batched call per model -> rewards (B, k, n);
3. leave-one-out advantages per objective, ``A = r - mean of the other k - 1 replies' r`` -> (B, k, n);
4. combine: ``scalarizer.combine(rewards, advantages)`` -> one advantage per reply (B, k); or, for MGDA, one
   backward pass per objective and the min-norm combination of the per-objective gradients;
5. loss per reply ``-A * sum_t log pi(y_t) + beta * sum_t KL_t``, averaged over the N replies; AdamW on the LoRA
   parameters only, gradient clipping;
6. every ``eval_every`` steps (and before the first): the mean reward vector on the validation split, its
   preference-weighted score for EMORL's stop rule, and ``scalarizer.update`` for DynaOpt.

The per-token KL to the reference (the base model, adapters disabled) uses Schulman's estimators ("Approximating
KL Divergence", 2020), with ``log r = log ref(y_t) - log pi(y_t)`` for the sampled token: ``k1 = -log r`` (unbiased,
but negative on some tokens) or ``k3 = r - 1 - log r`` (default: unbiased, never negative, lower variance; the
estimator of TRL's GRPO). Both are exactly 0 while the policy equals the reference, e.g. at step 0 (LoRA B = 0).
Every logged key is described in docs/logging.md.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter
from tqdm.auto import tqdm

import morl_envs
from agents import checkpoint
from agents.checkpoint import RunState
from agents.config import TrainConfig
from agents.policy import CausalLMPolicy, Generation
from agents.scalarizers import SCALARIZERS, make_scalarizer
from morl_core.device import device_and_peak_memory
from morl_core.precision import autocast

__all__ = ["RunState", "Scorer", "TrainResult", "leave_one_out", "kl_per_token", "coefficient_of_variation",
           "should_stop", "make_policy", "rollout", "scalarizer_for", "update", "validate", "train", "run_summary"]

#: the environment's ``score(prompts, replies) -> (B, n)`` reward matrix
Scorer = Callable[[list[str], list[str]], np.ndarray]


@dataclass
class TrainResult:
    """A finished (or stopped) run: the trained policy with its adapters active, and what it cost."""

    config: TrainConfig
    policy: CausalLMPolicy
    scalarizer: Any
    objectives: tuple[str, ...]
    state: RunState
    out_dir: Path


# --- the algorithm's pieces -------------------------------------------------------------------------------------
def leave_one_out(rewards: torch.Tensor) -> torch.Tensor:
    """Per-objective leave-one-out advantages (B, k, n): each reply's rewards minus the mean over the other k - 1
    replies to the same prompt (k-SCST's baseline; Kool et al., 2019, "Buy 4 REINFORCE samples, get a baseline for
    free"), computed independently for every objective.

    >>> leave_one_out(torch.tensor([[[1.0], [0.0], [0.5]]])).squeeze(-1).tolist()
    [[0.75, -0.75, 0.0]]
    """
    k = rewards.shape[1]
    if k < 2:
        raise ValueError(f"`rewards` must have k >= 2 replies per prompt (dim 1) for a leave-one-out baseline; got {k}")
    others = (rewards.sum(dim=1, keepdim=True) - rewards) / (k - 1)  # (B, k, n)
    return rewards - others


def kl_per_token(logp: torch.Tensor, ref_logp: torch.Tensor, estimator: str = "k3") -> torch.Tensor:
    """Per-token estimate of KL(pi || ref) from the sampled tokens' log-probabilities (N, T) (Schulman, 2020)."""
    log_ratio = ref_logp - logp  # log(ref / pi), (N, T)
    if estimator == "k1":
        return -log_ratio
    if estimator == "k3":
        return log_ratio.exp() - 1.0 - log_ratio
    raise ValueError(f"`estimator` must be 'k1' or 'k3'; got {estimator!r}")


def coefficient_of_variation(scores: list[float], window: int) -> float | None:
    """std / mean (population std) of the last ``window`` scores; None until there are ``window`` of them or when
    their mean is not positive."""
    if len(scores) < window:
        return None
    last = np.asarray(scores[-window:], dtype=np.float64)
    mean = float(last.mean())
    return float(last.std() / mean) if mean > 0 else None


def should_stop(scores: list[float], window: int = 20, threshold: float = 0.015) -> bool:
    """EMORL's stop rule: the coefficient of variation of the last ``window`` validation scores is below
    ``threshold`` (the validation score has plateaued).

    >>> should_stop([0.5] * 19), should_stop([0.5] * 20), should_stop([0.2, 0.8] * 10)
    (False, True, False)
    """
    cv = coefficient_of_variation(scores, window)
    return cv is not None and cv < threshold


def make_policy(config: TrainConfig, adapter_name: str = "default") -> CausalLMPolicy:
    """The policy of ``config.policy`` with fresh LoRA adapters called ``adapter_name``, initialised from
    ``config.seed``."""
    pc = config.policy
    policy = CausalLMPolicy(**pc.policy_kwargs())
    torch.manual_seed(config.seed)
    policy.add_lora(r=pc.lora_r, alpha=pc.lora_alpha, dropout=pc.lora_dropout, target_modules=pc.lora_target_modules,
                    name=adapter_name, layers=pc.lora_layers)
    return policy


def rollout(policy: CausalLMPolicy, score: Scorer, prompts: list[str], k: int,
            temperature: float) -> tuple[Generation, torch.Tensor]:
    """k sampled replies per prompt in one batch (row b * k + j is reply j to prompt b) and their rewards
    (B, k, n) as a float32 tensor on the policy's device; ``score`` is the environment's (``env.unwrapped.score``),
    run under bf16 autocast when the policy computes in bf16 on a CPU (a training signal; reported rewards are
    scored in float32 by the evaluation protocol).
    """
    repeated = [p for p in prompts for _ in range(k)]  # (N,)
    gen = policy.generate(repeated, temperature=temperature)
    with autocast(policy.dtype, policy.device):  # bf16 reward passes on the CPU-fast path
        rewards = score(repeated, gen.texts)  # (N, n)
    return gen, torch.from_numpy(rewards).to(policy.device).reshape(len(prompts), k, -1)


def _rows(gen: Generation, rows: slice) -> Generation:
    return Generation(gen.prompt_ids[rows], gen.prompt_mask[rows], gen.reply_ids[rows], gen.reply_mask[rows],
                      gen.texts[rows])


def _flat(grads: tuple[torch.Tensor | None, ...], params: list[torch.nn.Parameter]) -> torch.Tensor:
    return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1).float()
                      for g, p in zip(grads, params)])


def _apply_min_norm(scalarizer: Any, grads: torch.Tensor, params: list[torch.nn.Parameter]) -> torch.Tensor:
    """Set ``p.grad`` to MGDA's combined gradient ``sum_i c_i g_i`` of the per-objective gradients (n, D);
    returns the coefficients c (n,)."""
    coefficients = scalarizer.coefficients(list(grads)).to(grads)  # (n,)
    combined = coefficients @ grads  # (D,)
    offset = 0
    for p in params:
        p.grad = combined[offset: offset + p.numel()].view_as(p).to(p.dtype)
        offset += p.numel()
    return coefficients


def update(policy: CausalLMPolicy, optimizer: torch.optim.Optimizer, scalarizer: Any, gen: Generation,
           rewards: torch.Tensor, config: TrainConfig) -> dict[str, float]:
    """One gradient step on a rollout (rewards (B, k, n), rows of ``gen`` ordered b * k + j); returns the loss,
    the KL (mean per reply of the summed per-token estimate) and the gradient norm before clipping.

    The loss has one row per objective for MGDA (objective i's policy-gradient loss plus the shared KL term; as
    ``sum_i c_i = 1`` the combined gradient holds the KL gradient once), else one row from ``scalarizer.combine``.
    Replies are processed in chunks of ``micro_batch_size`` with gradient accumulation.
    """
    advantages = leave_one_out(rewards)  # (B, k, n)
    n_rows = gen.reply_ids.shape[0]
    if scalarizer.uses_gradients:
        adv = scalarizer.gradient_rows(advantages)  # (m, N): one row per loss (one row: c = 1)
    else:
        adv = scalarizer.combine(rewards, advantages).reshape(1, n_rows).to(rewards)  # (1, N)
    adv = adv.detach()
    params = policy.trainable_parameters()
    grads = torch.zeros(len(adv) if len(adv) > 1 else 0, sum(p.numel() for p in params),
                        device=rewards.device)  # (n, D) per-objective gradients, MGDA only
    losses, kl_sum = torch.zeros(len(adv), device=rewards.device), 0.0  # (rows,)
    optimizer.zero_grad(set_to_none=True)
    for start in range(0, n_rows, config.micro_batch_size):
        chunk = slice(start, start + config.micro_batch_size)
        logp, ref_logp = policy.token_logprobs(_rows(gen, chunk), config.policy.temperature)  # (m, T) each
        mask = gen.reply_mask[chunk].to(logp.dtype)  # (m, T)
        seq_logp = (logp * mask).sum(dim=1)  # (m,)
        seq_kl = (kl_per_token(logp, ref_logp, config.kl_estimator) * mask).sum(dim=1)  # (m,)
        chunk_losses = (-adv[:, chunk] * seq_logp + config.beta * seq_kl).sum(dim=1) / n_rows  # (rows,)
        if len(adv) == 1:
            chunk_losses[0].backward()
        else:  # MGDA: one backward pass per objective through the shared graph
            for i in range(len(adv)):
                g = torch.autograd.grad(chunk_losses[i], params, retain_graph=i < len(adv) - 1, allow_unused=True)
                grads[i] += _flat(g, params)
        losses += chunk_losses.detach()
        kl_sum += float(seq_kl.detach().sum())
    if len(adv) > 1:
        coefficients = _apply_min_norm(scalarizer, grads, params)  # (n,)
        losses = (coefficients * losses).sum().reshape(1)
    grad_norm = torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
    optimizer.step()
    return {"loss": float(losses[0]), "kl": kl_sum / n_rows, "grad_norm": float(grad_norm)}


def validate(policy: CausalLMPolicy, score: Scorer, prompts: list[str], temperature: float,
             seed: int) -> tuple[np.ndarray, int]:
    """Mean reward vector (n,) of one sampled reply per validation prompt, and the tokens generated.

    Sampling uses ``seed`` inside a forked RNG, so every validation sees the same random numbers (common random
    numbers: score changes come from the policy) and the training stream is left untouched.
    """
    devices = [policy.device.index or 0] if policy.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        gen = policy.generate(prompts, temperature=temperature)
    with autocast(policy.dtype, policy.device):
        rewards = score(prompts, gen.texts)
    return rewards.astype(np.float64).mean(axis=0), gen.n_tokens


# --- the training loop ------------------------------------------------------------------------------------------
def _scalarizer_kwargs(config: TrainConfig) -> dict[str, Any]:
    """make_scalarizer's arguments: the preference (not for PAMA and MGDA, which set their own weights) and, for
    DynaOpt, the run's seed for its bandit draws unless given."""
    kwargs = dict(config.scalarizer_kwargs)
    if SCALARIZERS.get(config.scalarizer).takes_preference:
        kwargs["preference"] = config.preference
    if config.scalarizer == "dynaopt":
        kwargs.setdefault("seed", config.seed)
    return kwargs


def scalarizer_for(config: TrainConfig, n_objectives: int) -> Any:
    """The scalarizer a run of ``config`` trains with (its preference, its options); raises the scalarizer's own
    error for a bad option, so a caller can check a configuration before it builds anything."""
    return make_scalarizer(config.scalarizer, n_objectives, **_scalarizer_kwargs(config))


@dataclass
class _Run:
    """What one training run holds while it runs."""

    config: TrainConfig
    env: Any
    objectives: tuple[str, ...]
    preference: np.ndarray  # (n,) for the stop rule's validation score
    train_prompts: list[str]
    val_prompts: list[str]
    rng: np.random.Generator  # the prompt draws
    policy: CausalLMPolicy
    scalarizer: Any
    optimizer: torch.optim.Optimizer
    state: RunState
    writer: Any

    owns_env: bool  # built here (closed at the end), not handed in by the caller

    @property
    def score(self) -> Scorer:
        return self.env.unwrapped.score


def _setup(config: TrainConfig, env: gym.Env | None, adapter_name: str) -> _Run:
    """Environment (``env``, or built from the config), prompts, seeds, policy, scalarizer, optimizer; restored
    from the latest checkpoint on resume."""
    out = Path(config.out_dir)
    if config.resume:
        checkpoint.remove_temporaries(out)
    resume_from = checkpoint.latest(out)
    if resume_from is not None and not config.resume:
        raise ValueError(f"`out_dir` already holds checkpoints of a run ({str(out)!r}); got resume=False. Pass "
                         f"resume=True (--resume) to continue that run, or train into another folder")
    owns_env = env is None
    env = morl_envs.make(config.env_id, **config.env_kwargs) if env is None else env
    base = env.unwrapped
    objectives = tuple(base.objectives)
    config.check_objectives(objectives)
    train_prompts = [p.text for p in base.prompt_set.split("train")]
    if config.prompts_per_step > len(train_prompts):
        raise ValueError(f"`prompts_per_step` must be at most the training split's size ({len(train_prompts)} "
                         f"prompts of {config.env_id}); got {config.prompts_per_step}")
    val_prompts = [p.text for p in base.prompt_set.split("validation")][: config.eval_prompts]
    n_obj = len(objectives)
    preference = np.asarray(config.preference or [1.0 / n_obj] * n_obj, dtype=np.float64)  # (n,)
    random.seed(config.seed)
    np.random.seed(config.seed)
    rng = np.random.default_rng(config.seed)
    policy = make_policy(config, adapter_name)
    scalarizer = scalarizer_for(config, n_obj)
    optimizer = torch.optim.AdamW(policy.trainable_parameters(), lr=config.learning_rate)
    state = RunState()
    if resume_from is not None:
        state = checkpoint.load(resume_from, config, policy, optimizer, scalarizer, rng)
    else:
        checkpoint.write_config(out, config)
    writer = SummaryWriter(str(out / "tensorboard"), purge_step=state.step + 1 if state.step else None)
    return _Run(config, env, objectives, preference, train_prompts, val_prompts, rng, policy, scalarizer, optimizer,
                state, writer, owns_env)


def _validation(run: _Run) -> None:
    """Validate, record the score, update DynaOpt, apply EMORL's stop rule, log."""
    config, state = run.config, run.state
    start = time.perf_counter()
    val, tokens = validate(run.policy, run.score, run.val_prompts, config.policy.temperature, config.seed)  # (n,)
    state.val_steps.append(state.step)
    state.val_rewards.append(val.tolist())
    state.val_scores.append(float(val @ run.preference))
    state.env_samples += len(run.val_prompts)
    state.tokens_generated += tokens
    if run.scalarizer.adapts_on_validation:
        run.scalarizer.update(val)
    if config.stop_cv > 0 and should_stop(state.val_scores, config.stop_window, config.stop_cv):
        state.stop_reason = (f"validation plateau: coefficient of variation of the last {config.stop_window} "
                             f"scores below {config.stop_cv}")
    state.train_seconds += time.perf_counter() - start
    for name, value in zip(run.objectives, val):
        run.writer.add_scalar(f"eval/reward_{name}", value, state.step)
    run.writer.add_scalar("eval/scalarized_reward", state.val_scores[-1], state.step)
    cv = coefficient_of_variation(state.val_scores, config.stop_window)
    if cv is not None:
        run.writer.add_scalar("eval/score_cv", cv, state.step)


def _train_step(run: _Run) -> dict[str, float]:
    """Draw prompts, roll out, score, update, count and log one step; returns the logged scalars."""
    config, state, writer = run.config, run.state, run.writer
    start = time.perf_counter()
    chosen = run.rng.choice(len(run.train_prompts), size=config.prompts_per_step, replace=False)  # (B,)
    prompts = [run.train_prompts[i] for i in chosen]
    gen, rewards = rollout(run.policy, run.score, prompts, config.k, config.policy.temperature)  # (B, k, n)
    stats = update(run.policy, run.optimizer, run.scalarizer, gen, rewards, config)
    state.step += 1
    state.env_samples += rewards.shape[0] * rewards.shape[1]
    state.tokens_generated += gen.n_tokens
    state.train_seconds += time.perf_counter() - start
    mean = rewards.mean(dim=(0, 1)).cpu().numpy().astype(np.float64)  # (n,)
    weights = np.asarray(run.scalarizer.weights(), dtype=np.float64)  # (n,)
    stats["scalarized_reward"] = float(mean @ weights)
    stats["reply_tokens"] = gen.reply_mask.sum(dim=1).float().mean().item()
    for i, name in enumerate(run.objectives):
        writer.add_scalar(f"train/reward_{name}", mean[i], state.step)
        writer.add_scalar(f"charts/weight_{name}", weights[i], state.step)
    for key in ("loss", "kl", "grad_norm", "scalarized_reward", "reply_tokens"):
        writer.add_scalar(f"train/{key}", stats[key], state.step)
    writer.add_scalar("charts/learning_rate", run.optimizer.param_groups[0]["lr"], state.step)
    writer.add_scalar("charts/env_samples", state.env_samples, state.step)
    return stats


def _record_device(run: _Run) -> None:
    device, peak = device_and_peak_memory(run.policy.device)
    run.state.device, run.state.peak_memory_bytes = device, max(peak, run.state.peak_memory_bytes)


def train(config: TrainConfig, progress: bool = False, env: gym.Env | None = None,
          adapter_name: str = "default") -> TrainResult:
    """Train one policy with ``config`` (see the module docstring); resumes from ``config.out_dir`` when
    ``config.resume``. Writes TensorBoard events, checkpoints and, at the end, the final adapters and
    ``summary.json`` into ``config.out_dir``. The run ends after ``max_steps`` steps or at EMORL's stop rule.
    ``env``: an environment of ``config.env_id`` built by the caller (left open), else one is built and closed;
    ``adapter_name``: the name of the trained LoRA adapters in the returned policy."""
    run = _setup(config, env, adapter_name)
    state = run.state
    bar = tqdm(total=config.max_steps, initial=state.step, disable=not progress, desc=config.scalarizer,
               unit="step", dynamic_ncols=True)
    if state.step == 0 and not state.val_steps:
        _validation(run)  # the untrained policy: the first score of the stop rule's window
    while state.step < config.max_steps and state.stop_reason is None:
        stats = _train_step(run)
        if state.step % config.eval_every == 0:
            _validation(run)
        if state.step % config.save_every == 0 or state.step == config.max_steps or state.stop_reason:
            _record_device(run)
            checkpoint.save(config.out_dir, state, run.policy, run.optimizer, run.scalarizer, run.rng,
                            config.keep_checkpoints)
        bar.update(1)
        bar.set_postfix(reward=f"{stats['scalarized_reward']:.3f}", kl=f"{stats['kl']:.3f}")
    bar.close()
    run.writer.close()
    if run.owns_env:
        run.env.close()
    _record_device(run)
    checkpoint.save_final(Path(config.out_dir), state, run.policy, run.scalarizer, run.objectives, run.preference)
    return TrainResult(config, run.policy, run.scalarizer, run.objectives, state, Path(config.out_dir))


def run_summary(state: RunState) -> str:
    """One line: steps, why the run ended, replies scored, seconds."""
    why = state.stop_reason or "step budget reached"
    return f"{state.step} steps ({why}); {state.env_samples} replies scored; {state.train_seconds:.0f} s"
