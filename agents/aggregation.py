"""Combine per-objective LoRA experts at inference: EMORL's three aggregations and Rewarded Soups.

All experts are named peft adapters on one shared base model (:class:`~agents.policy.CausalLMPolicy`). For a mixture
``m`` on the simplex (one weight per expert):

- ``hidden`` (EMORL, Kong et al., 2025, arXiv 2505.02579): at each decoding step ``h_t = sum_e m_e h_t^(e)`` over the
  experts' last hidden states, through the shared ``lm_head``. The head is affine and ``sum_e m_e = 1``, so
  ``lm_head(sum_e m_e h_e) = sum_e m_e lm_head(h_e)``: the mixed logits are computed from the experts' logits
  (a test checks the identity against the hidden states).
- ``logit``: the mixture of the experts' next-token distributions, ``p = sum_e m_e softmax(z_e / T)``, every expert
  reading the **same** prefix (EMORL's released code mixes distributions over different prefixes).
- ``parameter``: one network with ``W = W0 + sum_e m_e B_e A_e * alpha / r`` on every adapted layer (the LoRA deltas
  merged with the mixture; EMORL's "parameter" aggregation). On the CPU-fast path (bf16 base weights) the same
  network runs unmerged: every expert active with its LoRA scale times m_e.
- ``soup`` (Rewarded Soups, Rame et al., 2023, arXiv 2306.04488): the adapters' own parameters interpolated,
  ``A = sum_e m_e A_e`` and ``B = sum_e m_e B_e``, then merged. Unlike ``parameter`` its delta is not linear in m.

``hidden`` and ``logit`` decode every expert with a non-zero weight **in one batched forward pass per token**: the
prompt batch is repeated once per expert and peft's mixed-adapter batches (``adapter_names``, one per row) run the
shared base layers once on all rows, each row with its expert's LoRA branch; each expert row keeps its own KV cache
and all rows receive the same sampled token. Experts with weight 0 are skipped, so a one-hot mixture decodes exactly
as that expert alone (same tokens for the same seed: sampling draws as ``generate()`` does).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import numpy.typing as npt
import torch

from agents.mixing import check_mixture, mix_probs
from agents.policy import CausalLMPolicy, Generation

__all__ = ["AGGREGATIONS", "expert_step", "mixture_generate", "merged_mixture",
           "soup_adapter", "generate_with"]

#: the aggregation names accepted by :func:`generate_with`
AGGREGATIONS = ("hidden", "logit", "parameter", "soup")
SOUP = "__soup__"  # adapter name of the interpolated Rewarded-Soups adapter


def expert_step(policy: CausalLMPolicy, names: list[str], input_ids: torch.Tensor, mask: torch.Tensor,
                positions: torch.Tensor, cache: object | None, batched: bool = True) -> tuple[torch.Tensor, object]:
    """One forward pass of every expert on its rows ``e * N + b`` (expert ``names[e]``'s adapters). Returns the
    last position's logits (E, N, V) in float32 and the updated KV cache.

    ``batched``: all rows in one mixed-adapter forward (one KV cache); otherwise the experts run one after another,
    each with its adapters active and its own cache (a list of caches): the baseline of ``benchmarks/moe_decode.py``.
    """
    n = input_ids.shape[0] // len(names)
    if batched:
        out = policy.model(input_ids=input_ids, attention_mask=mask, position_ids=positions, past_key_values=cache,
                           use_cache=True, adapter_names=[name for name in names for _ in range(n)],
                           logits_to_keep=1)
        logits = out.logits[:, -1].float()  # (E * N, V)
        return logits.view(len(names), n, logits.shape[-1]), out.past_key_values
    caches = list(cache) if cache is not None else [None] * len(names)
    logits = []
    for e, name in enumerate(names):
        policy.model.set_adapter(name)
        rows = slice(e * n, (e + 1) * n)
        out = policy.model(input_ids=input_ids[rows], attention_mask=mask[rows], position_ids=positions[rows],
                           past_key_values=caches[e], use_cache=True, logits_to_keep=1)
        logits.append(out.logits[:, -1].float())
        caches[e] = out.past_key_values
    return torch.stack(logits), caches


@torch.no_grad()
def mixture_generate(policy: CausalLMPolicy, experts: Sequence[str], mixture: npt.ArrayLike, prompts: list[str],
                     aggregation: str = "hidden", do_sample: bool = True, temperature: float | None = None,
                     batched: bool = True) -> Generation:
    """Replies to ``prompts`` decoded token by token from the ``hidden`` or ``logit`` mixture of the adapters named
    ``experts``, all non-zero experts in one batched forward per token (``batched=False``: one after another),
    sampling from torch's global RNG. With ``policy.fast_decode`` the batched path runs in
    :class:`~agents.fast_decode.FastDecoder` (stacked experts, static cache, captured decode step)."""
    from transformers import DynamicCache

    if aggregation not in ("hidden", "logit"):
        raise ValueError(f"`aggregation` must be 'hidden' or 'logit' here; got {aggregation!r}")
    if batched and policy.fast_decode:
        return policy.decoder().generate(prompts, do_sample, temperature, experts, mixture, aggregation)
    m = check_mixture(mixture, len(experts))
    keep = np.flatnonzero(m > 0)
    names = [experts[i] for i in keep]
    weights = torch.tensor(m[keep], device=policy.device)  # (E,)
    temperature = policy.temperature if temperature is None else temperature
    policy.model.eval()
    batch = policy.encode(prompts)
    n, e = len(prompts), len(names)
    mask = batch["attention_mask"].repeat(e, 1)  # (E N, P)
    positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
    cache = DynamicCache() if batched else [DynamicCache() for _ in names]
    logits, cache = expert_step(policy, names, batch["input_ids"].repeat(e, 1), mask, positions, cache, batched)
    eos = torch.tensor(policy.eos_token_ids, device=policy.device)
    pad = policy.tokenizer.pad_token_id
    done = torch.zeros(n, dtype=torch.bool, device=policy.device)
    tokens = []
    for _ in range(policy.max_new_tokens):
        probs = mix_probs(logits, weights, aggregation, temperature if do_sample else 1.0)  # (N, V)
        nxt = torch.multinomial(probs, 1).squeeze(1) if do_sample else probs.argmax(dim=-1)  # (N,)
        nxt = torch.where(done, torch.full_like(nxt, pad), nxt)
        tokens.append(nxt)
        done |= torch.isin(nxt, eos)
        if bool(done.all()):
            break
        mask = torch.cat([mask, mask.new_ones(e * n, 1)], dim=1)
        positions = positions[:, -1:] + 1
        logits, cache = expert_step(policy, names, nxt.repeat(e)[:, None], mask, positions, cache, batched)
    return policy.to_generation(batch, torch.stack(tokens, dim=1))


@contextmanager
def merged_mixture(policy: CausalLMPolicy, experts: Sequence[str], mixture: npt.ArrayLike) -> Iterator[None]:
    """Inside this block the network is ``W0 + sum_e m_e delta_e`` on every adapted layer (the ``parameter``
    aggregation) and the adapters are bypassed; the base weights are restored bit for bit on exit."""
    m = check_mixture(mixture, len(experts))
    if policy.cpu_fast:  # bf16 weights: add the deltas in the adapters' float32 instead of rounding them in
        with _weighted_adapters(policy, experts, m):
            yield
        return
    with policy.base_weights_kept() as layers:
        with torch.no_grad():
            for layer in layers:
                weight = layer.get_base_layer().weight
                delta = sum(float(w) * layer.get_delta_weight(name) for w, name in zip(m, experts) if w > 0)
                weight.add_(delta.to(weight.dtype))
        with policy.model.disable_adapter():
            yield


@contextmanager
def _weighted_adapters(policy: CausalLMPolicy, experts: Sequence[str], m: np.ndarray) -> Iterator[None]:
    """The ``parameter`` network without touching the weights: every expert with m_e > 0 active at once, its LoRA
    scale multiplied by m_e, so each adapted layer computes ``W0 x + sum_e m_e B_e A_e x * alpha / r`` (the same
    network; a bf16 merge would round away the deltas' parts below bf16's resolution)."""
    from peft.tuners.lora import LoraLayer

    layers = [layer for layer in policy.model.modules() if isinstance(layer, LoraLayer)]
    saved = [dict(layer.scaling) for layer in layers]
    previous = policy.model.active_adapter
    chosen = [(name, float(w)) for name, w in zip(experts, m) if w > 0]
    try:
        for layer in layers:
            for name, w in chosen:
                layer.scaling[name] = layer.scaling[name] * w
        policy.model.base_model.set_adapter([name for name, _ in chosen])
        yield
    finally:
        for layer, scaling in zip(layers, saved):
            layer.scaling.clear()
            layer.scaling.update(scaling)
        policy.set_adapter(previous)


def soup_adapter(policy: CausalLMPolicy, experts: Sequence[str], mixture: npt.ArrayLike) -> str:
    """Write the Rewarded-Soups adapter ``sum_e m_e theta_e`` (every LoRA parameter interpolated) under the name
    ``SOUP`` (created on first use, overwritten afterwards), make it active and return its name."""
    from peft import get_peft_model_state_dict, set_peft_model_state_dict

    m = check_mixture(mixture, len(experts))
    states = [get_peft_model_state_dict(policy.model, adapter_name=name) for name in experts]
    soup = {key: sum(float(w) * state[key].float() for w, state in zip(m, states)) for key in states[0]}
    if SOUP not in policy.model.peft_config:
        policy.model.add_adapter(SOUP, policy.model.peft_config[experts[0]])
    set_peft_model_state_dict(policy.model, soup, adapter_name=SOUP)
    policy.model.set_adapter(SOUP)
    return SOUP


def generate_with(policy: CausalLMPolicy, experts: Sequence[str], mixture: npt.ArrayLike, prompts: list[str],
                  aggregation: str, do_sample: bool = True) -> Generation:
    """Replies to ``prompts`` from the experts combined by ``aggregation`` (one of ``AGGREGATIONS``) with
    ``mixture``, sampled from torch's global RNG at the policy's temperature."""
    if aggregation in ("hidden", "logit"):
        return mixture_generate(policy, experts, mixture, prompts, aggregation, do_sample)
    if aggregation == "parameter":
        with merged_mixture(policy, experts, mixture):
            return policy.generate(prompts, do_sample=do_sample)
    if aggregation == "soup":
        soup_adapter(policy, experts, mixture)
        with policy.merged():
            return policy.generate(prompts, do_sample=do_sample)
    raise ValueError(f"`aggregation` must be one of {AGGREGATIONS}; got {aggregation!r}")
