"""OPAPC: NumPy replay, exact linear convergence (quadratic, logistic), optimal scalings."""

import time

import jax
import numpy as np
import pytest

import jaxgossip as jg
from jaxgossip.algorithms.ops import chebyshev_constants
from jaxgossip.algorithms.synchronous.opapc import OPAPC
from jaxgossip.engine.rounds import simulate_rounds
from jaxgossip.network.mixing import laplacian_mixing, metropolis_mixing
from tests import measure
from tests.replays_sync import opapc as opapc_replay

N, DIM = 8, 4


def _problem(kind, key, n=N, kappa=10.0):
    if kind == "quadratic":
        return jg.problems.quadratic(key, n, DIM, kappa=kappa)
    return jg.problems.logistic_regression(key, n, DIM, 20, reg=0.1)


@pytest.mark.parametrize("steps", [None, 1])
@pytest.mark.parametrize("kind", ["quadratic", "logistic"])
def test_engine_equals_numpy_replay(key, x64, kind, steps):
    problem = _problem(kind, key)
    for mixing in (
        laplacian_mixing(jg.graphs.ring(N)),
        metropolis_mixing(jg.graphs.erdos_renyi(jax.random.key(5), N, 0.4)),
    ):
        algorithm = OPAPC.from_theory(problem, mixing, num_gossip_steps=steps)
        x0 = np.asarray(jax.random.normal(jax.random.key(2), (N, DIM)))
        trace = simulate_rounds(
            key, algorithm, problem, mixing, num_rounds=20, num_records=2, x0=x0
        )
        expected = opapc_replay.replay(problem, mixing.to_dense(), algorithm, x0, 20)
        for got, want in zip(jax.tree.leaves(trace.final_state), jax.tree.leaves(expected)):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_from_theory_constants(key, x64):
    problem = _problem("quadratic", key, kappa=100.0)
    mixing = laplacian_mixing(jg.graphs.ring(N))
    algorithm = OPAPC.from_theory(problem, mixing)
    cheb = chebyshev_constants(mixing)
    chi_p = cheb.lambda_max / cheb.lambda_min
    smoothness, mu = float(problem.L), float(problem.mu)
    tau = 0.5 * np.sqrt(chi_p * mu / smoothness)
    assert algorithm.num_gossip_steps == cheb.num_steps == 2  # floor(sqrt(chi)), chi = 6.8
    np.testing.assert_allclose(algorithm.tau, tau, rtol=1e-12)
    np.testing.assert_allclose(algorithm.step_size, 1 / (4 * tau * smoothness), rtol=1e-12)
    np.testing.assert_allclose(
        algorithm.dual_step, 4 * tau * smoothness / cheb.lambda_max, rtol=1e-12
    )
    np.testing.assert_allclose(algorithm.alpha, mu, rtol=1e-12)
    # tau saturates at 1 when chi_P > 4 kappa (K = 1: chi_P = chi = 6.8, kappa = 1).
    apapc = OPAPC.from_theory(_problem("quadratic", key, kappa=1.0), mixing, num_gossip_steps=1)
    assert float(apapc.tau) == 1.0
    assert OPAPC.exact and algorithm.message_floats(DIM) == 2 * DIM


@pytest.mark.parametrize("kind", ["quadratic", "logistic"])
def test_converges_linearly_to_the_exact_optimum(key, x64, kind):
    problem = _problem(kind, key)
    mixing = laplacian_mixing(jg.graphs.ring(N))
    algorithm = OPAPC.from_theory(problem, mixing)
    trace = simulate_rounds(key, algorithm, problem, mixing, num_rounds=300, num_records=150)
    measure.assert_exact(trace)
    measure.assert_linear(trace)
    # The dual stays in the range of the gossip operator: its rows sum to zero.
    np.testing.assert_allclose(np.sum(trace.final_state.y, axis=0), 0.0, atol=1e-10)


def test_round_costs(key, x64):
    mixing = laplacian_mixing(jg.graphs.ring(16))
    problem = _problem("quadratic", key, n=16)
    algorithm = OPAPC.from_theory(problem, mixing)
    trace = simulate_rounds(key, algorithm, problem, mixing, num_rounds=10, num_records=2)
    k = algorithm.num_gossip_steps
    assert k == 5
    np.testing.assert_array_equal(trace.num_computations, [0, 5 * 16, 10 * 16])
    np.testing.assert_array_equal(trace.num_communications, [0, 5 * k * 16, 10 * k * 16])


def test_new_hyperparameters_do_not_recompile(key, x64):
    problem = _problem("logistic", key)
    mixing = laplacian_mixing(jg.graphs.ring(N))
    algorithm = OPAPC.from_theory(problem, mixing)
    run = lambda a: simulate_rounds(key, a, problem, mixing, num_rounds=6, num_records=2)  # noqa: E731
    run(algorithm)
    before = simulate_rounds._cache_size()
    run(jax.tree.map(lambda v: 0.9 * v, algorithm))
    assert simulate_rounds._cache_size() == before


def test_gradient_computations_grow_like_sqrt_kappa(key, x64):
    # Optimal in computations: O(sqrt(kappa) log(1/eps)) rounds. Measured (ring
    # of 8, eps = 1e-6 f0): 264, 464, 1112 computations, slope 0.31 (tau = 1 /
    # saturated at kappa = 10 flattens the small-kappa end).
    start = time.perf_counter()
    mixing = laplacian_mixing(jg.graphs.ring(N))
    computations = measure.rounds_to_reach(
        key,
        OPAPC.from_theory,
        [(_problem("quadratic", key, kappa=k), mixing) for k in measure.KAPPAS],
        num_rounds=600,
        num_records=600,
        counter="num_computations",
    )
    slope = measure.loglog_slope(measure.KAPPAS, computations)
    assert slope <= 0.65, (computations, slope)
    assert time.perf_counter() - start < 60


def test_communication_rounds_grow_like_inverse_sqrt_gap(key, x64):
    # O(sqrt(kappa) log(1/eps)) rounds of K ~ 1/sqrt(gap) gossip steps. Measured
    # (eps = 1e-6 f0, rings n = 8, 16, 32, 64): 66, 155, 320, 620 gossip steps,
    # slope 0.54.
    start = time.perf_counter()
    inverse_gaps, gossip_steps = measure.gossip_steps_on_rings(
        key, OPAPC, lambda n: _problem("quadratic", key, n=n)
    )
    slope = measure.loglog_slope(inverse_gaps, gossip_steps)
    assert 0.35 <= slope <= 0.65, (gossip_steps, slope)
    assert time.perf_counter() - start < 60
