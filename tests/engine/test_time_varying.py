"""Time-varying networks in the synchronous engine (``TimeVaryingMixing``).

The network cycles through K gossip matrices on different graphs. Checked:
the union-graph representation equals each matrix, costs count only the
edges a round uses, methods without time-varying theory are refused, a
one-matrix sequence equals the fixed network, and ADOM+ (Kovalev et al.,
NeurIPS 2021, designed for time-varying networks) and DIGing (Nedić et al.,
SIAM J. Optim. 2017, idem) equal their NumPy replays and converge linearly to
1e-10 in float64.
"""

import jax
import numpy as np
import pytest

import jaxgossip as jg
from jaxgossip.algorithms.synchronous import (
    DSGD,
    EXTRA,
    MSDA,
    ADOMPlus,
    ADOMPlusMultiConsensus,
    DIGing,
)
from jaxgossip.engine.rounds import simulate_rounds
from jaxgossip.network.mixing import metropolis_mixing, time_varying_mixing
from tests import reference
from tests.replays_sync import adom_plus as adom_replay
from tests.replays_sync import diging as diging_replay

N, DIM = 8, 3


def _graphs():
    """Three different connected graphs on 8 nodes whose edge sets differ."""
    return [
        jg.graphs.ring(N),
        jg.graphs.star(N),
        jg.graphs.erdos_renyi(jax.random.key(3), N, 0.35),
    ]


def _network():
    mixings = [metropolis_mixing(g) for g in _graphs()]
    return mixings, time_varying_mixing(mixings)


def test_union_graph_holds_every_matrix(x64):
    mixings, network = _network()
    union = {tuple(e) for e in network.graph.edges().tolist()}
    assert union == set().union(*({tuple(e) for e in m.graph.edges().tolist()} for m in mixings))
    for r in range(7):
        round_mixing = network.at(r)
        want = mixings[r % 3]
        np.testing.assert_allclose(round_mixing.to_dense(), want.to_dense(), atol=1e-15)
        assert int(round_mixing.num_links) == want.graph.num_edges
        xs = np.asarray(jax.random.normal(jax.random.key(r), (N, DIM)))
        np.testing.assert_allclose(round_mixing.apply(xs), want.to_dense() @ xs, atol=1e-12)
    assert float(network.lambda_2) == min(float(m.lambda_2) for m in mixings)
    assert float(network.lambda_max) == max(float(m.lambda_max) for m in mixings)


def test_rejects_bad_sequences_and_methods_without_time_varying_theory(key):
    with pytest.raises(ValueError, match="non-empty"):
        time_varying_mixing([])
    with pytest.raises(ValueError, match="numbers of nodes"):
        time_varying_mixing(
            [metropolis_mixing(jg.graphs.ring(4)), metropolis_mixing(jg.graphs.ring(5))]
        )
    _, network = _network()
    problem = jg.problems.quadratic(key, N, DIM, kappa=10.0)
    fixed = metropolis_mixing(jg.graphs.ring(N))
    for algorithm in (EXTRA.from_theory(problem, fixed), MSDA.from_theory(problem, fixed)):
        with pytest.raises(ValueError, match="time-varying"):
            simulate_rounds(key, algorithm, problem, network, num_rounds=4, num_records=2)
    with pytest.raises(ValueError, match="Chebyshev"):
        ADOMPlusMultiConsensus.from_theory(problem, network, chebyshev=True)
    with pytest.raises(ValueError, match="Chebyshev"):
        ADOMPlus.from_theory(problem, network, chebyshev=True)


def test_one_matrix_sequence_equals_the_fixed_network(key, x64):
    problem = jg.problems.quadratic(key, N, DIM, kappa=10.0)
    fixed = metropolis_mixing(jg.graphs.erdos_renyi(jax.random.key(3), N, 0.35))
    network = time_varying_mixing([fixed])
    algorithm = DIGing.from_theory(problem, fixed)
    a = simulate_rounds(key, algorithm, problem, fixed, num_rounds=30, num_records=3)
    b = simulate_rounds(key, algorithm, problem, network, num_rounds=30, num_records=3)
    np.testing.assert_allclose(a.final_state.x, b.final_state.x, rtol=0, atol=1e-13)
    np.testing.assert_array_equal(a.num_communications, b.num_communications)


def test_costs_count_the_edges_each_round_uses(key):
    mixings, network = _network()
    problem = jg.problems.quadratic(key, N, DIM, kappa=10.0)
    algorithm = DSGD(step_size=0.01)
    trace = simulate_rounds(key, algorithm, problem, network, num_rounds=10, num_records=10)
    per_round = [mixings[r % 3].graph.num_edges for r in range(10)]
    np.testing.assert_array_equal(np.diff(trace.num_communications), per_round)
    steps = 3
    adom = ADOMPlus.from_theory(problem, network, num_gossip_steps=steps)
    trace = simulate_rounds(key, adom, problem, network, num_rounds=10, num_records=10)
    np.testing.assert_array_equal(np.diff(trace.num_communications), np.multiply(per_round, steps))


def _problem(kind, key):
    return reference.small_problem(kind, key, N, DIM)


BUILDERS = {
    "adom_plus": lambda p, m: ADOMPlus.from_theory(p, m),
    "adom_plus_multi": lambda p, m: ADOMPlusMultiConsensus.from_theory(p, m),
    "diging": lambda p, m: DIGing.from_theory(p, m),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
@pytest.mark.parametrize("kind", ["quadratic", "logistic"])
def test_engine_equals_numpy_replay(key, x64, kind, name):
    problem = _problem(kind, key)
    mixings, network = _network()
    algorithm = BUILDERS[name](problem, network)
    x0 = np.asarray(jax.random.normal(jax.random.key(2), (N, DIM)))
    trace = simulate_rounds(key, algorithm, problem, network, num_rounds=25, num_records=1, x0=x0)
    dense = np.stack([m.to_dense() for m in mixings])
    replay = diging_replay if name == "diging" else adom_replay
    expected = replay.replay(problem, dense, algorithm, x0, 25)
    for got, want in zip(jax.tree.leaves(trace.final_state), jax.tree.leaves(expected)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", sorted(BUILDERS))
@pytest.mark.parametrize("kind", ["quadratic", "logistic"])
def test_converges_linearly_on_a_time_varying_network(key, x64, kind, name):
    problem = _problem(kind, key)
    _, network = _network()
    algorithm = BUILDERS[name](problem, network)
    rounds = {"adom_plus": 6000, "adom_plus_multi": 1000, "diging": 2000}[name]
    trace = simulate_rounds(key, algorithm, problem, network, num_rounds=rounds, num_records=50)
    subopt = np.asarray(trace.suboptimality)
    print(name, kind, "final", subopt[-1])
    assert subopt[-1] < 1e-10, subopt[::10]
    # Linear: the log error falls steadily, not just at the end.
    above = subopt > 1e-9
    assert np.all(np.diff(np.log(subopt[above][::5])) < 0), subopt
