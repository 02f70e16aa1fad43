"""The policy: a chat causal LM (SmolLM2-135M-Instruct, shipped offline) that writes counsellor replies.

Any hub id or local transformers folder works through the same class. Generation is batched with left padding and
seeded, so the same prompts and seed give the same replies on the same machine. For RL the policy carries LoRA
adapters (Hu et al., 2021, arXiv 2106.09685) with EMORL's settings (Kong et al., 2025, arXiv 2505.02579: r 8,
alpha 32, dropout 0.05 on every linear layer but ``lm_head``); the reference policy of the KL penalty is the same
network with its adapters disabled, so one copy of the base weights serves both. On a GPU the base weights are bf16
(peft keeps the adapters in float32), and so they are on a CPU with bf16 units (``precision="auto"``,
:mod:`morl_core.precision`).

The CPU-fast path (bf16 on such a CPU) also decodes through the static-cache decoder with inverse-CDF sampling, and
two options make a training step cheaper still (the CPU tier, ``docs/cpu_training.md``): LoRA on the top
``lora_layers`` decoder layers only, so that the frozen layers below run once, without gradients, for both the
policy and the reference pass (:meth:`CausalLMPolicy.token_logprobs`), and no LoRA dropout.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file

from agents.fast_decode import FastDecoder
from morl_core.assets import quiet_loading, smollm2_path
from morl_core.device import default_device
from morl_core.precision import resolve

__all__ = ["SYSTEM_PROMPT", "CausalLMPolicy", "Generation", "disable_dropout"]

SYSTEM_PROMPT = ("You are a counsellor. Answer the client with a short reflection: restate what they mean and how "
                 "they feel, in one or two sentences, without giving advice.")


@dataclass
class Generation:
    """One batch of sampled replies, with the token tensors the RL update needs (N rows, P prompt and T reply
    positions). ``reply_mask`` covers the generated tokens up to and including the first end-of-sequence token."""

    prompt_ids: torch.Tensor  # (N, P) left-padded
    prompt_mask: torch.Tensor  # (N, P)
    reply_ids: torch.Tensor  # (N, T) right-padded
    reply_mask: torch.Tensor  # (N, T)
    texts: list[str]  # N decoded replies, stripped

    @property
    def n_tokens(self) -> int:
        """Generated tokens (end-of-sequence included, padding excluded)."""
        return int(self.reply_mask.sum())


def _contiguous_input(module: torch.nn.Module, args: tuple) -> tuple:
    """Forward pre-hook of the output head: transformers hands it a strided slice of the hidden states
    (``logits_to_keep``), which a CPU matmul multiplies by copying the whole head once per row (seconds per batch
    in bf16); a contiguous copy of the few kept positions costs nothing."""
    return (args[0].contiguous(), *args[1:])


def decoder_layers(model: torch.nn.Module) -> tuple[str, torch.nn.ModuleList]:
    """The attribute name and the list of a causal LM's decoder layers (``layers`` for Llama-like models, ``h``
    for GPT-2): the ``ModuleList`` with one entry per hidden layer."""
    config = getattr(model, "config", None)
    n = getattr(config, "num_hidden_layers", None)
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == n and name.rsplit(".", 1)[-1] in ("layers", "h"):
            return name.rsplit(".", 1)[-1], module
    raise ValueError(f"`model` must have a ModuleList of its {n} decoder layers named 'layers' or 'h' for "
                     f"`lora_layers`; found none in {type(model).__name__}")


def disable_dropout(model: torch.nn.Module) -> None:
    """Set the probability of every dropout layer of ``model`` to 0."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0


class CausalLMPolicy:
    """Batched, seeded reply generation from a causal LM with a chat template, optionally with LoRA adapters.

    ``model``: hub id or local folder (default: SmolLM2-135M-Instruct from ``morl_core.assets.smollm2_path``).
    ``max_prompt_tokens`` cuts long client statements to their first tokens (EMORL: inputs <= 128 tokens).
    ``fast_decode``: generate through :class:`~agents.fast_decode.FastDecoder` (static KV cache, decode step
    replayed as a CUDA graph) instead of ``model.generate()``; default: on CUDA and on the CPU-fast path. Same
    tokens for the same seed wherever the two paths compute the same logits and sample alike (float32 on a CPU:
    tested; the CPU-fast path samples by inverse CDF, the same distribution from other random numbers).
    ``precision``: "auto", "bf16" or "fp32" (:func:`morl_core.precision.resolve`): the base weights' dtype.
    """

    def __init__(self, model: str | Path | None = None, device: str | None = None, max_new_tokens: int = 48,
                 temperature: float = 0.7, system_prompt: str = SYSTEM_PROMPT, max_prompt_tokens: int = 128,
                 fast_decode: bool | None = None, precision: str = "auto") -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer  # deliberately lazy: `import agents` stays light

        if max_new_tokens < 1:
            raise ValueError(f"`max_new_tokens` must be >= 1; got {max_new_tokens}")
        if temperature <= 0:
            raise ValueError(f"`temperature` must be > 0 (use do_sample=False for greedy); got {temperature}")
        if max_prompt_tokens < 1:
            raise ValueError(f"`max_prompt_tokens` must be >= 1; got {max_prompt_tokens}")
        self.path = Path(model) if model and Path(model).expanduser().is_dir() else (model or smollm2_path())
        self.device = torch.device(device) if device else default_device()
        self.dtype = resolve(precision, self.device)
        self.tokenizer = AutoTokenizer.from_pretrained(self.path, padding_side="left")
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        with quiet_loading():
            self.model = AutoModelForCausalLM.from_pretrained(self.path, dtype=self.dtype).to(self.device).eval()
        head = self.model.get_output_embeddings()
        self.head_hook = head.register_forward_pre_hook(_contiguous_input) if head is not None else None
        self.max_new_tokens, self.temperature, self.system_prompt = max_new_tokens, temperature, system_prompt
        self.max_prompt_tokens = max_prompt_tokens
        self.cpu_fast = self.device.type == "cpu" and self.dtype == torch.bfloat16
        self.fast_decode = self.device.type == "cuda" or self.cpu_fast if fast_decode is None else bool(fast_decode)
        self._decoder: FastDecoder | None = None
        eos = self.model.generation_config.eos_token_id
        eos = eos if eos is not None else self.tokenizer.eos_token_id
        self.eos_token_ids = sorted({eos} if isinstance(eos, int) else set(eos))

    # --- adapters ----------------------------------------------------------------------------------------------
    @property
    def has_adapters(self) -> bool:
        """Whether the model carries LoRA adapters (is a peft model)."""
        return hasattr(self.model, "peft_config")

    def add_lora(self, r: int = 8, alpha: int = 32, dropout: float = 0.05,
                 target_modules: str | list[str] = "all-linear", name: str = "default", layers: int = 0) -> None:
        """Wrap the model with fresh LoRA adapters (B = 0, so the policy starts equal to the reference); peft's
        ``"all-linear"`` targets every linear layer except the output head. ``layers``: adapt only the top
        ``layers`` decoder layers (0: every layer); the layers below are then a frozen trunk that the policy and
        reference passes share. The base model's own dropout is switched off (as TRL does for RL), so that only the
        adapters' dropout differs between the policy in training mode and the reference. The initialisation of A
        draws from torch's global RNG: seed it first."""
        from peft import LoraConfig, get_peft_model

        if not self.has_adapters:
            disable_dropout(self.model)
        where: dict = {}
        if layers:
            pattern, stack = decoder_layers(self.model)
            if isinstance(layers, bool) or not isinstance(layers, int) or not 0 <= layers <= len(stack):
                raise ValueError(f"`lora_layers` must be an integer from 0 (every layer) to the model's {len(stack)} "
                                 f"decoder layers; got {layers!r}")
            if target_modules == "all-linear":
                target_modules = self._linear_names(stack[0])
            where = {"layers_to_transform": list(range(len(stack) - layers, len(stack))), "layers_pattern": pattern}
        config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=target_modules,
                            task_type="CAUSAL_LM", fan_in_fan_out=self._conv1d(), **where)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            warnings.filterwarnings("ignore", message=".*fan_in_fan_out.*", category=UserWarning)
            if self.has_adapters:
                self.model.add_adapter(name, config)
                self.model.set_adapter(name)
            else:
                self.model = get_peft_model(self.model, config, adapter_name=name)

    @property
    def trunk_layers(self) -> int:
        """The decoder layers below every adapter of the model (added or loaded): a frozen trunk whose states the
        policy and the reference share. 0 without adapters or when an adapter adapts the lowest layer."""
        if not self.has_adapters:
            return 0
        lowest = []
        for config in self.model.peft_config.values():
            chosen = getattr(config, "layers_to_transform", None)
            if chosen is None:
                return 0
            lowest.append(min([chosen] if isinstance(chosen, int) else chosen))
        return min(lowest)

    @staticmethod
    def _linear_names(layer: torch.nn.Module) -> list[str]:
        """The names of a decoder layer's linear (or GPT-2 Conv1D) sub-layers: what "all-linear" adapts in it."""
        from transformers.pytorch_utils import Conv1D

        linear = (torch.nn.Linear, Conv1D)
        return sorted({n.rsplit(".", 1)[-1] for n, m in layer.named_modules() if isinstance(m, linear)})

    def _conv1d(self) -> bool:
        """GPT-2-style models store linear layers as transformers' Conv1D (transposed weights)."""
        from transformers.pytorch_utils import Conv1D

        return any(isinstance(m, Conv1D) for m in self.model.modules())

    def load_adapter(self, folder: str | Path, name: str = "default") -> None:
        """Load adapters saved by :meth:`save_adapter` (several may be loaded under different names; the one
        named here becomes active)."""
        from peft import PeftModel

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            if not self.has_adapters:
                disable_dropout(self.model)
                self.model = PeftModel.from_pretrained(self.model, str(folder), adapter_name=name, is_trainable=True)
            elif name in self.model.peft_config:
                from peft import set_peft_model_state_dict

                set_peft_model_state_dict(self.model, load_file(Path(folder) / "adapter_model.safetensors"), name)
            else:
                self.model.load_adapter(str(folder), adapter_name=name, is_trainable=True)
        self.model.set_adapter(name)

    def save_adapter(self, folder: str | Path) -> None:
        """Write the active adapters (``adapter_config.json`` + ``adapter_model.safetensors``) into ``folder``."""
        name = self.model.active_adapter
        self.model.save_pretrained(str(folder), selected_adapters=[name], save_embedding_layers=False)
        nested = Path(folder) / name  # peft nests non-default adapter names in a sub-folder
        if name != "default" and nested.is_dir():
            for file in nested.iterdir():
                file.replace(Path(folder) / file.name)
            nested.rmdir()

    def set_adapter(self, name: str) -> None:
        """Make the adapters called ``name`` the active ones."""
        self.model.set_adapter(name)

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        """The parameters that RL updates: the active LoRA adapters only (base weights stay frozen)."""
        return [p for p in self.model.parameters() if p.requires_grad]

    @contextmanager
    def reference(self) -> Iterator[None]:
        """Inside this block the model is the reference policy: the base model with the adapters disabled."""
        with self.model.disable_adapter() if self.has_adapters else nullcontext():
            yield

    @contextmanager
    def merged(self) -> Iterator[None]:
        """Inside this block the active adapters are merged into the base weights (W + B A * alpha / r), so
        generation costs what the base model costs (no LoRA branch per linear layer). The base weights are restored
        bit for bit on exit (:meth:`base_weights_kept`), so merging never drifts them (bf16 merges would). For
        inference only: do not train or use :meth:`reference` inside it. On the CPU-fast path nothing is merged: a
        bf16 merge rounds away every part of the update below bf16's resolution (~0.4% of a weight), which early in
        training is most of it, so a merged policy would answer like the untrained one."""
        if not self.has_adapters or self.cpu_fast:
            yield
            return
        with self.base_weights_kept() as layers:
            self.model.merge_adapter()
            try:
                yield
            finally:
                for layer in layers:
                    layer.merged_adapters.clear()  # the weights are restored: nothing is merged any more

    @contextmanager
    def base_weights_kept(self) -> Iterator[list[torch.nn.Module]]:
        """Yields the LoRA layers; whatever is done to their base weights inside the block is undone on exit (the
        weights are copied on entry and copied back, exactly)."""
        from peft.tuners.lora import LoraLayer

        layers = [m for m in self.model.modules() if isinstance(m, LoraLayer)]
        saved = [m.get_base_layer().weight.detach().clone() for m in layers]
        try:
            yield layers
        finally:
            for layer, weight in zip(layers, saved):
                layer.get_base_layer().weight.data.copy_(weight)

    # --- generation --------------------------------------------------------------------------------------------
    def _chat(self, prompt: str) -> str:
        messages = [{"role": "system", "content": self.system_prompt}, {"role": "user", "content": prompt}]
        if self.tokenizer.chat_template is None:
            return f"{self.system_prompt}\nClient: {prompt}\nCounsellor:"
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def _clip(self, prompt: str) -> str:
        """The client's statement cut to its first ``max_prompt_tokens`` tokens (EMORL truncates inputs at 128)."""
        ids = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        return prompt if len(ids) <= self.max_prompt_tokens else self.tokenizer.decode(ids[: self.max_prompt_tokens])

    def encode(self, prompts: list[str]) -> dict[str, torch.Tensor]:
        """Chat-formatted, left-padded prompt tokens on the policy's device: ``input_ids`` and ``attention_mask``
        of shape (N, P). Each client statement is cut to ``max_prompt_tokens`` first; the system prompt and the chat
        template are always kept whole."""
        batch = self.tokenizer([self._chat(self._clip(p)) for p in prompts], return_tensors="pt", padding=True,
                               add_special_tokens=False)
        return {key: batch[key].to(self.device) for key in ("input_ids", "attention_mask")}

    @torch.no_grad()
    def generate(self, prompts: list[str], do_sample: bool = True, temperature: float | None = None) -> Generation:
        """Sample one reply per prompt as one batch (pure sampling: no top-k / top-p), from torch's global RNG.

        The model is in eval mode (no dropout) while sampling; the tensors are plain (not inference-mode) so the
        RL update can differentiate log-probabilities of them.
        """
        if self.fast_decode:
            return self.decoder().generate(prompts, do_sample=do_sample, temperature=temperature)
        self.model.eval()
        batch = self.encode(prompts)
        temperature = self.temperature if temperature is None else temperature
        out = self.model.generate(**batch, max_new_tokens=self.max_new_tokens, do_sample=do_sample,
                                  temperature=temperature if do_sample else None, top_p=1.0, top_k=0,
                                  eos_token_id=self.eos_token_ids, pad_token_id=self.tokenizer.pad_token_id)
        return self.to_generation(batch, out[:, batch["input_ids"].shape[1]:])

    def decoder(self) -> FastDecoder:
        """The policy's fast decoder (made on first use; it keeps its static caches and captured graphs)."""
        if self._decoder is None:
            self._decoder = FastDecoder(self)
        return self._decoder

    def to_generation(self, batch: dict[str, torch.Tensor], reply: torch.Tensor) -> Generation:
        """The :class:`Generation` of encoded prompts ``batch`` and generated tokens ``reply`` (N, T): the reply
        mask ends at the first end-of-sequence token, texts are decoded without special tokens and stripped."""
        is_eos = torch.isin(reply, torch.tensor(self.eos_token_ids, device=reply.device))
        after_eos = (is_eos.long().cumsum(dim=1) - is_eos.long()) > 0  # strictly after the first EOS
        texts = self.tokenizer.batch_decode(reply, skip_special_tokens=True)
        return Generation(batch["input_ids"], batch["attention_mask"], reply, (~after_eos).long(),
                          [t.strip() for t in texts])

    def respond(self, prompts: list[str], seed: int | None = None, do_sample: bool = True) -> list[str]:
        """One reply per prompt, generated as one batch (at ``self.temperature``); seeded when ``seed`` is given."""
        if seed is not None:
            torch.manual_seed(seed)
        return self.generate(list(prompts), do_sample=do_sample).texts

    # --- log-probabilities -------------------------------------------------------------------------------------
    def _token_logprobs(self, input_ids: torch.Tensor, mask: torch.Tensor, reply_len: int,
                        temperature: float) -> torch.Tensor:
        positions = (mask.cumsum(dim=1) - 1).clamp(min=0)  # as generate() numbers left-padded rows
        logits = self.model(input_ids=input_ids, attention_mask=mask, position_ids=positions,
                            logits_to_keep=reply_len + 1).logits[:, :-1].float()  # (N, T, V)
        logits = logits / temperature
        targets = input_ids[:, -reply_len:].unsqueeze(-1)  # (N, T, 1)
        return logits.gather(-1, targets).squeeze(-1) - logits.logsumexp(dim=-1)  # (N, T)

    def token_logprobs(self, gen: Generation, temperature: float = 1.0,
                       with_reference: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Per-token log-probabilities (N, T) of the reply tokens under the policy (differentiable, dropout on as in
        training) and, with ``with_reference``, under the reference policy (adapters disabled, no grad), both on
        the same padded batch ``[prompt | reply]``. Logits are divided by ``temperature``, the sampling
        temperature, so these are log-probabilities of the distribution the replies were drawn from. Positions
        outside ``gen.reply_mask`` hold meaningless values: mask them."""
        input_ids = torch.cat([gen.prompt_ids, gen.reply_ids], dim=1)  # (N, P + T)
        mask = torch.cat([gen.prompt_mask, gen.reply_mask], dim=1)  # (N, P + T)
        reply_len = gen.reply_ids.shape[1]
        if not with_reference:
            self.model.train()
            return self._token_logprobs(input_ids, mask, reply_len, temperature), None
        trunk = self.trunk_layers
        self.model.eval()
        with torch.no_grad(), self.reference(), self._captured(trunk) as kept:
            reference = self._token_logprobs(input_ids, mask, reply_len, temperature)
        self.model.train()
        with self._replayed(trunk, kept):
            policy = self._token_logprobs(input_ids, mask, reply_len, temperature)
        return policy, reference

    @contextmanager
    def _captured(self, trunk: int) -> Iterator[dict]:
        """Keep the output of the trunk's top layer (decoder layer ``trunk - 1``) of the next forward pass."""
        kept: dict = {}
        if trunk == 0:
            yield kept
            return
        layer = decoder_layers(self.model)[1][trunk - 1]
        handle = layer.register_forward_hook(lambda module, args, output: kept.update(output=output))
        try:
            yield kept
        finally:
            handle.remove()

    @contextmanager
    def _replayed(self, trunk: int, kept: dict) -> Iterator[None]:
        """Inside this block the trunk's layers return the kept output instead of computing it: the policy pass
        reuses the reference pass's frozen trunk (same inputs, no adapters below ``trunk``, dropout off), and the
        backward pass stops above it. Identical log-probabilities, a trunk's forward pass fewer."""
        if trunk == 0 or "output" not in kept:
            yield
            return
        layers = list(decoder_layers(self.model)[1][:trunk])
        own = [layer.__dict__.get("forward") for layer in layers]
        for layer in layers:
            layer.forward = lambda *args, **kwargs: kept["output"]
        try:
            yield
        finally:
            for layer, forward in zip(layers, own):
                del layer.forward
                if forward is not None:
                    layer.forward = forward
