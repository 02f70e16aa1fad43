"""morl-baselines' Envelope Q-learning on ``morl/Counsel-Choice-v2``: one network for every preference, on the board.

    pip install -e ".[morl]"      # morl-baselines 1.3.0 (the optional extra)
    OMP_NUM_THREADS=1 python examples/morl_baselines_choice.py [--timesteps 4000] [--seed 0] [--out R.json [--submit]]

Envelope (Yang, Sun and Narasimhan, NeurIPS 2019, arXiv 1908.08342) learns one vector-valued Q network conditioned on
the preference, Q(s, w) -> (K, d), trained with a fresh random w every episode and the envelope target (the best
``w . Q`` over sampled weights). A choice env's episode is one step, so the target is the reward vector itself and
the discount (``gamma``) plays no role. Of morl-baselines' multi-policy agents it fits a contextual bandit with a
Box observation and a Discrete action directly: GPI-LS needs pycddlib's vertex enumeration and a linear-support
loop of retrainings, PCN conditions on a desired return and horizon (a one-step episode has one horizon).

The trained agent answers the leaderboard protocol for choice envs (:func:`leaderboards.choice.evaluate_choice`):
for each of the 15 preferences, the greedy candidate ``argmax_a w . Q(s, w)[a]`` for every test prompt, with exact
rewards. ``--out`` writes that result; ``--submit`` also stores it on the board (``leaderboards/entries``) through
``leaderboards.submission.submit``, as ``morl-bench submit`` does. wandb stays off (``log=False`` and
``WANDB_MODE=disabled``): nothing leaves the machine.

Protocol: as ``examples/sb3_ppo_choice.py``'s default, the agent trains on the test prompts (``--train-split test``,
the optimisation protocol of docs/choice_envs.md), whose exact front is the target. Seed 0, 4,000 steps (16 s of
training on one CPU thread): 0.907 of the known front's hypervolume, IGD 0.064, MUL 0.016 (over the simplex grid of
step 1/100); uniformly random picks: 0.23, 0.28, 0.48.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from dataclasses import asdict, dataclass, field, fields

import mo_gymnasium as mo_gym
import numpy as np
import torch

import morl_envs
from agents.baselines import RandomChoiceAgent
from leaderboards.choice import evaluate_choice, hypervolume_fraction
from morl_cli.board import parse_with_result_arguments, save_result
from morl_core.agent import ChoiceAgent, TrainingCosts
from morl_core.extras import MissingExtraError, require_extra


@dataclass
class Config:
    """One Envelope run: which env, the budget and the hyper-parameters (morl-baselines' defaults where not set)."""

    env_id: str = field(default="morl/Counsel-Choice-v2", metadata={"help": "a registered choice env id"})
    timesteps: int = field(default=4000, metadata={"help": "environment steps (= prompts answered) of training"})
    seed: int = field(default=0, metadata={"help": "seed of the network, the env, the weights and the replay"})
    learning_rate: float = field(default=3e-4, metadata={"help": "Adam step size"})
    hidden: int = field(default=64, metadata={"help": "width of each hidden layer of the Q network"})
    layers: int = field(default=2, metadata={"help": "number of hidden layers of the Q network"})
    batch_size: int = field(default=64, metadata={"help": "replay minibatch size (times num_sample_w weights)"})
    num_sample_w: int = field(default=4, metadata={"help": "weights sampled per update for the envelope target"})
    learning_starts: int = field(default=100, metadata={"help": "random steps before the first update"})
    train_split: str = field(default="test", metadata={
        "help": "split whose prompts the agent trains on ('test': the optimisation protocol, 'train': generalisation)"})

    def __post_init__(self) -> None:
        if self.timesteps <= self.learning_starts:
            raise ValueError(f"`timesteps` must be > `learning_starts` (at least one update); got {self.timesteps} "
                             f"<= {self.learning_starts}")
        if self.num_sample_w < 2:
            raise ValueError(f"`num_sample_w` must be >= 2 (the envelope maximises over sampled weights); got "
                             f"{self.num_sample_w}")
        for name in ("hidden", "layers", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"`{name}` must be >= 1; got {getattr(self, name)}")


class EnvelopeChoiceAgent(ChoiceAgent):
    """A trained Envelope Q network as a board agent: the greedy candidate ``argmax_a w . Q(s, w)[a]``."""

    name, family = "envelope", "multi-policy"

    def __init__(self, q_net: torch.nn.Module, costs: TrainingCosts, details: dict) -> None:
        self.q_net, self._costs, self._details = q_net, costs, details

    @torch.no_grad()
    def act(self, observations: np.ndarray, preference: np.ndarray, seed: int) -> np.ndarray:
        obs = torch.as_tensor(observations, dtype=torch.float32)  # (n, D)
        w = torch.as_tensor(preference, dtype=torch.float32).expand(len(obs), -1)  # (n, d)
        q = self.q_net(obs, w)  # (n, K, d)
        return torch.einsum("nd,nkd->nk", w, q).argmax(dim=1).numpy().astype(np.int64)  # (n,)

    def training_costs(self) -> TrainingCosts:
        return self._costs

    def details(self) -> dict:
        return self._details


def train_agent(config: Config) -> EnvelopeChoiceAgent:
    """Train Envelope on ``config.env_id`` (its ``config.train_split`` prompts), seeded, on one CPU thread."""
    os.environ.setdefault("WANDB_MODE", "disabled")  # morl-baselines imports wandb; log=False keeps it unused
    Envelope = require_extra("morl_baselines.multi_policy.envelope.envelope", "morl").Envelope  # noqa: N806

    torch.set_num_threads(1)
    torch.manual_seed(config.seed)  # the Q network's initialisation
    np.random.seed(config.seed)  # morl-baselines' replay buffer samples with NumPy's global generator
    env = mo_gym.make(config.env_id, default_split=config.train_split)
    env.reset(seed=config.seed)
    env.action_space.seed(config.seed)  # the random steps before learning_starts and epsilon-greedy
    start = time.perf_counter()
    agent = Envelope(env, learning_rate=config.learning_rate, initial_epsilon=1.0, final_epsilon=0.05,
                     epsilon_decay_steps=config.timesteps // 2, net_arch=[config.hidden] * config.layers,
                     batch_size=config.batch_size, learning_starts=config.learning_starts, gamma=0.0,
                     num_sample_w=config.num_sample_w, per=False, buffer_size=config.timesteps,
                     target_net_update_freq=100, homotopy_decay_steps=config.timesteps // 2, log=False,
                     seed=config.seed, device="cpu")
    agent.train(total_timesteps=config.timesteps, num_eval_weights_for_front=3)  # no eval_env: no evaluation
    seconds = time.perf_counter() - start
    env.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    costs = TrainingCosts(env_samples=config.timesteps, tokens_generated=0, train_seconds=seconds, device="cpu",
                          peak_memory_bytes=int(rss))
    details = {"algorithm": "Envelope (morl-baselines 1.3.0)", **asdict(config)}
    return EnvelopeChoiceAgent(agent.q_net.eval(), costs, details)


def parse(argv: list[str] | None = None) -> tuple[Config, argparse.Namespace]:
    """The Config (one flag per field; its help is the field's) and the output flags from the command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    for f in fields(Config):
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default,
                            help=f.metadata["help"])
    args = parse_with_result_arguments(parser, argv)
    config = Config(**{f.name: getattr(args, f.name) for f in fields(Config)})
    return config, args


def main(argv: list[str] | None = None) -> int:
    """Train, evaluate through the leaderboard protocol, print the metrics; write and submit on request."""
    config, args = parse(argv)
    try:
        agent = train_agent(config)
    except MissingExtraError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    random = RandomChoiceAgent(int(morl_envs.make(config.env_id).action_space.n))  # the inference-cost baseline
    result = evaluate_choice(agent, config.env_id, seeds=args.eval_seeds, baseline=random)
    summary = {"config": asdict(config), "hypervolume_fraction": hypervolume_fraction(result),
               "metrics": result["claimed_metrics"]}
    print(json.dumps(summary, indent=1))
    save_result(result, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
