import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgossip as jg
from tests import reference


def _quadratic_setup(key, num_nodes=8, dim=3, graph=None):
    graph = graph if graph is not None else jg.graphs.ring(num_nodes)
    problem = jg.problems.quadratic(key, num_nodes, dim, kappa=5.0, heterogeneity=1.0)
    return graph, problem


def test_gossip_preserves_the_network_mean(key, x64):
    graph, problem = _quadratic_setup(key, num_nodes=16, dim=4)
    clocks = jg.Clocks(graph, compute_rate=1.0, comm_rate=1.0)
    x0 = jax.random.normal(jax.random.key(1), (16, 4))
    trace = jg.simulate(
        key, jg.algorithms.Gossip(), problem, clocks, num_events=100_000, num_records=10, x0=x0
    )
    np.testing.assert_allclose(trace.final_state.mean(0), x0.mean(0), rtol=0, atol=1e-12)
    assert trace.consensus[-1] < 1e-20 * trace.consensus[0]


def _gossip_decay_exponent(key, graph, num_events, num_seeds=256):
    """Fits log E V(t) = -rate * t over seeds; V is the consensus distance."""
    n = graph.num_nodes
    problem = jg.problems.quadratic(key, n, 2)
    clocks = jg.Clocks(graph, compute_rate=0.0, comm_rate=1.0)
    x0 = jax.random.normal(jax.random.key(1), (n, 2))
    run = jax.vmap(
        lambda k: jg.simulate(
            k, jg.algorithms.Gossip(), problem, clocks, num_events=num_events, num_records=10, x0=x0
        )
    )
    traces = run(jax.random.split(key, num_seeds))
    log_mean_v = np.log(np.mean(np.asarray(traces.consensus), axis=0))
    mean_time = np.mean(np.asarray(traces.time), axis=0)
    slope = np.polyfit(mean_time, log_mean_v, 1)[0]
    lambda_2 = jg.graphs.algebraic_connectivity(graph, np.asarray(clocks.comm_rate))
    return -slope, lambda_2 / 2


def test_gossip_decay_on_complete_graph_matches_theory(key, x64):
    # On the complete graph, E V(t) = exp(-lambda_2(L_w) t / 2) V(0) exactly.
    measured, predicted = _gossip_decay_exponent(key, jg.graphs.complete(32), num_events=1500)
    np.testing.assert_allclose(measured, predicted, rtol=0.1)


def test_gossip_decay_on_ring_is_at_least_theory(key, x64):
    measured, predicted = _gossip_decay_exponent(key, jg.graphs.ring(16), num_events=3000)
    assert measured >= 0.9 * predicted


@pytest.mark.parametrize("algorithm_name", ["gossip", "async_gossip_sgd"])
@pytest.mark.parametrize("problem_name", ["quadratic", "logistic"])
def test_engine_equals_numpy_replay(key, x64, algorithm_name, problem_name):
    n, dim = 6, 3
    graph = jg.graphs.ring(n)
    if problem_name == "quadratic":
        problem = jg.problems.quadratic(key, n, dim, kappa=4.0)
        gradient = reference.quadratic_gradient(problem)
    else:
        problem = jg.problems.logistic_regression(key, n, dim, 10, reg=0.1)
        gradient = reference.logistic_gradient(problem)
    step_size = 0.1
    if algorithm_name == "gossip":
        algorithm, gradient = jg.algorithms.Gossip(), None
    else:
        algorithm = jg.algorithms.AsyncGossipSGD(step_size=step_size)
    clocks = jg.Clocks(graph, compute_rate=1.0, comm_rate=0.7)
    events = jg.sample_events(jax.random.key(3), clocks, 2000)
    x0 = np.asarray(jax.random.normal(jax.random.key(2), (n, dim)))
    trace = jg.simulate(
        key, algorithm, problem, clocks, num_events=2000, num_records=4, x0=x0, events=events
    )
    expected = reference.replay_async_gossip_sgd(events, x0, gradient, step_size)
    np.testing.assert_allclose(trace.final_state, expected, rtol=1e-10, atol=1e-10)


def test_sampled_run_equals_replay_of_its_trace(key):
    graph, problem = _quadratic_setup(key)
    clocks = jg.Clocks(graph, compute_rate=1.0, comm_rate=2.0)
    algorithm = jg.algorithms.AsyncGossipSGD(step_size=0.05)
    trace = jg.simulate(key, algorithm, problem, clocks, num_events=800, num_records=8)
    event_key, _ = jg.split_key(key)
    events = jg.sample_events(event_key, clocks, 800, num_chunks=8)
    replayed = jg.simulate(
        key, algorithm, problem, clocks, num_events=800, num_records=8, events=events
    )
    for name in ("time", "num_computations", "suboptimality", "final_state"):
        np.testing.assert_array_equal(getattr(trace, name), getattr(replayed, name))


def test_trace_counts_and_shapes(key):
    graph, problem = _quadratic_setup(key)
    clocks = jg.Clocks(graph, compute_rate=1.0, comm_rate=1.0)
    trace = jg.simulate(
        key,
        jg.algorithms.AsyncGossipSGD(step_size=0.05),
        problem,
        clocks,
        num_events=1000,
        num_records=5,
    )
    assert trace.time.shape == trace.suboptimality.shape == (6,)
    assert trace.final_state.shape == (8, 3)
    assert trace.time.dtype == trace.suboptimality.dtype == jnp.float32
    np.testing.assert_array_equal(
        trace.num_computations + trace.num_communications, np.arange(6) * 200
    )
    assert trace.time[0] == 0 and np.all(np.diff(trace.time) > 0)
    np.testing.assert_allclose(trace.bytes_sent, trace.num_communications * 2 * 3 * 4, rtol=0)
    assert not np.any(trace.diverged)


def test_float64_when_x64_is_enabled(key, x64):
    graph, problem = _quadratic_setup(key)
    trace = jg.simulate(
        key,
        jg.algorithms.Gossip(),
        problem,
        jg.Clocks(graph, 1.0, 1.0),
        num_events=100,
        num_records=2,
    )
    assert trace.suboptimality.dtype == trace.final_state.dtype == trace.time.dtype == jnp.float64


def test_vmapped_sweep_equals_single_runs(key):
    graph, problem = _quadratic_setup(key)
    clocks = jg.Clocks(graph, compute_rate=1.0, comm_rate=2.0)
    step_sizes = jnp.array([0.01, 0.05, 0.1])
    keys = jax.random.split(key, 3)

    def run(step_size, k):
        return jg.simulate(
            k,
            jg.algorithms.AsyncGossipSGD(step_size=step_size),
            problem,
            clocks,
            num_events=600,
            num_records=3,
        )

    swept = jax.vmap(run)(step_sizes, keys)
    for b in range(3):
        single = run(step_sizes[b], keys[b])
        for name in ("time", "suboptimality", "consensus", "final_state"):
            np.testing.assert_allclose(
                getattr(swept, name)[b], getattr(single, name), rtol=1e-5, atol=1e-6
            )


def test_rates_can_be_vmapped(key):
    graph, problem = _quadratic_setup(key)
    run = jax.vmap(
        lambda rate: jg.simulate(
            key,
            jg.algorithms.Gossip(),
            problem,
            jg.Clocks(graph, 1.0, rate),
            num_events=400,
            num_records=2,
        )
    )
    traces = run(jnp.array([0.1, 10.0]))
    assert traces.num_communications[0, -1] < traces.num_communications[1, -1]


def test_no_recompilation_on_new_values(key):
    graph, problem = _quadratic_setup(key)

    def run(step_size, compute_rate, comm_rate, seed):
        clocks = jg.Clocks(graph, compute_rate, comm_rate)
        return jg.simulate(
            jax.random.key(seed),
            jg.algorithms.AsyncGossipSGD(step_size=step_size),
            problem,
            clocks,
            num_events=300,
            num_records=3,
        )

    run(0.1, 1.0, 1.0, 0)
    compiled = jg.simulate._cache_size()
    run(0.2, 2.0, 0.5, 1)
    run(0.3, np.linspace(1, 2, 8), np.linspace(2, 1, 8), 2)
    assert jg.simulate._cache_size() == compiled


def test_initial_point_and_continuation(key, x64):
    graph, problem = _quadratic_setup(key)
    clocks = jg.Clocks(graph, 1.0, 1.0)
    algorithm = jg.algorithms.AsyncGossipSGD(step_size=0.05)
    x0 = jnp.ones(3)
    first = jg.simulate(key, algorithm, problem, clocks, num_events=200, num_records=2, x0=x0)
    np.testing.assert_allclose(
        first.suboptimality[0], problem.value(x0) - problem.f_star, rtol=1e-12
    )
    # Continuing a run from its final state equals replaying both traces at once.
    k2 = jax.random.key(7)
    second = jg.simulate(
        k2,
        algorithm,
        problem,
        clocks,
        num_events=200,
        num_records=2,
        initial_state=first.final_state,
        start_time=first.time[-1],
    )
    events_1 = jg.sample_events(jg.split_key(key)[0], clocks, 200, num_chunks=2)
    events_2 = jg.sample_events(jg.split_key(k2)[0], clocks, 200, num_chunks=2)
    both = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), events_1, events_2)
    expected = reference.replay_async_gossip_sgd(
        both, np.ones((8, 3)), reference.quadratic_gradient(problem), 0.05
    )
    np.testing.assert_allclose(second.final_state, expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(second.time[0], first.time[-1], rtol=0)
    assert second.time[-1] > first.time[-1]


def test_bad_simulate_inputs_raise(key):
    graph, problem = _quadratic_setup(key)
    clocks = jg.Clocks(graph, 1.0, 1.0)
    algorithm = jg.algorithms.Gossip()
    with pytest.raises(ValueError, match="multiple of num_records"):
        jg.simulate(key, algorithm, problem, clocks, num_events=100, num_records=3)
    with pytest.raises(ValueError, match="problem has 8 nodes but the graph has 5"):
        jg.simulate(
            key,
            algorithm,
            problem,
            jg.Clocks(jg.graphs.ring(5), 1.0, 1.0),
            num_events=100,
            num_records=2,
        )
    with pytest.raises(ValueError, match="x0 must have shape"):
        jg.simulate(key, algorithm, problem, clocks, num_events=100, num_records=2, x0=jnp.zeros(4))
    events = jg.sample_events(key, clocks, 50)
    with pytest.raises(ValueError, match="has 50 events, not 100"):
        jg.simulate(key, algorithm, problem, clocks, num_events=100, num_records=2, events=events)


def test_divergence_is_flagged_not_raised(key):
    graph, problem = _quadratic_setup(key)
    clocks = jg.Clocks(graph, compute_rate=1.0, comm_rate=0.1)
    trace = jg.simulate(
        key,
        jg.algorithms.AsyncGossipSGD(step_size=10.0),
        problem,
        clocks,
        num_events=4000,
        num_records=4,
    )
    assert bool(trace.diverged[-1]) and not bool(trace.diverged[0])


def test_async_gossip_sgd_converges_on_logistic_regression(key, x64):
    n = 8
    problem = jg.problems.logistic_regression(key, n, 5, 20, reg=0.1)
    clocks = jg.Clocks(jg.graphs.ring(n), compute_rate=1.0, comm_rate=5.0)
    algorithm = jg.algorithms.AsyncGossipSGD(step_size=0.5)
    trace = jg.simulate(
        key, algorithm, problem, clocks, num_events=40_000, num_records=10, x0=3.0 * jnp.ones(5)
    )
    assert trace.suboptimality[-1] < 1e-3 * trace.suboptimality[0]


def test_minibatch_gradients_use_the_event_key(key):
    problem = jg.problems.logistic_regression(key, 8, 4, 20, reg=0.1, batch_size=4)
    clocks = jg.Clocks(jg.graphs.ring(8), 1.0, 1.0)
    algorithm = jg.algorithms.AsyncGossipSGD(step_size=0.3)
    events = jg.sample_events(key, clocks, 1000)

    def run(k):
        return jg.simulate(
            k, algorithm, problem, clocks, num_events=1000, num_records=2, events=events
        ).final_state

    # Same trace: the gradient key alone changes the minibatches, reproducibly.
    np.testing.assert_array_equal(run(key), run(key))
    assert not np.allclose(run(key), run(jax.random.key(1)), rtol=1e-3)
    full = jg.simulate(
        key,
        algorithm,
        problem.with_batch_size(None),
        clocks,
        num_events=1000,
        num_records=2,
        events=events,
    ).final_state
    assert not np.allclose(run(key), full, rtol=1e-3)


def test_node_suboptimality_can_be_skipped(key):
    graph, problem = _quadratic_setup(key)
    clocks = jg.Clocks(graph, 1.0, 1.0)
    algorithm = jg.algorithms.AsyncGossipSGD(step_size=0.05)
    full = jg.simulate(key, algorithm, problem, clocks, num_events=400, num_records=4)
    cheap = jg.simulate(
        key, algorithm, problem, clocks, num_events=400, num_records=4, node_suboptimality=False
    )
    assert np.all(np.isnan(cheap.mean_suboptimality)) and np.all(
        np.isfinite(full.mean_suboptimality)
    )
    np.testing.assert_array_equal(cheap.suboptimality, full.suboptimality)
    np.testing.assert_array_equal(cheap.final_state, full.final_state)


def test_overflowing_suboptimality_is_flagged_as_divergence(key):
    # Finite iterates whose f overflows float32 are a diverged run too.
    graph, problem = _quadratic_setup(key)
    trace = jg.simulate(
        key,
        jg.algorithms.Gossip(),
        problem,
        jg.Clocks(graph, 1.0, 1.0),
        num_events=100,
        num_records=2,
        x0=jnp.full(3, 1e20),
    )
    assert np.all(np.isfinite(trace.final_state)) and bool(trace.diverged[0])
