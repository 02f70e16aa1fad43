"""Expert aggregation on a tiny random GPT-2 with three tiny random adapters: hidden-state, logit and parameter
mixing, Rewarded Soups, and the batched expert forward against running the experts one by one."""

from __future__ import annotations

import pytest
import torch
from peft import get_peft_model_state_dict

from agents.aggregation import expert_step, generate_with, merged_mixture, mixture_generate, soup_adapter
from agents.mixing import mix_probs
from agents.policy import CausalLMPolicy
from tests.test_policy import PROMPTS, make_tiny_lm

EXPERTS = ["e0", "e1", "e2"]


@pytest.fixture(scope="module")
def experts_policy(tmp_path_factory) -> CausalLMPolicy:
    """The tiny policy with three adapters whose B matrices are random (so the experts really differ)."""
    policy = CausalLMPolicy(make_tiny_lm(tmp_path_factory.mktemp("tiny")), device="cpu", max_new_tokens=10,
                            temperature=1.0)
    return add_random_adapters(policy, EXPERTS)


def add_random_adapters(policy: CausalLMPolicy, names: list[str], seed: int = 0) -> CausalLMPolicy:
    """Add LoRA adapters ``names`` (r 4, alpha 8, no dropout) whose B matrices are random (std 0.5), adapter ``i``
    drawn from seed ``seed + i``; the policy is left in eval mode."""
    for i, name in enumerate(names):
        torch.manual_seed(seed + i)
        policy.add_lora(r=4, alpha=8, dropout=0.0, name=name)
        with torch.no_grad():
            for key, p in policy.model.named_parameters():
                if f"lora_B.{name}." in key:
                    p.normal_(0.0, 0.5)
    policy.model.eval()
    return policy


def _next_logits(policy: CausalLMPolicy, adapter: str | None) -> torch.Tensor:
    """Last-position logits (N, V) of the prompts under one adapter (None: the base model)."""
    batch = policy.encode(PROMPTS)
    positions = (batch["attention_mask"].cumsum(dim=1) - 1).clamp(min=0)
    with torch.no_grad():
        if adapter is None:
            with policy.model.disable_adapter():
                return policy.model(**batch, position_ids=positions).logits[:, -1].float()
        policy.set_adapter(adapter)
        return policy.model(**batch, position_ids=positions).logits[:, -1].float()


def test_batched_expert_forward_equals_experts_one_by_one(experts_policy):
    batch = experts_policy.encode(PROMPTS)
    mask = batch["attention_mask"].repeat(3, 1)
    with torch.no_grad():
        logits, _ = expert_step(experts_policy, EXPERTS, batch["input_ids"].repeat(3, 1), mask,
                                (mask.cumsum(1) - 1).clamp(min=0), None)
    for e, name in enumerate(EXPERTS):  # float32, same kernels on other row counts: 1e-5 absolute
        assert torch.allclose(logits[e], _next_logits(experts_policy, name), atol=1e-5)
    assert not torch.allclose(logits[0], logits[1], atol=1e-2)  # the experts differ


@pytest.mark.parametrize("aggregation", ["hidden", "logit"])
def test_batched_decoding_equals_experts_one_after_another(experts_policy, aggregation):
    m = [0.2, 0.5, 0.3]
    batched = mixture_generate(experts_policy, EXPERTS, m, PROMPTS, aggregation, do_sample=False)
    sequential = mixture_generate(experts_policy, EXPERTS, m, PROMPTS, aggregation, do_sample=False, batched=False)
    assert torch.equal(batched.reply_ids, sequential.reply_ids) and batched.texts == sequential.texts


def test_hidden_state_mixing_is_the_head_on_the_mixed_hidden_state(experts_policy):
    policy, m = experts_policy, torch.tensor([0.2, 0.5, 0.3])
    batch = policy.encode(PROMPTS)
    positions = (batch["attention_mask"].cumsum(dim=1) - 1).clamp(min=0)
    hidden, logits = [], []
    with torch.no_grad():
        for name in EXPERTS:
            policy.set_adapter(name)
            out = policy.model(**batch, position_ids=positions, output_hidden_states=True)
            hidden.append(out.hidden_states[-1][:, -1])  # after the final layer norm
            logits.append(out.logits[:, -1])
        head = policy.model.get_output_embeddings()
        expected = head(sum(w * h for w, h in zip(m, hidden))).softmax(dim=-1)
    assert torch.allclose(mix_probs(torch.stack(logits), m, "hidden"), expected, atol=1e-6)


@pytest.mark.parametrize("aggregation", ["hidden", "logit"])
def test_one_hot_mixture_decodes_exactly_as_that_expert(experts_policy, aggregation):
    for e, name in enumerate(EXPERTS):
        one_hot = [1.0 if i == e else 0.0 for i in range(3)]
        torch.manual_seed(7)
        mixed = mixture_generate(experts_policy, EXPERTS, one_hot, PROMPTS, aggregation)
        experts_policy.set_adapter(name)
        torch.manual_seed(7)
        alone = experts_policy.generate(PROMPTS)
        assert mixed.texts == alone.texts
        width = alone.reply_ids.shape[1]
        assert torch.equal(mixed.reply_ids[:, :width], alone.reply_ids)
        assert torch.equal(mixed.reply_mask[:, :width], alone.reply_mask)


def test_logit_mixing_mixes_distributions_on_one_shared_prefix(experts_policy):
    m = torch.tensor([0.5, 0.25, 0.25])
    per_expert = torch.stack([_next_logits(experts_policy, name) for name in EXPERTS])  # (E, N, V)
    expected = sum(w * z.softmax(dim=-1) for w, z in zip(m, per_expert))
    mixed = mix_probs(per_expert, m, "logit")
    assert torch.allclose(mixed, expected, atol=1e-7) and torch.allclose(mixed.sum(-1), torch.ones(3))
    # after a shared sampled token every expert row continues the same prefix: greedy decoding of the
    # mixture equals the argmax of the mixed distribution re-computed from scratch on the decoded prefix
    gen = mixture_generate(experts_policy, EXPERTS, m.tolist(), PROMPTS[:1], "logit", do_sample=False)
    prefix = torch.cat([gen.prompt_ids, gen.reply_ids[:, :2]], dim=1)
    with torch.no_grad():
        z = torch.stack([_logits_of(experts_policy, name, prefix) for name in EXPERTS])
    assert int(mix_probs(z, m, "logit").argmax()) == int(gen.reply_ids[0, 2])


def _logits_of(policy: CausalLMPolicy, name: str, ids: torch.Tensor) -> torch.Tensor:
    policy.set_adapter(name)
    return policy.model(input_ids=ids).logits[:, -1].float()


def test_parameter_merge_with_one_hot_equals_that_expert_and_restores_the_base(experts_policy):
    base = {k: p.clone() for k, p in experts_policy.model.named_parameters() if "lora_" not in k}
    batch = experts_policy.encode(PROMPTS)
    for e, name in enumerate(EXPERTS):
        with torch.no_grad(), merged_mixture(experts_policy, EXPERTS, [float(i == e) for i in range(3)]):
            merged = experts_policy.model(**batch).logits[:, -1]
        assert torch.allclose(merged, _next_logits_plain(experts_policy, name, batch), atol=1e-5)
    assert all(torch.equal(p, base[k]) for k, p in experts_policy.model.named_parameters() if "lora_" not in k)


def _next_logits_plain(policy: CausalLMPolicy, name: str, batch: dict) -> torch.Tensor:
    policy.set_adapter(name)
    with torch.no_grad():
        return policy.model(**batch).logits[:, -1]


def test_parameter_merge_is_linear_in_the_deltas_but_the_soup_is_not(experts_policy):
    m = [0.5, 0.5, 0.0]
    soup_adapter(experts_policy, EXPERTS, m)
    soup = get_peft_model_state_dict(experts_policy.model, adapter_name="__soup__")
    first = get_peft_model_state_dict(experts_policy.model, adapter_name="e0")
    second = get_peft_model_state_dict(experts_policy.model, adapter_name="e1")
    assert all(torch.allclose(soup[k], 0.5 * first[k] + 0.5 * second[k]) for k in soup)
    batch = experts_policy.encode(PROMPTS)
    with torch.no_grad():
        with experts_policy.merged():
            soup_logits = experts_policy.model(**batch).logits[:, -1]
        with merged_mixture(experts_policy, EXPERTS, m):
            delta_logits = experts_policy.model(**batch).logits[:, -1]
    assert not torch.allclose(soup_logits, delta_logits, atol=1e-3)  # B A of a mean != mean of B A


@pytest.mark.parametrize("aggregation", ["hidden", "logit", "parameter", "soup"])
def test_every_aggregation_is_seeded(experts_policy, aggregation):
    torch.manual_seed(3)
    first = generate_with(experts_policy, EXPERTS, [0.2, 0.3, 0.5], PROMPTS, aggregation).texts
    torch.manual_seed(3)
    assert generate_with(experts_policy, EXPERTS, [0.2, 0.3, 0.5], PROMPTS, aggregation).texts == first


@pytest.mark.parametrize(("mixture", "aggregation", "message"), [
    ([0.5, 0.5], "hidden", "`mixture` must have 3 entries, one per expert; got 2"),
    ([0.5, 0.6, -0.1], "hidden", "`mixture` must be non-negative; got [0.5, 0.6, -0.1]"),
    ([0.2, 0.3, 0.5], "tokens", "`aggregation` must be one of ('hidden', 'logit', 'parameter', 'soup'); got 'tokens'"),
])
def test_bad_mixtures_and_aggregations(experts_policy, mixture, aggregation, message):
    with pytest.raises(ValueError) as info:
        generate_with(experts_policy, EXPERTS, mixture, PROMPTS, aggregation)
    assert message in str(info.value)


def test_cpu_fast_parameter_mixture_is_the_merged_network_without_merging(experts_policy, monkeypatch):
    """On the CPU-fast path the ``parameter`` network runs unmerged (every expert active, its scale times m_e): the
    same logits as the float32 merge, the weights untouched, the active adapter and scales restored."""
    m = [0.2, 0.3, 0.5]
    batch = experts_policy.encode(PROMPTS)
    experts_policy.set_adapter("e1")
    with torch.no_grad(), merged_mixture(experts_policy, EXPERTS, m):
        merged = experts_policy.model(**batch).logits[:, -1]
    weights = {k: p.clone() for k, p in experts_policy.model.named_parameters()}
    monkeypatch.setattr(experts_policy, "cpu_fast", True)
    with torch.no_grad(), merged_mixture(experts_policy, EXPERTS, m):
        assert all(torch.equal(p, weights[k]) for k, p in experts_policy.model.named_parameters())
        weighted = experts_policy.model(**batch).logits[:, -1]
    assert torch.allclose(weighted, merged, atol=1e-4)
    assert experts_policy.model.active_adapter == "e1"
    from peft.tuners.lora import LoraLayer

    one = next(layer for layer in experts_policy.model.modules() if isinstance(layer, LoraLayer))
    assert one.scaling["e0"] == one.scaling["e1"] == 8 / 4
