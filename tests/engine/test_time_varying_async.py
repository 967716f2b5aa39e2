"""Asynchronous runs on time-varying networks (``engine.time_varying``), and DADAO on them.

DADAO's time-varying analysis (Nabli & Oyallon) asks chi1 chi2 <= 1/2 of every
phase's rate-weighted Laplacian; with each phase at its own least rate
(``theory_comm_rate``) and constants from the worst chi1, DADAO must still
converge linearly to the exact optimum.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgossip as jg
from jaxgossip.algorithms.asynchronous.dadao import DADAO, graph_constants, theory_comm_rate
from jaxgossip.engine.events import init_state
from jaxgossip.engine.time_varying import simulate_time_varying, union_clocks
from tests import reference

# These tests run DADAO's dynamics (replays, rates, phases) also where chi1 chi2 > 1/2,
# the theory's sufficient condition; from_theory's warning about it is tested in
# tests/test_theory.py.
pytestmark = pytest.mark.filterwarnings("ignore::jaxgossip.algorithms.base.TheoryConditionWarning")

N, DIM = 8, 4


def _phases():
    """Three connected graphs on 8 nodes, each at the least edge rate DADAO's theory allows."""
    graphs = [
        jg.graphs.ring(N),
        jg.graphs.star(N),
        jg.graphs.erdos_renyi(jax.random.key(3), N, 0.4),
    ]
    return [jg.Clocks(g, 1.0, theory_comm_rate(g)) for g in graphs]


def _problem(kind, key):
    return reference.small_problem(kind, key, N, DIM)


def test_union_clocks_switch_edges_off(x64):
    phases = _phases()
    union = union_clocks(phases)
    edges = [tuple(e) for e in union[0].graph.edges().tolist()]
    for original, on_union in zip(phases, union):
        own = {tuple(e) for e in original.graph.edges().tolist()}
        rates = np.asarray(on_union.comm_rate)
        assert all((rates[k] > 0) == (edge in own) for k, edge in enumerate(edges))
        np.testing.assert_allclose(rates.sum(), np.sum(original.comm_rate), rtol=1e-12)
        events = jg.sample_events(jax.random.key(0), on_union, 4000)
        used = np.asarray(events.edge)[np.asarray(events.kind) == jg.COMMUNICATE]
        assert {edges[k] for k in np.unique(used)} <= own
    with pytest.raises(ValueError, match="non-empty"):
        union_clocks([])
    with pytest.raises(ValueError, match="numbers of nodes"):
        union_clocks([jg.Clocks(jg.graphs.ring(4)), jg.Clocks(jg.graphs.ring(5))])


def test_phases_chain_simulate_calls(key, x64):
    problem = _problem("quadratic", key)
    phases = _phases()
    algorithm = DADAO.from_theory(problem, phases)
    trace = simulate_time_varying(
        key, algorithm, problem, phases, events_per_phase=300, records_per_phase=3, num_phases=4
    )
    assert trace.time.shape == (4 * 3 + 1,)
    union = union_clocks(phases)
    state, time = init_state(algorithm, problem), 0.0
    for p in range(4):
        phase = jg.simulate(
            jax.random.fold_in(key, p),
            algorithm,
            problem,
            union[p % 3],
            num_events=300,
            num_records=3,
            initial_state=state,
            start_time=time,
        )
        state, time = phase.final_state, phase.time[-1]
    for got, want in zip(jax.tree.leaves(trace.final_state), jax.tree.leaves(state)):
        np.testing.assert_array_equal(got, want)
    assert int(trace.num_computations[-1] + trace.num_communications[-1]) == 4 * 300


def test_from_theory_takes_the_worst_chi1(key):
    problem = _problem("quadratic", key)
    phases = _phases()
    chi1 = [graph_constants(c.graph, c.comm_rate)[0] for c in phases]
    worst = phases[int(np.argmax(chi1))]
    np.testing.assert_allclose(
        DADAO.from_theory(problem, phases).beta_tilde,
        DADAO.from_theory(problem, worst).beta_tilde,
        rtol=1e-6,
    )
    assert len(set(np.round(chi1, 6))) == 3  # the phases do differ


@pytest.mark.parametrize("kind", ["quadratic", "logistic"])
def test_dadao_converges_linearly_on_a_time_varying_network(key, x64, kind):
    problem = _problem(kind, key)
    phases = _phases()
    trace = simulate_time_varying(
        key,
        DADAO.from_theory(problem, phases),
        problem,
        phases,
        events_per_phase=150,
        records_per_phase=3,
        num_phases=100,
        x0=jnp.full(DIM, 2.0),
    )
    sub = np.asarray(trace.suboptimality)
    print(kind, "suboptimality every 5 phases", sub[::15])
    reached = np.flatnonzero(sub < 1e-10)
    assert reached.size and np.all(sub[reached[0] :] < 1e-10), sub
    # Linear across many switches of the graph: the error falls at every 5 phases
    # (750 events) until it reaches 1e-10, which takes at least 10 switches.
    assert reached[0] >= 10 * 3, reached[0]
    every_5_phases = np.log10(sub[: reached[0] : 15])
    assert np.all(np.diff(every_5_phases) < 0), every_5_phases
