"""The CPU-fast path: precision settings, bf16 policies against float32 ones, the shared trunk of top-layer LoRA,
inverse-CDF sampling, and training-only bf16 scoring that never leaks into float32 scores."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.config import PolicyConfig, TrainConfig
from agents.fast_decode import sample_tokens_cdf
from agents.policy import CausalLMPolicy
from morl_core.errors import MorlError
from morl_core.precision import ENV_VAR, autocast, autocast_state, cpu_has_bf16, resolve
from tests.test_policy import PROMPTS, make_tiny_lm

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    return make_tiny_lm(tmp_path_factory.mktemp("tiny-gpt2"))


@pytest.fixture(scope="module")
def deep_lm(tmp_path_factory):
    """A 4-layer tiny GPT-2, so that a top-2 adapter leaves a 2-layer trunk."""
    return make_tiny_lm(tmp_path_factory.mktemp("tiny-deep"), n_layer=4)


def _policy(lm, precision: str, layers: int = 0, dropout: float = 0.0) -> CausalLMPolicy:
    policy = CausalLMPolicy(lm, device="cpu", max_new_tokens=10, temperature=1.0, precision=precision)
    torch.manual_seed(0)
    policy.add_lora(dropout=dropout, layers=layers)
    with torch.no_grad():  # adapters that move the logits, so that the policy differs from the reference
        for p in policy.trainable_parameters():
            p.normal_(0.0, 0.1)
    return policy


def test_precision_settings(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "auto")
    assert resolve("fp32", CPU) == torch.float32 and resolve("bf16", CPU) == torch.bfloat16
    assert resolve("auto", CPU) == (torch.bfloat16 if cpu_has_bf16() else torch.float32)
    monkeypatch.setenv(ENV_VAR, "fp32")
    assert resolve("auto", CPU) == torch.float32 and resolve("bf16", CPU) == torch.bfloat16  # explicit wins
    monkeypatch.setenv(ENV_VAR, "fp16")
    with pytest.raises(MorlError, match=r"`MORL_PRECISION` must be one of .*got 'fp16'"):
        resolve("auto", CPU)
    with pytest.raises(MorlError, match=r"`precision` must be one of"):
        resolve("half", CPU)
    with pytest.raises(MorlError, match=r"`precision` must be one of .*got 'half'"):
        PolicyConfig(precision="half")
    with pytest.raises(MorlError, match=r"`lora_layers` must be an integer >= 0"):
        PolicyConfig(lora_layers=-1)


def test_autocast_only_for_bf16_on_a_cpu():
    assert autocast_state()[0] is False
    with autocast(torch.bfloat16):
        assert autocast_state() == (True, torch.bfloat16)
    with autocast(torch.float32):
        assert autocast_state()[0] is False
    with autocast(torch.bfloat16, torch.device("cuda")):
        assert autocast_state()[0] is False  # a GPU's reward models are bf16 already


def test_bf16_policy_is_the_cpu_fast_path(tiny_lm):
    fast = CausalLMPolicy(tiny_lm, device="cpu", precision="bf16")
    assert fast.dtype == torch.bfloat16 and fast.cpu_fast and fast.fast_decode
    assert fast.decoder().sample is sample_tokens_cdf
    slow = CausalLMPolicy(tiny_lm, device="cpu", precision="fp32")
    assert slow.dtype == torch.float32 and not slow.cpu_fast and not slow.fast_decode


def test_top_layer_adapters_leave_a_frozen_trunk(deep_lm):
    policy = _policy(deep_lm, "fp32", layers=2)
    assert policy.trunk_layers == 2
    adapted = {int(n.split(".h.")[1].split(".")[0]) for n, p in policy.model.named_parameters() if p.requires_grad}
    assert adapted == {2, 3}
    assert _policy(deep_lm, "fp32").trunk_layers == 0
    with pytest.raises(ValueError, match=r"`lora_layers` must be an integer from 0 .* 4 decoder layers; got 5"):
        _policy(deep_lm, "fp32", layers=5)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_shared_trunk_gives_the_log_probabilities_of_a_full_pass(deep_lm, precision):
    """The policy pass replays the reference pass's trunk states: same log-probabilities as computing them, a
    gradient on the adapters, none below them."""
    policy = _policy(deep_lm, precision, layers=2)
    torch.manual_seed(1)
    gen = policy.generate(PROMPTS)
    logp, ref = policy.token_logprobs(gen)
    ids, mask = torch.cat([gen.prompt_ids, gen.reply_ids], 1), torch.cat([gen.prompt_mask, gen.reply_mask], 1)
    full = policy._token_logprobs(ids, mask, gen.reply_ids.shape[1], 1.0)
    keep = gen.reply_mask.bool()
    assert torch.equal(logp[keep], full[keep])
    assert not torch.allclose(logp[keep], ref[keep])  # the adapters act above the trunk
    logp[keep].sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in policy.trainable_parameters())


def test_bf16_log_probabilities_agree_with_float32(deep_lm):
    """Equivalence on the tiny model: the same replies' per-token log-probabilities under the bf16 and the float32
    policy (same weights) differ by at most 0.05 nats, and by 0.01 on average."""
    fp32, bf16 = _policy(deep_lm, "fp32"), _policy(deep_lm, "bf16")
    torch.manual_seed(2)
    gen = fp32.generate(PROMPTS * 4)
    keep = gen.reply_mask.bool()
    (a, ra), (b, rb) = fp32.token_logprobs(gen), bf16.token_logprobs(gen)
    for x, y in ((a, b), (ra, rb)):
        diff = (x[keep] - y[keep].float()).abs()
        assert diff.max() < 0.05 and diff.mean() < 0.01


def test_inverse_cdf_sampling_draws_the_distribution():
    torch.manual_seed(0)
    probs = torch.tensor([0.5, 0.0, 0.3, 0.15, 0.05, 0.0])
    draws = sample_tokens_cdf(probs.expand(40_000, -1).contiguous())
    freq = torch.bincount(draws, minlength=6).double() / len(draws)
    assert freq[1] == 0 and freq[5] == 0  # never a token of probability 0
    assert torch.allclose(freq, probs.double(), atol=0.01)


def test_cpu_fast_path_never_merges_adapters(tiny_lm):
    """A bf16 merge would round small updates away: on the CPU-fast path merged() leaves the weights alone."""
    policy = _policy(tiny_lm, "bf16")
    before = [p.detach().clone() for p in policy.model.parameters()]
    with policy.merged():
        inside = [p.detach().clone() for p in policy.model.parameters()]
    assert all(torch.equal(x, y) for x, y in zip(before, inside))


def test_bf16_training_moves_the_reward(tiny_lm, tmp_path):
    """The fast path trains: conciseness (a length rule) rises after a few bf16 steps of the tiny model."""
    from agents.rl import train

    config = TrainConfig(env_id="morl/Counsel-v2", env_kwargs={"objectives": ("conciseness",)}, k=4,
                         prompts_per_step=8, max_steps=12, eval_every=4, eval_prompts=16, learning_rate=5e-3,
                         out_dir=str(tmp_path / "run"),
                         policy=PolicyConfig(model=str(tiny_lm), device="cpu", max_new_tokens=32, max_prompt_tokens=64,
                                             precision="bf16", lora_dropout=0.0, lora_layers=1))
    result = train(config)
    assert result.policy.dtype == torch.bfloat16 and result.policy.trunk_layers == 1
    val = np.asarray(result.state.val_rewards)[:, 0]  # conciseness at steps 0, 4, 8, 12
    # bf16 runs are noisier than float32, and CPUs round bf16 differently (an AVX2-only CPU: best gain +0.143 where an
    # AVX-512 BF16 one passed +0.15; an AMD EPYC with AVX-512 BF16 rose to 0.80 at step 8 from 0.61 and ended at 0.64),
    # so the rise is asked of the best validation and of the mean over the trained ones, not of the last alone
    assert val[1:].max() > val[0] + 0.1 and val[1:].mean() > val[0] + 0.05, val


def test_training_scores_in_bf16_but_float32_scores_stay_float32(data_dir):
    """The reward models under the training autocast agree with float32 within 0.03, and a float32 call made
    after a bf16 one is served nothing computed in bf16 (the embedding caches are kept per autocast state)."""
    import morl_envs
    from reward_models.cross_encoder import shared_trunk
    from reward_models.encoder import shared_encoder

    env = morl_envs.make("morl/Counsel-v2")
    base = env.unwrapped
    prompts = [p.text for p in base.prompt_set.split("validation")][:8]
    replies = ["It sounds like this has been weighing on you for a long time.", "ok", "I hear you.",
               "You feel stuck between what your family wants and what you want for yourself.",
               "Have you tried talking to someone about it?", "That is hard.", "why", "You are worried."]
    shared_encoder().clear_cache(), shared_trunk().clear_cache()
    fresh = base.score(prompts, replies)
    with autocast(torch.bfloat16):
        half = base.score(prompts, replies)
    again = base.score(prompts, replies)
    env.close()
    assert np.abs(half - fresh).max() < 0.03 and not np.array_equal(half, fresh)
    assert np.allclose(again, fresh, atol=1e-6)


@pytest.mark.parametrize("aggregation", ["hidden", "logit", "parameter", "soup"])
def test_experts_decode_on_the_cpu_fast_path(tiny_lm, aggregation):
    """The meta-policy's aggregations run on a bf16 policy (batched experts through the static-cache decoder),
    seeded; a one-hot mixture answers as that expert alone."""
    from agents.aggregation import generate_with
    from tests.test_aggregation import add_random_adapters

    policy = add_random_adapters(CausalLMPolicy(tiny_lm, device="cpu", max_new_tokens=8, temperature=1.0,
                                                precision="bf16"), ["e0", "e1"])
    generate_with(policy, ["e0", "e1"], [0.4, 0.6], PROMPTS, aggregation)  # the soup adapter's creation draws
    torch.manual_seed(5)
    first = generate_with(policy, ["e0", "e1"], [0.4, 0.6], PROMPTS, aggregation).texts
    torch.manual_seed(5)
    assert generate_with(policy, ["e0", "e1"], [0.4, 0.6], PROMPTS, aggregation).texts == first
    if aggregation == "soup":  # an interpolation of parameters, not of deltas: no one-hot identity to check here
        return
    torch.manual_seed(6)
    alone = generate_with(policy, ["e0", "e1"], [1.0, 0.0], PROMPTS, aggregation).texts
    policy.set_adapter("e0")
    torch.manual_seed(6)
    assert policy.generate(PROMPTS).texts == alone
