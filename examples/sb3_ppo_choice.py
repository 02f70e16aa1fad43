"""stable-baselines3 PPO on ``morl/Counsel-Choice-v2``, one run per preference, forming a Pareto front.

    OMP_NUM_THREADS=1 python examples/sb3_ppo_choice.py [--timesteps 4096] [--seed 0] [--train-split test]
        [--out RESULT.json [--submit]]

Each preference ``w`` trains one PPO agent on the scalarised env ``mo_gymnasium.wrappers.LinearReward(env, w)``
(the classic "outer loop" way of getting a front from a single-objective learner). Every trained policy is then
evaluated deterministically on the test split: since the choice env's candidate rewards are known, the expected
return of the greedy policy is computed exactly (``env.unwrapped.expected_return``), no sampling noise. The front
of these returns is compared with the env's known Pareto front and convex coverage set through the leaderboard's
indicators (hypervolume from the origin, the env's reference point; IGD; maximum utility loss), and with random
deterministic policies, one per preference.

Protocols (``--train-split``). "test" (default, the optimisation protocol): the agents train on the test prompts,
whose exact front is the target, as a known-front benchmark like Deep Sea Treasure is used; 4,096 steps per
preference reach about 0.83 of the known front's hypervolume in about 25 s on one CPU thread. "train" (the
generalisation protocol): the agents train on the training prompts and meet the test prompts only at evaluation;
the observation (the prompt's embedding) does not show how good each sampled candidate is, so a prompt-only
policy cannot reach the test split's per-prompt oracle front (docs/choice_envs.md has both results).

The 15 trained policies also form a board agent (:class:`PPOChoiceAgent`, family "single-policy": one policy per
preference, as ``agents.ScalarizedAgent``): ``--out`` writes its result under the leaderboard protocol for choice
envs (:func:`leaderboards.choice.evaluate_choice`) and ``--submit`` stores it on the board, as ``morl-bench submit``.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from dataclasses import asdict, dataclass, field, fields

import mo_gymnasium as mo_gym
import numpy as np
import torch
from mo_gymnasium.wrappers import LinearReward
from stable_baselines3 import PPO
from stable_baselines3.common.logger import Logger

import morl_envs
from agents.baselines import RandomChoiceAgent
from leaderboards.choice import evaluate_choice
from leaderboards.indicators import hypervolume, igd, maximum_utility_loss
from morl_cli.board import parse_with_result_arguments, save_result
from morl_core.agent import ChoiceAgent, TrainingCosts
from morl_core.simplex import preference_set

#: the preferences of the runs: the leaderboard's 15 (the simplex lattice of step 1/4 over 3 objectives)
DEFAULT_WEIGHTS = tuple(map(tuple, preference_set(3).tolist()))


@dataclass
class Config:
    """One experiment: which env, which preferences, PPO's budget and hyper-parameters."""

    env_id: str = field(default="morl/Counsel-Choice-v2", metadata={"help": "a registered choice env id"})
    timesteps: int = field(default=4096, metadata={"help": "PPO environment steps (= prompts answered) per run"})
    seed: int = field(default=0, metadata={"help": "seed of every run, of the env and of the random baseline"})
    n_steps: int = field(default=256, metadata={"help": "PPO rollout length between updates"})
    batch_size: int = field(default=64, metadata={"help": "PPO minibatch size"})
    learning_rate: float = field(default=1e-3, metadata={"help": "Adam step size"})
    hidden: int = field(default=64, metadata={"help": "width of the one hidden layer of the policy and value nets"})
    train_split: str = field(default="test", metadata={
        "help": "split whose prompts the agents train on ('test': the optimisation protocol, 'train': generalisation)"})
    split: str = field(default="test", metadata={"help": "split the trained policies are evaluated on"})
    weights: tuple[tuple[float, ...], ...] = field(default=DEFAULT_WEIGHTS, metadata={"help": "one run each"})

    def __post_init__(self) -> None:
        if self.timesteps < self.n_steps:
            raise ValueError(f"`timesteps` must be >= `n_steps` (one PPO update at least); got {self.timesteps} "
                             f"< {self.n_steps}")
        if self.n_steps % self.batch_size:
            raise ValueError(f"`n_steps` must be a multiple of `batch_size`; got {self.n_steps} and "
                             f"{self.batch_size}")
        sums = [round(sum(w), 6) for w in self.weights]
        if not self.weights or any(s != 1 for s in sums) or any(x < 0 for w in self.weights for x in w):
            raise ValueError(f"`weights` must be non-empty rows of non-negative numbers summing to 1; got sums {sums}")


@dataclass
class Result:
    """What one experiment produced (returns on ``config.split``, exact)."""

    returns: list[list[float]]  # (n_weights, d): expected return of each trained policy
    random_returns: list[list[float]]  # (n_weights, d): one random deterministic policy per preference
    known_front_size: int
    hypervolume: float
    known_hypervolume: float
    random_hypervolume: float
    igd: float
    mul: float
    seconds: float

    @property
    def hypervolume_fraction(self) -> float:
        """Hypervolume of the learned front over the known front's."""
        return self.hypervolume / self.known_hypervolume

    @property
    def normalised_gain(self) -> float:
        """(HV - HV_random) / (HV_known - HV_random): 0 for random, 1 for the known front."""
        return (self.hypervolume - self.random_hypervolume) / (self.known_hypervolume - self.random_hypervolume)


def train(config: Config, weight: tuple[float, ...]) -> PPO:
    """One PPO run on the env scalarised by ``weight``."""
    env = mo_gym.make(config.env_id, default_split=config.train_split)
    env = LinearReward(env, weight=np.asarray(weight, dtype=np.float32))
    model = PPO("MlpPolicy", env, n_steps=config.n_steps, batch_size=config.batch_size, n_epochs=10,
                learning_rate=config.learning_rate, gamma=1.0, gae_lambda=1.0, ent_coef=0.0, seed=config.seed,
                policy_kwargs={"net_arch": [config.hidden]}, device="cpu", verbose=0)
    model.set_logger(Logger(folder=None, output_formats=[]))  # SB3's default logger makes a /tmp/SB3-* folder per run
    return model.learn(total_timesteps=config.timesteps)


class PPOChoiceAgent(ChoiceAgent):
    """The greedy policies of the per-preference PPO runs as one board agent: preference w -> the run trained at the
    nearest trained weight (L1; the run trained at w itself for the leaderboard's preferences)."""

    name, family = "ppo-per-preference", "single-policy"

    def __init__(self, models: dict[tuple[float, ...], PPO], costs: TrainingCosts, details: dict) -> None:
        self.models, self._costs, self._details = models, costs, details

    def act(self, observations: np.ndarray, preference: np.ndarray, seed: int) -> np.ndarray:
        keys = list(self.models)
        nearest = keys[int(np.abs(np.asarray(keys) - np.asarray(preference)).sum(axis=1).argmin())]
        actions, _ = self.models[nearest].predict(observations, deterministic=True)  # (n,)
        return actions.astype(np.int64)

    def training_costs(self) -> TrainingCosts:
        return self._costs

    def details(self) -> dict:
        return self._details


def train_agent(config: Config) -> PPOChoiceAgent:
    """One PPO run per preference of ``config.weights``, gathered into a :class:`PPOChoiceAgent`."""
    torch.set_num_threads(1)
    start = time.perf_counter()
    models = {tuple(np.round(weight, 6).tolist()): train(config, weight) for weight in config.weights}
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    costs = TrainingCosts(env_samples=config.timesteps * len(config.weights), tokens_generated=0,
                          train_seconds=time.perf_counter() - start, device="cpu", peak_memory_bytes=int(rss))
    details = {"algorithm": "PPO (stable-baselines3 2.9.2) on LinearReward, one run per preference",
               **{k: v for k, v in asdict(config).items() if k != "weights"}}
    return PPOChoiceAgent(models, costs, details)


def run(config: Config, agent: PPOChoiceAgent | None = None) -> Result:
    """Train one agent per preference (unless ``agent`` is given), evaluate all of them and the baselines exactly."""
    start = time.perf_counter()
    agent = agent if agent is not None else train_agent(config)
    env = mo_gym.make(config.env_id).unwrapped
    observations = env.observations(config.split)  # (n, 384)
    returns = [env.expected_return(agent.act(observations, np.asarray(w), config.seed), config.split)
               for w in config.weights]
    rng = np.random.default_rng(config.seed)
    n, k = len(observations), env.action_space.n
    random_returns = [env.expected_return(rng.integers(k, size=n), config.split) for _ in config.weights]
    known = env.pareto_front(config.split)
    ref = np.asarray(env.eval_spec.reference_point)
    return Result(
        returns=np.round(returns, 6).tolist(), random_returns=np.round(random_returns, 6).tolist(),
        known_front_size=len(known), hypervolume=hypervolume(returns, ref), known_hypervolume=hypervolume(known, ref),
        random_hypervolume=hypervolume(random_returns, ref), igd=igd(returns, known),
        mul=maximum_utility_loss(returns, env.convex_coverage_set(config.split), preference_set(env.reward_dim)),
        seconds=time.perf_counter() - start)


def parse(argv: list[str] | None = None) -> tuple[Config, argparse.Namespace]:
    """The Config (one flag per scalar field; its help is the field's) and the output flags from the command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    names = [f.name for f in fields(Config) if f.name != "weights"]
    for f in fields(Config):
        if f.name in names:
            parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default,
                                help=f.metadata["help"])
    args = parse_with_result_arguments(parser, argv)
    return Config(**{name: getattr(args, name) for name in names}), args


def main(argv: list[str] | None = None) -> int:
    """Run the experiment and print its result as JSON; write and submit the leaderboard result on request."""
    config, args = parse(argv)
    agent = train_agent(config)
    result = run(config, agent)
    print(json.dumps({"config": asdict(config), **asdict(result), "hypervolume_fraction": result.hypervolume_fraction,
                      "normalised_gain": result.normalised_gain}, indent=1))
    if args.out is not None:
        random = RandomChoiceAgent(int(morl_envs.make(config.env_id).action_space.n))  # the inference-cost baseline
        save_result(evaluate_choice(agent, config.env_id, seeds=args.eval_seeds, baseline=random), args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
