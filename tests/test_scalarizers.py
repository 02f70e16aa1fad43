"""Scalarizers of the single-policy agents and the MGDA solver: hand-computed values, equivalences, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from agents.mgda import gram_matrix, min_norm_coefficients, min_norm_frank_wolfe, min_norm_two
from agents.scalarizers import (
    SCALARIZERS,
    ChebyshevScalarizer,
    DynaOptScalarizer,
    LinearScalarizer,
    MGDAScalarizer,
    PAMAScalarizer,
    make_scalarizer,
)


def leave_one_out(rewards: torch.Tensor) -> torch.Tensor:
    """Per-objective k-SCST advantages: r - mean of the other k - 1 replies of the same prompt. (B, k, n)."""
    k = rewards.shape[1]
    return rewards - (rewards.sum(dim=1, keepdim=True) - rewards) / (k - 1)


def random_batch(seed: int, b: int = 4, k: int = 3, n: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    rewards = torch.rand(b, k, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return rewards, leave_one_out(rewards)


# ---------------------------------------------------------------- linear and Chebyshev


def test_linear_equals_hand_value():
    advantages = torch.tensor([[[0.3, -0.1, 0.2], [-0.3, 0.1, -0.2]]], dtype=torch.float64)
    out = LinearScalarizer([0.5, 0.25, 0.25]).combine(torch.zeros_like(advantages), advantages)
    # 0.5 * 0.3 + 0.25 * (-0.1) + 0.25 * 0.2 = 0.175
    assert out.shape == (1, 2)
    assert out[0].tolist() == pytest.approx([0.175, -0.175], abs=1e-12)


def test_linear_equals_leave_one_out_of_the_scalarized_reward():
    rewards, advantages = random_batch(0)
    w = np.array([0.2, 0.3, 0.5])
    scalar = (rewards @ torch.tensor(w)).unsqueeze(-1)  # (B, k, 1)
    expected = leave_one_out(scalar).squeeze(-1)
    assert torch.allclose(LinearScalarizer(w).combine(rewards, advantages), expected, atol=1e-12)


def test_chebyshev_hand_example():
    # w = (0.5, 0.5), ideal (1, 1): w * (z - r) = (0.1, 0.3), (0.2, 0.2), (0.0, 0.5) -> s = -0.3, -0.2, -0.5
    rewards = torch.tensor([[[0.8, 0.4], [0.6, 0.6], [1.0, 0.0]]], dtype=torch.float64)
    garbage = torch.full_like(rewards, 7.0)  # Chebyshev works on the rewards, not on the advantages
    out = ChebyshevScalarizer([0.5, 0.5]).combine(rewards, garbage)
    # leave-one-out: -0.3 + 0.35, -0.2 + 0.4, -0.5 + 0.25
    assert out[0].tolist() == pytest.approx([0.05, 0.2, -0.25], abs=1e-12)


def test_chebyshev_custom_ideal():
    # ideal (0.9, 0.5): w * (z - r) = (0.05, 0.05), (0.15, -0.05), (-0.05, 0.25) -> s = -0.05, -0.15, -0.25
    rewards = torch.tensor([[[0.8, 0.4], [0.6, 0.6], [1.0, 0.0]]], dtype=torch.float64)
    out = ChebyshevScalarizer([0.5, 0.5], ideal=[0.9, 0.5]).combine(rewards, rewards)
    assert out[0].tolist() == pytest.approx([0.15, 0.0, -0.15], abs=1e-12)


# ---------------------------------------------------------------- PAMA


def test_pama_hand_example_and_weights():
    advantages = torch.tensor([[[0.2, 0.5, 0.1],  # all positive: min 0.1, objective 2 active
                                [0.3, -0.2, 0.4],  # Noon: (0.3, 0, 0.4) -> 0, objective 1 active
                                [-0.1, -0.3, 0.2]]],  # Noon: (0, 0, 0.2) -> 0, objectives 0 and 1 tie
                              dtype=torch.float64)
    pama = PAMAScalarizer()
    out = pama.combine(torch.zeros_like(advantages), advantages)
    assert out[0].tolist() == pytest.approx([0.1, 0.0, 0.0], abs=1e-12)
    # active-minimum fractions: objective 0: (0 + 0 + 1/2) / 3, objective 1: (0 + 1 + 1/2) / 3, objective 2: 1 / 3
    assert pama.weights() == pytest.approx([1 / 6, 1 / 2, 1 / 3], abs=1e-12)
    assert pama.weights().sum() == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(5))
def test_pama_equals_explicit_projection(seed):
    rewards, advantages = random_batch(seed, b=6, k=4, n=3)
    out = PAMAScalarizer(3).combine(rewards, advantages)
    for b in range(6):
        for j in range(4):
            clipped = [max(a, 0.0) for a in advantages[b, j].tolist()]  # Noon
            low, high = min(clipped), max(clipped)
            projection = min(max(0.0, low), high)  # projection of 0 onto [low, high]
            assert out[b, j].item() == pytest.approx(projection, abs=1e-12)
            assert out[b, j].item() == pytest.approx(low, abs=1e-12)
    assert (out >= 0).all()


def test_pama_weights_uniform_before_any_batch():
    assert PAMAScalarizer(4).weights().tolist() == [0.25] * 4


# ---------------------------------------------------------------- MGDA


def test_min_norm_two_hand_value():
    # g1 = (1, 0), g2 = (0, 2): gamma = ((g2 - g1) . g2) / ||g1 - g2||^2 = 4 / 5
    assert min_norm_two(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])) == pytest.approx(0.8)
    assert min_norm_two(torch.tensor([1.0, 0.0]), torch.tensor([3.0, 0.0])) == 1.0  # g1 inside the hull's minimum
    assert min_norm_two(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0])) == 0.5  # g1 == g2


@pytest.mark.parametrize("seed", range(10))
def test_mgda_closed_form_equals_frank_wolfe_for_two_objectives(seed):
    generator = torch.Generator().manual_seed(seed)
    grads = torch.randn(2, 50, generator=generator, dtype=torch.float64)
    if seed % 2:
        grads += 2.0 * torch.randn(1, 50, generator=generator, dtype=torch.float64)  # correlated: interior optimum
    gamma = min_norm_two(grads[0], grads[1])
    for away_steps in (True, False):
        fw = min_norm_frank_wolfe(grads, away_steps=away_steps)
        assert fw.tolist() == pytest.approx([gamma, 1.0 - gamma], abs=1e-6)
    assert min_norm_coefficients(grads).tolist() == pytest.approx([gamma, 1.0 - gamma], abs=1e-12)


def brute_force_simplex(gram: np.ndarray) -> np.ndarray:
    """argmin of c^T M c over a grid of the 3-simplex: step 1/100, then 1/20000 around the best point."""
    def best(c0: np.ndarray, c1: np.ndarray) -> np.ndarray:
        c0, c1 = np.meshgrid(c0, c1, indexing="ij")
        points = np.stack([c0.ravel(), c1.ravel(), 1.0 - c0.ravel() - c1.ravel()], axis=1)
        points = points[(points >= -1e-12).all(axis=1)]
        return points[np.einsum("pi,ij,pj->p", points, gram, points).argmin()]

    coarse = best(np.linspace(0, 1, 101), np.linspace(0, 1, 101))
    fine = [np.clip(np.arange(c - 0.02, c + 0.02 + 1e-9, 5e-5), 0.0, 1.0) for c in coarse[:2]]
    return best(*fine)


@pytest.mark.parametrize("seed", range(6))
def test_mgda_frank_wolfe_equals_grid_search_for_three_objectives(seed):
    generator = torch.Generator().manual_seed(seed)
    grads = torch.randn(3, 8, generator=generator, dtype=torch.float64)
    if seed % 2:
        grads += 1.5 * torch.randn(1, 8, generator=generator, dtype=torch.float64)
    gram = gram_matrix(grads).numpy()
    expected = brute_force_simplex(gram)
    c = min_norm_coefficients(grads)
    assert c.sum().item() == pytest.approx(1.0) and (c >= 0).all()
    assert c.numpy() == pytest.approx(expected, abs=1e-3)
    assert c.numpy() @ gram @ c.numpy() <= expected @ gram @ expected + 1e-12


@pytest.mark.parametrize("n", [2, 3, 4, 6])
def test_mgda_orthogonal_unit_gradients_give_uniform_weights(n):
    q, _ = torch.linalg.qr(torch.randn(20, n, generator=torch.Generator().manual_seed(n), dtype=torch.float64))
    coefficients = min_norm_coefficients(list(q.T))  # n orthonormal gradients
    assert coefficients.tolist() == pytest.approx([1.0 / n] * n, abs=1e-9)


def test_mgda_scalarizer_remembers_coefficients_and_accepts_parameter_shaped_gradients():
    mgda = make_scalarizer("mgda", 2)
    assert mgda.uses_gradients and mgda.weights().tolist() == [0.5, 0.5]
    grads = [torch.tensor([[1.0, 0.0], [0.0, 0.0]]), torch.tensor([[0.0, 2.0], [0.0, 0.0]])]  # (2, 2) "parameters"
    c = mgda.coefficients(grads)
    assert c.dtype == torch.float32 and c.tolist() == pytest.approx([0.8, 0.2])
    assert mgda.weights() == pytest.approx([0.8, 0.2])
    with pytest.raises(TypeError, match=r"combines per-objective gradients, not advantages .*`scalarizer.coefficients\(grads\)`"):
        mgda.combine(*random_batch(0, n=2))


def test_mgda_rejects_bad_gradients():
    with pytest.raises(ValueError, match="`grads` must be finite; gradient"):
        min_norm_coefficients(torch.tensor([[1.0, float("nan")], [0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"must hold gradients of equal size .* got sizes \[3, 2\]"):
        min_norm_coefficients([torch.ones(3), torch.ones(2)])
    with pytest.raises(ValueError, match="`grads` must hold 3 gradients, one per objective; got 2"):
        MGDAScalarizer(3).coefficients([torch.ones(3), torch.ones(3)])


def test_mgda_zero_gradients_are_degenerate_not_nan():
    assert min_norm_coefficients(torch.zeros(3, 5)).tolist() == pytest.approx([1 / 3] * 3)
    assert min_norm_coefficients(torch.zeros(2, 5)).tolist() == [0.5, 0.5]


# ---------------------------------------------------------------- DynaOpt


def run_dynaopt(scalarizer: DynaOptScalarizer, updates: int) -> list[int]:
    """Synthetic validation signal: the mean reward rises with objective 0's weight and with nothing else."""
    arms = []
    for _ in range(updates):
        w = scalarizer.weights()
        scalarizer.update(np.array([0.3 + 0.6 * w[0], 0.5, 0.5]))
        arms.append(scalarizer.last_arm)
    return arms


def test_dynaopt_weights_move_toward_the_objective_that_improves():
    dynaopt = DynaOptScalarizer(3, seed=0, reward_scale=0.01)
    assert dynaopt.weights().tolist() == pytest.approx([1 / 3] * 3)
    run_dynaopt(dynaopt, 60)
    assert dynaopt.weights().argmax() == 0
    assert dynaopt.arm_probabilities().argmax() == 0  # the bandit learnt that arm 0 pays
    assert dynaopt.weights().sum() == pytest.approx(1.0)
    # not a lucky seed: over 20 seeds and 100 validations, objective 0 ends with the largest weight almost always
    finals = []
    for seed in range(20):
        scalarizer = DynaOptScalarizer(3, seed=seed, reward_scale=0.01)
        run_dynaopt(scalarizer, 100)
        finals.append(scalarizer.weights())
    assert sum(w.argmax() == 0 for w in finals) >= 17
    assert np.mean(finals, axis=0)[0] > 0.5


def test_dynaopt_first_update_only_sets_the_baseline():
    dynaopt = DynaOptScalarizer(2, seed=3)
    dynaopt.update(np.array([0.4, 0.6]))
    assert dynaopt.arm_probabilities() == pytest.approx([1 / 3] * 3)  # no arm was rewarded yet
    assert dynaopt.last_mean == pytest.approx(0.5) and dynaopt.n_updates == 1


def test_dynaopt_combine_is_linear_in_the_current_weights():
    dynaopt = DynaOptScalarizer(3, seed=1)
    run_dynaopt(dynaopt, 5)
    rewards, advantages = random_batch(2)
    expected = advantages @ torch.tensor(dynaopt.weights())
    assert torch.allclose(dynaopt.combine(rewards, advantages), expected, atol=1e-12)


def test_dynaopt_state_dict_round_trip_resumes_identically():
    uninterrupted = DynaOptScalarizer(3, seed=7, reward_scale=0.01)
    run_dynaopt(uninterrupted, 10)
    state = json.loads(json.dumps(uninterrupted.state_dict()))  # a JSON checkpoint
    resumed = DynaOptScalarizer(3, seed=999)  # another seed: everything must come from the state
    resumed.load_state_dict(state)
    assert run_dynaopt(resumed, 30) == run_dynaopt(uninterrupted, 30)
    assert resumed.weights().tolist() == uninterrupted.weights().tolist()
    assert resumed.arm_probabilities().tolist() == uninterrupted.arm_probabilities().tolist()


def test_only_dynaopt_adapts_on_validation():
    for name, cls in SCALARIZERS.items():
        assert cls.adapts_on_validation == (name == "dynaopt") == hasattr(cls, "update")
        assert cls.uses_gradients == name.startswith("mgda")


# ---------------------------------------------------------------- registry and state


@pytest.mark.parametrize("name", sorted(SCALARIZERS))
def test_every_scalarizer_builds_combines_and_round_trips(name):
    scalarizer = make_scalarizer(name, 3)
    assert scalarizer.name == name and scalarizer.n_objectives == 3
    rewards, advantages = random_batch(1)
    if scalarizer.uses_gradients:
        rows = len(scalarizer.gradient_rows(advantages))  # 3 objectives, or 2 losses for the anchored variant
        scalarizer.coefficients(torch.randn(rows, 10, generator=torch.Generator().manual_seed(0)))
    else:
        out = scalarizer.combine(rewards, advantages)
        assert out.shape == (4, 3) and out.dtype == advantages.dtype and torch.isfinite(out).all()
    assert scalarizer.weights().shape == (3,) and scalarizer.weights().sum() == pytest.approx(1.0)
    state = json.loads(json.dumps(scalarizer.state_dict()))
    restored = make_scalarizer(name, 3)
    restored.load_state_dict(state)
    assert restored.state_dict() == state
    assert restored.weights().tolist() == pytest.approx(scalarizer.weights().tolist())


def test_load_state_dict_rejects_another_scalarizer():
    with pytest.raises(ValueError, match=r"`state\['name'\]` must be 'pama' to load into PAMAScalarizer; got 'linear'"):
        PAMAScalarizer(3).load_state_dict(make_scalarizer("linear", 3).state_dict())


def test_make_scalarizer_uses_preference():
    assert make_scalarizer("linear", 2).weights().tolist() == [0.5, 0.5]
    assert make_scalarizer("chebyshev", 3, preference=[0.2, 0.3, 0.5]).weights().tolist() == [0.2, 0.3, 0.5]
    dynaopt = make_scalarizer("dynaopt", 2, preference=[0.25, 0.75], seed=4, step=0.2)
    assert dynaopt.weights().tolist() == [0.25, 0.75] and dynaopt.step == 0.2


# ---------------------------------------------------------------- errors

BAD_PREFERENCES = [
    ([0.5, 0.5], "`preference` must have 3 entries, one per objective; got 2"),
    ([1.2, -0.2, 0.0], "`preference` must be non-negative; got [1.2, -0.2, 0.0]"),
    ([0.5, 0.5, 0.5], "`preference` must sum to 1; got [0.5, 0.5, 0.5] (sum 1.5): divide it by its sum"),
    ([float("nan"), 0.5, 0.5], "`preference` must be finite; got [nan, 0.5, 0.5]"),
]


@pytest.mark.parametrize("name", ["linear", "chebyshev", "dynaopt"])
@pytest.mark.parametrize(("preference", "message"), BAD_PREFERENCES)
def test_bad_preference(name, preference, message):
    with pytest.raises(ValueError) as error:
        make_scalarizer(name, 3, preference=preference)
    assert message in str(error.value)


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"name": "chebychev", "n_objectives": 3}, ValueError, "got 'chebychev'. Did you mean 'chebyshev'?"),
    ({"name": "PAMA", "n_objectives": 3}, ValueError, "Did you mean 'pama'?"),
    ({"name": "linear", "n_objectives": 0}, ValueError, "`n_objectives` must be an integer >= 1; got 0"),
    ({"name": "dynaopt", "n_objectives": 3, "gama": 0.1}, TypeError,
     "unknown option(s) ['gama'] for scalarizer 'dynaopt'; it accepts ['gamma', 'step', 'seed', 'reward_scale'] Did you mean 'gamma'?"),
    ({"name": "pama", "n_objectives": 2, "preference": [0.5, 0.5]}, ValueError, "`preference` is not used by 'pama'"),
    ({"name": "dynaopt", "n_objectives": 2, "gamma": 0.0}, ValueError, "`gamma` must be in (0, 1]; got 0.0"),
    ({"name": "dynaopt", "n_objectives": 2, "step": -1}, ValueError, "`step` must be a finite number > 0; got -1"),
    ({"name": "chebyshev", "n_objectives": 2, "ideal": [1.0]}, ValueError, "`ideal` must be 2 finite numbers"),
])
def test_bad_configuration(kwargs, error, message):
    with pytest.raises(error) as raised:
        make_scalarizer(**kwargs)
    assert message in str(raised.value)


def test_chebyshev_needs_two_replies_per_prompt():
    rewards = torch.rand(4, 1, 3)
    with pytest.raises(ValueError, match=r"must hold k >= 2 replies per prompt .* got k=1 \(shape \(4, 1, 3\)\)"):
        make_scalarizer("chebyshev", 3).combine(rewards, rewards)


@pytest.mark.parametrize("name", ["linear", "chebyshev", "dynaopt", "pama"])
def test_bad_batch_shapes(name):
    scalarizer = make_scalarizer(name, 3)
    with pytest.raises(ValueError, match=r"`rewards` and `advantages` must have the same shape \(B, k, n\); "
                                         r"got \(4, 3, 3\) and \(4, 2, 3\)"):
        scalarizer.combine(torch.rand(4, 3, 3), torch.rand(4, 2, 3))
    with pytest.raises(ValueError, match=r"`rewards` must have shape \(B, k, 3\): .* got \(4, 3, 2\)"):
        scalarizer.combine(torch.rand(4, 3, 2), torch.rand(4, 3, 2))
    with pytest.raises(ValueError, match=r"`advantages` must have shape \(B, k, 3\): .* got \(12, 3\)"):
        scalarizer.combine(torch.rand(4, 3, 3), torch.rand(12, 3))
    with pytest.raises(ValueError, match="must be finite; got NaN or inf"):
        scalarizer.combine(torch.rand(4, 3, 3), torch.full((4, 3, 3), float("nan")))


def test_dynaopt_rejects_a_bad_validation_vector():
    with pytest.raises(ValueError, match=r"`validation_rewards` must be 3 finite numbers, .* got \[0.5, 0.5\]"):
        DynaOptScalarizer(3).update(np.array([0.5, 0.5]))


def test_anchored_mgda_rows_and_weights_by_hand():
    from agents.scalarizers import AnchoredMGDAScalarizer

    scalarizer = make_scalarizer("mgda-anchor", 3, preference=[1.0, 0.0, 0.0])
    assert isinstance(scalarizer, AnchoredMGDAScalarizer) and scalarizer.uses_gradients
    advantages = torch.tensor([[[1.0, 2.0, 4.0], [-1.0, 0.0, 2.0]]])  # (B=1, k=2, n=3)
    assert scalarizer.gradient_rows(advantages).tolist() == [[1.0, -1.0], [3.0, 1.0]]  # A_0 and (A_1 + A_2) / 2
    # orthogonal gradients of norms 1 and 2: min ||c g1 + (1 - c) g2||^2 = c^2 + 4 (1 - c)^2 at c = 0.8
    c = scalarizer.coefficients([torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])])
    assert torch.allclose(c, torch.tensor([0.8, 0.2]))
    assert np.allclose(scalarizer.weights(), [0.8, 0.1, 0.1])
    with pytest.raises(ValueError, match="`grads` must hold 2 gradients"):
        scalarizer.coefficients([torch.ones(2)] * 3)
