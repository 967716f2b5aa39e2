"""Tests of jaxgossip.network.spectral and graphs.recognize: closed forms, dense, sparse."""

import warnings

import jax
import numpy as np
import pytest
import scipy.linalg
import scipy.sparse.csgraph

import jaxgossip as jg
from jaxgossip.network import graphs, spectral
from jaxgossip.network.graphs import Topology


def _circulant(n, offsets):
    """i -- i + c mod n for c in offsets (c = n / 2 listed once), built here, not by the library."""
    i = np.arange(n)
    pieces = [np.stack([i, (i + c) % n], 1)[: n // 2 if 2 * c == n else n] for c in offsets]
    return graphs.from_edges(n, np.concatenate(pieces))


def _dense_reference(graph, rate):
    """lambda_2, lambda_max and the largest edge resistance (over edges of positive rate),
    by eigvalsh and pinv alone."""
    rate = np.broadcast_to(np.asarray(rate, np.float64), (graph.num_edges,))
    lap = graphs.laplacian(graph, rate)
    eigenvalues = np.linalg.eigvalsh(lap)
    pinv = np.linalg.pinv(lap)
    e = graph.edges()[rate > 0]
    resistance = pinv[e[:, 0], e[:, 0]] + pinv[e[:, 1], e[:, 1]] - 2 * pinv[e[:, 0], e[:, 1]]
    return eigenvalues[1], eigenvalues[-1], resistance.max()


# (graph, what recognize must return): every generator family, small edge cases included.
FAMILIES = [
    (graphs.complete(7), Topology("complete", (7,))),
    (graphs.complete(2), Topology("complete", (2,))),
    (graphs.ring(3), Topology("complete", (3,))),  # K3
    (graphs.ring(4), Topology("ring", (4,))),
    (graphs.ring(12), Topology("ring", (12,))),
    (graphs.ring(31), Topology("ring", (31,))),
    (graphs.path(2), Topology("complete", (2,))),
    (graphs.path(3), Topology("path", (3,))),
    (graphs.path(9), Topology("path", (9,))),
    (graphs.star(2), Topology("complete", (2,))),
    (graphs.star(3), Topology("star", (3,))),
    (graphs.star(8), Topology("star", (8,))),
    (graphs.hypercube(1), Topology("complete", (2,))),
    (graphs.hypercube(2), Topology("hypercube", (2,))),
    (graphs.hypercube(4), Topology("hypercube", (4,))),
    (graphs.torus(3, 3), Topology("torus", (3, 3))),
    (graphs.torus(3, 5), Topology("torus", (3, 5))),
    (graphs.torus(5, 3), Topology("torus", (5, 3))),
    (graphs.torus(4, 4), Topology("torus", (4, 4))),
    (graphs.torus(4, 6), Topology("torus", (4, 6))),
    (graphs.grid(2, 2), Topology("hypercube", (2,))),  # the same edges
    (graphs.grid(3, 6), Topology("grid", (3, 6))),
    (graphs.grid(6, 3), Topology("grid", (6, 3))),
    (graphs.grid(2, 5), Topology("grid", (2, 5))),
    (graphs.grid(1, 6), Topology("path", (6,))),
    (graphs.grid(6, 1), Topology("path", (6,))),
    (graphs.exponential(5), Topology("complete", (5,))),
    (graphs.exponential(6), Topology("circulant", (6, (1, 2)))),
    (graphs.exponential(16), Topology("circulant", (16, (1, 2, 4, 8)))),
    (graphs.exponential(20), Topology("circulant", (20, (1, 2, 4, 8)))),
    (_circulant(11, (1, 3)), Topology("circulant", (11, (1, 3)))),
    (_circulant(10, (1, 5)), Topology("circulant", (10, (1, 5)))),  # offset n / 2
    (_circulant(10, (3,)), Topology("circulant", (10, (3,)))),
]
FAMILY_IDS = [f"{t.kind}{t.params}-n{g.num_nodes}" for g, t in FAMILIES]


@pytest.mark.parametrize("graph, topology", FAMILIES, ids=FAMILY_IDS)
def test_recognize_names_each_family(graph, topology):
    assert graphs.recognize(graph) == topology


def test_recognize_refuses_what_is_not_a_generator_family():
    ring = graphs.ring(10)
    perm = np.random.default_rng(0).permutation(10)
    relabelled = graphs.from_edges(10, perm[ring.edges()])
    assert graphs.recognize(relabelled) is None
    chord = graphs.from_edges(10, np.r_[ring.edges(), [[0, 5]]])
    assert graphs.recognize(chord) is None
    cut = graphs.from_edges(10, ring.edges()[1:])  # a path, but not numbered as one
    assert graphs.recognize(cut) is None
    cube = graphs.hypercube(4)
    perm = np.random.default_rng(1).permutation(16)
    assert graphs.recognize(graphs.from_edges(16, perm[cube.edges()])) is None
    # Node 0 keeps a grid's / torus's / hypercube's neighbours, one edge elsewhere moves.
    for family in (graphs.grid(3, 4), graphs.torus(4, 5), graphs.hypercube(4)):
        e = family.edges()
        far = np.flatnonzero((e[:, 0] > 1) & ~np.any(np.isin(e, [0]), axis=1))[0]
        u, v = e[far]
        candidates = [w for w in range(1, family.num_nodes) if w not in (u, v)]
        present = {tuple(x) for x in e.tolist()}
        w = next(w for w in candidates if (min(u, w), max(u, w)) not in present)
        moved = graphs.from_edges(family.num_nodes, np.r_[np.delete(e, far, 0), [[u, w]]])
        assert moved.num_edges == family.num_edges
        assert graphs.recognize(moved) is None, family
    geometric = graphs.random_geometric(jax.random.key(0), 40, 0.35)
    assert graphs.recognize(geometric) is None
    erdos_renyi = graphs.erdos_renyi(jax.random.key(0), 30, 0.3)
    assert graphs.recognize(erdos_renyi) is None


def test_recognize_a_relabelled_circulant_by_its_offsets():
    # i -> 7 i mod 10 maps the circulant (1, 3) onto itself: node 0 then neighbours 3, 7, 9, 1.
    graph = _circulant(10, (1, 3))
    relabelled = graphs.from_edges(10, ((np.arange(10) * 7) % 10)[graph.edges()])
    assert graphs.recognize(relabelled) == Topology("circulant", (10, (1, 3)))


def test_recognize_under_jit_is_none():
    seen = []

    @jax.jit
    def traced(graph):
        seen.append(graphs.recognize(graph))
        return graph.senders

    traced(graphs.ring(8))
    assert seen == [None]


@pytest.mark.parametrize("graph, topology", FAMILIES, ids=FAMILY_IDS)
@pytest.mark.parametrize("rate", [1.0, 0.37])
def test_closed_forms_equal_eigh_and_pinv(graph, topology, rate):
    constants = spectral.rate_laplacian_constants(graph, rate)
    assert constants["method"] == f"closed form ({topology.kind})"
    dense = spectral.rate_laplacian_constants(graph, rate, method="dense")
    assert dense["method"] == "dense"
    lambda_2, lambda_max, resistance = _dense_reference(graph, rate)
    for got in (constants, dense):
        np.testing.assert_allclose(got["lambda_2"], lambda_2, rtol=1e-10)
        np.testing.assert_allclose(got["lambda_max"], lambda_max, rtol=1e-10)
        np.testing.assert_allclose(got["chi1"], 1 / lambda_2, rtol=1e-10)
        np.testing.assert_allclose(got["chi2"], resistance / 2, rtol=1e-10)
        assert got["chi2_exact"] and got["chi2_lower"] == got["chi2"]
    extremes = spectral.laplacian_extremes(graph, np.full(graph.num_edges, rate))
    np.testing.assert_allclose(extremes[:2], (lambda_2, lambda_max), rtol=1e-10)
    assert extremes[2] == constants["method"]
    chi1, chi2 = spectral.chi_constants(graph, rate)
    np.testing.assert_allclose((chi1, chi2), (1 / lambda_2, resistance / 2), rtol=1e-10)


@pytest.mark.parametrize(
    "graph",
    [graphs.ring(200), graphs.torus(12, 17), graphs.grid(9, 23), graphs.exponential(300)],
    ids=["ring", "torus", "grid", "exponential"],
)
def test_closed_forms_at_larger_sizes(graph):
    rate = 2.5
    closed = spectral.rate_laplacian_constants(graph, rate)
    assert closed["method"].startswith("closed form")
    lambda_2, lambda_max, resistance = _dense_reference(graph, rate)
    np.testing.assert_allclose(closed["lambda_2"], lambda_2, rtol=1e-10)
    np.testing.assert_allclose(closed["lambda_max"], lambda_max, rtol=1e-10)
    np.testing.assert_allclose(closed["chi2"], resistance / 2, rtol=1e-10)


def test_unequal_rates_skip_the_closed_form():
    graph = graphs.ring(12)
    rates = np.full(graph.num_edges, 1.0)
    rates[0] = 3.0
    constants = spectral.rate_laplacian_constants(graph, rates)
    assert constants["method"] == "dense"
    lambda_2, lambda_max, resistance = _dense_reference(graph, rates)
    np.testing.assert_allclose(constants["lambda_2"], lambda_2, rtol=1e-10)
    np.testing.assert_allclose(constants["chi2"], resistance / 2, rtol=1e-10)


def test_disconnected_support_and_bad_method_raise():
    barbell = graphs.barbell(5, 2)
    rates = np.ones(barbell.num_edges)
    rates[np.flatnonzero(np.all(barbell.edges() == [5, 6], axis=1))] = 0.0  # cut the bridge
    for method in spectral.METHODS:
        with pytest.raises(ValueError, match="do not connect"):
            spectral.rate_laplacian_constants(barbell, rates, method=method)
        with pytest.raises(ValueError, match="do not connect"):
            spectral.laplacian_extremes(barbell, rates, method=method)
    # A recognized but disconnected family: the closed form's lambda_2 is 0.
    even = graphs.from_edges(
        10, np.stack([np.arange(10), (np.arange(10) + 2) % 10], 1), require_connected=False
    )
    assert graphs.recognize(even) == Topology("circulant", (10, (2,)))
    with pytest.raises(ValueError, match="do not connect"):
        spectral.rate_laplacian_constants(even, 1.0)
    with pytest.raises(ValueError, match="method must be one of"):
        spectral.rate_laplacian_constants(graphs.ring(5), 1.0, method="eig")


@pytest.mark.parametrize(
    "graph",
    [
        graphs.random_geometric(jax.random.key(1), 300, 0.13),
        graphs.barbell(12, 5),
        graphs.erdos_renyi(jax.random.key(2), 200, 0.05),
    ],
    ids=["random_geometric", "barbell", "erdos_renyi"],
)
def test_sparse_path_equals_dense(graph):
    rates = np.random.default_rng(3).uniform(0.5, 2.0, graph.num_edges)
    lambda_2, lambda_max, _ = _dense_reference(graph, 1.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sparse = spectral.rate_laplacian_constants(graph, 1.0, method="sparse")
        varied = spectral.rate_laplacian_constants(graph, rates, method="sparse")
    assert sparse["method"] == varied["method"] == "sparse"
    dense = spectral.rate_laplacian_constants(graph, rates, method="dense")
    np.testing.assert_allclose(sparse["lambda_2"], lambda_2, rtol=1e-9)
    np.testing.assert_allclose(sparse["lambda_max"], lambda_max, rtol=1e-9)
    np.testing.assert_allclose(varied["lambda_2"], dense["lambda_2"], rtol=1e-9)
    np.testing.assert_allclose(varied["lambda_max"], dense["lambda_max"], rtol=1e-9)
    for got in (sparse, varied):
        truth = (
            dense["chi2"] if got is varied else _dense_reference(graph, 1.0)[2] / 2
        )  # fmt: skip
        if got["chi2_exact"]:
            np.testing.assert_allclose(got["chi2"], truth, rtol=1e-9)
        else:  # a flagged bound: it brackets the truth, and a warning says so
            assert got["chi2_lower"] <= truth * (1 + 1e-9) and got["chi2"] >= truth
            assert any(issubclass(w.category, spectral.Chi2BoundWarning) for w in caught)
    extremes = spectral.laplacian_extremes(graph, rates, method="sparse")
    np.testing.assert_allclose(extremes[:2], (dense["lambda_2"], dense["lambda_max"]), rtol=1e-9)


def test_sparse_ignores_edges_of_rate_zero():
    # Zero the rates of a third of the edges off a spanning tree: still connected, and chi2
    # is over the edges of positive rate only.
    graph = graphs.random_geometric(jax.random.key(4), 250, 0.15)
    e = graph.edges()
    adjacency = scipy.sparse.coo_matrix(
        (np.arange(1, graph.num_edges + 1, dtype=float), (e[:, 0], e[:, 1])),
        shape=(graph.num_nodes,) * 2,
    )
    tree = scipy.sparse.csgraph.minimum_spanning_tree(adjacency).tocoo()
    in_tree = np.zeros(graph.num_edges, bool)
    in_tree[tree.data.astype(int) - 1] = True
    rng = np.random.default_rng(5)
    rates = rng.uniform(0.5, 2.0, graph.num_edges)
    rates[~in_tree & (rng.uniform(size=graph.num_edges) < 1 / 3)] = 0.0
    assert (rates == 0).sum() > 50
    lambda_2, lambda_max, resistance = _dense_reference(graph, rates)
    dense = spectral.rate_laplacian_constants(graph, rates)
    assert dense["method"] == "dense"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sparse = spectral.rate_laplacian_constants(graph, rates, method="sparse")
    for got in (dense, sparse):
        np.testing.assert_allclose(got["lambda_2"], lambda_2, rtol=1e-9)
        np.testing.assert_allclose(got["lambda_max"], lambda_max, rtol=1e-9)
    np.testing.assert_allclose(dense["chi2"], resistance / 2, rtol=1e-10)
    if sparse["chi2_exact"]:
        np.testing.assert_allclose(sparse["chi2"], resistance / 2, rtol=1e-9)
    else:
        assert sparse["chi2"] >= resistance / 2 >= sparse["chi2_lower"] * (1 - 1e-9)
        assert any(issubclass(w.category, spectral.Chi2BoundWarning) for w in caught)


def test_resistance_upper_bounds_hold():
    graph = graphs.random_geometric(jax.random.key(6), 200, 0.15)
    rates = np.random.default_rng(7).uniform(0.5, 2.0, graph.num_edges)
    rates[:5] = 0.0
    pinv = np.linalg.pinv(graphs.laplacian(graph, rates))
    e = graph.edges()
    exact = pinv[e[:, 0], e[:, 0]] + pinv[e[:, 1], e[:, 1]] - 2 * pinv[e[:, 0], e[:, 1]]
    bounds = spectral.resistance_upper_bounds(graph, rates)
    assert bounds.shape == (graph.num_edges,)
    assert np.all(np.isinf(bounds[:5]))
    assert np.all(bounds[5:] >= exact[5:] * (1 - 1e-12))
    assert np.all(bounds[5:] <= 1 / rates[5:] * (1 + 1e-12))  # the edge alone
    # A tree: every edge a bridge, the bound is exact.
    tree = graphs.path(30)
    np.testing.assert_allclose(spectral.resistance_upper_bounds(tree, 2.0 * np.ones(29)), 0.5)


def test_uncertified_chi2_is_a_flagged_upper_bound(monkeypatch):
    graph = graphs.random_geometric(jax.random.key(1), 300, 0.13)
    truth = spectral.rate_laplacian_constants(graph, 1.0, method="dense")["chi2"]
    monkeypatch.setattr(spectral, "RESISTANCE_SOLVES", 1)
    with pytest.warns(spectral.Chi2BoundWarning, match="upper bound"):
        bound = spectral.rate_laplacian_constants(graph, 1.0, method="sparse")
    assert not bound["chi2_exact"]
    assert bound["chi2_lower"] <= truth * (1 + 1e-9) <= bound["chi2"] * (1 + 2e-9)
    assert bound["chi2"] > bound["chi2_lower"]


def test_auto_goes_sparse_above_the_dense_limit(monkeypatch):
    graph = graphs.random_geometric(jax.random.key(1), 300, 0.13)
    dense = spectral.rate_laplacian_constants(graph, 1.0)
    assert dense["method"] == "dense"
    monkeypatch.setattr(spectral, "DENSE_MAX_NODES", 100)
    sparse = spectral.rate_laplacian_constants(graph, 1.0)
    assert sparse["method"] == "sparse"
    np.testing.assert_allclose(sparse["lambda_2"], dense["lambda_2"], rtol=1e-9)
    # A recognized family stays closed form above the limit.
    ring = spectral.rate_laplacian_constants(graphs.ring(300), 1.0)
    assert ring["method"] == "closed form (ring)"


def _refuse(*args, **kwargs):
    raise AssertionError("a dense O(n^3) routine was called")


def _refuse_dense(monkeypatch):
    for name in ("eigvalsh", "eigh", "inv", "pinv"):
        monkeypatch.setattr(np.linalg, name, _refuse)
        monkeypatch.setattr(scipy.linalg, name, _refuse)


def _refuse_sparse(monkeypatch):
    """Closed forms need no Lanczos and no factorization either."""
    for name in ("eigsh", "splu", "spsolve", "lobpcg"):
        monkeypatch.setattr(spectral.sla, name, _refuse)


def test_large_families_need_no_dense_work(monkeypatch):
    _refuse_dense(monkeypatch)
    _refuse_sparse(monkeypatch)
    n, rate = 100_000, 0.5
    ring = spectral.rate_laplacian_constants(graphs.ring(n), rate)
    assert ring["method"] == "closed form (ring)"
    k = np.arange(n)
    # 2 r (1 - cos(2 pi k / n)), written as 4 r sin^2(pi k / n): 1 - cos would lose 1e-8 here.
    ring_eigenvalues = 4 * rate * np.sin(np.pi * k / n) ** 2
    np.testing.assert_allclose(ring["lambda_2"], np.sort(ring_eigenvalues)[1], rtol=1e-9)
    np.testing.assert_allclose(ring["lambda_max"], ring_eigenvalues.max(), rtol=1e-12)
    # An edge of a ring is one resistor 1/rate in parallel with n - 1 in series.
    np.testing.assert_allclose(ring["chi2"], 0.5 * (n - 1) / (n * rate), rtol=1e-12)
    dim = 17
    cube = spectral.rate_laplacian_constants(graphs.hypercube(dim), rate)
    assert cube["method"] == "closed form (hypercube)"
    # Eigenvalues 2 r k, k = 0..dim.
    np.testing.assert_allclose(
        (cube["lambda_2"], cube["lambda_max"]), (2 * rate, 2 * dim * rate), rtol=1e-12
    )
    # Foster: resistances over the dim 2^(dim-1) equal edges sum to n - 1.
    np.testing.assert_allclose(
        cube["chi2"], 0.5 * (2**dim - 1) / (dim * 2 ** (dim - 1) * rate), rtol=1e-12
    )


def _fft_constants(kernel, rate):
    """lambda_2, lambda_max, chi2 of a translation-invariant Laplacian on Z_n or Z_r x Z_c.

    ``kernel`` is the Laplacian's row of node 0 (reshaped to the group); its FFT is the
    spectrum, and the inverse FFT of 1 / spectrum the row of node 0 of Lambda^+.
    """
    spectrum = rate * np.real(np.fft.fftn(kernel))
    ordered = np.sort(spectrum.ravel())
    inverse = np.zeros_like(spectrum)
    nonzero = np.arange(spectrum.size).reshape(spectrum.shape) != 0
    inverse[nonzero] = 1 / spectrum[nonzero]
    green = np.real(np.fft.ifftn(inverse))
    neighbours = kernel < 0
    chi2 = (green.flat[0] - green[neighbours]).max()  # R / 2 = g_00 - g_0c
    return ordered[1], ordered[-1], chi2


def test_large_circulant_and_torus_by_fft(monkeypatch):
    _refuse_dense(monkeypatch)
    _refuse_sparse(monkeypatch)
    rate, n = 0.7, 2**17
    kernel = np.zeros(n)
    for c in [2**k for k in range(17)]:
        kernel[c % n] -= 1
        kernel[-c % n] -= 1 if 2 * c != n else 0
    kernel[0] = -kernel.sum()
    got = spectral.rate_laplacian_constants(graphs.exponential(n), rate)
    assert got["method"] == "closed form (circulant)"
    expected = _fft_constants(kernel, rate)
    got = (got["lambda_2"], got["lambda_max"], got["chi2"])
    np.testing.assert_allclose(got, expected, rtol=1e-9)

    rows, cols = 300, 400
    kernel = np.zeros((rows, cols))
    kernel[0, 0] = 4
    kernel[1, 0] = kernel[-1, 0] = kernel[0, 1] = kernel[0, -1] = -1
    got = spectral.rate_laplacian_constants(graphs.torus(rows, cols), rate)
    assert got["method"] == "closed form (torus)"
    expected = _fft_constants(kernel, rate)
    got = (got["lambda_2"], got["lambda_max"], got["chi2"])
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_from_theory_on_a_large_ring_needs_no_dense_work(monkeypatch):
    n = 100_000
    graph = graphs.ring(n)
    problem = jg.problems.quadratic_from_arrays(np.ones((n, 1, 1)), np.zeros((n, 1)))
    _refuse_dense(monkeypatch)
    clocks = jg.Clocks(graph, 1.0, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jg.algorithms.base.TheoryConditionWarning)
        dadao = jg.algorithms.DADAO.from_theory(problem, clocks)
    chi1 = 1 / (4 * np.sin(np.pi / n) ** 2)
    np.testing.assert_allclose(float(dadao.beta_tilde), 2 * chi1 / np.sqrt(0.5), rtol=1e-6)
    a2cid2 = jg.algorithms.A2CiD2.from_theory(problem, clocks)
    chi2 = 0.5 * (n - 1) / n
    np.testing.assert_allclose(float(a2cid2.eta), 1 / (2 * np.sqrt(chi1 * chi2)), rtol=1e-6)


def test_long_thin_grid_takes_chi2_from_sparse_solves():
    # rows + cols > 4096: lambdas in closed form, chi2 by sparse solves. A ladder has no
    # triangles, so its bounds are 1 / rate and chi2 stays a flagged bound around the truth.
    rows, cols, rate = 2, 4095, 1.5
    with pytest.warns(spectral.Chi2BoundWarning, match="upper bound"):
        got = spectral.rate_laplacian_constants(graphs.grid(rows, cols), rate)
    assert got["method"] == "closed form (grid); chi2 sparse"
    # Eigenvalues of the product of paths: 4 r (sin^2(pi a / 2 rows) + sin^2(pi b / 2 cols)).
    np.testing.assert_allclose(got["lambda_2"], 4 * rate * np.sin(np.pi / (2 * cols)) ** 2)
    top = (
        4
        * rate
        * (
            np.sin(np.pi * (rows - 1) / (2 * rows)) ** 2
            + np.sin(np.pi * (cols - 1) / (2 * cols)) ** 2
        )
    )
    np.testing.assert_allclose(got["lambda_max"], top, rtol=1e-12)
    truth = spectral._grid_max_resistance(rows, cols) / (2 * rate)  # the Fourier sum, uncapped
    assert not got["chi2_exact"]
    assert got["chi2"] >= truth
    # The first candidates (equal bounds, taken in edge order) hold the ladder's end,
    # where the largest resistance is: the exact part is the truth.
    np.testing.assert_allclose(got["chi2_lower"], truth, rtol=1e-9)
    assert got["chi2"] <= 0.5 / rate * (1 + 1e-9)  # no more than the edge alone
