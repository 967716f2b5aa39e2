"""The synchronous engine (``jaxgossip.network.mixing``) and the contract of SYNC_REGISTRY.

Engine: gossip matrices applied edge-wise equal their dense matrices; the
Metropolis and Laplacian constructions are what they claim; the trace counts
rounds, computations, communications and bytes from the rounds' RoundCost;
records land where documented; the oracle and round keys are as documented;
runs compile once per shape and vmap equals single runs. The contract of
every registered method is in ``tests/algorithms/test_contract.py``.
"""

from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgossip as jg
from jaxgossip.algorithms.base import Oracle, SyncAlgorithm, round_cost
from jaxgossip.algorithms.synchronous import DSGD, SYNC_REGISTRY
from jaxgossip.engine.rounds import init_key, round_key, simulate_rounds
from jaxgossip.network.mixing import Mixing, laplacian_mixing, metropolis_mixing

NUM_NODES, DIM = 8, 4


def _graphs():
    return {
        "ring": jg.graphs.ring(NUM_NODES),
        "path": jg.graphs.path(NUM_NODES),
        "star": jg.graphs.star(NUM_NODES),
        "complete": jg.graphs.complete(NUM_NODES),
        "erdos_renyi": jg.graphs.erdos_renyi(jax.random.key(1), NUM_NODES, 0.4),
    }


def _quadratic(key=None):
    key = jax.random.key(0) if key is None else key
    return jg.problems.quadratic(key, NUM_NODES, DIM, kappa=10.0)


# --- gossip matrices ------------------------------------------------------------


@pytest.mark.parametrize("graph_name", sorted(_graphs()))
@pytest.mark.parametrize("build", [metropolis_mixing, laplacian_mixing])
def test_mixing_apply_equals_dense(x64, graph_name, build):
    mixing = build(_graphs()[graph_name])
    xs = np.asarray(jax.random.normal(jax.random.key(2), (NUM_NODES, 3)))
    W = mixing.to_dense()
    np.testing.assert_allclose(mixing.apply(xs), W @ xs, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        mixing.laplacian_apply(xs), (np.eye(NUM_NODES) - W) @ xs, rtol=1e-12, atol=1e-12
    )
    # apply is jit-compatible: the mixing is a pytree argument.
    np.testing.assert_allclose(
        jax.jit(lambda m, x: m.apply(x))(mixing, xs), W @ xs, rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("graph_name", sorted(_graphs()))
def test_metropolis_is_symmetric_doubly_stochastic(x64, graph_name):
    graph = _graphs()[graph_name]
    mixing = metropolis_mixing(graph)
    W = mixing.to_dense()
    np.testing.assert_allclose(W, W.T, rtol=0, atol=0)
    np.testing.assert_allclose(W.sum(axis=0), 1.0, rtol=0, atol=1e-14)
    np.testing.assert_allclose(W.sum(axis=1), 1.0, rtol=0, atol=1e-14)
    assert np.all(W >= 0) and np.all(np.diag(W) > 0)
    deg = graph.degrees()
    for (i, j), w in zip(graph.edges(), np.asarray(mixing.weights)):
        assert w == pytest.approx(1.0 / (1.0 + max(deg[i], deg[j])), rel=1e-14)
    spectrum = np.linalg.eigvalsh(np.eye(NUM_NODES) - W)
    np.testing.assert_allclose(spectrum[0], 0.0, atol=1e-12)
    np.testing.assert_allclose(mixing.lambda_2, spectrum[1], rtol=1e-12)
    np.testing.assert_allclose(mixing.lambda_max, spectrum[-1], rtol=1e-12)
    assert mixing.eigenvalues == (mixing.lambda_2, mixing.lambda_max)
    assert 0 < float(mixing.lambda_2) <= float(mixing.lambda_max) < 2


@pytest.mark.parametrize("graph_name", sorted(_graphs()))
def test_laplacian_mixing_spectrum_in_unit_interval(x64, graph_name):
    graph = _graphs()[graph_name]
    weights = np.linspace(0.5, 2.0, graph.num_edges)
    mixing = laplacian_mixing(graph, weights)
    W = mixing.to_dense()
    lap = jg.graphs.laplacian(graph, weights)
    expected = np.eye(NUM_NODES) - lap / np.linalg.eigvalsh(lap)[-1]
    np.testing.assert_allclose(W, expected, rtol=0, atol=1e-14)
    np.testing.assert_allclose(W.sum(axis=1), 1.0, rtol=0, atol=1e-14)
    np.testing.assert_allclose(mixing.lambda_max, 1.0, rtol=1e-12)
    assert 0 < float(mixing.lambda_2) <= 1.0


# --- the oracle and keys ------------------------------------------------------


def test_oracle_gradients_and_keys(x64, key):
    problem = jg.problems.logistic_regression(key, NUM_NODES, DIM, 20, reg=0.1, batch_size=5)
    oracle = Oracle(problem, jax.random.key(7))
    xs = jax.random.normal(jax.random.key(3), (NUM_NODES, DIM))
    grads = oracle.grads(xs)
    assert grads.shape == (NUM_NODES, DIM)
    # One compilation each, instead of op-by-op dispatch per node.
    local_grad = jax.jit(lambda k, x, i: problem.local_grad(k, x, i))
    grad = jax.jit(lambda x, i: oracle.grad(x, i))
    for i in range(NUM_NODES):
        expected = local_grad(jax.random.fold_in(oracle.key, i), xs[i], i)
        np.testing.assert_allclose(grads[i], expected, rtol=1e-14, atol=0)
        np.testing.assert_allclose(grad(xs[i], i), expected, rtol=1e-14, atol=0)
    full = problem.with_batch_size(None)
    np.testing.assert_allclose(
        Oracle(full, key).full_grad(xs[0]), full.grad(xs[0]), rtol=1e-12, atol=1e-14
    )


def test_round_keys_are_as_documented(x64, key):
    # Stochastic D-SGD through simulate_rounds equals a plain loop over rounds
    # whose oracles use init_key / round_key.
    problem = jg.problems.logistic_regression(key, NUM_NODES, DIM, 20, reg=0.1, batch_size=3)
    mixing = metropolis_mixing(jg.graphs.ring(NUM_NODES))
    algorithm = DSGD(step_size=0.1)
    run_key = jax.random.key(11)
    x0 = jax.random.normal(jax.random.key(2), (NUM_NODES, DIM))
    trace = simulate_rounds(
        run_key, algorithm, problem, mixing, num_rounds=12, num_records=3, x0=x0
    )
    state = algorithm.init(x0, Oracle(problem, init_key(run_key)), mixing)
    one_round = jax.jit(lambda state, k: algorithm.round(state, Oracle(problem, k), mixing)[0])
    for r in range(12):
        state = one_round(state, round_key(run_key, r))
    np.testing.assert_allclose(trace.final_state, state, rtol=1e-13, atol=1e-13)


# --- the trace ------------------------------------------------------------------


class _TwoGossips(SyncAlgorithm):
    """A test algorithm: two gossip steps and one gradient at node 0 per round."""

    step_size: jax.Array
    exact: ClassVar[bool] = False

    def round(self, state, oracle, mixing):
        g = oracle.grads(state).at[1:].set(0.0)
        state = mixing.apply(mixing.apply(state)) - self.step_size * g
        return state, round_cost(1, 2 * mixing.graph.num_edges)

    def message_floats(self, dim):
        return 3 * dim


def test_trace_counts_rounds_and_costs(key):
    problem = _quadratic()
    graph = jg.graphs.star(NUM_NODES)
    mixing = metropolis_mixing(graph)
    trace = simulate_rounds(
        key, DSGD(step_size=0.01), problem, mixing, num_rounds=12, num_records=4
    )
    np.testing.assert_array_equal(trace.time, [0, 3, 6, 9, 12])
    np.testing.assert_array_equal(trace.num_computations, NUM_NODES * np.array([0, 3, 6, 9, 12]))
    comms = graph.num_edges * np.array([0, 3, 6, 9, 12])
    np.testing.assert_array_equal(trace.num_communications, comms)
    itemsize = problem.x_star.dtype.itemsize
    np.testing.assert_allclose(trace.bytes_sent, comms * 2 * DIM * itemsize, rtol=0)
    assert trace.num_computations.dtype == jnp.int32

    trace = simulate_rounds(
        key, _TwoGossips(step_size=jnp.asarray(0.01)), problem, mixing, num_rounds=6, num_records=2
    )
    np.testing.assert_array_equal(trace.num_computations, [0, 3, 6])
    np.testing.assert_array_equal(trace.num_communications, 2 * graph.num_edges * np.arange(3) * 3)
    np.testing.assert_allclose(trace.bytes_sent, trace.num_communications * 3 * DIM * itemsize)


def test_records_follow_rounds_and_record_zero_is_initial(x64, key):
    problem = _quadratic()
    mixing = metropolis_mixing(jg.graphs.ring(NUM_NODES))
    algorithm = DSGD(step_size=0.05)
    x0 = jax.random.normal(jax.random.key(2), (NUM_NODES, DIM))
    trace = simulate_rounds(key, algorithm, problem, mixing, num_rounds=20, num_records=4, x0=x0)
    x_bar = jnp.mean(x0, axis=0)
    np.testing.assert_allclose(trace.suboptimality[0], problem.value(x_bar) - problem.f_star)
    consensus = jnp.mean(jnp.sum((x0 - x_bar) ** 2, axis=1))
    np.testing.assert_allclose(trace.consensus[0], consensus, rtol=1e-12)
    for r, rounds in [(1, 5), (3, 15)]:
        part = simulate_rounds(
            key, algorithm, problem, mixing, num_rounds=rounds, num_records=1, x0=x0
        )
        np.testing.assert_allclose(trace.suboptimality[r], part.suboptimality[-1], rtol=1e-12)
        np.testing.assert_allclose(
            trace.mean_suboptimality[r], part.mean_suboptimality[-1], rtol=1e-12
        )
        np.testing.assert_allclose(trace.consensus[r], part.consensus[-1], rtol=1e-12)
    assert not np.any(trace.diverged)


def test_divergence_is_flagged_not_raised(key):
    problem = _quadratic()
    mixing = metropolis_mixing(jg.graphs.ring(NUM_NODES))
    trace = simulate_rounds(
        key, DSGD(step_size=10.0), problem, mixing, num_rounds=400, num_records=4, x0=jnp.ones(DIM)
    )
    assert not trace.diverged[0] and trace.diverged[-1]
    assert np.all(np.diff(trace.diverged.astype(int)) >= 0)  # stays flagged


def test_rejects_bad_arguments(key):
    problem = _quadratic()
    mixing = metropolis_mixing(jg.graphs.ring(NUM_NODES + 1))
    with pytest.raises(ValueError, match="nodes"):
        simulate_rounds(key, DSGD(step_size=0.1), problem, mixing, num_rounds=4, num_records=2)
    mixing = metropolis_mixing(jg.graphs.ring(NUM_NODES))
    with pytest.raises(ValueError, match="multiple"):
        simulate_rounds(key, DSGD(step_size=0.1), problem, mixing, num_rounds=5, num_records=2)
    with pytest.raises(ValueError, match="x0"):
        simulate_rounds(
            key, DSGD(step_size=0.1), problem, mixing, num_rounds=4, num_records=2, x0=jnp.ones(3)
        )


def test_no_recompilation_on_new_values(key):
    problem = _quadratic()
    mixing = metropolis_mixing(jg.graphs.ring(NUM_NODES))
    run = dict(num_rounds=40, num_records=4)
    simulate_rounds(key, DSGD(step_size=0.1), problem, mixing, **run)
    compiled = simulate_rounds._cache_size()
    simulate_rounds(jax.random.key(5), DSGD(step_size=0.3), problem, mixing, **run)
    simulate_rounds(key, DSGD(step_size=0.2), _quadratic(jax.random.key(4)), mixing, **run)
    other = metropolis_mixing(jg.graphs.erdos_renyi(jax.random.key(3), NUM_NODES, 0.3))
    if other.graph.num_edges == mixing.graph.num_edges:  # same shapes: reuses the compilation
        simulate_rounds(key, DSGD(step_size=0.2), problem, other, **run)
    simulate_rounds(key, DSGD(step_size=0.2), problem, mixing, x0=jnp.ones(DIM), **run)
    assert simulate_rounds._cache_size() == compiled + 1  # x0=None vs an array: one more shape
    simulate_rounds(key, DSGD(step_size=0.7), problem, mixing, x0=2 * jnp.ones(DIM), **run)
    assert simulate_rounds._cache_size() == compiled + 1


def test_vmap_over_step_sizes_equals_single_runs(x64, key):
    problem = _quadratic()
    mixing = metropolis_mixing(jg.graphs.ring(NUM_NODES))
    steps = jnp.array([0.01, 0.03, 0.1])
    x0 = jax.random.normal(jax.random.key(2), (NUM_NODES, DIM))

    def run(step):
        return simulate_rounds(
            key, DSGD(step_size=step), problem, mixing, num_rounds=60, num_records=6, x0=x0
        )

    traces = jax.vmap(run)(steps)
    assert traces.suboptimality.shape == (3, 7)
    for k, step in enumerate(steps):
        single = run(step)
        for name in ("suboptimality", "mean_suboptimality", "consensus", "final_state"):
            np.testing.assert_allclose(
                getattr(traces, name)[k], getattr(single, name), rtol=1e-12, atol=1e-14
            )
        np.testing.assert_array_equal(traces.num_computations[k], single.num_computations)


# --- the registry (its contract: tests/algorithms/test_contract.py) ------------


def test_registry_names_classes():
    for name, cls in SYNC_REGISTRY.items():
        assert isinstance(name, str) and issubclass(cls, SyncAlgorithm)
        assert isinstance(cls.exact, bool)
    assert isinstance(metropolis_mixing(jg.graphs.ring(4)), Mixing)
