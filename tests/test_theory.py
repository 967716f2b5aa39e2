"""The theory module: graph constants in closed form, predicted complexities, and
randomized gossip's measured averaging time between the bounds the module states."""

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgossip as jg
from jaxgossip import theory
from jaxgossip.network.mixing import metropolis_mixing


def _unit_total_rate(graph):
    """Edge rates 1/|E|: the Laplacian normalized by the number of edges."""
    return graph_constants_for(graph, 1.0 / graph.num_edges)


def graph_constants_for(graph, rate):
    return theory.graph_constants(graph, comm_rate=rate)


@pytest.mark.parametrize(
    "graph",
    [jg.graphs.ring(12), jg.graphs.complete(9), jg.graphs.hypercube(4), jg.graphs.star(7)],
    ids=["ring", "complete", "hypercube", "star"],
)
def test_chi2_is_half_n_minus_one_on_edge_transitive_graphs(graph):
    # Foster: sum_e R_e = n - 1; edge-transitive graphs share it equally, so with
    # rates 1/|E| every edge has resistance (n - 1), and chi2 = (n - 1) / 2.
    c = _unit_total_rate(graph)
    np.testing.assert_allclose(c["chi2"], (graph.num_nodes - 1) / 2, rtol=1e-10)


def test_complete_graph_of_100_nodes():
    c = _unit_total_rate(jg.graphs.complete(100))
    np.testing.assert_allclose([c["chi1"], c["chi2"]], [49.5, 49.5], rtol=1e-10)


@pytest.mark.parametrize("dim", [2, 3, 5])
def test_hypercube_closed_forms(dim):
    c = theory.graph_constants(jg.graphs.hypercube(dim))
    n = 2**dim
    # Laplacian eigenvalues of Q_d are 2k, k = 0..d.
    np.testing.assert_allclose([c["lambda_2"], c["lambda_max"]], [2.0, 2.0 * dim], rtol=1e-10)
    np.testing.assert_allclose(c["spectral_gap"], 1 / dim, rtol=1e-10)
    np.testing.assert_allclose(c["adom_chi"], dim, rtol=1e-10)
    np.testing.assert_allclose(c["chi2"], (n - 1) / (dim * n), rtol=1e-10)


@pytest.mark.parametrize("n", [3, 6, 11])
def test_path_closed_forms(n):
    c = theory.graph_constants(jg.graphs.path(n))
    np.testing.assert_allclose(c["lambda_2"], 2 - 2 * math.cos(math.pi / n), rtol=1e-10)
    np.testing.assert_allclose(c["lambda_max"], 2 + 2 * math.cos(math.pi / n), rtol=1e-10)
    np.testing.assert_allclose(c["chi2"], 0.5, rtol=1e-10)  # every edge of a tree is a bridge
    np.testing.assert_allclose(c["adom_chi"], c["lambda_max"] / c["lambda_2"], rtol=1e-12)


def test_gossip_matrix_gap_of_metropolis_weights(x64):
    # Metropolis weights on the ring C_n are 1/3 on each edge: W = I - L/3,
    # eigenvalues 1 - (2 - 2 cos(2 pi k / n)) / 3, the most negative at k = n/2.
    n = 10
    w = metropolis_mixing(jg.graphs.ring(n)).to_dense()
    lam = 1 - (2 - 2 * np.cos(2 * np.pi * np.arange(n) / n)) / 3
    expected = 1 - max(abs(np.sort(lam)[-2]), abs(lam.min()))
    np.testing.assert_allclose(theory.gossip_matrix_gap(w), expected, rtol=1e-10)
    with pytest.raises(ValueError, match="doubly stochastic"):
        theory.gossip_matrix_gap(w + 0.01)
    with pytest.raises(ValueError, match="square"):
        theory.gossip_matrix_gap(np.ones(3))


def test_closed_form_predictions():
    kappa, n, eps = 100.0, 10, 1e-4
    log = math.log(1e4)
    assert theory.gradient_descent(kappa, n, eps).computations == pytest.approx(n * kappa * log)
    assert theory.nesterov(kappa, n, eps).computations == pytest.approx(
        n * 10 * (log + math.log(2))
    )
    assert theory.svrg(kappa, n, eps).computations == pytest.approx(
        (n + 100 * kappa) * log / math.log(2)
    )
    assert theory.katyusha(kappa, n, eps).computations == pytest.approx((n + math.sqrt(1000)) * log)
    lower = theory.scaman_lower_bound(kappa, 0.25, n, 20, eps)
    assert lower.computations == pytest.approx(n * 10 * log)
    assert lower.communications == pytest.approx(20 * 20 * log)
    assert theory.msda(kappa, 0.25, n, 20, eps).communications == lower.communications
    tv = theory.kovalev_lower_bound(kappa, 4.0, n, 20, eps)
    assert tv.communications == pytest.approx(20 * 4 * 10 * log)
    assert theory.adom_plus(kappa, 4.0, n, 20, eps).computations == pytest.approx(n * 40 * log)
    multi = theory.adom_plus(kappa, 4.0, n, 20, eps, multi_consensus=True)
    assert multi.computations == pytest.approx(tv.computations)
    adfs = theory.adfs_lower_bound(kappa, 25, 0.25, n, 20, eps)
    assert adfs.computations == pytest.approx(n * (25 + 50) * log)
    dadao = theory.dadao(kappa, 0.4, 0.5, n, 2.0, 30.0, eps)
    assert dadao.computations == pytest.approx(n * 10 * log)  # independent of the rate
    assert dadao.communications == pytest.approx(30.0 * 10 * log / 2.0)
    # Lower bounds never exceed the optimal methods' figures at constant 1.
    assert lower.computations <= theory.nesterov(kappa, n, eps).computations
    for bad in (0.0, 1.0, -1e-3):
        with pytest.raises(ValueError, match="eps"):
            theory.nesterov(kappa, n, bad)
    with pytest.raises(ValueError, match="kappa"):
        theory.nesterov(0.5, n, eps)


def test_report_and_lower_bounds(key):
    graph = jg.graphs.ring(8)
    problem = jg.problems.quadratic(key, 8, 3, kappa=50.0)
    clocks = jg.Clocks(graph, 1.0, 2.0)
    rows = theory.report(problem, clocks, eps=1e-5)
    methods = [row.method for row in rows]
    for name in ("Nesterov (centralized)", "Katyusha (centralized)", "MSDA", "ADOM+", "DADAO"):
        assert name in methods
    kinds = {row.kind for row in rows}
    assert kinds == {"upper bound", "lower bound"}
    assert all(row.source and row.constant in (theory.EXACT, theory.UP_TO_CONSTANT) for row in rows)
    text = theory.format_report(rows)
    assert "Scaman" in text and "up to const." in text and "[1]" in text
    # DADAO's condition is reported with this setting's chi1 chi2 (of Lambda / r, r = 1).
    c = theory.graph_constants(graph, 2.0)
    dadao = rows[methods.index("DADAO")]
    assert f"{c['chi1'] * c['chi2']:.3g}" in dadao.condition
    # lower_bounds: eps is absolute, made relative to f(0) - f*.
    initial = float(problem.value(jnp.zeros(3)) - problem.f_star)
    bounds = theory.lower_bounds(problem, clocks, 1e-3 * initial)
    expected = theory.scaman_lower_bound(
        float(problem.L / problem.mu), c["spectral_gap"], 8, 8, 1e-3
    )
    assert bounds["computations"] == pytest.approx(expected.computations)
    assert bounds["communications"] == pytest.approx(expected.communications)
    assert "Scaman" in bounds["source"]


def _averaging_time(graph, eps, num_seeds, num_events, key):
    """Median-free estimate of the eps-averaging time from a Fiedler-vector start.

    E V(t) is the mean over seeds of V_s(t), each V_s a step function of time; it
    is evaluated on a grid of times and the first grid time with E V <= eps V(0)
    is returned, with the time grid's step.
    """
    lap = jg.graphs.laplacian(graph)
    fiedler = np.linalg.eigh(lap)[1][:, 1]
    problem = jg.problems.quadratic(jax.random.key(0), graph.num_nodes, 1, kappa=2.0)
    clocks = jg.Clocks(graph, compute_rate=0.0, comm_rate=1.0)
    keys = jax.random.split(key, num_seeds)
    trace = jax.vmap(
        lambda k: jg.simulate(
            k,
            jg.algorithms.Gossip(),
            problem,
            clocks,
            num_events=num_events,
            num_records=num_events,
            x0=jnp.asarray(fiedler[:, None]),
        )
    )(keys)
    times, consensus = np.asarray(trace.time), np.asarray(trace.consensus)
    grid = np.linspace(0.0, np.min(times[:, -1]), 4000)
    # V_s(t): the value of the last record at or before t.
    index = np.stack([np.searchsorted(t, grid, side="right") - 1 for t in times])
    mean = np.take_along_axis(consensus, index, axis=1).mean(axis=0) / consensus[0, 0]
    reached = np.flatnonzero(mean <= eps)
    assert reached.size, mean[-1]
    return grid[reached[0]]


@pytest.mark.parametrize(
    "name, graph, num_events",
    [
        ("ring", jg.graphs.ring(12), 2500),
        ("grid", jg.graphs.grid(3, 4), 2500),
        ("complete", jg.graphs.complete(12), 400),
    ],
)
def test_gossip_averaging_time_between_the_bounds(name, graph, num_events, key, x64):
    """Measured eps-averaging time of gossip within [log(1/eps), 2 log(1/eps)] / lambda_2.

    The bounds of ``theory.gossip_averaging_time`` are exact; the measurement is a
    Monte Carlo mean over 400 runs, so each side gets a 5% allowance for sampling
    error. On the complete graph E V(t) = exp(-n t / 2) V(0) exactly: the
    measurement sits on the upper bound, which the allowance covers.
    """
    eps = 1e-3
    lambda_2 = theory.graph_constants(graph)["lambda_2"]
    lower, upper = theory.gossip_averaging_time(lambda_2, eps)
    measured = _averaging_time(graph, eps, 400, num_events, key)
    print(name, "lower", lower, "measured", measured, "upper", upper)
    assert 0.95 * lower <= measured <= 1.05 * upper, (lower, measured, upper)


def test_a_bound_whose_condition_fails_is_marked_not_printed_as_valid():
    """DADAO's chi1 chi2 <= 1/2 fails at unit rates on ring(16) (chi1 chi2 = 3.1):
    its row is marked and its figures are put in parentheses (issue #13, item 7)."""
    problem = jg.problems.quadratic(jax.random.key(0), num_nodes=16, dim=4)
    failing = theory.report(problem, jg.Clocks(jg.graphs.ring(16), 1.0, 1.0), 1e-6)
    dadao = next(row for row in failing if row.method == "DADAO")
    assert dadao.condition_met is False and not dadao.valid
    text = theory.format_report(failing)
    line = next(line for line in text.splitlines() if line.startswith("DADAO"))
    assert "CONDITION FAILS" in line and f"({theory._count(dadao.communications)})" in line
    assert "FAILS in this setting" in text
    from jaxgossip.algorithms.asynchronous.dadao import theory_comm_rate

    rate = 1.01 * theory_comm_rate(jg.graphs.ring(16))
    holding = theory.report(problem, jg.Clocks(jg.graphs.ring(16), 1.0, rate), 1e-6)
    dadao = next(row for row in holding if row.method == "DADAO")
    assert dadao.condition_met is True and dadao.valid
    assert "CONDITION FAILS" not in theory.format_report(holding)


def test_dadao_from_theory_warns_outside_its_condition():
    from jaxgossip.algorithms.asynchronous.dadao import theory_comm_rate
    from jaxgossip.algorithms.base import TheoryConditionWarning

    problem = jg.problems.quadratic(jax.random.key(0), num_nodes=16, dim=4)
    graph = jg.graphs.ring(16)
    with pytest.warns(TheoryConditionWarning, match=r"chi1 chi2 = 3.08 > 1/2.*2.48"):
        jg.algorithms.DADAO.from_theory(problem, jg.Clocks(graph, 1.0, 1.0))
    # The least rate it names is theory_comm_rate's for the clocks' compute rate,
    # for uniform edge rates (read off chi1 chi2) and for varied ones alike.
    varied = np.linspace(0.2, 0.4, graph.num_edges)
    for compute_rate, comm_rate in ((2.0, 0.5), (0.5, 0.3), (1.5, varied)):
        least = theory_comm_rate(graph, compute_rate)
        with pytest.warns(TheoryConditionWarning, match=rf"rates >= {least:.3g} \(theory"):
            jg.algorithms.DADAO.from_theory(problem, jg.Clocks(graph, compute_rate, comm_rate))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jg.algorithms.DADAO.from_theory(
            problem, jg.Clocks(graph, 1.0, 1.01 * theory_comm_rate(graph))
        )
