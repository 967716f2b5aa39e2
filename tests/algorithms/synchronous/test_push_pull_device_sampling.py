"""Push-Pull with device sampling (Hsieh, Laguel, Iutzeler, Malick, IEEE TAC 2023).

Our reading of the method (see its module): a random active set per round,
broadcast pull/push matrices A_k (row-stochastic) and B_k (column-stochastic),
and a network-wide table of the nodes' latest gradients that the tracker follows.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgossip as jg
from jaxgossip.algorithms.synchronous import SYNC_REGISTRY, PushPull, PushPullDeviceSampling
from jaxgossip.algorithms.synchronous.push_pull import dense_pull_push
from jaxgossip.algorithms.synchronous.push_pull_device_sampling import (
    PushPullDeviceSamplingState,
    broadcast_pull,
    broadcast_push,
    dense_broadcast_matrices,
    draw_active,
)
from jaxgossip.engine.rounds import simulate_rounds
from jaxgossip.network.mixing import metropolis_mixing
from tests import measure, reference
from tests.replays_sync import push_pull_device_sampling as replay_ppds

NUM_NODES, DIM = 8, 4


def _problem(kind, key):
    return reference.small_problem(kind, key, NUM_NODES, DIM)


def _graphs():
    return {
        "ring": jg.graphs.ring(NUM_NODES),
        "star": jg.graphs.star(NUM_NODES),
        "erdos_renyi": jg.graphs.erdos_renyi(jax.random.key(1), NUM_NODES, 0.4),
    }


@pytest.mark.parametrize("graph_name", sorted(_graphs()))
def test_broadcast_matrices(x64, graph_name):
    graph = _graphs()[graph_name]
    W = metropolis_mixing(graph).to_dense()
    xs = np.asarray(jax.random.normal(jax.random.key(2), (NUM_NODES, 3)))
    masks = np.asarray(jax.random.bernoulli(jax.random.key(3), 0.5, (6, NUM_NODES)))
    masks = np.concatenate([masks, np.zeros((1, NUM_NODES), bool), np.ones((1, NUM_NODES), bool)])
    assert 0 < masks[:-2].sum() < masks[:-2].size
    for active in masks:
        A, B = dense_broadcast_matrices(graph, active)
        np.testing.assert_allclose(A.sum(axis=1), 1.0, rtol=0, atol=1e-14)  # row-stochastic
        np.testing.assert_allclose(B.sum(axis=0), 1.0, rtol=0, atol=1e-14)  # column-stochastic
        assert np.all(A >= 0) and np.all(B >= 0)
        # Only active nodes send: column i of A and B off the diagonal is zero when i is inactive.
        off = ~np.eye(NUM_NODES, dtype=bool)
        assert not np.any((A * off)[:, ~active]) and not np.any((B * off)[:, ~active])
        # The replay builds them independently, from the support of W.
        A_replay, B_replay = replay_ppds.broadcast_matrices(W, active)
        np.testing.assert_allclose(A, A_replay, rtol=1e-15, atol=0)
        np.testing.assert_allclose(B, B_replay, rtol=1e-15, atol=0)
        mask = jnp.asarray(active)
        np.testing.assert_allclose(broadcast_pull(graph, mask, xs), A @ xs, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(broadcast_push(graph, mask, xs), B @ xs, rtol=1e-12, atol=1e-12)
    # No node active: nothing moves. Every node active: Push-Pull's R and C.
    np.testing.assert_array_equal(dense_broadcast_matrices(graph, masks[-2])[0], np.eye(NUM_NODES))
    np.testing.assert_array_equal(dense_broadcast_matrices(graph, masks[-2])[1], np.eye(NUM_NODES))
    R, C = dense_pull_push(graph)
    A, B = dense_broadcast_matrices(graph, masks[-1])
    np.testing.assert_allclose(A, R, rtol=1e-15, atol=0)
    np.testing.assert_allclose(B, C, rtol=1e-15, atol=0)


@pytest.mark.parametrize("graph_name", ["ring", "star"])
@pytest.mark.parametrize("kind", ["quadratic", "logistic"])
def test_engine_equals_numpy_replay(key, x64, kind, graph_name):
    problem = _problem(kind, key)
    mixing = metropolis_mixing(_graphs()[graph_name])
    algorithm = PushPullDeviceSampling.from_theory(problem, mixing)
    x0 = np.asarray(jax.random.normal(jax.random.key(2), (NUM_NODES, DIM)))
    run_key = jax.random.key(7)
    num_rounds = 30
    trace = simulate_rounds(
        run_key, algorithm, problem, mixing, num_rounds=num_rounds, num_records=3, x0=x0
    )
    draws = replay_ppds.rng_draws(run_key, num_rounds, NUM_NODES, algorithm.activation_prob)
    assert 0 < draws.sum() < draws.size and len({tuple(row) for row in draws}) > 1
    expected = replay_ppds.replay(problem, mixing.to_dense(), algorithm, x0, num_rounds, draws)
    assert isinstance(trace.final_state, PushPullDeviceSamplingState)
    for got, want in zip(trace.final_state, expected):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    # The draws matter: every node active gives another trajectory.
    everyone = np.ones_like(draws)
    other = replay_ppds.replay(problem, mixing.to_dense(), algorithm, x0, num_rounds, everyone)
    assert np.max(np.abs(other.x - expected.x)) > 1e-3


def test_tracker_keeps_the_gradient_table_sum(key, x64):
    # B_k column-stochastic and y^0 = g^0: sum_i y_i^k = sum_i g_i^k for every k.
    problem = _problem("logistic", key)
    mixing = metropolis_mixing(_graphs()["erdos_renyi"])
    algorithm = PushPullDeviceSampling(step_size=0.5, activation_prob=0.3)
    x0 = jax.random.normal(jax.random.key(2), (NUM_NODES, DIM))
    for num_rounds in (7, 400):
        state = simulate_rounds(
            key, algorithm, problem, mixing, num_rounds=num_rounds, num_records=1, x0=x0
        ).final_state
        assert np.max(np.abs(state.g)) > 1e-3
        np.testing.assert_allclose(state.y.sum(0), state.g.sum(0), rtol=0, atol=1e-12)


def test_activation_frequency_and_costs(key, x64):
    problem = _problem("quadratic", key)
    graph = _graphs()["erdos_renyi"]
    mixing = metropolis_mixing(graph)
    p, num_rounds, num_records = 0.3, 2000, 20
    algorithm = PushPullDeviceSampling(step_size=0.01, activation_prob=p)
    trace = simulate_rounds(
        key, algorithm, problem, mixing, num_rounds=num_rounds, num_records=num_records
    )
    fraction = float(trace.num_computations[-1]) / (NUM_NODES * num_rounds)
    sigma = np.sqrt(p * (1 - p) / (NUM_NODES * num_rounds))
    assert abs(fraction - p) < 5 * sigma, (fraction, p, sigma)
    # Computations are the active nodes, communications their degrees, per the redrawn sets.
    draws = replay_ppds.rng_draws(key, num_rounds, NUM_NODES, algorithm.activation_prob)
    per_record = num_rounds // num_records
    active = draws.reshape(num_records, per_record, NUM_NODES)
    computations = np.concatenate([[0], np.cumsum(active.sum(axis=(1, 2)))])
    messages = np.concatenate([[0], np.cumsum((active * graph.degrees()).sum(axis=(1, 2)))])
    np.testing.assert_array_equal(trace.num_computations, computations)
    np.testing.assert_array_equal(trace.num_communications, messages)
    assert trace.num_computations.dtype == jnp.int32
    itemsize = problem.x_star.dtype.itemsize
    np.testing.assert_allclose(trace.bytes_sent, messages * 2 * DIM * itemsize, rtol=0)
    # The sets are drawn from fold_in(round key, n), not from a node's gradient key.
    round_key = jax.random.key(5)
    for i in range(NUM_NODES):
        assert not np.array_equal(
            draw_active(round_key, NUM_NODES, 0.5),
            jax.random.bernoulli(jax.random.fold_in(round_key, i), 0.5, (NUM_NODES,)),
        )


def test_everyone_active_is_adapt_then_combine_push_pull(key, x64):
    # p = 1: x^{k+1} = R (x^k - alpha y^k), y^{k+1} = C (y^k + grad f(x^k - alpha y^k) - g^k).
    problem = _problem("logistic", key)
    graph = _graphs()["star"]
    mixing = metropolis_mixing(graph)
    algorithm = PushPullDeviceSampling(step_size=0.3, activation_prob=1.0)
    x0 = np.asarray(jax.random.normal(jax.random.key(2), (NUM_NODES, DIM)))
    trace = simulate_rounds(key, algorithm, problem, mixing, num_rounds=20, num_records=4, x0=x0)
    np.testing.assert_array_equal(trace.num_computations, NUM_NODES * np.arange(0, 21, 5))
    messages = 2 * graph.num_edges * np.arange(0, 21, 5)  # every node broadcasts to all neighbours
    np.testing.assert_array_equal(trace.num_communications, messages)
    R, C = dense_pull_push(graph)
    gradient = reference.gradient_of(problem)
    x = x0.copy()
    g = np.stack([gradient(i, x[i]) for i in range(NUM_NODES)])
    y = g.copy()
    for _ in range(20):
        half = x - 0.3 * y
        g_new = np.stack([gradient(i, half[i]) for i in range(NUM_NODES)])
        x, y, g = R @ half, C @ (y + g_new - g), g_new
    for got, want in zip(trace.final_state, (x, y, g)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_from_theory_and_flags(key):
    problem = _problem("quadratic", key)
    star = metropolis_mixing(_graphs()["star"])
    algorithm = PushPullDeviceSampling.from_theory(problem, star)
    np.testing.assert_allclose(
        algorithm.step_size, PushPull.from_theory(problem, star).step_size, rtol=1e-6
    )
    np.testing.assert_allclose(algorithm.activation_prob, 0.5, rtol=0)
    other = PushPullDeviceSampling.from_theory(problem, star, activation_prob=0.2)
    np.testing.assert_allclose(other.activation_prob, 0.2, rtol=1e-6)
    assert PushPullDeviceSampling.exact is True
    assert algorithm.message_floats(DIM) == 2 * DIM
    assert SYNC_REGISTRY["push_pull_device_sampling"] is PushPullDeviceSampling


@pytest.mark.parametrize("graph_name", ["ring", "star"])
@pytest.mark.parametrize("kind", ["quadratic", "logistic"])
def test_converges_linearly_to_high_precision(key, x64, kind, graph_name):
    problem = _problem(kind, key)
    mixing = metropolis_mixing(_graphs()[graph_name])
    probs = (1.0, 0.5, 0.2)
    algorithms = [
        PushPullDeviceSampling.from_theory(problem, mixing, activation_prob=p) for p in probs
    ]
    stacked = measure.stack(algorithms)
    traces = jax.vmap(
        lambda a: simulate_rounds(
            key, a, problem, mixing, num_rounds=3000, num_records=3000, x0=jnp.ones(DIM)
        )
    )(stacked)
    for k, p in enumerate(probs):
        run = jax.tree.map(lambda leaf, k=k: leaf[k], traces)
        measure.assert_exact(run)
        measure.assert_steady_decades(run.suboptimality, slack=20, context=(p,))


def test_jit_vmap_over_hyperparameters_equals_single_runs(key, x64):
    problem = _problem("quadratic", key)
    mixing = metropolis_mixing(_graphs()["erdos_renyi"])
    steps = jnp.array([0.01, 0.03, 0.1])
    probs = jnp.array([0.5, 0.2, 1.0])
    x0 = jax.random.normal(jax.random.key(2), (NUM_NODES, DIM))

    def run(step, p):
        algorithm = PushPullDeviceSampling(step_size=step, activation_prob=p)
        return simulate_rounds(key, algorithm, problem, mixing, num_rounds=60, num_records=6, x0=x0)

    traces = jax.jit(jax.vmap(run))(steps, probs)
    assert traces.suboptimality.shape == (3, 7)
    for k in range(3):
        single = run(steps[k], probs[k])
        for name in ("suboptimality", "mean_suboptimality", "consensus"):
            np.testing.assert_allclose(
                getattr(traces, name)[k], getattr(single, name), rtol=1e-12, atol=1e-14
            )
        for got, want in zip(traces.final_state, single.final_state):
            np.testing.assert_allclose(got[k], want, rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(traces.num_computations[k], single.num_computations)
        np.testing.assert_array_equal(traces.num_communications[k], single.num_communications)
