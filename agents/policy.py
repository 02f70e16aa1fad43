"""The default policy: a chat causal LM (SmolLM2-135M-Instruct, shipped offline) that writes counsellor replies.

Any hub id or local transformers folder works through the same class. Generation is batched with left padding and
seeded, so the same prompts and seed give the same replies on the same machine.
"""

from __future__ import annotations

from pathlib import Path

import torch

SYSTEM_PROMPT = ("You are a counsellor. Answer the client with a short reflection: restate what they mean and how "
                 "they feel, in one or two sentences, without giving advice.")


class CausalLMPolicy:
    """Batched, seeded reply generation from a causal LM with a chat template."""

    def __init__(self, model: str | Path | None = None, device: str | None = None, max_new_tokens: int = 48,
                 temperature: float = 0.7, system_prompt: str = SYSTEM_PROMPT) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from reward_models.assets import smollm2_path
        from reward_models.encoder import default_device

        if max_new_tokens < 1:
            raise ValueError(f"`max_new_tokens` must be >= 1; got {max_new_tokens}")
        if temperature <= 0:
            raise ValueError(f"`temperature` must be > 0 (use do_sample=False for greedy); got {temperature}")
        self.path = Path(model) if model else smollm2_path()
        self.device = torch.device(device) if device else default_device()
        dtype = torch.bfloat16 if self.device.type == "cuda" else torch.float32
        self.tokenizer = AutoTokenizer.from_pretrained(self.path, padding_side="left")
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(self.path, dtype=dtype).to(self.device).eval()
        self.max_new_tokens, self.temperature, self.system_prompt = max_new_tokens, temperature, system_prompt

    def _chat(self, prompt: str) -> str:
        messages = [{"role": "system", "content": self.system_prompt}, {"role": "user", "content": prompt}]
        if self.tokenizer.chat_template is None:
            return f"{self.system_prompt}\nClient: {prompt}\nCounsellor:"
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    @torch.inference_mode()
    def respond(self, prompts: list[str], seed: int | None = None, do_sample: bool = True) -> list[str]:
        """One reply per prompt, generated as one batch."""
        if seed is not None:
            torch.manual_seed(seed)
        batch = self.tokenizer([self._chat(p) for p in prompts], return_tensors="pt", padding=True,
                               add_special_tokens=False).to(self.device)
        out = self.model.generate(**batch, max_new_tokens=self.max_new_tokens, do_sample=do_sample,
                                  temperature=self.temperature if do_sample else None, top_p=None, top_k=None,
                                  pad_token_id=self.tokenizer.pad_token_id)
        replies = self.tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
        return [r.strip() for r in replies]
