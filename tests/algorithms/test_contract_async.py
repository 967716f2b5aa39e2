"""The contract every registered algorithm meets, run over the whole registry.

Each algorithm of ``jg.algorithms.REGISTRY`` is configured by its
``from_theory(problem, clocks)`` and must: run under jit and vmap with finite
output and stable state shapes and dtypes; not recompile on new
hyperparameter values; equal an independent NumPy replay of the same event
trace (``tests/replays/<name>.py``); and, when ``exact``, converge linearly
to 1e-10 in float64, else show an error floor that shrinks with the step size.
"""

import importlib

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgossip as jg

NAMES = sorted(jg.algorithms.REGISTRY)
OPTIMIZERS = [name for name in NAMES if name != "gossip"]  # gossip only averages
NUM_NODES, DIM = 8, 4


def _replay_module(name):
    return importlib.import_module(f"tests.replays.{name}")


def _problems(name):
    return getattr(_replay_module(name), "PROBLEMS", ("quadratic", "logistic"))


def _problem(kind, key=None, heterogeneity=1.0):
    key = jax.random.key(0) if key is None else key
    if kind == "quadratic":
        return jg.problems.quadratic(key, NUM_NODES, DIM, kappa=10.0, heterogeneity=heterogeneity)
    if kind == "least_squares":
        features = jax.random.normal(key, (NUM_NODES, 10, DIM))
        targets = jax.random.normal(jax.random.fold_in(key, 1), (NUM_NODES, 10))
        return jg.problems.least_squares(features, targets, reg=0.1)
    return jg.problems.logistic_regression(key, NUM_NODES, DIM, 20, reg=0.1)


def _clocks(comm_rate=5.0):
    return jg.Clocks(jg.graphs.ring(NUM_NODES), compute_rate=1.0, comm_rate=comm_rate)


def _scale_hyperparameters(algorithm, factor):
    """The same algorithm with every floating-point leaf multiplied by ``factor``."""
    return jax.tree.map(
        lambda leaf: leaf * factor if jnp.issubdtype(leaf.dtype, jnp.floating) else leaf,
        algorithm,
    )


@pytest.mark.parametrize("name", NAMES)
def test_runs_under_jit_and_vmap_with_stable_state(name, key):
    problem = _problem(_problems(name)[0])
    clocks = _clocks()
    algorithm = jg.algorithms.REGISTRY[name].from_theory(problem, clocks)
    initial = jg.init_state(algorithm, problem)

    def run(k, factor):
        return jg.simulate(
            k,
            _scale_hyperparameters(algorithm, factor),
            problem,
            clocks,
            num_events=2000,
            num_records=4,
        )

    traces = jax.jit(jax.vmap(run))(jax.random.split(key, 2), jnp.array([1.0, 0.5]))
    assert np.all(np.isfinite(traces.suboptimality)) and not np.any(traces.diverged)
    for before, after in zip(jax.tree.leaves(initial), jax.tree.leaves(traces.final_state)):
        assert after.shape == (2, *before.shape) and after.dtype == before.dtype
    assert jax.tree.structure(initial) == jax.tree.structure(
        jax.tree.map(lambda a: a[0], traces.final_state)
    )


@pytest.mark.parametrize("name", NAMES)
def test_no_recompilation_on_new_hyperparameter_values(name, key):
    problem = _problem(_problems(name)[0])
    clocks = _clocks()
    algorithm = jg.algorithms.REGISTRY[name].from_theory(problem, clocks)
    jg.simulate(key, algorithm, problem, clocks, num_events=200, num_records=2)
    compiled = jg.simulate._cache_size()
    jg.simulate(
        key, _scale_hyperparameters(algorithm, 0.7), problem, clocks, num_events=200, num_records=2
    )
    assert jg.simulate._cache_size() == compiled


@pytest.mark.parametrize("name", NAMES)
def test_engine_equals_numpy_replay(name, key, x64):
    for kind in _problems(name):
        problem = _problem(kind)
        clocks = _clocks(comm_rate=np.linspace(0.5, 2.0, NUM_NODES))
        algorithm = jg.algorithms.REGISTRY[name].from_theory(problem, clocks)
        events = jg.sample_events(jax.random.key(3), clocks, 1500)
        x0 = np.asarray(jax.random.normal(jax.random.key(2), (NUM_NODES, DIM)))
        trace = jg.simulate(
            key, algorithm, problem, clocks, num_events=1500, num_records=3, x0=x0, events=events
        )
        expected = _replay_module(name).replay(events, problem, algorithm, x0)
        for got, want in zip(jax.tree.leaves(trace.final_state), jax.tree.leaves(expected)):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10, err_msg=f"{name}, {kind}")


@pytest.mark.parametrize("name", [n for n in OPTIMIZERS if jg.algorithms.REGISTRY[n].exact])
def test_exact_methods_converge_linearly_to_high_precision(name, key, x64):
    for kind in _problems(name):
        problem = _problem(kind)
        clocks = _clocks()
        algorithm = jg.algorithms.REGISTRY[name].from_theory(problem, clocks)
        trace = jg.simulate(
            key, algorithm, problem, clocks, num_events=200_000, num_records=20, x0=jnp.ones(DIM)
        )
        assert trace.suboptimality[-1] < 1e-10, (name, kind, trace.suboptimality)


@pytest.mark.parametrize("name", [n for n in OPTIMIZERS if not jg.algorithms.REGISTRY[n].exact])
def test_inexact_methods_floor_shrinks_with_step_size(name, key, x64):
    # Heterogeneous local functions: a constant step size leaves an error floor
    # proportional to it; a quarter of the step must give a lower floor.
    problem = _problem("quadratic", heterogeneity=3.0)
    clocks = _clocks()
    algorithm = jg.algorithms.REGISTRY[name].from_theory(problem, clocks)

    def final_error(k, step_size):
        run = eqx.tree_at(lambda a: a.step_size, algorithm, step_size)
        trace = jg.simulate(k, run, problem, clocks, num_events=100_000, num_records=10)
        return jnp.mean(trace.suboptimality[-5:])  # average over the last records: the floor

    keys = jax.random.split(key, 8)
    step = algorithm.step_size
    errors = jax.vmap(jax.vmap(final_error, (0, None)), (None, 0))(
        keys, jnp.array([step, step / 4])
    )
    large, small = np.median(errors, axis=1)
    assert small < 0.5 * large, (name, large, small)
