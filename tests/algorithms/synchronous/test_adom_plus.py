"""ADOM+: NumPy replay, exact linear convergence, multi-consensus, sqrt(kappa) scaling."""

import time

import jax
import numpy as np
import pytest

import jaxgossip as jg
from jaxgossip.algorithms.synchronous.adom_plus import ADOMPlus, ADOMPlusMultiConsensus
from jaxgossip.engine.rounds import simulate_rounds
from jaxgossip.network.mixing import laplacian_mixing, metropolis_mixing
from tests import measure
from tests.replays_sync import adom_plus as adom_replay

N, DIM = 8, 4

VARIANTS = {
    "plain": lambda p, m: ADOMPlus.from_theory(p, m),
    "plain_3_steps": lambda p, m: ADOMPlus.from_theory(p, m, num_gossip_steps=3),
    "chebyshev": lambda p, m: ADOMPlusMultiConsensus.from_theory(p, m),
}


def _problem(kind, key, n=N, kappa=10.0):
    if kind == "quadratic":
        return jg.problems.quadratic(key, n, DIM, kappa=kappa)
    return jg.problems.logistic_regression(key, n, DIM, 20, reg=0.1)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("kind", ["quadratic", "logistic"])
def test_engine_equals_numpy_replay(key, x64, kind, variant):
    problem = _problem(kind, key)
    mixing = metropolis_mixing(jg.graphs.erdos_renyi(jax.random.key(5), N, 0.4))
    algorithm = VARIANTS[variant](problem, mixing)
    x0 = np.asarray(jax.random.normal(jax.random.key(2), (N, DIM)))
    trace = simulate_rounds(key, algorithm, problem, mixing, num_rounds=40, num_records=2, x0=x0)
    expected = adom_replay.replay(problem, mixing.to_dense(), algorithm, x0, 40)
    for got, want in zip(jax.tree.leaves(trace.final_state), jax.tree.leaves(expected)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_from_theory_constants(key, x64):
    problem = _problem("quadratic", key, kappa=100.0)
    mixing = laplacian_mixing(jg.graphs.ring(N))
    algorithm = ADOMPlus.from_theory(problem, mixing)
    smoothness, mu = float(problem.L), float(problem.mu)
    chi = float(mixing.lambda_max / mixing.lambda_2)
    tau2, sigma2 = np.sqrt(mu / smoothness), np.sqrt(mu / smoothness) / (16 * chi)
    expected = dict(
        tau1=1 / (1 / tau2 + 0.5),
        tau2=tau2,
        sigma1=1 / (1 / sigma2 + 0.5),
        sigma2=sigma2,
        eta=1 / (smoothness * tau2),
        theta=mu / 2 / (4 * sigma2),
        alpha=mu / 2,
        beta=1 / (2 * smoothness),
        gamma=mu / 2 / (14 * sigma2 * chi**2),
        delta=1 / (17 * smoothness),
        nu=mu / 2,
        zeta=0.5,
    )
    for name, value in expected.items():
        np.testing.assert_allclose(getattr(algorithm, name), value, rtol=1e-10, err_msg=name)
    assert algorithm.num_gossip_steps == 1 and not algorithm.chebyshev
    # Plain multi-consensus: K = ceil(chi) steps give chi_K = 1 / (1 - (1 - 1/chi)^K) < e/(e-1).
    multi = ADOMPlusMultiConsensus.from_theory(problem, mixing, chebyshev=False)
    assert multi.num_gossip_steps == int(np.ceil(chi)) == 7
    chi_k = 1 / (1 - (1 - 1 / chi) ** 7)
    np.testing.assert_allclose(multi.sigma2, tau2 / (16 * chi_k), rtol=1e-10)
    assert chi_k < np.e / (np.e - 1)
    cheb = ADOMPlusMultiConsensus.from_theory(problem, mixing)
    assert cheb.chebyshev and cheb.num_gossip_steps == 2
    assert ADOMPlus.exact and algorithm.message_floats(DIM) == 4 * DIM


@pytest.mark.parametrize("variant", ["plain", "chebyshev"])
@pytest.mark.parametrize("kind", ["quadratic", "logistic"])
def test_converges_linearly_to_the_exact_optimum(key, x64, kind, variant):
    problem = _problem(kind, key)
    mixing = laplacian_mixing(jg.graphs.ring(N))
    algorithm = VARIANTS[variant](problem, mixing)
    num_rounds = 6000 if variant == "plain" else 2000
    trace = simulate_rounds(key, algorithm, problem, mixing, num_rounds=num_rounds, num_records=200)
    measure.assert_exact(trace)
    measure.assert_linear(trace)
    # z and z_f stay in L^perp (rows sum to zero), as the method requires.
    for leaf in (trace.final_state.z, trace.final_state.z_f):
        np.testing.assert_allclose(np.sum(leaf, axis=0), 0.0, atol=1e-9)


def test_round_costs(key, x64):
    mixing = laplacian_mixing(jg.graphs.ring(16))
    problem = _problem("quadratic", key, n=16)
    for algorithm, k in (
        (ADOMPlus.from_theory(problem, mixing), 1),
        (ADOMPlusMultiConsensus.from_theory(problem, mixing), 5),
    ):
        assert algorithm.num_gossip_steps == k
        trace = simulate_rounds(key, algorithm, problem, mixing, num_rounds=10, num_records=2)
        np.testing.assert_array_equal(trace.num_computations, [0, 5 * 16, 10 * 16])
        np.testing.assert_array_equal(trace.num_communications, [0, 5 * k * 16, 10 * k * 16])
        np.testing.assert_allclose(trace.bytes_sent[-1], 10 * k * 16 * 4 * DIM * 8)


def test_new_hyperparameters_do_not_recompile(key, x64):
    problem = _problem("logistic", key)
    mixing = laplacian_mixing(jg.graphs.ring(N))
    algorithm = ADOMPlus.from_theory(problem, mixing)
    run = lambda a: simulate_rounds(key, a, problem, mixing, num_rounds=6, num_records=2)  # noqa: E731
    run(algorithm)
    before = simulate_rounds._cache_size()
    run(jax.tree.map(lambda v: 0.9 * v, algorithm))
    assert simulate_rounds._cache_size() == before


@pytest.mark.parametrize("variant", ["plain", "chebyshev"])
def test_gradient_computations_grow_like_sqrt_kappa(key, x64, variant):
    # O(chi sqrt(kappa) log(1/eps)) rounds of n gradients, chi fixed by the ring
    # of 8. Measured (eps = 1e-6 f0, records every 10 rounds): plain 9040, 22160,
    # 65440 computations, slope 0.43; Chebyshev 2720, 6880, 21200, slope 0.45.
    start = time.perf_counter()
    mixing = laplacian_mixing(jg.graphs.ring(N))
    computations = measure.rounds_to_reach(
        key,
        VARIANTS[variant],
        [(_problem("quadratic", key, kappa=k), mixing) for k in measure.KAPPAS],
        num_rounds=20_000,
        num_records=2000,
        counter="num_computations",
    )
    slope = measure.loglog_slope(measure.KAPPAS, computations)
    assert slope <= 0.65, (computations, slope)
    assert time.perf_counter() - start < 60


def test_multi_consensus_removes_the_graph_from_the_computations(key, x64):
    # Multi-consensus makes chi = O(1): the gradient computations no longer grow
    # with the graph's condition number (chi = 105 on a ring of 32). Measured
    # (eps = 1e-6 f0): 809600 computations with one gossip step, 12800 with
    # 10 Chebyshev steps or with 105 plain steps per round.
    n = 32
    mixing = laplacian_mixing(jg.graphs.ring(n))
    problem = _problem("quadratic", key, n=n, kappa=100.0)
    single, chebyshev = (
        measure.rounds_to_reach(
            key,
            cls.from_theory,
            [(problem, mixing)],
            num_rounds=40_000,
            num_records=400,
            counter="num_computations",
        )[0]
        for cls in (ADOMPlus, ADOMPlusMultiConsensus)
    )
    assert chebyshev * 20 < single, (single, chebyshev)
