"""D-SGD / D-PSGD (Lian et al., NeurIPS 2017) on the synchronous engine."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgossip as jg
from jaxgossip.algorithms.synchronous import DSGD
from jaxgossip.engine.rounds import round_key, simulate_rounds
from jaxgossip.network.mixing import laplacian_mixing, metropolis_mixing
from tests import reference
from tests.replays_sync import dsgd as replay_dsgd

NUM_NODES, DIM = 8, 4


def _problem(kind, key):
    if kind == "quadratic":
        return jg.problems.quadratic(key, NUM_NODES, DIM, kappa=10.0, heterogeneity=1.0)
    return jg.problems.logistic_regression(key, NUM_NODES, DIM, 20, reg=0.1)


@pytest.mark.parametrize("mixing_kind", ["metropolis", "laplacian"])
@pytest.mark.parametrize("kind", ["quadratic", "logistic"])
def test_engine_equals_numpy_replay(key, x64, kind, mixing_kind):
    problem = _problem(kind, key)
    graph = jg.graphs.erdos_renyi(jax.random.key(1), NUM_NODES, 0.4)
    mixing = metropolis_mixing(graph) if mixing_kind == "metropolis" else laplacian_mixing(graph)
    algorithm = DSGD.from_theory(problem, mixing)
    x0 = np.asarray(jax.random.normal(jax.random.key(2), (NUM_NODES, DIM)))
    trace = simulate_rounds(key, algorithm, problem, mixing, num_rounds=40, num_records=4, x0=x0)
    expected = replay_dsgd.replay(problem, mixing.to_dense(), algorithm, x0, 40)
    np.testing.assert_allclose(trace.final_state, expected, rtol=1e-10, atol=1e-10)


def test_stochastic_engine_equals_numpy_replay_with_the_same_draws(key, x64):
    # Node i's minibatch in round r is drawn with fold_in(round_key(key, r), i)
    # (jaxgossip.synchronous.Oracle), as b uniform indices with replacement
    # (SampledProblem); the same draws are handed to the replay.
    batch, num_rounds = 4, 25
    problem = jg.problems.logistic_regression(key, NUM_NODES, DIM, 20, reg=0.1, batch_size=batch)
    mixing = metropolis_mixing(jg.graphs.ring(NUM_NODES))
    algorithm = DSGD(step_size=0.3)
    run_key = jax.random.key(9)
    x0 = np.asarray(jax.random.normal(jax.random.key(2), (NUM_NODES, DIM)))
    trace = simulate_rounds(
        run_key, algorithm, problem, mixing, num_rounds=num_rounds, num_records=5, x0=x0
    )

    def draws(r, i):
        node_key = jax.random.fold_in(round_key(run_key, r), i)
        return jax.random.randint(node_key, (batch,), 0, problem.num_samples)

    rng_draws = np.asarray(
        jax.vmap(lambda r: jax.vmap(lambda i: draws(r, i))(jnp.arange(NUM_NODES)))(
            jnp.arange(num_rounds)
        )
    )  # (num_rounds, n, batch)
    expected = replay_dsgd.replay(problem, mixing.to_dense(), algorithm, x0, num_rounds, rng_draws)
    np.testing.assert_allclose(trace.final_state, expected, rtol=1e-10, atol=1e-10)
    # The draws matter: full gradients give another trajectory.
    full = replay_dsgd.replay(problem, mixing.to_dense(), algorithm, x0, num_rounds)
    assert np.max(np.abs(full - expected)) > 1e-3


def test_gradient_is_taken_before_mixing(key, x64):
    problem = _problem("quadratic", key)
    mixing = metropolis_mixing(jg.graphs.star(NUM_NODES))
    x0 = np.asarray(jax.random.normal(jax.random.key(2), (NUM_NODES, DIM)))
    trace = simulate_rounds(
        key, DSGD(step_size=0.05), problem, mixing, num_rounds=1, num_records=1, x0=x0
    )
    gradient = reference.gradient_of(problem)
    grads = np.stack([gradient(i, x0[i]) for i in range(NUM_NODES)])
    expected = mixing.to_dense() @ x0 - 0.05 * grads  # x^1 = W x^0 - gamma grad F(x^0)
    np.testing.assert_allclose(trace.final_state, expected, rtol=1e-12, atol=1e-12)


def test_from_theory_and_flags(key):
    problem = _problem("quadratic", key)
    algorithm = DSGD.from_theory(problem, metropolis_mixing(jg.graphs.ring(NUM_NODES)))
    np.testing.assert_allclose(algorithm.step_size, 0.5 / problem.L, rtol=1e-6)
    assert DSGD.exact is False
    assert algorithm.message_floats(DIM) == 2 * DIM


@pytest.mark.parametrize("kind", ["quadratic", "logistic"])
def test_neighbourhood_shrinks_with_the_step_size(key, x64, kind):
    # Heterogeneous local functions: constant-step D-SGD stalls at a point
    # whose distance to x* shrinks with gamma (theory: O(gamma^2) for f(x_bar) - f*).
    problem = _problem(kind, key)
    mixing = metropolis_mixing(jg.graphs.ring(NUM_NODES))
    factors = jnp.array([1.0, 0.25, 0.0625])  # multiples of from_theory's 1 / (2 L)
    base = DSGD.from_theory(problem, mixing)
    traces = jax.vmap(
        lambda f: simulate_rounds(
            key,
            DSGD(step_size=f * base.step_size),
            problem,
            mixing,
            num_rounds=20_000,
            num_records=4,
            x0=jnp.ones(DIM),
        )
    )(factors)
    sub, cons = np.asarray(traces.suboptimality), np.asarray(traces.consensus)
    # Each run has reached its floor (the last two records agree) ...
    np.testing.assert_allclose(sub[:, -1], sub[:, -2], rtol=1e-6)
    # ... which is not x* (inexact) ...
    assert sub[0, -1] > 1e-7 and cons[0, -1] > 1e-5
    # ... and shrinks at least 4x for every 4x smaller step (measured: 7-14x).
    assert np.all(sub[:-1, -1] >= 4 * sub[1:, -1]), sub[:, -1]
    assert np.all(cons[:-1, -1] >= 4 * cons[1:, -1]), cons[:, -1]
    assert not np.any(traces.diverged)
