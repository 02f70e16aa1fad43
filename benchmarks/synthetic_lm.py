"""A randomly initialised causal LM of SmolLM2-135M's size, for benchmarks on machines the real weights cannot reach.

The GPU machine has no copy of the shipped GGUF (it travels as a pip package larger than a call may carry), and a
decode step costs the same whatever the weights hold, so timing benchmarks run on this stand-in: a Llama with
SmolLM2-135M-Instruct's shapes (30 layers, hidden 576, 9 query / 3 key-value heads, MLP 1536, tied 49,152-token
vocabulary) and a word-level tokenizer of 49,152 synthetic words with a chat template. One word is one token, so a
prompt of ``n`` words is ``n`` tokens plus the template.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import torch

#: SmolLM2-135M-Instruct's shapes (its config.json)
SMOLLM2_SHAPES = {"vocab_size": 49152, "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
                  "num_attention_heads": 9, "num_key_value_heads": 3, "max_position_embeddings": 8192,
                  "rope_theta": 100000.0, "rms_norm_eps": 1e-5, "tie_word_embeddings": True}
SPECIAL = ("<pad>", "<|im_start|>", "<|im_end|>", "<unk>", "system", "user", "assistant")
CHAT = ("{% for m in messages %}<|im_start|>{{ m['role'] }} {{ m['content'] }} <|im_end|> {% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant {% endif %}")


def synthetic_words(n: int) -> list[str]:
    """The tokenizer's ordinary words, ``w<i>``."""
    return [f"w{i}" for i in range(n)]


def smollm2_size_lm(folder: Path, seed: int = 0) -> Path:
    """Write (once) a random-init SmolLM2-135M-size Llama and its synthetic tokenizer into ``folder``."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    if (folder / "model.safetensors").is_file():
        return folder
    vocab = {w: i for i, w in enumerate(SPECIAL + tuple(synthetic_words(SMOLLM2_SHAPES["vocab_size"] - len(SPECIAL))))}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="<|im_end|>",
                                        bos_token="<|im_start|>")
    tokenizer.chat_template = CHAT
    torch.manual_seed(seed)
    config = LlamaConfig(**SMOLLM2_SHAPES, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id, model.generation_config.pad_token_id = 2, 0
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def synthetic_prompts(n: int, words: int = 40, seed: int = 0) -> list[str]:
    """``n`` prompts of ``words`` random synthetic words each (so every prompt has the same token count)."""
    rng = random.Random(seed)
    pool = synthetic_words(SMOLLM2_SHAPES["vocab_size"] - len(SPECIAL))
    return [" ".join(rng.choice(pool) for _ in range(words)) for _ in range(n)]


def resolve_model(model: str | None) -> str | None:
    """A benchmark's ``--model``: ``"synthetic"`` is the random-init SmolLM2-size LM (written once into the temporary
    folder), anything else passes through (None: the shipped SmolLM2-135M-Instruct)."""
    if model != "synthetic":
        return model
    return str(smollm2_size_lm(Path(tempfile.gettempdir()) / "morl-bench-smollm2-size"))
