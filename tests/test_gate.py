"""The contextual-bandit gate: lattice, features, LinUCB updates and its regret on synthetic contextual bandits
where the best mixture depends on the context and on the preference."""

from __future__ import annotations

import numpy as np
import pytest

from agents.gate import ContextProjection, LinUCBGate, SharedLinUCBGate, gate_features, run_bandit
from morl_core.simplex import simplex_lattice


def test_lattice_counts_and_rows():
    lattice = simplex_lattice(3, 4)
    assert lattice.shape == (15, 3) and np.allclose(lattice.sum(axis=1), 1.0)
    assert {tuple(r) for r in lattice} >= {(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (0.5, 0.25, 0.25)}


def test_features_are_the_kronecker_product_of_preference_and_context():
    phi = gate_features([[2.0, 3.0]], [[0.25, 0.75]])
    assert phi.tolist() == [[0.25, 0.5, 0.75, 0.75, 1.5, 2.25]]


def test_linucb_recovers_a_linear_reward_exactly_without_noise():
    rng = np.random.default_rng(0)
    theta = np.array([[1.0, -2.0, 0.5], [0.0, 1.0, 1.0]])
    gate = LinUCBGate(2, 3, alpha=0.0, ridge=1e-6)
    x = rng.standard_normal((50, 3))
    for arm in (0, 1):
        gate.update(x, [arm] * 50, x @ theta[arm])
    assert np.allclose(gate.theta, theta, atol=1e-4)
    assert gate.select(np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]]), explore=False).tolist() == [0, 1]


def _synthetic(rounds: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two clusters of 6-d contexts; 3 experts, lattice arms; objective i of a mixture m is m_i times a
    context-dependent quality of expert i: expert 0 is good on cluster +1, expert 1 on cluster -1, expert 2 is
    middling everywhere. Preferences are drawn from the 2-objective-heavy corners, so the best arm depends on the
    context and on the preference."""
    rng = np.random.default_rng(seed)
    arms = simplex_lattice(3, 4)
    side = rng.choice([-1.0, 1.0], size=rounds)  # (T,)
    contexts = side[:, None] * np.ones(6) / np.sqrt(6) + 0.3 * rng.standard_normal((rounds, 6))
    quality = np.stack([0.5 + 0.45 * side, 0.5 - 0.45 * side, np.full(rounds, 0.55)], axis=1)  # (T, 3)
    table = arms[None, :, :] * quality[:, None, :] + 0.02 * rng.standard_normal((rounds, len(arms), 3))  # (T, K, 3)
    prefs = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0], [1 / 3, 1 / 3, 1 / 3]])[rng.integers(0, 3, rounds)]
    return contexts, prefs, table, arms


def test_gate_beats_the_best_fixed_mixture_where_the_best_mixture_depends_on_the_context():
    contexts, prefs, table, arms = _synthetic(1500, seed=0)
    phi = gate_features(contexts, prefs)
    report = run_bandit(LinUCBGate(len(arms), phi.shape[1], alpha=0.5), phi, table, prefs, batch_size=8)
    assert report.gate_reward > report.best_fixed_reward + 0.1  # the context matters: no fixed mixture is close
    assert report.gate_reward > report.best_per_preference_reward  # ... and the preference alone is not enough
    assert report.regret < 0 and report.gate_reward <= report.oracle_reward
    late = np.diff(report.regret_curve[-500:]).mean()
    assert late < np.diff(report.regret_curve[:100]).mean()  # it learned: regret grows slower (falls) later


def test_shared_gate_learns_faster_than_one_model_per_arm():
    contexts, prefs, table, arms = _synthetic(300, seed=2)  # few rounds: 15 disjoint models cannot all learn
    phi = gate_features(contexts, prefs)
    disjoint = run_bandit(LinUCBGate(len(arms), phi.shape[1], alpha=0.5), phi, table, prefs, batch_size=8)
    shared_gate = SharedLinUCBGate(arms, phi.shape[1], alpha=0.5)
    shared = run_bandit(shared_gate, phi, table, prefs, batch_size=8)
    assert shared.gate_reward > disjoint.gate_reward and shared.gate_reward > shared.best_fixed_reward + 0.1
    assert shared_gate.counts.sum() == 300 and shared_gate.a_inv.shape == (1, 21 * 6, 21 * 6)  # (w (x) [1, x]) (x) q(m)


def test_state_dict_round_trip_continues_identically():
    contexts, prefs, table, arms = _synthetic(200, seed=1)
    phi = gate_features(contexts, prefs)
    first = LinUCBGate(len(arms), phi.shape[1])
    run_bandit(first, phi[:100], table[:100], prefs[:100])
    second = LinUCBGate(len(arms), phi.shape[1])
    second.load_state_dict(first.state_dict())
    assert np.array_equal(first.select(phi[100:]), second.select(phi[100:]))


def test_projection_is_seeded_and_checks_its_input():
    e = np.random.default_rng(0).standard_normal((4, 384))
    assert np.array_equal(ContextProjection(384, 8, seed=3)(e), ContextProjection(384, 8, seed=3)(e))
    with pytest.raises(ValueError, match=r"`embeddings` must have shape \(B, 384\); got \(4, 10\)"):
        ContextProjection(384)(np.zeros((4, 10)))


@pytest.mark.parametrize(("call", "message"), [
    (lambda: simplex_lattice(0, 4), "`n` must be an integer >= 1; got 0"),
    (lambda: LinUCBGate(3, 4, alpha=-1.0), "`alpha` must be >= 0 and `ridge` > 0, both finite; got -1.0 and 1.0"),
    (lambda: LinUCBGate(3, 4).update(np.zeros((1, 4)), [5], [0.0]), "`arms` must lie in [0, 3)"),
    (lambda: LinUCBGate(3, 4).select(np.zeros((1, 5))), "`features` must be finite with shape (B, 4); got shape"),
    (lambda: gate_features(np.zeros((2, 3)), np.zeros((3, 2))), "one row per round; got shapes (2, 3) and (3, 2)"),
])
def test_bad_input(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value)
