"""The causal-LM policy on a tiny random GPT-2: chat formatting, seeded batched sampling, LoRA adapters, the
reference policy and per-token log-probabilities."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from peft.tuners.lora import LoraLayer

from agents.policy import SYSTEM_PROMPT, CausalLMPolicy

WORDS = ("i you we it they feel feels is are was the a and to of that my your me so but not really very hard sad "
         "tired scared alone angry hear sounds like seems want need help work family sleep time life day now "
         "again always never worried stressed lost yes no okay maybe this what how why").split()
SPECIAL = ("<pad>", "<unk>", "<|im_end|>", "<|im_start|>")
CHAT = ("{% for m in messages %}<|im_start|>{{ m['role'] }} {{ m['content'] }} <|im_end|> {% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant {% endif %}")


def make_tiny_lm(folder: Path, n_embd: int = 32, n_layer: int = 2, seed: int = 0, n_words: int = len(WORDS),
                 head_std: float = 0.2) -> Path:
    """A randomly initialised 2-layer GPT-2 with a 75-word word-level tokenizer (one token = one word) and a
    chat template, saved as a transformers folder. End of reply: ``<|im_end|>`` (id 2)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(SPECIAL + ("system", "user", "assistant") + tuple(WORDS[:n_words]))}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="<|im_end|>",
                                        bos_token="<|im_start|>")
    tokenizer.chat_template = CHAT
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=len(vocab), n_embd=n_embd, n_layer=n_layer, n_head=2, n_positions=256,
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=3, eos_token_id=2,
                        pad_token_id=0)
    model = GPT2LMHeadModel(config)
    with torch.no_grad():  # tied input/output embeddings large enough that adapters can move the logits by nats
        model.transformer.wte.weight.normal_(0.0, head_std)
    model.generation_config.eos_token_id, model.generation_config.pad_token_id = 2, 0
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory) -> Path:
    return make_tiny_lm(tmp_path_factory.mktemp("tiny-gpt2"))


@pytest.fixture
def policy(tiny_lm) -> CausalLMPolicy:
    return CausalLMPolicy(tiny_lm, device="cpu", max_new_tokens=12, temperature=1.0)


PROMPTS = ["I feel so tired and alone", "work is really hard", "I never sleep"]


def test_chat_template_and_left_padding(policy):
    text = policy._chat("I feel sad")
    assert text.startswith("<|im_start|>system You are a counsellor") and text.endswith("<|im_start|>assistant ")
    assert SYSTEM_PROMPT.split()[0] in text
    batch = policy.encode(["hi", "I feel so very tired and alone again"])
    assert batch["input_ids"].shape[0] == 2
    assert batch["attention_mask"][0, 0] == 0 and batch["attention_mask"][:, -1].all()  # left padding


def test_long_client_statements_are_cut_keeping_the_system_prompt(tiny_lm):
    full = CausalLMPolicy(tiny_lm, device="cpu")
    short = CausalLMPolicy(tiny_lm, device="cpu", max_prompt_tokens=3)
    assert short.encode(["i feel so very tired"])["input_ids"].tolist() == full.encode(["i feel so"])["input_ids"].tolist()
    assert short.encode(["i feel"])["input_ids"].tolist() == full.encode(["i feel"])["input_ids"].tolist()


def test_respond_is_seeded_and_batched(policy):
    first = policy.respond(PROMPTS, seed=3)
    assert first == policy.respond(PROMPTS, seed=3) and len(first) == 3
    assert first != policy.respond(PROMPTS, seed=4)
    assert all(isinstance(r, str) for r in first)


def test_generation_mask_ends_at_first_eos(policy):
    torch.manual_seed(0)
    gen = policy.generate(PROMPTS * 8)
    eos = gen.reply_ids == 2
    for row in range(gen.reply_ids.shape[0]):
        first = int(eos[row].nonzero()[0]) if eos[row].any() else gen.reply_ids.shape[1] - 1
        assert gen.reply_mask[row, : first + 1].all() and not gen.reply_mask[row, first + 1:].any()
    assert gen.n_tokens == int(gen.reply_mask.sum())


def test_lora_targets_all_linear_layers_but_the_head(policy):
    policy.add_lora(r=8, alpha=32, dropout=0.05)
    names = [n for n, p in policy.model.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n for n in names)
    assert not any("lm_head" in n or "wte" in n for n in names)
    assert {n.split(".")[-4] for n in names} == {"c_attn", "c_proj", "c_fc"}  # every linear (Conv1D) layer
    config = policy.model.peft_config["default"]
    assert (config.r, config.lora_alpha, config.lora_dropout) == (8, 32, 0.05)


def test_reference_equals_policy_at_init_then_differs(policy):
    policy.add_lora()
    torch.manual_seed(0)
    gen = policy.generate(PROMPTS)
    logp, ref = policy.token_logprobs(gen)
    assert logp.requires_grad and not ref.requires_grad
    mask = gen.reply_mask.bool()
    assert torch.equal(logp[mask], ref[mask])  # LoRA B = 0: identical, even with adapter dropout on
    with torch.no_grad():
        for name, p in policy.model.named_parameters():
            if "lora_B" in name:
                p.add_(0.5)
    logp, ref2 = policy.token_logprobs(gen)
    assert torch.equal(ref, ref2) and not torch.allclose(logp[mask], ref[mask])


def test_logprobs_match_a_plain_forward(policy):
    torch.manual_seed(1)
    gen = policy.generate(PROMPTS[:1])
    logp, _ = policy.token_logprobs(gen, with_reference=False)
    ids = torch.cat([gen.prompt_ids, gen.reply_ids], dim=1)
    with torch.no_grad():
        logits = policy.model(ids).logits[0, gen.prompt_ids.shape[1] - 1: -1]
    expected = logits.log_softmax(-1).gather(-1, gen.reply_ids[0, :, None]).squeeze(-1)
    mask = gen.reply_mask[0].bool()
    assert torch.allclose(logp[0][mask], expected[mask], atol=1e-5)


def test_adapters_save_and_load(policy, tmp_path):
    policy.add_lora()
    with torch.no_grad():
        for name, p in policy.model.named_parameters():
            if "lora_B" in name:
                p.normal_()
    policy.save_adapter(tmp_path / "a")
    expected = policy.respond(PROMPTS, seed=0)
    fresh = CausalLMPolicy(policy.path, device="cpu", max_new_tokens=12, temperature=1.0)
    fresh.load_adapter(tmp_path / "a", name="pref-0")
    assert fresh.respond(PROMPTS, seed=0) == expected


def test_merged_adapters_give_the_same_logits_and_restore_the_base_weights(policy):
    policy.add_lora()
    with torch.no_grad():
        for name, p in policy.model.named_parameters():
            if "lora_B" in name:
                p.normal_()
    policy.model.eval()  # no LoRA dropout, so merged and unmerged are the same function
    base = {n: p.detach().clone() for n, p in policy.model.named_parameters() if "lora_" not in n}
    batch = policy.encode(PROMPTS)
    with torch.no_grad():
        expected = policy.model(**batch).logits
        with policy.merged():
            merged = policy.model(**batch).logits
            layers = [m for m in policy.model.modules() if isinstance(m, LoraLayer)]
            assert layers and all(m.merged for m in layers)  # the LoRA branch is folded into the base weights
        after = policy.model(**batch).logits
    assert torch.allclose(merged, expected, atol=1e-4) and torch.equal(after, expected)  # float32 rounding
    assert all(torch.equal(p, base[n]) for n, p in policy.model.named_parameters() if "lora_" not in n)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"max_new_tokens": 0}, "`max_new_tokens` must be >= 1; got 0"),
    ({"temperature": 0}, "`temperature` must be > 0 (use do_sample=False for greedy); got 0"),
    ({"max_prompt_tokens": 0}, "`max_prompt_tokens` must be >= 1; got 0"),
])
def test_bad_arguments(tiny_lm, kwargs, message):
    with pytest.raises(ValueError) as info:
        CausalLMPolicy(tiny_lm, device="cpu", **kwargs)
    assert str(info.value) == message
