"""Push-Pull (Pu, Shi, Xu, Nedić, IEEE TAC 2021) on directed graphs (``network.digraphs``).

The digraphs: the directed ring of 8 (R = C = (I + P) / 2, doubly stochastic
but not symmetric) and a directed ring plus random extra arcs (irregular, so
R is not column-stochastic and C not row-stochastic). The engine still takes
a ``Mixing``; with ``digraph`` set, only its number of nodes is used.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgossip as jg
from jaxgossip.algorithms.base import Oracle
from jaxgossip.algorithms.ops import pull, push
from jaxgossip.algorithms.synchronous import PushPull
from jaxgossip.algorithms.synchronous.push_pull import (
    PushPullState,
    dense_pull_push,
    perron_gain,
    pull_gap,
    push_gap,
)
from jaxgossip.engine.rounds import simulate_rounds
from jaxgossip.network.digraphs import Digraph, digraph, directed_ring, from_graph
from jaxgossip.network.mixing import metropolis_mixing
from tests import reference
from tests.measure import assert_exact, assert_steady_decades
from tests.replays_sync import push_pull as replay_push_pull

NUM_NODES, DIM = 8, 4


def _problem(kind, key):
    return reference.small_problem(kind, key, NUM_NODES, DIM)


def _random_digraph(seed, n=NUM_NODES, extra=6):
    """A directed ring (strongly connected) plus ``extra`` random arcs."""
    rng = np.random.default_rng(seed)
    arcs = {(i, (i + 1) % n) for i in range(n)}
    while len(arcs) < n + extra:
        i, j = (int(v) for v in rng.integers(n, size=2))
        if i != j:
            arcs.add((i, j))
    return digraph(n, sorted(arcs))


def _digraphs():
    return {"directed_ring": directed_ring(NUM_NODES), "random": _random_digraph(0)}


def _mixing():
    """Any Mixing on NUM_NODES nodes: with a digraph set, PushPull uses only its size."""
    return metropolis_mixing(jg.graphs.ring(NUM_NODES))


# --- digraphs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "num_nodes, arcs, message",
    [
        (3, [(0, 1), (1, 2)], "not strongly connected: node 0 is not reachable from node 1"),
        (4, [(0, 1), (1, 0), (2, 3), (3, 2)], "node 2 is not reachable from node 0"),
        (3, [(0, 1), (1, 1), (1, 2), (2, 0)], "self-loop at node 1"),
        (3, [(0, 1), (1, 2), (2, 0), (1, 2)], r"duplicate arc \(1, 2\)"),
        (3, [(0, 1), (1, 3), (2, 0)], r"node id 3 out of range \[0, 3\)"),
        (3, [(0, 1), (-1, 2), (2, 0)], "node id -1 out of range"),
        (3, [(0, 1, 2)], r"shape \(A, 2\)"),
        (3, [(0.0, 1.0), (1.0, 0.0)], "must be integers"),
        (3, np.zeros((0, 2), int), "no arcs"),
        (1, [(0, 0)], "num_nodes must be >= 2"),
    ],
)
def test_digraph_validation(num_nodes, arcs, message):
    with pytest.raises(ValueError, match=message):
        digraph(num_nodes, arcs)


def test_digraph_constructors():
    ring = directed_ring(5)
    assert isinstance(ring, Digraph) and ring.num_arcs == 5 and ring.is_strongly_connected()
    np.testing.assert_array_equal(ring.arcs(), [[0, 1], [1, 2], [2, 3], [3, 4], [4, 0]])
    assert ring.sources.dtype == jnp.int32 and ring.targets.dtype == jnp.int32
    np.testing.assert_array_equal(ring.in_degrees(), 1)
    # Arcs are stored sorted, whatever order they are given in.
    np.testing.assert_array_equal(
        digraph(3, [(2, 0), (0, 1), (1, 2)]).arcs(), [[0, 1], [1, 2], [2, 0]]
    )
    graph = jg.graphs.star(5)
    both = from_graph(graph)
    assert both.num_arcs == 2 * graph.num_edges
    np.testing.assert_array_equal(both.in_degrees(), graph.degrees())
    np.testing.assert_array_equal(both.out_degrees(), graph.degrees())
    assert not Digraph(
        num_nodes=3, sources=jnp.array([0, 1]), targets=jnp.array([1, 2])
    ).is_strongly_connected()


# --- the matrices R and C ---------------------------------------------------------


@pytest.mark.parametrize("name", sorted(_digraphs()))
def test_pull_and_push_matrices(x64, name):
    net = _digraphs()[name]
    R, C = dense_pull_push(net)
    np.testing.assert_allclose(R.sum(axis=1), 1.0, rtol=0, atol=1e-14)  # row-stochastic
    np.testing.assert_allclose(C.sum(axis=0), 1.0, rtol=0, atol=1e-14)  # column-stochastic
    indeg, outdeg = net.in_degrees(), net.out_degrees()
    support = np.eye(NUM_NODES, dtype=bool)
    for j, i in net.arcs():  # arc j -> i: i pulls from j, j pushes to i
        support[i, j] = True
        assert R[i, j] == pytest.approx(1 / (1 + indeg[i])) and C[i, j] == pytest.approx(
            1 / (1 + outdeg[j])
        )
    np.testing.assert_array_equal(R > 0, support)
    np.testing.assert_array_equal(C > 0, support)
    assert np.abs(R - R.T).max() > 0.1  # truly directed: the support is not symmetric
    if name == "random":  # irregular: neither matrix is doubly stochastic
        assert np.abs(R.sum(axis=0) - 1).max() > 0.1 and np.abs(C.sum(axis=1) - 1).max() > 0.1
    else:  # the directed ring is regular: R = C = (I + P) / 2, doubly stochastic
        np.testing.assert_allclose(R, C, rtol=0, atol=0)
    # The replay builds its matrices from the arc list, entry by entry.
    R_replay, C_replay = replay_push_pull.directed_pull_push_matrices(
        NUM_NODES, net.arcs().tolist()
    )
    np.testing.assert_allclose(R, R_replay, rtol=1e-15)
    np.testing.assert_allclose(C, C_replay, rtol=1e-15)
    # Edge-wise (segment sums over the arcs, under jit) equals dense.
    xs = np.asarray(jax.random.normal(jax.random.key(2), (NUM_NODES, 3)))
    np.testing.assert_allclose(jax.jit(pull)(net, xs), R @ xs, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(jax.jit(push)(net, xs), C @ xs, rtol=1e-12, atol=1e-12)


def test_spectral_quantities():
    ring = directed_ring(NUM_NODES)
    # R = (I + P) / 2: lambda_2 = cos(pi/n) e^{i pi/n}, |1 - lambda_2| = sin(pi/n).
    theta = np.pi / NUM_NODES
    expected = (1 - np.cos(theta)) ** 2 / np.sin(theta)
    assert pull_gap(ring) == pytest.approx(expected, rel=1e-10)
    assert push_gap(ring) == pytest.approx(expected, rel=1e-10)
    assert perron_gain(ring) == pytest.approx(1.0, rel=1e-10)
    # On a random digraph: u^T R = u^T, sum(u) = 1 and C v = v, sum(v) = n, from dense eig.
    net = _random_digraph(0)
    R, C = dense_pull_push(net)
    w, vl = np.linalg.eig(R.T)
    u = np.real(vl[:, np.argmax(w.real)])
    w, vr = np.linalg.eig(C)
    v = np.real(vr[:, np.argmax(w.real)])
    u, v = u / u.sum(), NUM_NODES * v / v.sum()
    assert np.all(u > 0) and np.all(v > 0)
    assert perron_gain(net) == pytest.approx(u @ v, rel=1e-10)
    assert abs(perron_gain(net) - 1) > 1e-3  # R and C are not doubly stochastic
    # The digraph gap is a bound on the non-Perron eigenvalues, at most 1 - |lambda|.
    for gap, matrix in ((pull_gap(net), R), (push_gap(net), C)):
        modulus = np.sort(np.abs(np.linalg.eigvals(matrix)))[-2]
        assert 0 < gap <= 1 - modulus + 1e-12


# --- the engine -------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(_digraphs()))
@pytest.mark.parametrize("kind", ["quadratic", "logistic"])
def test_engine_equals_numpy_replay(key, x64, kind, name):
    problem = _problem(kind, key)
    net, mixing = _digraphs()[name], _mixing()
    algorithm = PushPull.on_digraph(problem, net)
    x0 = np.asarray(jax.random.normal(jax.random.key(2), (NUM_NODES, DIM)))
    trace = simulate_rounds(key, algorithm, problem, mixing, num_rounds=30, num_records=3, x0=x0)
    expected = replay_push_pull.replay(problem, mixing.to_dense(), algorithm, x0, 30)
    assert isinstance(trace.final_state, PushPullState)
    for got, want in zip(trace.final_state, expected):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    # One message per arc per round (x - alpha y and a share of y, 2 d floats).
    np.testing.assert_array_equal(trace.num_communications, np.arange(4) * 10 * net.num_arcs)
    np.testing.assert_array_equal(trace.num_computations, np.arange(4) * 10 * NUM_NODES)
    np.testing.assert_allclose(trace.bytes_sent, trace.num_communications * 2 * DIM * 8, rtol=0)


def test_tracker_keeps_the_gradient_sum(key, x64):
    # C column-stochastic: sum_i y_i^k = sum_i grad f_i(x_i^k) at every round k.
    problem = _problem("logistic", key)
    mixing = _mixing()
    algorithm = PushPull(step_size=0.1, digraph=_random_digraph(1))
    xs0 = jax.random.normal(jax.random.key(2), (NUM_NODES, DIM))
    oracle = Oracle(problem, key)

    def one_round(state, _):
        state, _ = algorithm.round(state, oracle, mixing)
        return state, (jnp.abs(state.y.sum(0) - state.g_prev.sum(0)).max(), jnp.abs(state.y).max())

    initial = algorithm.init(xs0, oracle, mixing)
    _, (gaps, sizes) = jax.jit(lambda s: jax.lax.scan(one_round, s, None, length=300))(initial)
    assert gaps.shape == (300,) and float(sizes[-1]) > 1e-3  # y has not vanished
    np.testing.assert_allclose(gaps, 0.0, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", sorted(_digraphs()))
@pytest.mark.parametrize("kind", ["quadratic", "logistic"])
def test_converges_linearly_to_high_precision(key, x64, kind, name):
    problem = _problem(kind, key)
    net, mixing = _digraphs()[name], _mixing()
    algorithm = PushPull.from_theory(problem, mixing, digraph=net)
    trace = simulate_rounds(
        key, algorithm, problem, mixing, num_rounds=2500, num_records=2500, x0=jnp.ones(DIM)
    )
    assert_exact(trace)
    assert_steady_decades(trace.suboptimality)


# --- from_graph: the undirected method again ----------------------------------------


@pytest.mark.parametrize("graph_name", ["star", "erdos_renyi"])
def test_from_graph_reproduces_undirected_push_pull(key, x64, graph_name):
    graph = {
        "star": jg.graphs.star(NUM_NODES),
        "erdos_renyi": jg.graphs.erdos_renyi(jax.random.key(1), NUM_NODES, 0.4),
    }[graph_name]
    both, mixing = from_graph(graph), metropolis_mixing(graph)
    for directed, undirected in zip(dense_pull_push(both), dense_pull_push(graph)):
        np.testing.assert_allclose(directed, undirected, rtol=1e-15, atol=0)
    for quantity in (pull_gap, push_gap, perron_gain):
        assert quantity(both) == pytest.approx(quantity(graph), rel=1e-10)
    problem = _problem("logistic", key)
    undirected = PushPull.from_theory(problem, mixing)
    directed = PushPull.from_theory(problem, mixing, digraph=both)
    np.testing.assert_allclose(directed.step_size, undirected.step_size, rtol=1e-10)
    run = dict(
        num_rounds=200, num_records=4, x0=jax.random.normal(jax.random.key(2), (NUM_NODES, DIM))
    )
    want = simulate_rounds(key, undirected, problem, mixing, **run)
    got = simulate_rounds(key, PushPull(undirected.step_size, digraph=both), problem, mixing, **run)
    for a, b in zip(got.final_state, want.final_state):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got.suboptimality, want.suboptimality, rtol=1e-9, atol=1e-16)
    # Counted as 2 |E| one-way messages instead of |E| two-way exchanges: the same bytes.
    np.testing.assert_array_equal(got.num_communications, 2 * want.num_communications)
    np.testing.assert_allclose(got.bytes_sent, want.bytes_sent, rtol=0)


def test_configuration_and_sizes(key):
    problem = _problem("quadratic", key)
    net = _random_digraph(0)
    algorithm = PushPull.on_digraph(problem, net)
    assert algorithm.digraph is net and PushPull.exact is True
    gap = min(pull_gap(net), push_gap(net))
    np.testing.assert_allclose(
        algorithm.step_size, min(0.5, 2 * gap) / (problem.L * perron_gain(net)), rtol=1e-5
    )
    assert algorithm.message_floats(DIM) == 2 * DIM
    assert PushPull(step_size=0.1).message_floats(DIM) == 4 * DIM  # undirected: unchanged
    wrong = metropolis_mixing(jg.graphs.ring(NUM_NODES + 1))
    with pytest.raises(ValueError, match="digraph has 8 nodes but the mixing"):
        PushPull.from_theory(problem, wrong, digraph=net)
    with pytest.raises(ValueError, match="digraph has 8 nodes but the mixing"):
        algorithm.init(jnp.zeros((NUM_NODES + 1, DIM)), Oracle(problem, key), wrong)


def test_vmap_over_step_sizes_reuses_one_compilation(key, x64):
    problem, mixing, net = _problem("quadratic", key), _mixing(), directed_ring(NUM_NODES)
    run = dict(num_rounds=40, num_records=4, x0=jnp.ones(DIM))

    def single(step):
        return simulate_rounds(key, PushPull(step, digraph=net), problem, mixing, **run)

    steps = jnp.array([0.005, 0.01, 0.02])
    traces = jax.vmap(single)(steps)
    for k, step in enumerate(steps):
        np.testing.assert_allclose(
            traces.suboptimality[k], single(step).suboptimality, rtol=1e-12, atol=1e-14
        )
    compiled = simulate_rounds._cache_size()
    single(jnp.asarray(0.03))
    assert simulate_rounds._cache_size() == compiled
