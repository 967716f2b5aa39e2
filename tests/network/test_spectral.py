"""Tests of jaxgossip.network.spectral and graphs.recognize: closed forms, dense, sparse."""

import warnings

import jax
import numpy as np
import pytest

import jaxgossip as jg
from jaxgossip.network import graphs, spectral


def _dense_reference(graph, rate):
    """lambda_2, lambda_max and the largest edge resistance, by eigh and pinv alone."""
    lap = graphs.laplacian(graph, np.full(graph.num_edges, rate))
    eigenvalues = np.linalg.eigvalsh(lap)
    pinv = np.linalg.pinv(lap)
    e = graph.edges()
    resistance = pinv[e[:, 0], e[:, 0]] + pinv[e[:, 1], e[:, 1]] - 2 * pinv[e[:, 0], e[:, 1]]
    return eigenvalues[1], eigenvalues[-1], resistance.max()


FAMILIES = [
    (graphs.complete(7), "complete"),
    (graphs.complete(2), "complete"),
    (graphs.ring(3), "complete"),  # K3
    (graphs.ring(12), "ring"),
    (graphs.path(9), "path"),
    (graphs.star(8), "star"),
    (graphs.hypercube(1), "complete"),
    (graphs.hypercube(4), "hypercube"),
    (graphs.torus(3, 5), "torus"),
    (graphs.torus(4, 4), "torus"),
    (graphs.grid(3, 6), "grid"),
    (graphs.grid(1, 6), "path"),
    (graphs.exponential(20), "circulant"),
    (graphs.exponential(16), "circulant"),
]


@pytest.mark.parametrize("graph, kind", FAMILIES)
def test_recognize_names_each_family(graph, kind):
    assert graphs.recognize(graph).kind == kind


def test_recognize_refuses_what_is_not_a_generator_family():
    ring = graphs.ring(10)
    perm = np.random.default_rng(0).permutation(10)
    relabelled = graphs.from_edges(10, perm[ring.edges()])
    assert graphs.recognize(relabelled) is None
    chord = graphs.from_edges(10, np.r_[ring.edges(), [[0, 5]]])
    assert graphs.recognize(chord) is None
    geometric = graphs.random_geometric(jax.random.key(0), 40, 0.35)
    assert graphs.recognize(geometric) is None


@pytest.mark.parametrize("graph, kind", FAMILIES)
@pytest.mark.parametrize("rate", [1.0, 0.37])
def test_closed_forms_equal_eigh_and_pinv(graph, kind, rate):
    constants = spectral.rate_laplacian_constants(graph, rate)
    assert constants["method"].startswith("closed form")
    lambda_2, lambda_max, resistance = _dense_reference(graph, rate)
    np.testing.assert_allclose(constants["lambda_2"], lambda_2, rtol=1e-10)
    np.testing.assert_allclose(constants["lambda_max"], lambda_max, rtol=1e-10)
    np.testing.assert_allclose(constants["chi2"], resistance / 2, rtol=1e-10)
    assert constants["chi2_exact"]


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


def _refuse_dense(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a dense O(n^3) routine was called")

    for name in ("eigvalsh", "eigh", "inv", "pinv"):
        monkeypatch.setattr(np.linalg, name, refuse)


def test_large_families_need_no_dense_work(monkeypatch):
    _refuse_dense(monkeypatch)
    n, rate = 100_000, 0.5
    ring = spectral.rate_laplacian_constants(graphs.ring(n), rate)
    k = np.arange(n)
    ring_eigenvalues = 4 * rate * np.sin(np.pi * k / n) ** 2  # 1 - cos would lose 1e-8 here
    np.testing.assert_allclose(ring["lambda_2"], np.sort(ring_eigenvalues)[1], rtol=1e-9)
    np.testing.assert_allclose(ring["lambda_max"], ring_eigenvalues.max(), rtol=1e-12)
    # An edge of a ring is one resistor 1/rate in parallel with n - 1 in series.
    np.testing.assert_allclose(ring["chi2"], 0.5 * (n - 1) / (n * rate), rtol=1e-12)
    dim = 17
    cube = spectral.rate_laplacian_constants(graphs.hypercube(dim), rate)
    np.testing.assert_allclose((cube["lambda_2"], cube["lambda_max"]), (2 * rate, 2 * dim * rate))
    # Foster: resistances over the dim 2^(dim-1) equal edges sum to n - 1.
    np.testing.assert_allclose(cube["chi2"], 0.5 * (2**dim - 1) / (dim * 2 ** (dim - 1) * rate))


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
