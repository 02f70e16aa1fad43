"""The fast rollout path (agents/fast_decode.py) against ``generate()``: the same greedy and seeded sampled tokens for
plain, LoRA and batched-expert decoding, on tiny random GPT-2 and Llama models and on the shipped SmolLM2; and a check
that the decode step performs no host synchronisation and builds no tensor from Python data, which is what CUDA
graph capture forbids (the CPU runs the step eagerly; the GPU captures it)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from agents.aggregation import expert_step, mixture_generate
from agents.config import PolicyConfig
from agents.fast_decode import ExpertStack, FastDecoder, sample_tokens
from agents.policy import CausalLMPolicy
from tests.test_aggregation import add_random_adapters
from tests.test_policy import PROMPTS, make_tiny_lm

EXPERTS = ["e0", "e1", "e2"]
MORE_PROMPTS = PROMPTS + ["worried", "I am not sure again and again maybe"]


def make_tiny_llama(folder: Path, gpt2_folder: Path) -> Path:
    """A randomly initialised 2-layer Llama (grouped-query attention, RoPE) with the tiny GPT-2's tokenizer."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(gpt2_folder)
    torch.manual_seed(1)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         bos_token_id=3, eos_token_id=2, pad_token_id=0, tie_word_embeddings=True)
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        model.model.embed_tokens.weight.normal_(0.0, 0.3)
    model.generation_config.eos_token_id, model.generation_config.pad_token_id = 2, 0
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    gpt2 = make_tiny_lm(tmp_path_factory.mktemp("fast-gpt2"))
    return {"gpt2": gpt2, "llama": make_tiny_llama(tmp_path_factory.mktemp("fast-llama"), gpt2)}


def _policy(folder: Path, adapters: tuple[str, ...] = (), tokens: int = 14) -> CausalLMPolicy:
    """A CPU policy on ``folder`` (plain ``generate()``) with LoRA adapters whose B matrices are random."""
    policy = CausalLMPolicy(folder, device="cpu", max_new_tokens=tokens, temperature=1.0, fast_decode=False)
    return add_random_adapters(policy, list(adapters), seed=10)


def _both(fn_a, fn_b, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    a = fn_a().reply_ids
    torch.manual_seed(seed)
    return a, fn_b().reply_ids


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
@pytest.mark.parametrize("adapters", [(), ("pol",)])
def test_same_tokens_as_generate(folders, arch, adapters) -> None:
    policy = _policy(folders[arch], adapters)
    fast = FastDecoder(policy)
    for do_sample, seed in ((False, 0), (True, 0), (True, 1)):
        plain, quick = _both(lambda s=do_sample: policy.generate(MORE_PROMPTS, do_sample=s),
                             lambda s=do_sample: fast.generate(MORE_PROMPTS, do_sample=s), seed)
        assert torch.equal(plain, quick), (arch, adapters, do_sample, seed)
    torch.manual_seed(0)
    first = fast.generate(MORE_PROMPTS).reply_ids
    torch.manual_seed(1)
    assert not torch.equal(first, fast.generate(MORE_PROMPTS).reply_ids), "another seed must sample other replies"


def test_shipped_policy_same_tokens_as_generate() -> None:
    """SmolLM2-135M-Instruct (30 layers, grouped-query attention), prompts of different lengths."""
    policy = CausalLMPolicy(device="cpu", max_new_tokens=20, temperature=1.0, fast_decode=False)
    prompts = ["I feel like nobody listens to me at work.", "My sister moved away and the house is so quiet now, "
               "I keep walking into her room.", "I can't sleep."]
    fast = FastDecoder(policy)
    for do_sample in (False, True):
        plain, quick = _both(lambda s=do_sample: policy.generate(prompts, do_sample=s),
                             lambda s=do_sample: fast.generate(prompts, do_sample=s), 7)
        assert torch.equal(plain, quick), do_sample


def test_sampler_draws_what_multinomial_draws() -> None:
    probs = torch.rand(64, 50).softmax(dim=-1)
    torch.manual_seed(3)
    expected = torch.multinomial(probs, 1).squeeze(1)
    torch.manual_seed(3)
    assert torch.equal(sample_tokens(probs), expected)


@pytest.mark.parametrize("aggregation", ["hidden", "logit"])
def test_expert_mixture_same_tokens_as_reference(folders, aggregation) -> None:
    policy = _policy(folders["llama"], tuple(EXPERTS))
    fast = FastDecoder(policy)
    for mixture, do_sample, seed in (([0.5, 0.3, 0.2], True, 0), ([0.2, 0.0, 0.8], True, 1),
                                     ([0.4, 0.4, 0.2], False, 0)):
        reference, quick = _both(
            lambda m=mixture, s=do_sample: mixture_generate(policy, EXPERTS, m, MORE_PROMPTS, aggregation, s),
            lambda m=mixture, s=do_sample: fast.generate(MORE_PROMPTS, s, experts=EXPERTS, mixture=m,
                                                         aggregation=aggregation), seed)
        assert torch.equal(reference, quick), (mixture, do_sample)


def test_expert_stack_equals_peft_mixed_batches(folders) -> None:
    policy = _policy(folders["gpt2"], tuple(EXPERTS))
    batch = policy.encode(PROMPTS)
    n = len(PROMPTS)
    ids, mask = batch["input_ids"].repeat(3, 1), batch["attention_mask"].repeat(3, 1)
    positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
    with torch.no_grad():
        peft_logits, _ = expert_step(policy, EXPERTS, ids, mask, positions, None)
        stack = ExpertStack(policy.model, EXPERTS)
        with stack.active():
            out = policy.model(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=1)
    stacked = out.logits[:, -1].float().view(3, n, -1)
    assert torch.allclose(stacked, peft_logits, atol=1e-5)
    assert not torch.allclose(stacked[0], stacked[1], atol=1e-2), "the experts must differ for this test to mean much"
    assert "forward" not in vars(stack.layers[0]), "the layers' own forward must be back after the block"


class _NoHostSync(TorchDispatchMode):
    """Raises on what a CUDA graph cannot capture: reading a tensor's value on the host (``.item()``, ``bool()``,
    data-dependent shapes) or building a tensor from Python data (a host-to-device copy on a GPU)."""

    FORBIDDEN = {"_local_scalar_dense", "nonzero", "lift_fresh", "lift_fresh_copy", "equal", "is_nonzero"}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.overloadpacket.__name__ in self.FORBIDDEN:
            raise RuntimeError(f"host synchronisation in the decode step: aten.{func.overloadpacket.__name__}")
        return func(*args, **(kwargs or {}))


def test_no_host_sync_check_catches_syncs() -> None:
    with pytest.raises(RuntimeError, match="host synchronisation"), _NoHostSync():
        bool(torch.ones(2).sum() > 1)
    with pytest.raises(RuntimeError, match="host synchronisation"), _NoHostSync():
        torch.ones(3)[torch.tensor([0, 2])]


@pytest.mark.parametrize("experts", [False, True])
def test_decode_step_is_capturable(folders, monkeypatch, experts) -> None:
    policy = _policy(folders["llama"], tuple(EXPERTS) if experts else ("pol",))
    fast = FastDecoder(policy)
    steps = []
    body = FastDecoder._step_body

    def checked(self, state):
        with _NoHostSync():
            body(self, state)
        steps.append(1)

    monkeypatch.setattr(FastDecoder, "_step_body", checked)
    kwargs = {"experts": EXPERTS, "mixture": [0.5, 0.25, 0.25]} if experts else {}
    torch.manual_seed(0)
    fast.generate(MORE_PROMPTS, **kwargs)
    assert len(steps) >= 7


def test_state_reused_and_weights_read_in_place(folders) -> None:
    policy = _policy(folders["gpt2"], ("pol",))
    fast = FastDecoder(policy)
    fast.generate(PROMPTS, do_sample=False)
    fast.generate(PROMPTS[::-1], do_sample=False)  # same padded shape: same static buffers
    assert len(fast._states) == 1
    with torch.no_grad():  # an optimiser-like in-place update of the adapters
        for key, p in policy.model.named_parameters():
            if "lora_B.pol." in key:
                p.mul_(-2.0)
    plain, quick = _both(lambda: policy.generate(PROMPTS, do_sample=False),
                         lambda: fast.generate(PROMPTS, do_sample=False), 4)
    assert torch.equal(plain, quick)
    assert len(fast._states) == 1
    with policy.merged():  # merged adapters are another model state, hence another decode state
        merged = fast.generate(PROMPTS, do_sample=False).reply_ids
    assert len(fast._states) == 2
    assert torch.equal(merged, policy.generate(PROMPTS, do_sample=False).reply_ids)


def test_policy_and_config_route_to_the_fast_path(folders, tmp_path) -> None:
    folder = tmp_path / "m"
    shutil.copytree(folders["llama"], folder)
    config = PolicyConfig(model=str(folder), device="cpu", max_new_tokens=9, fast_decode="on")
    fast = CausalLMPolicy(**config.policy_kwargs())
    plain = CausalLMPolicy(folder, device="cpu", max_new_tokens=9, fast_decode=False)
    assert fast.fast_decode and not plain.fast_decode
    assert fast.respond(PROMPTS, seed=2) == plain.respond(PROMPTS, seed=2)
    assert fast._decoder is not None and len(fast._decoder._states) == 1
    assert CausalLMPolicy(folder, device="cpu").fast_decode is False  # auto: only with a GPU


def test_bad_arguments_raise_named_errors(folders) -> None:
    policy = _policy(folders["gpt2"], tuple(EXPERTS))
    with pytest.raises(ValueError, match="`prompt_multiple` must be an integer >= 1; got 0"):
        FastDecoder(policy, prompt_multiple=0)
    with pytest.raises(ValueError, match="`graphs` needs a CUDA policy"):
        FastDecoder(policy, graphs=True)
    with pytest.raises(ValueError, match="`aggregation` must be 'hidden' or 'logit' here; got 'soup'"):
        FastDecoder(policy).generate(PROMPTS, experts=EXPERTS, mixture=[1, 0, 0], aggregation="soup")
    with pytest.raises(ValueError, match="`mixture` must sum to 1"):
        FastDecoder(policy).generate(PROMPTS, experts=EXPERTS, mixture=[1, 1, 0])
    with pytest.raises(ValueError, match="`names` must be adapters of the model"):
        ExpertStack(policy.model, ["e0", "nope"])
    with pytest.raises(ValueError, match="`fast_decode` must be one of"):
        PolicyConfig(fast_decode="yes")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")
def test_cuda_graphs_same_greedy_tokens_and_reused(folders) -> None:
    """On a GPU (bf16): the captured step gives generate()'s greedy tokens, with and without adapters; a second
    batch of the same shape replays the same graph; an in-place adapter update is seen without a new capture;
    seeded sampling repeats itself."""
    policy = add_random_adapters(CausalLMPolicy(folders["llama"], device="cuda", max_new_tokens=24, temperature=1.0,
                                                fast_decode=False), ["pol"], seed=10)
    fast = FastDecoder(policy)
    assert fast.graphs
    for adapters in (True, False):
        policy.model.enable_adapter_layers() if adapters else policy.model.disable_adapter_layers()
        plain, quick = _both(lambda: policy.generate(MORE_PROMPTS, do_sample=False),
                             lambda: fast.generate(MORE_PROMPTS, do_sample=False), 0)
        assert torch.equal(plain, quick), adapters
    policy.model.enable_adapter_layers()
    captures = fast.captures
    assert captures == 2, "one graph with the adapters, one without"
    with torch.no_grad():
        for key, p in policy.model.named_parameters():
            if "lora_B.pol." in key:
                p.mul_(-2.0)
    plain, quick = _both(lambda: policy.generate(MORE_PROMPTS[::-1], do_sample=False),
                         lambda: fast.generate(MORE_PROMPTS[::-1], do_sample=False), 0)
    assert torch.equal(plain, quick) and fast.captures == captures
    first, again = _both(lambda: fast.generate(MORE_PROMPTS), lambda: fast.generate(MORE_PROMPTS), 5)
    assert torch.equal(first, again)
