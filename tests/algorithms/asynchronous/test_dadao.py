"""DADAO (Nabli & Oyallon, ICML 2023): exact flow, NumPy replay, linear and accelerated rates."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

import jaxgossip as jg
from jaxgossip import theory
from jaxgossip.algorithms.asynchronous.dadao import DADAO, graph_constants, theory_comm_rate
from tests import measure, reference
from tests.replays import dadao as replay_dadao

# These tests run DADAO's dynamics (replays, rates, phases) also where chi1 chi2 > 1/2,
# the theory's sufficient condition; from_theory's warning about it is tested in
# tests/test_theory.py.
pytestmark = pytest.mark.filterwarnings("ignore::jaxgossip.algorithms.base.TheoryConditionWarning")

NUM_NODES, DIM = 8, 4


def _problem(kind, key):
    return reference.small_problem(kind, key, NUM_NODES, DIM)


def _theory_clocks(graph):
    return jg.Clocks(graph, compute_rate=1.0, comm_rate=theory_comm_rate(graph))


def _constants(algorithm):
    return {f.name: float(getattr(algorithm, f.name)) for f in dataclasses.fields(algorithm)}


def test_transition_is_the_matrix_exponential(x64):
    problem = _problem("quadratic", jax.random.key(0))
    theory = DADAO.from_theory(problem, _theory_clocks(jg.graphs.ring(NUM_NODES)))
    # Also off-theory constants: distinct rates, a strongly underdamped (y, y~) oscillator.
    other = DADAO(**{**_constants(theory), "eta": 0.3, "eta_tilde": 0.05, "alpha": 0.7,
                     "alpha_tilde": 1.3, "theta": 5.0, "nu": 0.8})  # fmt: skip
    for algorithm in (theory, other):
        a = replay_dadao.mixing_matrix(_constants(algorithm))
        np.testing.assert_allclose(algorithm.mixing_matrix(), a, rtol=0, atol=1e-15)
        for tau in (0.0, 1e-6, 0.3, 2.0, 17.0, 400.0):
            np.testing.assert_allclose(
                algorithm.transition(jnp.asarray(tau)),
                scipy.linalg.expm(a * tau),
                rtol=0,
                atol=1e-12,
                err_msg=f"tau={tau}",
            )


def test_graph_constants_match_closed_forms():
    n, rate = 8, 0.3
    chi1, chi2 = graph_constants(jg.graphs.complete(n), rate)
    np.testing.assert_allclose([chi1, chi2], [1 / (n * rate), 1 / (n * rate)], rtol=1e-12)
    chi1, chi2 = graph_constants(jg.graphs.ring(n), rate)
    lambda_2 = 2 * rate * (1 - np.cos(2 * np.pi / n))
    np.testing.assert_allclose([chi1, chi2], [1 / lambda_2, (n - 1) / (2 * n * rate)], rtol=1e-12)
    # Gradient clocks at rate r: time is counted in gradients, Lambda becomes Lambda / r.
    np.testing.assert_allclose(graph_constants(jg.graphs.ring(n), rate, 2.0), [2 * chi1, 2 * chi2])
    for graph in (jg.graphs.ring(n), jg.graphs.path(n), jg.graphs.star(n)):
        chi1, chi2 = graph_constants(graph, theory_comm_rate(graph))
        np.testing.assert_allclose(chi1 * chi2, 0.5, rtol=1e-12)


def test_theory_rate_and_chi1_are_the_authors(x64):
    # The authors' experiments weight the Laplacian by edge probabilities,
    # L_norm = L / |E|, draw communications at the total rate sqrt(2 chi1 chi2) of
    # L_norm, uniformly over the edges, and pass chi1(L_norm) / that rate as chi1*.
    n = NUM_NODES
    for graph in (jg.graphs.ring(n), jg.graphs.path(n), jg.graphs.star(n)):
        edges = graph.edges()
        laplacian = np.zeros((n, n))
        for i, j in edges:
            laplacian[[i, j], [i, j]] += 1
            laplacian[[i, j], [j, i]] -= 1
        normalized = laplacian / len(edges)
        chi1 = 1 / np.linalg.eigvalsh(normalized)[1]
        pinv = np.linalg.pinv(normalized)
        chi2 = max(0.5 * (pinv[i, i] + pinv[j, j] - 2 * pinv[i, j]) for i, j in edges)
        total = np.sqrt(2 * chi1 * chi2)
        np.testing.assert_allclose(theory_comm_rate(graph), total / len(edges), rtol=1e-10)
        np.testing.assert_allclose(
            graph_constants(graph, total / len(edges))[0], chi1 / total, rtol=1e-10
        )


def test_from_theory_constants(key):
    problem = _problem("quadratic", key)
    graph = jg.graphs.ring(NUM_NODES)
    rate = theory_comm_rate(graph)
    c = _constants(DADAO.from_theory(problem, _theory_clocks(graph)))
    mu, big_l = float(problem.mu), float(problem.L)
    nu = mu / 2
    root = np.sqrt(nu / big_l)
    chi1, _ = graph_constants(graph, rate)
    expected = dict(
        nu=nu, eta=root / 8, eta_tilde=root / 8, alpha=root / 4, alpha_tilde=root / 8,
        theta=1 / (2 * root), gamma=1 / (4 * big_l), gamma_tilde=1 / (4 * np.sqrt(big_l * nu)),
        delta=root / 4, delta_tilde=1.0, beta=0.5, beta_tilde=2 * chi1 / root,
    )  # fmt: skip
    for name, value in expected.items():
        np.testing.assert_allclose(c[name], value, rtol=1e-6, err_msg=name)
    # Doubling every clock is a change of time: ODE rates double, jumps stay.
    fast = _constants(DADAO.from_theory(problem, jg.Clocks(graph, 2.0, 2 * rate)))
    for name in c:
        factor = 2.0 if name in ("eta", "eta_tilde", "alpha", "alpha_tilde", "theta") else 1.0
        np.testing.assert_allclose(fast[name], factor * c[name], rtol=1e-6, err_msg=name)
    with pytest.raises(ValueError, match="equal compute rates"):
        DADAO.from_theory(problem, jg.Clocks(graph, np.linspace(1, 2, NUM_NODES), rate))
    with pytest.raises(ValueError, match="4 theta > alpha"):
        DADAO(**{**c, "theta": c["alpha"] / 5})


@pytest.mark.parametrize("kind", ["quadratic", "logistic"])
def test_engine_equals_numpy_replay(key, x64, kind):
    problem = _problem(kind, key)
    graph = jg.graphs.ring(NUM_NODES)
    clocks = jg.Clocks(graph, compute_rate=1.0, comm_rate=np.linspace(0.5, 2.0, NUM_NODES))
    algorithm = DADAO.from_theory(problem, clocks)
    events = jg.sample_events(jax.random.key(3), clocks, 2000)
    x0 = np.asarray(jax.random.normal(jax.random.key(2), (NUM_NODES, DIM)))
    trace = jg.simulate(
        key, algorithm, problem, clocks, num_events=2000, num_records=4, x0=x0, events=events
    )
    expected = replay_dadao.replay(events, problem, algorithm, x0)
    assert jax.tree.structure(trace.final_state) == jax.tree.structure(expected)
    for got, want in zip(trace.final_state, expected):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind", ["quadratic", "logistic"])
def test_converges_linearly_to_high_precision(key, x64, kind):
    problem = _problem(kind, key)
    clocks = _theory_clocks(jg.graphs.ring(NUM_NODES))  # chi1 * chi2 = 1/2, the least allowed
    trace = jg.simulate(
        key,
        DADAO.from_theory(problem, clocks),
        problem,
        clocks,
        num_events=20_000,
        num_records=200,
        x0=jnp.full(DIM, 2.0),
    )
    sub = np.asarray(trace.suboptimality)
    reached = np.flatnonzero(sub < 1e-10)
    assert reached.size and np.all(sub[reached[0] :] < 1e-10), sub  # reached, and stays there
    # Linear: reaching 1e-10 relative takes about twice as long as 1e-5 (measured 2.0-2.3).
    t_5, t_10 = (measure.first_reaching(trace, "time", eps) for eps in (1e-5, 1e-10))
    assert t_10 < 3 * t_5, (t_5, t_10)


def test_gradients_to_precision_grow_like_sqrt_kappa(key, x64):
    """DADAO: gradients to 1e-6 relative ~ kappa^0.5; AsyncGossipSGD with step 1/L ~ kappa^1."""
    eps = 1e-6
    graph = jg.graphs.ring(NUM_NODES)
    clocks = _theory_clocks(graph)
    keys = jax.random.split(key, 4)

    def gradients_to_eps(algorithms, problems, num_events):
        def run(k, algorithm, problem):
            return jg.simulate(
                k, algorithm, problem, clocks, num_events=num_events, num_records=2000
            )

        traces = measure.batched(run, keys, algorithms, problems)
        return measure.to_reach(traces, "num_computations", eps).mean(axis=1)  # over the seeds

    def slope(counts):
        return measure.loglog_slope(measure.KAPPAS, counts)

    # DADAO on heterogeneous local minimizers (its general case) and on identical ones.
    problems = [
        measure.aligned_quadratic(k, NUM_NODES, DIM, heterogeneity=h)
        for h in (1.0, 0.0)
        for k in measure.KAPPAS
    ]
    dadao = gradients_to_eps([DADAO.from_theory(p, clocks) for p in problems], problems, 40_000)
    # AsyncGossipSGD is exact only with identical local minimizers.
    sgd_problems = problems[3:]
    sgd = gradients_to_eps(
        [jg.algorithms.AsyncGossipSGD(step_size=1.0 / float(p.L)) for p in sgd_problems],
        sgd_problems,
        80_000,
    )
    slopes = slope(dadao[:3]), slope(dadao[3:]), slope(sgd)
    print("gradients to eps: DADAO", dadao, "AsyncGossipSGD", sgd, "slopes", slopes)
    assert slopes[0] <= 0.65 and slopes[1] <= 0.65, (dadao, slopes)
    assert slopes[2] >= 0.8, (sgd, slopes)
    assert dadao[3 + 2] < sgd[2]  # at kappa = 1000 acceleration already pays off
    # Within one constant factor of the paper's O(n sqrt(kappa) log(1/eps)) across kappa.
    rate = float(np.asarray(clocks.compute_rate)[0])
    total_comm = float(np.sum(clocks.comm_rate))
    chi = theory.graph_constants(graph, np.asarray(clocks.comm_rate) / rate)
    for counts, family in ((dadao[:3], problems[:3]), (dadao[3:], problems[3:])):
        predicted = [
            theory.dadao(
                float(p.L / p.mu), chi["chi1"], chi["chi2"], NUM_NODES, rate, total_comm, eps
            ).computations
            for p in family
        ]
        ratios = counts / np.array(predicted)
        print("measured / predicted gradients", ratios)
        assert ratios.max() / ratios.min() < 3.0, ratios


def test_communications_to_precision_grow_like_sqrt_chi1_chi2(key, x64):
    """At the least edge rates the theory allows, the time to eps does not depend on the
    graph, so communications to eps grow like sqrt(chi1* chi2*) (edge probabilities).
    Below that rate the theory constants are not safe: at half of it DADAO diverges."""
    n = NUM_NODES
    complete = jg.graphs.complete(n)
    pairs = [tuple(e) for e in complete.edges().tolist()]
    # Every graph as a subgraph of the complete one (zero rate off its edges): one compilation.
    configs = [(g, 1.0) for g in (complete, jg.graphs.ring(n), jg.graphs.path(n))]
    configs.append((jg.graphs.ring(n), 0.5))  # chi1 * chi2 = 2 > 1/2
    problem = _problem("quadratic", key)
    clocks, algorithms, sqrt_chi = [], [], []
    for graph, factor in configs:
        rates = np.zeros(len(pairs))
        edges = [pairs.index(tuple(e)) for e in graph.edges().tolist()]
        rates[edges] = factor * theory_comm_rate(graph)
        clocks.append(jg.Clocks(complete, 1.0, rates))
        algorithms.append(DADAO.from_theory(problem, clocks[-1]))
        sqrt_chi.append(np.sqrt(np.prod(graph_constants(graph, 1.0 / graph.num_edges))))

    def run(k, algorithm, clock):
        return jg.simulate(k, algorithm, problem, clock, num_events=12_000, num_records=1200)

    traces = measure.batched(run, jax.random.split(key, 4), algorithms, clocks)
    comms = measure.first_reaching(traces, "num_communications", 1e-6)[:3].mean(axis=1)
    times = measure.first_reaching(traces, "time", 1e-6)[:3].mean(axis=1)
    slope = measure.loglog_slope(sqrt_chi[:3], comms)
    print("sqrt(chi1 chi2)", sqrt_chi, "communications", comms, "times", times, "slope", slope)
    assert not np.any(np.isnan(comms)) and not np.any(traces.diverged[:3]), comms
    assert 0.8 <= slope <= 1.2, (comms, slope)
    assert np.ptp(times) < 0.25 * np.mean(times), times
    under = np.asarray(traces.suboptimality[3])
    assert not np.any(under[:, -1] <= under[:, 0]), under[:, -1]  # grew, or inf / nan
