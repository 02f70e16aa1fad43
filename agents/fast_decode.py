"""Fast rollouts: a static KV cache and one decode step, captured once as a CUDA graph and replayed per token.

Why: on the GPU machine plain ``generate()`` of SmolLM2-135M spends ~37 ms per decode step at any batch while
reading its weights takes ~0.1 ms (an H100, torch 2.11): the loop is bound by Python and kernel launches, and
transformers' own static cache + ``torch.compile(mode="reduce-overhead")`` fails in 5.17. This module captures the
decode step itself:

1. **prefill**: one eager forward of the left-padded prompts into a transformers ``StaticCache`` of ``P +
   max_new_tokens`` slots. Prompts are padded on the left to a multiple of ``prompt_multiple`` columns, so batches of
   similar length share one captured graph; padding columns are masked, so they change no real row's output.
2. **decode step**: feed each row's last token with a 4-D boolean attention mask kept in a static buffer, sample the
   next token **on the device**, write it into a static token buffer and advance the counters, all in place and
   without a host synchronisation; the cache advances its own device-side length.
3. On CUDA the step is captured once per (rows, cache length, sampling mode, temperature, experts, adapter state)
   into a ``torch.cuda.CUDAGraph`` and replayed for every token; the host checks "all rows finished" every
   ``check_every`` steps. On a CPU the same step runs eagerly (same code, same tokens), which is how the tests check
   it.

Sampling draws ``argmax(p / q)`` with ``q ~ Exp(1)``: this is exactly ``torch.multinomial(p, 1)``'s one-sample path
(ATen draws the same exponentials and takes the same argmax) without its host-side validity checks, which would
synchronise and break graph capture. With the same seed it therefore draws the tokens ``generate()`` draws, as long
as the logits agree bit for bit (on a CPU in float32 they do; the tests check greedy and sampled outputs against
``generate()``).

Batched experts (the meta-policy's ``hidden`` and ``logit`` aggregations): rows ``e * N + b`` belong to expert ``e``.
peft's mixed-adapter batches select rows with Python index lists, which cannot be captured, so here every LoRA layer
runs its experts as one batched product over stacked adapters, ``x_e A_e B_e * s_e`` (``torch.bmm``), added to the
shared base layer's output.

Captured graphs read the model's parameters in place: optimiser steps, ``CausalLMPolicy.merged()`` and the
parameter/soup aggregations change weights in place, so replays see them. A graph is captured again whenever a
parameter's storage moves or the adapter state (active, merged, disabled) changes.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import torch

from agents.mixing import check_mixture, mix_probs

if TYPE_CHECKING:
    from agents.policy import CausalLMPolicy, Generation

__all__ = ["SAMPLERS", "ExpertStack", "FastDecoder", "sample_tokens", "sample_tokens_cdf"]


def sample_tokens(probs: torch.Tensor) -> torch.Tensor:
    """One token per row of ``probs`` (N, V), drawn as ``torch.multinomial(probs, 1)`` draws it (same generator
    calls, same result) but without its host-side checks, so it can run inside a CUDA graph."""
    q = torch.empty_like(probs).exponential_(1)
    return (probs / q).argmax(dim=-1)


def sample_tokens_cdf(probs: torch.Tensor) -> torch.Tensor:
    """One token per row of ``probs`` (N, V) by inverse-CDF sampling: one uniform number per row against the
    running sum of the row. The same distribution as :func:`sample_tokens` from N random numbers instead of N V
    exponentials (on a CPU the exponentials of SmolLM2's 49,152-token vocabulary cost ~40 ms per step at 48 rows,
    the cumulative sum ~3 ms); other draws, so not the tokens ``generate()`` would draw."""
    cdf = probs.float().cumsum(dim=-1)  # (N, V)
    u = torch.rand(probs.shape[0], 1, device=probs.device) * cdf[:, -1:]  # (N, 1), scaled to the row's total
    return torch.searchsorted(cdf, u, right=True).squeeze(1).clamp(max=probs.shape[1] - 1)


#: how the decoder samples: "exponential" draws generate()'s tokens, "inverse-cdf" is cheaper on a CPU
SAMPLERS = {"exponential": sample_tokens, "inverse-cdf": sample_tokens_cdf}


class ExpertStack:
    """Every LoRA layer's adapters ``names`` stacked for one batched product: ``A`` (E, d_in, r) and ``B * scale``
    (E, r, d_out) per layer. The tensors are allocated once and refreshed in place (:meth:`refresh`), so a CUDA
    graph captured with them stays valid while the adapters train."""

    def __init__(self, model: torch.nn.Module, names: Sequence[str]) -> None:
        from peft.tuners.lora import Linear as LoraLinear
        from peft.tuners.lora import LoraLayer

        self.names = list(names)
        self.layers = [m for m in model.modules() if isinstance(m, LoraLayer)]
        for layer in self.layers:
            if not isinstance(layer, LoraLinear) or any(layer.lora_bias.get(n, False) for n in self.names) or any(
                    n in getattr(layer, "lora_variant", {}) for n in self.names):
                raise ValueError(f"stacked experts support plain LoRA on linear layers; got {type(layer).__name__}")
            missing = [n for n in self.names if n not in layer.lora_A]
            if missing:
                raise ValueError(f"`names` must be adapters of the model; {missing} are not")
        first = self.names[0]
        self.a = [layer.lora_A[first].weight.new_empty(len(self.names), *layer.lora_A[first].weight.t().shape)
                  for layer in self.layers]  # (E, d_in, r)
        self.b = [layer.lora_B[first].weight.new_empty(len(self.names), *layer.lora_B[first].weight.t().shape)
                  for layer in self.layers]  # (E, r, d_out)
        self.refresh()

    @torch.no_grad()
    def refresh(self) -> None:
        """Copy the adapters' current weights into the stacks (in place)."""
        for layer, a, b in zip(self.layers, self.a, self.b):
            for e, n in enumerate(self.names):
                a[e].copy_(layer.lora_A[n].weight.t())
                b[e].copy_(layer.lora_B[n].weight.t() * float(layer.scaling[n]))

    @contextmanager
    def active(self) -> Iterator[None]:
        """Inside this block every LoRA layer runs expert ``names[e]`` on the ``e``-th of ``E`` equal blocks of rows:
        ``base(x) + bmm(bmm(x_e, A_e), B_e * scale_e)``, one batched product for all experts."""
        try:
            for layer, a, b in zip(self.layers, self.a, self.b):
                layer.forward = _stacked_forward(layer.get_base_layer(), a, b)
            yield
        finally:
            for layer in self.layers:
                layer.__dict__.pop("forward", None)


def _stacked_forward(base: torch.nn.Module, a: torch.Tensor, b: torch.Tensor) -> object:
    def forward(x: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
        result = base(x)
        xs = x.reshape(a.shape[0], -1, x.shape[-1]).to(a.dtype)  # (E, rows / E * positions, d_in)
        delta = torch.bmm(torch.bmm(xs, a), b).reshape(*result.shape[:-1], -1)
        return (result + delta).to(result.dtype)  # as peft: add in the adapters' dtype, cast back

    return forward


@dataclass(frozen=True)
class _Key:
    rows: int  # model rows: experts x prompts
    prompt_len: int  # padded prompt columns
    new_tokens: int
    do_sample: bool
    temperature: float
    aggregation: str | None
    experts: tuple[str, ...]
    model_state: tuple


class _Decode:
    """The static buffers of one decode shape, its static cache and, on CUDA, its captured step."""

    def __init__(self, model: torch.nn.Module, key: _Key, n_prompts: int, pad: int, device: torch.device) -> None:
        from transformers import StaticCache

        cache_len = key.prompt_len + key.new_tokens
        self.key, self.n = key, n_prompts
        self.cache = StaticCache(config=model.config, max_cache_len=cache_len)
        self.ids = torch.zeros(key.rows, 1, dtype=torch.long, device=device)  # token fed at this step
        self.positions = torch.zeros(key.rows, 1, dtype=torch.long, device=device)
        self.slot = torch.zeros(1, dtype=torch.long, device=device)  # its cache column
        self.step = torch.zeros(1, dtype=torch.long, device=device)  # column of the next token in `tokens`
        self.visible = torch.zeros(key.rows, cache_len, dtype=torch.bool, device=device)  # keys a query may read
        self.tokens = torch.full((n_prompts, key.new_tokens), pad, dtype=torch.long, device=device)
        self.done = torch.zeros(n_prompts, dtype=torch.bool, device=device)
        self.weights = torch.zeros(len(key.experts) or 1, dtype=torch.float32, device=device)
        self.experts = ExpertStack(model, key.experts) if key.experts else None
        self.graph: torch.cuda.CUDAGraph | None = None
        self.eager = False  # set when capture failed: the step then runs eagerly

    def reset_cache(self) -> None:
        """Rewind the cache to empty: its layers' device-side lengths to 0 (stale keys stay, masked)."""
        for layer in self.cache.layers:
            layer.cumulative_length.zero_()


class FastDecoder:
    """Static-cache decoding of a :class:`~agents.policy.CausalLMPolicy`, its step replayed as a CUDA graph.

    ``graphs``: capture the decode step (default: on CUDA; a CPU runs the same step eagerly). ``prompt_multiple``:
    prompts are left-padded to a multiple of this many columns so similar batches share a graph. ``max_graphs``:
    decode shapes kept (each holds a KV cache of rows x (prompt + new tokens)). ``check_every``: decode steps between
    host checks of "every row has finished" (default: 8 with graphs; 1 without, so that decoding stops where
    ``generate()`` stops and draws as many random numbers: training then takes the same steps either way).
    ``sampler``: one of :data:`SAMPLERS`; default "inverse-cdf" on the policy's CPU-fast path, else "exponential".
    """

    def __init__(self, policy: CausalLMPolicy, graphs: bool | None = None, prompt_multiple: int = 32,
                 max_graphs: int = 4, check_every: int | None = None, sampler: str | None = None) -> None:
        graphs = policy.device.type == "cuda" if graphs is None else graphs
        sampler = ("inverse-cdf" if getattr(policy, "cpu_fast", False) else "exponential") if sampler is None \
            else sampler
        if sampler not in SAMPLERS:
            raise ValueError(f"`sampler` must be one of {tuple(SAMPLERS)}; got {sampler!r}")
        self.sample = SAMPLERS[sampler]
        check_every = (8 if graphs else 1) if check_every is None else check_every
        for name, value in (("prompt_multiple", prompt_multiple), ("max_graphs", max_graphs),
                            ("check_every", check_every)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be an integer >= 1; got {value!r}")
        layer_types = getattr(policy.model.config, "layer_types", None) or ["full_attention"]
        if any(kind != "full_attention" for kind in layer_types):
            raise ValueError(f"fast decoding supports models whose layers all use full attention; this one has "
                             f"{sorted(set(layer_types))}: use fast_decode=False")
        self.policy, self.graphs = policy, graphs
        if self.graphs and policy.device.type != "cuda":
            raise ValueError(f"`graphs` needs a CUDA policy; the policy is on {policy.device}")
        self.prompt_multiple, self.max_graphs, self.check_every = prompt_multiple, max_graphs, check_every
        self.eos = torch.tensor(policy.eos_token_ids, dtype=torch.long, device=policy.device)
        self.pad = int(policy.tokenizer.pad_token_id)
        self._states: OrderedDict[_Key, _Decode] = OrderedDict()
        self._pool = torch.cuda.graph_pool_handle() if self.graphs else None
        self.captures = 0  # graphs captured so far (benchmarks/rollout.py records it)

    # --- public ----------------------------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, prompts: list[str], do_sample: bool = True, temperature: float | None = None,
                 experts: Sequence[str] | None = None, mixture: npt.ArrayLike | None = None,
                 aggregation: str = "hidden") -> Generation:
        """One reply per prompt, as ``policy.generate`` (no ``experts``) or ``aggregation.mixture_generate``
        (``experts`` with ``mixture``, ``aggregation`` 'hidden' or 'logit') would sample them, from torch's
        global RNG."""
        policy = self.policy
        temperature = policy.temperature if temperature is None else temperature
        names: tuple[str, ...] = ()
        weights = np.ones(1)
        if experts is not None:
            if aggregation not in ("hidden", "logit"):
                raise ValueError(f"`aggregation` must be 'hidden' or 'logit' here; got {aggregation!r}")
            m = check_mixture(mixture, len(experts))
            keep = np.flatnonzero(m > 0)
            names, weights = tuple(experts[i] for i in keep), m[keep]
        policy.model.eval()
        batch = policy.encode(prompts)
        ids, mask = self._pad_left(batch["input_ids"], batch["attention_mask"])
        key = _Key(len(prompts) * max(len(names), 1), ids.shape[1], policy.max_new_tokens, do_sample,
                   float(temperature), aggregation if names else None, names, self._model_state())
        state = self._state(key, len(prompts))
        state.weights.copy_(torch.as_tensor(weights, dtype=torch.float32))
        if state.experts is not None:
            state.experts.refresh()
        with state.experts.active() if state.experts is not None else nullcontext():
            reply = self._decode(state, ids.repeat(max(len(names), 1), 1), mask.repeat(max(len(names), 1), 1))
        return policy.to_generation(batch, reply)

    # --- the decoding --------------------------------------------------------------------------------------
    def _decode(self, s: _Decode, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Prefill, then one step per new token; the generated tokens (N, T'), cut where ``generate()`` stops."""
        p = ids.shape[1]
        s.reset_cache()
        s.visible.zero_()
        s.visible[:, :p] = mask.bool()
        s.tokens.fill_(self.pad)
        s.done.zero_()
        s.step.zero_()
        s.slot.fill_(p)
        s.positions.copy_(mask.sum(dim=1, keepdim=True))
        logits = self._forward(s, ids, self._prefill_mask(s.visible, p), (mask.cumsum(dim=1) - 1).clamp(min=0))
        self._emit(s, logits)
        for t in range(1, s.key.new_tokens):
            if t % self.check_every == 0 and bool(s.done.all()):
                break
            self._step(s, t)
        return self._cut(s.tokens)

    def _step(self, s: _Decode, t: int) -> None:
        """Decode step ``t`` (1-based): eager on a CPU; on CUDA two eager warm-up steps, a capture, then replays."""
        if not self.graphs or s.eager:
            self._step_body(s)
            return
        if s.graph is None and t <= 2:  # warm-up on a side stream (cuBLAS workspaces, lazy initialisation)
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                self._step_body(s)
            torch.cuda.current_stream().wait_stream(stream)
            return
        if s.graph is None:  # capture records the step without running it: replay it at once
            graph = torch.cuda.CUDAGraph()
            try:
                with torch.cuda.graph(graph, pool=self._pool):
                    self._step_body(s)
            except RuntimeError as err:  # nothing ran: decode this shape eagerly (still a static cache)
                warnings.warn(f"CUDA graph capture of the decode step failed ({err}); this shape decodes eagerly",
                              RuntimeWarning, stacklevel=2)
                s.eager = True
                self._step_body(s)
                return
            s.graph = graph
            self.captures += 1
        s.graph.replay()

    def _step_body(self, s: _Decode) -> None:
        """Everything one token costs, on the device and in place: the fed token's column becomes visible, one
        forward through the static cache, the next token sampled and written, the counters advanced."""
        s.visible.index_fill_(1, s.slot, True)
        logits = self._forward(s, s.ids, s.visible[:, None, None, :], s.positions)
        self._emit(s, logits)
        s.positions.add_(1)
        s.slot.add_(1)

    def _forward(self, s: _Decode, ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        out = self.policy.model(input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=s.cache,
                                use_cache=True, logits_to_keep=1)
        return out.logits[:, -1].float()  # (rows, V), as generate() takes them

    def _emit(self, s: _Decode, logits: torch.Tensor) -> None:
        """Sample the next token of every prompt from the rows' logits, write it, feed it to every expert row."""
        key = s.key
        if key.aggregation is None:
            probs = (logits / key.temperature).softmax(dim=-1) if key.do_sample else logits
        else:
            probs = mix_probs(logits.view(len(key.experts), s.n, -1), s.weights, key.aggregation,
                              key.temperature if key.do_sample else 1.0)
        nxt = self.sample(probs) if key.do_sample else probs.argmax(dim=-1)
        nxt = torch.where(s.done, self.pad, nxt)
        s.tokens.index_copy_(1, s.step, nxt[:, None])
        s.done |= torch.isin(nxt, self.eos)
        s.ids.copy_(nxt.repeat(max(len(key.experts), 1))[:, None])
        s.step.add_(1)

    # --- helpers -------------------------------------------------------------------------------------------
    def _pad_left(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        extra = -ids.shape[1] % self.prompt_multiple
        if extra == 0:
            return ids, mask
        return (torch.nn.functional.pad(ids, (extra, 0), value=self.pad),
                torch.nn.functional.pad(mask, (extra, 0), value=0))

    @staticmethod
    def _prefill_mask(visible: torch.Tensor, p: int) -> torch.Tensor:
        """(rows, 1, P, L) boolean mask of the prefill: causal over the prompt's real tokens; every position sees
        itself, so padding rows stay finite (they are never read)."""
        causal = torch.ones(p, visible.shape[1], dtype=torch.bool, device=visible.device).tril()  # (P, L)
        mask = causal[None] & visible[:, None, :]
        mask |= torch.eye(p, visible.shape[1], dtype=torch.bool, device=visible.device)[None]
        return mask[:, None]

    def _cut(self, tokens: torch.Tensor) -> torch.Tensor:
        """The tokens up to the step where every row had finished (as ``generate()`` stops there)."""
        ended = torch.isin(tokens, self.eos)
        first = torch.where(ended.any(dim=1), ended.int().argmax(dim=1), tokens.shape[1] - 1)
        return tokens[:, : int(first.max()) + 1].clone()

    def _model_state(self) -> tuple:
        """What a captured graph depends on besides the shapes: every parameter's storage and the adapter state."""
        model = self.policy.model
        ptrs = tuple(p.data_ptr() for p in model.parameters())
        if not self.policy.has_adapters:
            return (ptrs,)
        from peft.tuners.lora import LoraLayer

        layer = next(m for m in model.modules() if isinstance(m, LoraLayer))
        return ptrs, tuple(layer.active_adapters), bool(layer.disable_adapters), tuple(layer.merged_adapters)

    def _state(self, key: _Key, n_prompts: int) -> _Decode:
        if key in self._states:
            self._states.move_to_end(key)
            return self._states[key]
        while len(self._states) >= self.max_graphs:
            self._states.popitem(last=False)
        state = _Decode(self.policy.model, key, n_prompts, self.pad, self.policy.device)
        self._states[key] = state
        return state

