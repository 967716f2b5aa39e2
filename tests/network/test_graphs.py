import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import pytest

from jaxgossip.network import graphs


@pytest.fixture
def key():
    return jax.random.key(0)


def neighbours(g, i):
    e = g.edges()
    return set(e[e[:, 0] == i, 1].tolist()) | set(e[e[:, 1] == i, 0].tolist())


def check_canonical(g):
    e = g.edges()
    assert g.senders.dtype == jnp.int32 and g.receivers.dtype == jnp.int32
    assert np.all(e[:, 0] < e[:, 1])
    assert np.all(e[:, 1] < g.num_nodes) and np.all(e[:, 0] >= 0)
    order = np.lexsort((e[:, 1], e[:, 0]))
    np.testing.assert_array_equal(order, np.arange(len(e)))
    assert g.num_edges == len(np.unique(e, axis=0))
    assert g.is_connected()


@pytest.mark.parametrize(
    "g, n, m, degrees",
    [
        (graphs.ring(7), 7, 7, [2] * 7),
        (graphs.path(5), 5, 4, [1, 2, 2, 2, 1]),
        (graphs.star(6), 6, 5, [5, 1, 1, 1, 1, 1]),
        (graphs.complete(6), 6, 15, [5] * 6),
        (graphs.grid(3, 4), 12, 2 * 4 + 3 * 3, [2, 3, 3, 2, 3, 4, 4, 3, 2, 3, 3, 2]),
        (graphs.grid(1, 5), 5, 4, [1, 2, 2, 2, 1]),
        (graphs.torus(3, 5), 15, 30, [4] * 15),
        (graphs.hypercube(4), 16, 4 * 8, [4] * 16),
        (graphs.hypercube(1), 2, 1, [1, 1]),
        (graphs.exponential(16), 16, 16 * 7 // 2, [7] * 16),
        (graphs.exponential(2), 2, 1, [1, 1]),
        (graphs.barbell(4, 2), 10, 2 * 6 + 3, [3, 3, 3, 4, 2, 2, 4, 3, 3, 3]),
    ],
)
def test_generator_counts(g, n, m, degrees):
    assert g.num_nodes == n
    assert g.num_edges == m
    np.testing.assert_array_equal(g.degrees(), degrees)
    check_canonical(g)


def test_exponential_neighbours():
    assert neighbours(graphs.exponential(16), 0) == {1, 2, 4, 8, 15, 14, 12}
    # n = 6: offsets 1, 2, 4 and -1, -2, -4 = 5, 4, 2 mod 6.
    assert neighbours(graphs.exponential(6), 0) == {1, 2, 4, 5}


def test_hypercube_neighbours_differ_in_one_bit():
    g = graphs.hypercube(3)
    assert neighbours(g, 5) == {4, 7, 1}


@pytest.mark.parametrize("m, p", [(3, 0), (4, 2), (2, 1)])
def test_barbell_matches_networkx(m, p):
    ours = sorted(map(tuple, graphs.barbell(m, p).edges().tolist()))
    assert ours == sorted(tuple(sorted(e)) for e in nx.barbell_graph(m, p).edges())


def test_from_edges_canonicalizes():
    g = graphs.from_edges(4, [(3, 2), (1, 0), (2, 0)])
    np.testing.assert_array_equal(g.edges(), [[0, 1], [0, 2], [2, 3]])


@pytest.mark.parametrize(
    "n, edges, match",
    [
        (3, [(0, 1), (1, 1), (1, 2)], "self-loop at node 1"),
        (3, [(0, 1), (1, 2), (0, 1)], r"duplicate edge \(0, 1\)"),
        (3, [(0, 1), (1, 2), (2, 1)], r"duplicate edge \(1, 2\)"),
        (3, [(0, 1), (1, 3)], "node id 3 out of range"),
        (3, [(0, 1), (-1, 2)], "node id -1 out of range"),
        (1, [(0, 0)], "num_nodes must be >= 2"),
        (4, [(0, 1), (2, 3)], r"disconnected \(2 connected components\).*require_connected"),
        (3, [], "no edges"),
        (3, [0, 1, 2], r"shape \(E, 2\)"),
        (3, [(0.0, 1.0), (1.0, 2.0)], "must be integers"),
    ],
)
def test_from_edges_rejects(n, edges, match):
    with pytest.raises(ValueError, match=match):
        graphs.from_edges(n, edges)


def test_disconnected_allowed_on_request():
    g = graphs.from_edges(4, [(0, 1), (2, 3)], require_connected=False)
    assert not g.is_connected()
    assert g.num_edges == 2


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: graphs.ring(2), "n must be >= 3"),
        (lambda: graphs.torus(2, 4), "rows must be >= 3"),
        (lambda: graphs.path(1), "n must be >= 2"),
        (lambda: graphs.hypercube(0), "dim must be >= 1"),
        (lambda: graphs.barbell(1), "clique_size must be >= 2"),
    ],
)
def test_generators_reject_bad_sizes(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    "g, lam2",
    [
        (graphs.ring(9), 2 - 2 * np.cos(2 * np.pi / 9)),
        (graphs.complete(7), 7.0),
        (graphs.path(8), 2 - 2 * np.cos(np.pi / 8)),
        (graphs.hypercube(4), 2.0),
        (graphs.star(6), 1.0),
        (graphs.grid(3, 5), 2 - 2 * np.cos(np.pi / 5)),
        (graphs.torus(4, 6), 2 - 2 * np.cos(2 * np.pi / 6)),
    ],
)
def test_algebraic_connectivity_closed_forms(g, lam2):
    np.testing.assert_allclose(graphs.algebraic_connectivity(g), lam2, rtol=1e-10, atol=1e-12)


def test_laplacian_properties():
    g = graphs.barbell(3, 1)
    lap = graphs.laplacian(g)
    np.testing.assert_allclose(lap, lap.T, rtol=0, atol=0)
    np.testing.assert_allclose(lap.sum(axis=1), 0.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.diag(lap), g.degrees(), rtol=0, atol=0)
    np.testing.assert_allclose(lap, nx.laplacian_matrix(g.to_networkx()).toarray(), atol=0)
    spec = graphs.laplacian_spectrum(g)
    assert np.all(np.diff(spec) >= 0)
    np.testing.assert_allclose(spec[0], 0.0, rtol=0, atol=1e-10)


def test_weighted_laplacian_scales():
    g = graphs.exponential(10)
    w = np.linspace(0.5, 2.0, g.num_edges)
    lap = graphs.laplacian(g, w)
    np.testing.assert_allclose(graphs.laplacian(g, 3.0 * w), 3.0 * lap, rtol=1e-12, atol=0)
    np.testing.assert_allclose(
        graphs.algebraic_connectivity(g, 2.5 * np.ones(g.num_edges)),
        2.5 * graphs.algebraic_connectivity(g),
        rtol=1e-10,
    )
    x = np.random.default_rng(0).normal(size=g.num_nodes)
    e = g.edges()
    quad = np.sum(w * (x[e[:, 0]] - x[e[:, 1]]) ** 2)
    np.testing.assert_allclose(x @ lap @ x, quad, rtol=1e-12)


@pytest.mark.parametrize(
    "weights, match",
    [(np.ones(3), r"shape \(9,\)"), (-np.ones(9), "nonnegative")],
)
def test_bad_weights(weights, match):
    with pytest.raises(ValueError, match=match):
        graphs.laplacian(graphs.ring(9), weights)


@pytest.mark.parametrize(
    "g",
    [graphs.ring(8), graphs.barbell(4, 3), graphs.grid(3, 4), graphs.exponential(11)],
)
def test_fosters_theorem(g):
    r = graphs.effective_resistances(g)
    assert r.shape == (g.num_edges,)
    np.testing.assert_allclose(r.sum(), g.num_nodes - 1, rtol=1e-10)
    w = np.linspace(0.3, 3.0, g.num_edges)
    rw = graphs.effective_resistances(g, w)
    np.testing.assert_allclose(np.sum(w * rw), g.num_nodes - 1, rtol=1e-10)


def test_effective_resistance_closed_forms():
    n = 7
    np.testing.assert_allclose(graphs.effective_resistances(graphs.complete(n)), 2 / n, rtol=1e-10)
    np.testing.assert_allclose(
        graphs.effective_resistances(graphs.ring(n)), (n - 1) / n, rtol=1e-10
    )
    # Every edge of a tree is a bridge: resistance 1.
    np.testing.assert_allclose(graphs.effective_resistances(graphs.star(n)), 1.0, rtol=1e-10)


def test_effective_resistance_needs_connected_support():
    g = graphs.path(4)
    with pytest.raises(ValueError, match="connect the graph"):
        graphs.effective_resistances(g, np.array([1.0, 0.0, 1.0]))


@pytest.mark.parametrize(
    "sample",
    [
        lambda k: graphs.erdos_renyi(k, 20, 0.3),
        lambda k: graphs.random_geometric(k, 20, 0.45),
    ],
)
def test_random_graphs_reproducible_and_connected(key, sample):
    g1, g2 = sample(key), sample(key)
    np.testing.assert_array_equal(g1.edges(), g2.edges())
    check_canonical(g1)
    g3 = sample(jax.random.key(1))
    assert not np.array_equal(g1.edges(), g3.edges())
    # Legacy uint32 keys hold the same bits, so give the same graph.
    legacy = sample(jax.random.PRNGKey(0))
    np.testing.assert_array_equal(g1.edges(), legacy.edges())


def test_random_graphs_fail_clearly(key):
    with pytest.raises(ValueError, match="larger p"):
        graphs.erdos_renyi(key, 30, 0.01, max_tries=3)
    with pytest.raises(ValueError, match="larger radius"):
        graphs.random_geometric(key, 30, 0.02, max_tries=3)
    with pytest.raises(ValueError, match="p must be in"):
        graphs.erdos_renyi(key, 10, 1.5)


def test_random_geometric_edges_within_radius(key):
    radius = 0.4
    g = graphs.random_geometric(key, 15, radius)
    # Recompute the points the first successful try drew and check no edge is too long.
    for t in range(100):
        x = np.asarray(jax.random.uniform(jax.random.fold_in(key, t), (15, 2)), np.float64)
        e = g.edges()
        if np.all(np.linalg.norm(x[e[:, 0]] - x[e[:, 1]], axis=1) <= radius):
            d = np.linalg.norm(x[:, None] - x[None], axis=-1)
            assert g.num_edges == int(np.sum(np.triu(d <= radius, k=1)))
            return
    pytest.fail("no try reproduces the sampled graph")


def test_networkx_roundtrip():
    g = graphs.torus(3, 4)
    back = graphs.from_networkx(g.to_networkx())
    np.testing.assert_array_equal(back.edges(), g.edges())
    assert back.num_nodes == g.num_nodes


def test_from_networkx_relabels():
    h = nx.Graph([("c", "a"), ("a", "b"), ("b", "d")])
    g = graphs.from_networkx(h)
    # Sorted labels a, b, c, d -> 0, 1, 2, 3.
    np.testing.assert_array_equal(g.edges(), [[0, 1], [0, 2], [1, 3]])
    with pytest.raises(ValueError, match="directed"):
        graphs.from_networkx(nx.DiGraph([(0, 1)]))
    with pytest.raises(ValueError, match="disconnected"):
        graphs.from_networkx(nx.Graph([(0, 1), (2, 3)]))


def test_graph_inside_jit():
    g = graphs.ring(6)
    calls = []

    @jax.jit
    def laplacian_apply(graph, x):
        calls.append(None)
        diff = x[graph.senders] - x[graph.receivers]
        out = jax.ops.segment_sum(diff, graph.senders, num_segments=graph.num_nodes)
        return out - jax.ops.segment_sum(diff, graph.receivers, num_segments=graph.num_nodes)

    x = jnp.arange(6.0) ** 2
    np.testing.assert_allclose(
        laplacian_apply(g, x), graphs.laplacian(g) @ np.asarray(x), rtol=1e-6, atol=1e-5
    )
    # Same shapes and num_nodes, different edges: no retrace.
    perm = graphs.from_edges(6, [(0, 2), (2, 1), (1, 3), (3, 5), (5, 4), (4, 0)])
    laplacian_apply(perm, x)
    assert len(calls) == 1
    leaves = jax.tree_util.tree_leaves(g)
    assert len(leaves) == 2 and leaves[0] is g.senders and leaves[1] is g.receivers


def test_effective_resistances_are_exact_with_uniform_weights():
    # A cut-off pseudo-inverse used to keep the round-off null eigenvalue here (1-2% off).
    graph = graphs.complete(8)
    resistances = graphs.effective_resistances(graph, np.full(graph.num_edges, 0.3))
    np.testing.assert_allclose(resistances, 2 / (8 * 0.3), rtol=1e-12)
