"""Adapters that give any text environment (``morl/Counsel-v2`` and its kin) the spaces classic MORL agents use.

stable-baselines3 and morl-baselines agents read ``observation_space.shape`` and ``action_space.n``: they need Box
observations and Discrete (or Box) actions, not text. Three wrappers bridge the gap and compose:

- :class:`EmbeddingObservation`: the text observation becomes its MiniLM sentence embedding, ``Box(-1, 1, (384,))``.
- :class:`CandidateChoice`: at each reset, a policy samples ``k`` replies to the prompt; the action,
  ``Discrete(k)``, picks the one sent to the text env (the online counterpart of ``morl/Counsel-Choice-v2``).
- :class:`TokenLevel`: one token per step, ``Discrete(vocab)`` actions, token-id observations; the reward vector is
  zero until the reply ends (end-of-sequence token or ``max_tokens``), then the text env's reward for the reply.

>>> import morl_envs
>>> from morl_envs.wrappers import EmbeddingObservation, CandidateChoice
>>> class Canned:  # any object with the policy's respond(prompts, seed=...) signature
...     def respond(self, prompts, seed=None, do_sample=True):
...         return ["You feel stuck.", "That sounds exhausting, and you want it to stop."][: len(prompts)]
>>> env = EmbeddingObservation(CandidateChoice(morl_envs.CounselEnv(objectives=("conciseness",)), Canned(), k=2))
>>> obs, info = env.reset(seed=0)
>>> obs.shape, env.action_space, info["candidates"]
((384,), Discrete(2), ['You feel stuck.', 'That sounds exhausting, and you want it to stop.'])
>>> env.step(0)[1].tolist()
[1.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = ["CandidateChoice", "EmbeddingObservation", "Responder", "TokenLevel"]

PAD = -1  # token-id padding of TokenLevel observations (never a vocabulary id)


def _require_text(env: gym.Env, wrapper: str, hint: str) -> None:
    if not isinstance(env.observation_space, spaces.Text):
        raise TypeError(f"{wrapper} needs an env whose observations are text (a gymnasium.spaces.Text "
                        f"observation_space); got {env.observation_space}. {hint}")


class EmbeddingObservation(gym.ObservationWrapper):
    """Text observations as L2-normalised sentence embeddings, ``Box(-1, 1, (dim,), float32)``.

    ``encoder``: a sentence-encoder folder (default: the shipped all-MiniLM-L6-v2, the reward models' encoder, so
    embeddings equal those of ``morl/Counsel-Choice-v2`` up to its float16 storage); ``device``: where it runs
    (default: the GPU if any). The encoder is the process-wide shared one; pickling stores only its path.
    """

    def __init__(self, env: gym.Env, encoder: str | None = None, device: str | None = None) -> None:
        _require_text(env, "EmbeddingObservation", "Put it outermost, around CandidateChoice, not inside it.")
        super().__init__(env)
        self._encoder_args = (encoder, device)
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(self._encoder().dim,), dtype=np.float32)

    def _encoder(self) -> Any:
        from reward_models.encoder import shared_encoder

        return shared_encoder(*self._encoder_args)

    def observation(self, observation: str) -> np.ndarray:
        """The embedding of one text, float32 of shape (dim,)."""
        return np.clip(self._encoder().encode([observation])[0], -1.0, 1.0).astype(np.float32)


class Responder(Protocol):
    """What :class:`CandidateChoice` needs of a policy (``agents.CausalLMPolicy`` has it)."""

    def respond(self, prompts: list[str], seed: int | None = None, do_sample: bool = True) -> list[str]:
        """One reply per prompt."""
        ...


class CandidateChoice(gym.Wrapper):
    """``Discrete(k)`` actions over ``k`` replies sampled online from ``policy`` for each prompt.

    At reset the wrapper asks ``policy.respond([prompt] * k, seed=s)`` for ``k`` replies, with ``s`` drawn from the
    wrapper's generator (seeded by ``reset(seed=...)``), so seeded resets give the same candidates. Candidates are
    sorted by length (``sort_by="length"``, the default), so an index has a stable meaning across prompts (0 is
    the shortest reply), or kept in sampled order (``sort_by=None``). They are in ``info["candidates"]`` and
    ``self.candidates``; ``step(i)`` sends candidate ``i`` to the text env and returns its result, with
    ``info["reply"]``. Observations are the text env's (wrap with :class:`EmbeddingObservation` for a Box).
    """

    def __init__(self, env: gym.Env, policy: Responder, k: int, sort_by: str | None = "length") -> None:
        _require_text(env, "CandidateChoice", "Wrap the text env itself (CandidateChoice reads the prompt text).")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"`k` must be a positive int (the number of candidate replies); got {k!r}")
        if sort_by not in ("length", None):
            raise ValueError(f"`sort_by` must be 'length' or None; got {sort_by!r}")
        if not callable(getattr(policy, "respond", None)):
            raise TypeError(f"`policy` must have a respond(prompts, seed=...) method; got {type(policy).__name__}")
        super().__init__(env)
        self.policy, self.k, self.sort_by = policy, k, sort_by
        self.action_space = spaces.Discrete(k)
        self.candidates: list[str] = []
        self._rng = np.random.default_rng()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        obs, info = self.env.reset(seed=seed, options=options)
        replies = list(self.policy.respond([obs] * self.k, seed=int(self._rng.integers(2**31))))
        if len(replies) != self.k or not all(isinstance(r, str) for r in replies):
            raise TypeError(f"`policy.respond` must return {self.k} str replies; got {replies!r:.200}")
        self.candidates = sorted(replies, key=len) if self.sort_by == "length" else replies
        return obs, {**info, "candidates": list(self.candidates)}

    def step(self, action: int | np.integer) -> tuple[Any, Any, bool, bool, dict]:
        if not self.candidates:
            raise gym.error.ResetNeeded("call reset() before step(): the candidates are sampled at reset")
        if isinstance(action, bool) or not self.action_space.contains(action):
            raise ValueError(f"`action` must be an int in [0, {self.k - 1}] (a candidate index); got {action!r}")
        reply = self.candidates[int(action)]
        obs, reward, terminated, truncated, info = self.env.step(reply)
        if terminated or truncated:
            self.candidates = []
        return obs, reward, terminated, truncated, {**info, "reply": reply, "candidate_index": int(action)}


class TokenLevel(gym.Wrapper):
    """A text env seen one token at a time: ``Discrete(vocab)`` actions, token-id ``Box`` observations.

    Observation: ``Box(-1, vocab - 1, (max_prompt_tokens + max_tokens,), int64)``: the prompt's token ids (its
    first ``max_prompt_tokens``, no special tokens) followed by the reply's tokens so far, padded with -1;
    ``info["prompt_length"]`` says where the reply starts. Each step appends the action's token. The reply ends
    at an end-of-sequence token (``eos_token_ids``, default the tokenizer's) or after ``max_tokens`` tokens; it is
    then decoded (``skip_special_tokens=True``, the end token excluded, not stripped) and sent to the text env,
    whose reward vector is returned, with ``info["reply"]``. Before that every reward is a zero vector of the
    text env's reward shape. If the text env's episode goes on (multi-turn), its next observation starts a new
    reply.

    ``tokenizer``: a transformers tokenizer or a folder / hub id to load one from (e.g. the policy's).
    """

    def __init__(self, env: gym.Env, tokenizer: Any, max_tokens: int = 48, max_prompt_tokens: int = 128,
                 eos_token_ids: Sequence[int] | None = None) -> None:
        _require_text(env, "TokenLevel", "Wrap the text env itself.")
        for name, value in (("max_tokens", max_tokens), ("max_prompt_tokens", max_prompt_tokens)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive int; got {value!r}")
        if isinstance(tokenizer, str):
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(tokenizer)
        super().__init__(env)
        self.tokenizer = tokenizer
        self.vocab_size = len(tokenizer)
        eos = [tokenizer.eos_token_id] if eos_token_ids is None else list(eos_token_ids)
        if not eos or any(e is None or not 0 <= int(e) < self.vocab_size for e in eos):
            raise ValueError(f"`eos_token_ids` must be ids in [0, {self.vocab_size - 1}]; got {eos!r} (pass them "
                             f"when the tokenizer has no eos_token_id)")
        self.eos_token_ids = frozenset(int(e) for e in eos)
        self.max_tokens, self.max_prompt_tokens = max_tokens, max_prompt_tokens
        self.action_space = spaces.Discrete(self.vocab_size)
        self.observation_space = spaces.Box(PAD, self.vocab_size - 1, shape=(max_prompt_tokens + max_tokens,),
                                            dtype=np.int64)
        shape = getattr(env.unwrapped, "reward_space", spaces.Box(0, 1, (1,))).shape
        self._zero = np.zeros(shape, dtype=np.float32)
        self._prompt: list[int] = []
        self._reply: list[int] = []
        self._open = False

    def encode_prompt(self, prompt: str) -> list[int]:
        """The token ids the observation starts with."""
        return list(self.tokenizer(prompt, add_special_tokens=False)["input_ids"][: self.max_prompt_tokens])

    def _observation(self) -> np.ndarray:
        obs = np.full(self.observation_space.shape, PAD, dtype=np.int64)
        ids = self._prompt + self._reply
        obs[: len(ids)] = ids
        return obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        prompt, info = self.env.reset(seed=seed, options=options)
        self._prompt, self._reply, self._open = self.encode_prompt(prompt), [], True
        return self._observation(), {**info, "prompt_length": len(self._prompt)}

    def step(self, action: int | np.integer) -> tuple[np.ndarray, np.ndarray, bool, bool, dict]:
        if not self._open:
            raise gym.error.ResetNeeded("call reset() before step()")
        if isinstance(action, bool) or not self.action_space.contains(action):
            raise ValueError(f"`action` must be a token id in [0, {self.vocab_size - 1}]; got {action!r}")
        self._reply.append(int(action))
        ended = int(action) in self.eos_token_ids
        if not ended and len(self._reply) < self.max_tokens:
            return self._observation(), self._zero.copy(), False, False, {}
        obs = self._observation()
        tokens = self._reply[:-1] if ended else self._reply
        reply = self.tokenizer.decode(tokens, skip_special_tokens=True)
        prompt, reward, terminated, truncated, info = self.env.step(reply)
        info = {**info, "reply": reply, "reply_tokens": len(tokens)}
        if terminated or truncated:
            self._open = False
        else:  # multi-turn: the next statement starts a new reply
            self._prompt, self._reply = self.encode_prompt(prompt), []
            obs = self._observation()
        return obs, np.asarray(reward, dtype=np.float32), terminated, truncated, info
