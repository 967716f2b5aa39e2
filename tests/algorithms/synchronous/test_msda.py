"""MSDA: NumPy replay, Chebyshev gossip, exact linear convergence, acceleration, errors."""

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpy.polynomial import chebyshev as npcheb

import jaxgossip as jg
from jaxgossip import theory
from jaxgossip.algorithms.ops import chebyshev_coefficients, chebyshev_constants, chebyshev_gossip
from jaxgossip.algorithms.synchronous.msda import MSDA
from jaxgossip.engine.rounds import simulate_rounds
from jaxgossip.network.mixing import laplacian_mixing, metropolis_mixing
from tests import measure
from tests.replays_sync import msda as msda_replay

N, DIM = 8, 4
KINDS = ["quadratic", "least_squares", "logistic"]


class _NoConjugate(jg.problems.LogisticRegression):
    """Logistic regression with its conjugate gradient hidden."""

    local_conjugate_grad = None


def _problem(kind, key, n=N, kappa=10.0):
    if kind == "quadratic":
        return jg.problems.quadratic(key, n, DIM, kappa=kappa)
    if kind == "logistic":  # kappa = 14.6
        return jg.problems.logistic_regression(key, n, DIM, 20, reg=0.01)
    features = jax.random.normal(key, (n, 10, DIM))
    targets = jax.random.normal(jax.random.fold_in(key, 1), (n, 10))
    return jg.problems.least_squares(features, targets, reg=0.1)


def _mixing(name, key):
    if name == "ring":
        return laplacian_mixing(jg.graphs.ring(N))
    return metropolis_mixing(jg.graphs.erdos_renyi(key, N, 0.4))


@pytest.mark.parametrize("mixing_name", ["ring", "erdos_renyi"])
@pytest.mark.parametrize("kind", KINDS)
def test_engine_equals_numpy_replay(key, x64, kind, mixing_name):
    problem = _problem(kind, key)
    mixing = _mixing(mixing_name, jax.random.key(5))
    x0 = np.asarray(jax.random.normal(jax.random.key(2), (N, DIM)))
    for steps in (None, 3):  # the paper's K, and one more than it on the ring
        algorithm = MSDA.from_theory(problem, mixing, num_gossip_steps=steps)
        trace = simulate_rounds(
            key, algorithm, problem, mixing, num_rounds=12, num_records=3, x0=x0
        )
        expected = msda_replay.replay(problem, mixing.to_dense(), algorithm, x0, 12)
        for got, want in zip(jax.tree.leaves(trace.final_state), jax.tree.leaves(expected)):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_chebyshev_gossip_is_the_paper_polynomial(key, x64):
    # Scaman et al.: ACCELERATED_GOSSIP applies 1 - T_K(c2 (1 - c3 lambda)) / T_K(c2)
    # to the eigenvalue lambda of W_p = I - W; its nonzero spectrum lies in
    # [(1 - c1^K)^2, (1 + c1^K)^2] / (1 + c1^{2K}), a condition number < 4
    # for K = floor(1 / sqrt(gamma)) instead of 1 / gamma.
    for n in (8, 30):
        mixing = laplacian_mixing(jg.graphs.ring(n))
        cheb = chebyshev_constants(mixing)
        lam, vecs = np.linalg.eigh(np.eye(n) - mixing.to_dense())
        t_k = npcheb.Chebyshev.basis(cheb.num_steps)
        values = 1.0 - t_k(cheb.c2 * (1.0 - cheb.c3 * lam)) / t_k(cheb.c2)
        xs = jax.random.normal(key, (n, DIM))
        got = chebyshev_gossip(mixing, xs, cheb.num_steps)
        np.testing.assert_allclose(got, vecs @ (values[:, None] * (vecs.T @ xs)), atol=1e-12)
        np.testing.assert_allclose(values[0], 0.0, atol=1e-12)  # consensus is a fixed point
        assert cheb.lambda_min - 1e-12 <= values[1:].min()
        assert values[1:].max() <= cheb.lambda_max + 1e-12
        assert cheb.lambda_max / cheb.lambda_min < 4.0
        assert lam[-1] / lam[1] > 6.0  # while the plain gossip has chi = 6.8 (n=8), 92 (n=30)


def test_from_theory_constants(key, x64):
    problem = _problem("quadratic", key)
    mixing = laplacian_mixing(jg.graphs.ring(N))
    algorithm = MSDA.from_theory(problem, mixing)
    # Ring of 8: Laplacian eigenvalues 2 - 2 cos(2 pi k / 8); I - W = L / 4.
    gamma = (2 - 2 * np.cos(2 * np.pi / N)) / 4
    k = int(np.floor(1 / np.sqrt(gamma)))
    c1 = (1 - np.sqrt(gamma)) / (1 + np.sqrt(gamma))
    kappa, alpha = float(problem.L / problem.mu), float(problem.mu)
    assert algorithm.num_gossip_steps == k == 2
    c2, c3 = chebyshev_coefficients(mixing)
    cheb = chebyshev_constants(mixing)
    for got in ((c2, c3), (cheb.c2, cheb.c3)):
        np.testing.assert_allclose(got, [(1 + gamma) / (1 - gamma), 2 / (1 + gamma)], rtol=1e-12)
    np.testing.assert_allclose(
        algorithm.step_size, alpha * (1 + c1 ** (2 * k)) / (1 + c1**k) ** 2, rtol=1e-12
    )
    r = (1 + c1**k) * np.sqrt(kappa)
    np.testing.assert_allclose(algorithm.momentum, (r - 1 + c1**k) / (r + 1 - c1**k), rtol=1e-12)
    assert MSDA.exact and algorithm.message_floats(DIM) == 2 * DIM


@pytest.mark.parametrize("kind", KINDS)
def test_converges_linearly_to_the_exact_optimum(key, x64, kind):
    problem = _problem(kind, key)
    mixing = laplacian_mixing(jg.graphs.ring(N))
    algorithm = MSDA.from_theory(problem, mixing)
    trace = simulate_rounds(key, algorithm, problem, mixing, num_rounds=200, num_records=200)
    measure.assert_exact(trace)
    # Linear at (at least) the rate of Nesterov's method on the dual, whose
    # condition number is kappa_l chi_P: log f(x_bar) - f* falls by
    # sqrt(1 / (kappa_l chi_P)) per round or more until round-off.
    cheb = chebyshev_constants(mixing)
    rate = np.sqrt(cheb.lambda_min / cheb.lambda_max / float(problem.L / problem.mu))
    subopt = np.asarray(trace.suboptimality)
    above = np.flatnonzero(subopt > 1e-13)
    above = above[above > 0]
    assert above.size >= 5, subopt
    slope = np.polyfit(np.asarray(trace.time)[above], np.log(subopt[above]), 1)[0]
    assert slope < -rate, (slope, rate)


def test_round_costs(key, x64):
    mixing = laplacian_mixing(jg.graphs.ring(16))
    problem = _problem("quadratic", key, n=16)
    algorithm = MSDA.from_theory(problem, mixing)
    trace = simulate_rounds(key, algorithm, problem, mixing, num_rounds=10, num_records=2)
    k = algorithm.num_gossip_steps
    assert k == 5
    np.testing.assert_array_equal(trace.num_computations, [0, 5 * 16, 10 * 16])
    np.testing.assert_array_equal(trace.num_communications, [0, 5 * k * 16, 10 * k * 16])
    np.testing.assert_allclose(trace.bytes_sent[-1], 10 * k * 16 * 2 * DIM * 8)


def test_new_hyperparameters_do_not_recompile(key, x64):
    problem = _problem("quadratic", key)
    mixing = laplacian_mixing(jg.graphs.ring(N))
    algorithm = MSDA.from_theory(problem, mixing)
    run = lambda a: simulate_rounds(key, a, problem, mixing, num_rounds=6, num_records=2)  # noqa: E731
    run(algorithm)
    before = simulate_rounds._cache_size()
    run(jax.tree.map(lambda v: 0.9 * v, algorithm))
    assert simulate_rounds._cache_size() == before


def test_gradient_computations_grow_like_sqrt_kappa(key, x64):
    # Optimal in computations: O(sqrt(kappa_l) log(1/eps)) rounds of n dual
    # gradients. Measured (ring of 8, eps = 1e-6 f0): 192, 616, 1952, slope 0.50.
    start = time.perf_counter()
    mixing = laplacian_mixing(jg.graphs.ring(N))
    problems = [_problem("quadratic", key, kappa=kappa) for kappa in measure.KAPPAS]
    computations = measure.rounds_to_reach(
        key,
        MSDA.from_theory,
        [(p, mixing) for p in problems],
        num_rounds=600,
        num_records=600,
        counter="num_computations",
    )
    gap = float(mixing.lambda_2 / mixing.lambda_max)
    predicted = [
        theory.msda(float(p.L / p.mu), gap, N, mixing.graph.num_edges, 1e-6) for p in problems
    ]
    slope = measure.loglog_slope(measure.KAPPAS, computations)
    assert slope <= 0.65, (computations, slope)
    # Within one constant factor of Scaman et al.'s Theorem 4 across kappa (measured 0.55-0.56).
    ratios = np.array(computations) / np.array([p.computations for p in predicted])
    print("MSDA gradients", computations, "measured / predicted", ratios)
    assert ratios.max() / ratios.min() < 3.0, ratios
    assert time.perf_counter() - start < 60


def test_communication_rounds_grow_like_inverse_sqrt_gap(key, x64):
    # Scaman et al.: O(sqrt(kappa_l) log(1/eps)) rounds of K ~ 1/sqrt(gamma) gossip
    # steps. Rings of n nodes have gamma ~ 1/n^2. Measured (eps = 1e-6 f0,
    # n = 8, 16, 32, 64): 48, 90, 160, 340 gossip steps, slope 0.47.
    start = time.perf_counter()
    inverse_gaps, gossip_steps = measure.gossip_steps_on_rings(
        key, MSDA, lambda n: _problem("quadratic", key, n=n)
    )
    slope = measure.loglog_slope(inverse_gaps, gossip_steps)
    assert 0.35 <= slope <= 0.65, (gossip_steps, slope)
    assert time.perf_counter() - start < 60


def test_rejects_problems_without_conjugate_gradients(key):
    logistic = jg.problems.logistic_regression(key, N, DIM, 20, reg=0.1)
    fields = {f.name: getattr(logistic, f.name) for f in dataclasses.fields(logistic)}
    problem = _NoConjugate(**fields)
    mixing = laplacian_mixing(jg.graphs.ring(N))
    with pytest.raises(TypeError, match="local_conjugate_grad"):
        MSDA.from_theory(problem, mixing)
    algorithm = MSDA(step_size=0.1, momentum=0.5, num_gossip_steps=2)
    with pytest.raises(TypeError, match="_NoConjugate has no"):
        simulate_rounds(key, algorithm, problem, mixing, num_rounds=2, num_records=1)


def test_rejects_bad_gossip_steps(key):
    problem = _problem("quadratic", key)
    mixing = laplacian_mixing(jg.graphs.ring(N))
    with pytest.raises(ValueError, match="num_gossip_steps"):
        MSDA.from_theory(problem, mixing, num_gossip_steps=0)
    with pytest.raises(TypeError, match="num_gossip_steps"):
        MSDA.from_theory(problem, mixing, num_gossip_steps=2.5)


def test_complete_graph_needs_one_gossip_step(key, x64):
    # gamma = 1: K = 1 and the accelerated gossip is the exact projection c3 W_p.
    mixing = laplacian_mixing(jg.graphs.complete(N))
    problem = _problem("quadratic", key)
    algorithm = MSDA.from_theory(problem, mixing)
    assert algorithm.num_gossip_steps == 1
    xs = jax.random.normal(key, (N, DIM))
    got = chebyshev_gossip(mixing, xs, 1)
    np.testing.assert_allclose(got, xs - jnp.mean(xs, axis=0), atol=1e-12)
    trace = simulate_rounds(key, algorithm, problem, mixing, num_rounds=100, num_records=1)
    assert float(trace.suboptimality[-1]) < 1e-10
