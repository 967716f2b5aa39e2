"""Continuized accelerated dual gossip: replay, conjugates, linear convergence, errors."""

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgossip as jg
from jaxgossip.algorithms.asynchronous.continuized_dual import ContinuizedDualGossip
from tests.replays import continuized_dual as dual_replay

N, DIM = 8, 4


KINDS = ["quadratic", "least_squares", "logistic"]


class _NoConjugate(jg.problems.LogisticRegression):
    """Logistic regression with its conjugate gradient hidden."""

    local_conjugate_grad = None


def _problem(kind, key):
    if kind == "quadratic":
        return jg.problems.quadratic(key, N, DIM, kappa=10.0)
    if kind == "logistic":  # kappa = 14.6: slow enough for a measured slope
        return jg.problems.logistic_regression(key, N, DIM, 20, reg=0.01)
    features = jax.random.normal(key, (N, 10, DIM))
    targets = jax.random.normal(jax.random.fold_in(key, 1), (N, 10))
    return jg.problems.least_squares(features, targets, reg=0.1)


@pytest.mark.parametrize("kind", KINDS)
def test_local_conjugate_grad_inverts_the_local_gradient(key, x64, kind):
    problem = _problem(kind, key)
    ys = jax.random.normal(jax.random.key(1), (N, DIM))
    nodes = jnp.arange(N)
    xs = jax.vmap(problem.local_conjugate_grad)(ys, nodes)
    back = jax.vmap(lambda x, i: problem.local_grad(key, x, i))(xs, nodes)
    np.testing.assert_allclose(back, ys, rtol=1e-10, atol=1e-10)
    # At y_i = grad f_i(x*) every node recovers x*.
    at_optimum = jax.vmap(lambda i: problem.local_grad(key, problem.x_star, i))(nodes)
    np.testing.assert_allclose(
        jax.vmap(problem.local_conjugate_grad)(at_optimum, nodes),
        jnp.broadcast_to(problem.x_star, (N, DIM)),
        rtol=1e-10,
        atol=1e-10,
    )


@pytest.mark.parametrize("kind", KINDS)
def test_engine_equals_numpy_replay(key, x64, kind):
    problem = _problem(kind, key)
    clocks = jg.Clocks(jg.graphs.ring(N), compute_rate=1.0, comm_rate=np.linspace(0.5, 2.0, N))
    algorithm = ContinuizedDualGossip.from_theory(problem, clocks)
    events = jg.sample_events(jax.random.key(3), clocks, 1500)
    x0 = np.asarray(jax.random.normal(jax.random.key(2), (N, DIM)))
    trace = jg.simulate(
        key, algorithm, problem, clocks, num_events=1500, num_records=3, x0=x0, events=events
    )
    expected = dual_replay.replay(events, problem, algorithm, x0)
    for got, want in zip(jax.tree.leaves(trace.final_state), jax.tree.leaves(expected)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("graph_name", ["ring", "complete"])
@pytest.mark.parametrize("kind", KINDS)
def test_converges_linearly_to_the_exact_optimum(key, x64, kind, graph_name):
    start = time.perf_counter()
    problem = _problem(kind, key)
    graph = jg.graphs.ring(N) if graph_name == "ring" else jg.graphs.complete(N)
    clocks = jg.Clocks(graph, compute_rate=0.0, comm_rate=1.0)
    algorithm = ContinuizedDualGossip.from_theory(problem, clocks)
    trace = jg.simulate(key, algorithm, problem, clocks, num_events=4000, num_records=100)
    subopt = np.asarray(trace.suboptimality)
    assert subopt[-1] < 1e-10, subopt
    assert np.asarray(trace.mean_suboptimality)[-1] < 1e-10
    # Linear: log f(x_bar) - f* falls at least at the guaranteed rate eta (the
    # dual gap bound exp(-eta t)) until it reaches round-off.
    above = subopt > 1e-13
    assert np.sum(above) >= 4, subopt
    slope = np.polyfit(np.asarray(trace.time)[above], np.log(subopt[above]), 1)[0]
    assert slope < -float(algorithm.eta), (slope, float(algorithm.eta))
    assert time.perf_counter() - start < 60


def test_rejects_problems_without_conjugate_gradients(key):
    logistic = jg.problems.logistic_regression(key, N, DIM, 20, reg=0.1)
    fields = {f.name: getattr(logistic, f.name) for f in dataclasses.fields(logistic)}
    problem = _NoConjugate(**fields)
    clocks = jg.Clocks(jg.graphs.ring(N))
    with pytest.raises(TypeError, match="local_conjugate_grad"):
        ContinuizedDualGossip.from_theory(problem, clocks)
    with pytest.raises(TypeError, match="_NoConjugate has no"):
        ContinuizedDualGossip(problem, clocks.graph, step_size=0.1, momentum_step=0.1, eta=0.1)


def test_from_theory_constants(key, x64):
    problem = _problem("quadratic", key)
    r = 0.7
    clocks = jg.Clocks(jg.graphs.ring(N), compute_rate=1.0, comm_rate=r)
    algorithm = ContinuizedDualGossip.from_theory(problem, clocks)
    chi1 = 1 / (2 * r * (1 - np.cos(2 * np.pi / N)))
    chi2 = 0.5 * (N - 1) / (N * r)
    mu, L = float(problem.mu), float(problem.L)
    eta = 0.5 * np.sqrt(mu / L) / np.sqrt(chi1 * chi2)
    np.testing.assert_allclose(algorithm.eta, eta, rtol=1e-10)
    np.testing.assert_allclose(algorithm.step_size, mu / 2, rtol=1e-12)
    np.testing.assert_allclose(algorithm.momentum_step, eta * L * chi1, rtol=1e-10)
    assert ContinuizedDualGossip.exact and algorithm.message_floats(DIM) == 2 * DIM


def test_acceleration_beats_the_plain_dual_coordinate_method(key, x64):
    # Same dual steps without the continuized momentum (eta = gamma' = 0) is the
    # plain randomized coordinate dual method; on an ill-conditioned ring the
    # momentum must win by orders of magnitude (measured 4e-10 vs 0.27 at t ~ 750).
    n = 32
    problem = jg.problems.quadratic(key, n, DIM, kappa=100.0)
    clocks = jg.Clocks(jg.graphs.ring(n), compute_rate=0.0, comm_rate=1.0)
    accelerated = ContinuizedDualGossip.from_theory(problem, clocks)
    plain = ContinuizedDualGossip(problem, clocks.graph, accelerated.step_size, 0.0, 0.0)
    run = lambda a: jg.simulate(key, a, problem, clocks, num_events=24_000, num_records=4)  # noqa: E731
    fast, slow = run(accelerated).suboptimality[-1], run(plain).suboptimality[-1]
    assert fast < 1e-6 * slow, (fast, slow)
