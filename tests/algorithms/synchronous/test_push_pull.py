"""Push-Pull (Pu, Shi, Xu, Nedić, IEEE TAC 2021) on the synchronous engine.

Non-regular graphs (path, star, Erdős–Rényi, barbell) are used so that R and C
are not doubly stochastic.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgossip as jg
from jaxgossip.algorithms.ops import pull, push
from jaxgossip.algorithms.synchronous import PushPull
from jaxgossip.algorithms.synchronous.push_pull import (
    PushPullState,
    dense_pull_push,
    perron_gain,
    pull_gap,
)
from jaxgossip.engine.rounds import simulate_rounds
from jaxgossip.network.mixing import metropolis_mixing
from tests import reference
from tests.measure import assert_exact, assert_steady_decades
from tests.replays_sync import push_pull as replay_push_pull

NUM_NODES, DIM = 8, 4


def _problem(kind, key):
    return reference.small_problem(kind, key, NUM_NODES, DIM)


def _graphs():
    return {
        "path": jg.graphs.path(NUM_NODES),
        "star": jg.graphs.star(NUM_NODES),
        "erdos_renyi": jg.graphs.erdos_renyi(jax.random.key(1), NUM_NODES, 0.4),
        "barbell": jg.graphs.barbell(4),
    }


@pytest.mark.parametrize("graph_name", sorted(_graphs()))
def test_pull_and_push_matrices(x64, graph_name):
    graph = _graphs()[graph_name]
    R, C = dense_pull_push(graph)
    np.testing.assert_allclose(R.sum(axis=1), 1.0, rtol=0, atol=1e-14)  # row-stochastic
    np.testing.assert_allclose(C.sum(axis=0), 1.0, rtol=0, atol=1e-14)  # column-stochastic
    assert np.abs(R.sum(axis=0) - 1).max() > 0.1 and np.abs(C.sum(axis=1) - 1).max() > 0.1
    deg = graph.degrees()
    for i, j in graph.edges():
        assert R[i, j] == pytest.approx(1 / (1 + deg[i])) and C[i, j] == pytest.approx(
            1 / (1 + deg[j])
        )
    # The replay builds its matrices from the support of W, independently.
    R_replay, C_replay = replay_push_pull.pull_push_matrices(metropolis_mixing(graph).to_dense())
    np.testing.assert_allclose(R, R_replay, rtol=1e-15)
    np.testing.assert_allclose(C, C_replay, rtol=1e-15)
    xs = np.asarray(jax.random.normal(jax.random.key(2), (NUM_NODES, 3)))
    np.testing.assert_allclose(pull(graph, xs), R @ xs, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(push(graph, xs), C @ xs, rtol=1e-12, atol=1e-12)
    # pull_gap and perron_gain against dense linear algebra.
    eigs = np.sort(np.linalg.eigvals(R).real)
    assert pull_gap(graph) == pytest.approx(1 - eigs[-2], rel=1e-10)
    w, vl = np.linalg.eig(R.T)
    u = np.real(vl[:, np.argmax(w.real)])
    u /= u.sum()
    w, vr = np.linalg.eig(C)
    v = np.real(vr[:, np.argmax(w.real)])
    v *= NUM_NODES / v.sum()
    assert perron_gain(graph) == pytest.approx(u @ v, rel=1e-10)


@pytest.mark.parametrize("graph_name", ["star", "erdos_renyi"])
@pytest.mark.parametrize("kind", ["quadratic", "logistic"])
def test_engine_equals_numpy_replay(key, x64, kind, graph_name):
    problem = _problem(kind, key)
    mixing = metropolis_mixing(_graphs()[graph_name])
    algorithm = PushPull.from_theory(problem, mixing)
    x0 = np.asarray(jax.random.normal(jax.random.key(2), (NUM_NODES, DIM)))
    trace = simulate_rounds(key, algorithm, problem, mixing, num_rounds=30, num_records=3, x0=x0)
    expected = replay_push_pull.replay(problem, mixing.to_dense(), algorithm, x0, 30)
    assert isinstance(trace.final_state, PushPullState)
    for got, want in zip(trace.final_state, expected):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_tracker_keeps_the_gradient_sum(key, x64):
    # C column-stochastic: sum_i y_i^k = sum_i grad f_i(x_i^k) for every k.
    problem = _problem("logistic", key)
    mixing = metropolis_mixing(_graphs()["barbell"])
    x0 = jax.random.normal(jax.random.key(2), (NUM_NODES, DIM))
    state = simulate_rounds(
        key, PushPull(step_size=0.1), problem, mixing, num_rounds=300, num_records=3, x0=x0
    ).final_state
    assert np.max(np.abs(state.g_prev)) > 1e-3
    np.testing.assert_allclose(state.y.sum(0), state.g_prev.sum(0), rtol=0, atol=1e-12)


def test_from_theory_and_flags(key):
    problem = _problem("quadratic", key)
    ring = metropolis_mixing(jg.graphs.ring(NUM_NODES))
    # Regular ring: R = C = I/3 + A/3, gap = (2 - 2 cos(2 pi / 8)) / 3, u^T v = 1.
    gap = (2 - 2 * np.cos(2 * np.pi / NUM_NODES)) / 3
    assert perron_gain(ring.graph) == pytest.approx(1.0)
    np.testing.assert_allclose(
        PushPull.from_theory(problem, ring).step_size, min(0.5, 2 * gap) / problem.L, rtol=1e-5
    )
    star = metropolis_mixing(jg.graphs.star(NUM_NODES))
    expected = min(0.5, 2 * pull_gap(star.graph)) / perron_gain(star.graph) / problem.L
    np.testing.assert_allclose(PushPull.from_theory(problem, star).step_size, expected, rtol=1e-5)
    assert perron_gain(star.graph) > 1.5
    assert PushPull.exact is True
    assert PushPull(step_size=0.1).message_floats(DIM) == 4 * DIM


@pytest.mark.parametrize("graph_name", ["path", "star", "barbell"])
@pytest.mark.parametrize("kind", ["quadratic", "logistic"])
def test_converges_linearly_to_high_precision(key, x64, kind, graph_name):
    problem = _problem(kind, key)
    mixing = metropolis_mixing(_graphs()[graph_name])
    algorithm = PushPull.from_theory(problem, mixing)
    trace = simulate_rounds(
        key, algorithm, problem, mixing, num_rounds=2000, num_records=2000, x0=jnp.ones(DIM)
    )
    assert_exact(trace)
    assert_steady_decades(trace.suboptimality)  # past the transient, linear
