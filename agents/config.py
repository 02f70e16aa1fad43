"""Configuration of the RL agents: one dataclass each for the policy and the trainer.

Defaults are the papers' (``docs/methods.md``): EMORL (Kong et al., 2025, arXiv 2505.02579) and DynaOpt (Min et
al., 2024, arXiv 2403.13578) train with k-SCST: k = 3 replies per prompt, 16 prompts per step, KL coefficient 0.05,
LoRA r 8 / alpha 32 / dropout 0.05, AdamW at 1e-4, gradient clipping at 2.0, validation every 8 steps and a stop
when the coefficient of variation of the last 20 validation scores falls below 0.015. Each field's help text is
in its ``metadata["help"]`` (the command line shows it); ``__post_init__`` checks every value at construction, before
any model is loaded, with messages naming the field, the rule and the value.

>>> TrainConfig(k=1)
Traceback (most recent call last):
...
morl_core.errors.MorlError: `k` must be >= 2 for the leave-one-out baseline; got 1
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from typing import Any

import morl_envs
from agents.scalarizers import SCALARIZERS
from morl_core.errors import did_you_mean, require
from morl_core.precision import PRECISIONS
from morl_core.simplex import check_weights

__all__ = ["KL_ESTIMATORS", "FAST_DECODE", "PolicyConfig", "TrainConfig", "help_of"]

#: per-token KL estimators (Schulman, "Approximating KL Divergence", 2020)
KL_ESTIMATORS = ("k1", "k3")
#: ``PolicyConfig.fast_decode`` values and the ``CausalLMPolicy(fast_decode=...)`` each means
FAST_DECODE = {"auto": None, "on": True, "off": False}


def _f(default: Any, help: str, factory: Any = None) -> Any:
    """A dataclass field whose help text is kept in ``metadata["help"]``."""
    if factory is not None:
        return field(default_factory=factory, metadata={"help": help})
    return field(default=default, metadata={"help": help})


def help_of(cls: type, name: str) -> str:
    """The help text of field ``name`` of dataclass ``cls``."""
    return next(f.metadata.get("help", "") for f in fields(cls) if f.name == name)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class PolicyConfig:
    """The causal-LM policy and its LoRA adapters (``agents.policy.CausalLMPolicy``)."""

    model: str | None = _f(None, "hub id or local folder of a causal LM; default: SmolLM2-135M-Instruct (offline)")
    device: str | None = _f(None, "torch device; default: the GPU if there is one (bf16 base weights), else the CPU")
    max_new_tokens: int = _f(48, "reply length cap in tokens (EMORL: <= 64; 48 keeps a CPU step near a minute)")
    max_prompt_tokens: int = _f(128, "client statement cap in tokens, keeping its start (EMORL: 128); the system "
                                     "prompt and chat template come on top")
    temperature: float = _f(1.0, "sampling temperature of the training rollouts and of validation (EMORL: 1.0)")
    respond_temperature: float = _f(0.7, "sampling temperature of `respond`, used by the evaluation protocol "
                                         "(the default policy's, so trained and untrained agents are compared alike)")
    lora_r: int = _f(8, "LoRA rank (EMORL: 8)")
    lora_alpha: int = _f(32, "LoRA alpha; the adapters' scale is alpha / r (EMORL: 32)")
    lora_dropout: float = _f(0.05, "dropout on the LoRA branch (EMORL: 0.05)")
    lora_target_modules: str = _f("all-linear", "peft target_modules: 'all-linear' is every linear layer but the head")
    lora_layers: int = _f(0, "adapt only the top this many decoder layers (0: every layer); the frozen layers below "
                             "then run once for the policy and reference passes and the backward pass stops above "
                             "them (the CPU tier uses 8 of SmolLM2's 30)")
    precision: str = _f("auto", "'auto' (bf16 on a GPU and on a CPU with bf16 units, else fp32), 'bf16' or 'fp32': "
                                "the base weights' dtype, and the reward models' during training; fp32 turns the "
                                "CPU-fast path off")
    fast_decode: str = _f("auto", "rollouts through the static-cache decoder whose decode step is replayed as a CUDA "
                                  "graph: 'on', 'off' or 'auto' (on with a GPU, and on a CPU computing in bf16)")

    def __post_init__(self) -> None:
        for name in ("max_new_tokens", "max_prompt_tokens", "lora_r", "lora_alpha"):
            value = getattr(self, name)
            require(_is_int(value) and value >= 1, name, "must be an integer >= 1", value)
        for name in ("temperature", "respond_temperature"):
            value = getattr(self, name)
            require(_is_number(value) and value > 0, name, "must be a number > 0", value,
                     "Sampling at temperature 0 is greedy decoding; use a small positive value")
        require(_is_number(self.lora_dropout) and 0 <= self.lora_dropout < 1, "lora_dropout",
                 "must be a number in [0, 1)", self.lora_dropout)
        require(isinstance(self.lora_target_modules, str) and bool(self.lora_target_modules),
                 "lora_target_modules", "must be a non-empty str", self.lora_target_modules)
        require(self.fast_decode in FAST_DECODE, "fast_decode", f"must be one of {FAST_DECODE}", self.fast_decode)
        require(_is_int(self.lora_layers) and self.lora_layers >= 0, "lora_layers",
                "must be an integer >= 0 (0: every layer)", self.lora_layers)
        require(self.precision in PRECISIONS, "precision", f"must be one of {PRECISIONS}", self.precision)

    def policy_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``agents.policy.CausalLMPolicy`` for this configuration (the evaluation's
        sampling temperature; training rollouts pass ``temperature`` per call)."""
        return {"model": self.model, "device": self.device, "max_new_tokens": self.max_new_tokens,
                "temperature": self.respond_temperature, "max_prompt_tokens": self.max_prompt_tokens,
                "fast_decode": FAST_DECODE[self.fast_decode], "precision": self.precision}


@dataclass
class TrainConfig:
    """One k-SCST training run of one policy (``agents.rl.train``)."""

    env_id: str = _f("morl/Counsel-v2", "registered environment id (`morl-bench envs` lists them)")
    env_kwargs: dict = _f(None, "keyword arguments for gymnasium.make, e.g. {'objectives': ('conciseness',)}",
                          factory=dict)
    scalarizer: str = _f("linear", f"how the per-objective advantages are combined: one of {SCALARIZERS.names()}")
    preference: tuple[float, ...] | None = _f(None, "preference w on the simplex, one weight per objective; "
                                                    "default: uniform")
    scalarizer_kwargs: dict = _f(None, "extra keyword arguments for make_scalarizer (e.g. DynaOpt's gamma)",
                                 factory=dict)
    seed: int = _f(0, "seed of the prompt draws, the LoRA initialisation and the sampling")
    prompts_per_step: int = _f(16, "training prompts per step, drawn without replacement (EMORL: 16)")
    k: int = _f(3, "sampled replies per prompt for the leave-one-out baseline (k-SCST, EMORL: 3)")
    micro_batch_size: int = _f(16, "replies per forward/backward chunk (gradient accumulation); memory only")
    beta: float = _f(0.05, "coefficient of the per-token KL penalty to the reference policy (EMORL: 0.05)")
    kl_estimator: str = _f("k3", "per-token KL estimator: 'k1' = log(pi/ref), 'k3' = ref/pi - 1 - log(ref/pi)")
    learning_rate: float = _f(1e-4, "AdamW learning rate on the LoRA parameters (EMORL: 1e-4)")
    max_grad_norm: float = _f(2.0, "gradient clipping threshold on the global L2 norm (EMORL: 2.0)")
    max_steps: int = _f(500, "step budget (500 steps x 48 replies ~ EMORL's 23k training replies)")
    eval_every: int = _f(8, "validate every this many steps, and before the first (EMORL: 8)")
    eval_prompts: int | None = _f(None, "validation prompts (the first ones of the split); default: all")
    stop_window: int = _f(20, "validation scores in the stop rule's window (EMORL: 20)")
    stop_cv: float = _f(0.015, "stop when the coefficient of variation of the window falls below this "
                               "(EMORL: 0.015); 0 disables the rule")
    save_every: int = _f(8, "write a checkpoint every this many steps (and at the end)")
    keep_checkpoints: int = _f(2, "checkpoints kept on disk (oldest deleted first)")
    out_dir: str | None = _f(None, "run folder: TensorBoard events, checkpoints, final adapters; default: "
                                   "runs/<env>/<scalarizer>-seed<seed>")
    resume: bool = _f(False, "continue from the latest checkpoint in out_dir (ends where an uninterrupted run would)")
    policy: PolicyConfig = _f(None, "the policy and its adapters", factory=PolicyConfig)

    def __post_init__(self) -> None:
        text_ids = morl_envs.env_ids("text")
        require(self.env_id in text_ids, "env_id", f"must be a registered id {text_ids}", self.env_id,
                did_you_mean(str(self.env_id), text_ids))
        require(self.scalarizer in SCALARIZERS, "scalarizer", f"must be one of {SCALARIZERS.names()}",
                self.scalarizer, did_you_mean(str(self.scalarizer), SCALARIZERS))
        require(self.kl_estimator in KL_ESTIMATORS, "kl_estimator", f"must be one of {KL_ESTIMATORS}",
                 self.kl_estimator)
        require(_is_int(self.k) and self.k >= 2, "k", "must be >= 2 for the leave-one-out baseline", self.k)
        require(_is_int(self.seed) and 0 <= self.seed < 2**32, "seed", "must be an integer in [0, 2**32)", self.seed)
        for name in ("prompts_per_step", "micro_batch_size", "max_steps", "eval_every", "save_every",
                     "keep_checkpoints"):
            value = getattr(self, name)
            require(_is_int(value) and value >= 1, name, "must be an integer >= 1", value)
        require(self.eval_prompts is None or (_is_int(self.eval_prompts) and self.eval_prompts >= 1),
                 "eval_prompts", "must be None (the whole validation split) or an integer >= 1", self.eval_prompts)
        require(_is_int(self.stop_window) and self.stop_window >= 2, "stop_window",
                 "must be an integer >= 2 (a coefficient of variation needs two scores)", self.stop_window)
        for name, low in (("beta", 0.0), ("stop_cv", 0.0)):
            value = getattr(self, name)
            require(_is_number(value) and value >= low, name, f"must be a finite number >= {low:g}", value)
        for name in ("learning_rate", "max_grad_norm"):
            value = getattr(self, name)
            require(_is_number(value) and value > 0, name, "must be a finite number > 0", value)
        self._check_preference()
        require(isinstance(self.env_kwargs, dict) and isinstance(self.scalarizer_kwargs, dict), "env_kwargs",
                 "and `scalarizer_kwargs` must be dicts", (self.env_kwargs, self.scalarizer_kwargs))
        require(isinstance(self.policy, PolicyConfig), "policy", "must be a PolicyConfig", type(self.policy).__name__)
        if self.out_dir is None:
            self.out_dir = f"runs/{re.sub(r'[^A-Za-z0-9._-]', '-', self.env_id)}/{self.scalarizer}-seed{self.seed}"

    def _check_preference(self) -> None:
        if self.preference is None:
            return
        require(SCALARIZERS.get(self.scalarizer).takes_preference, "preference",
                f"is not used by {self.scalarizer!r}, which sets its own weights from each batch; leave it unset",
                self.preference)
        self.preference = tuple(float(x) for x in check_weights(self.preference, None))

    def check_objectives(self, objectives: tuple[str, ...]) -> None:
        """Check the preference against the environment's objectives (known once the environment is built)."""
        if self.preference is not None and len(self.preference) != len(objectives):
            raise ValueError(f"`preference` must have {len(objectives)} entries, one per objective "
                             f"({', '.join(objectives)}); got {len(self.preference)}: {self.preference}")
