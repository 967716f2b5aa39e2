"""Concrete inputs that would run silently wrong are refused at entry (issue #13)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgossip as jg
from jaxgossip.algorithms import synchronous
from jaxgossip.algorithms.base import NONNEGATIVE


def _setting():
    graph = jg.graphs.ring(6)
    problem = jg.problems.quadratic(jax.random.key(1), num_nodes=6, dim=3)
    return graph, problem, jg.Clocks(graph, 1.0, 1.0)


def _dsgd_rounds(key, problem, **kwargs):
    mixing = jg.metropolis_mixing(jg.graphs.ring(6))
    algorithm = synchronous.DSGD(step_size=0.1)
    return jg.simulate_rounds(
        key, algorithm, problem, mixing, num_rounds=2, num_records=1, **kwargs
    )


@pytest.mark.parametrize("value", [-0.1, float("nan"), float("inf")])
def test_negative_or_non_finite_step_sizes_are_refused(value):
    with pytest.raises(ValueError, match="AsyncGossipSGD: step_size must be"):
        jg.algorithms.AsyncGossipSGD(step_size=value)
    with pytest.raises(ValueError, match="DSGD: step_size must be"):
        synchronous.DSGD(step_size=value)


@pytest.mark.parametrize("value", [True, "0.1", np.array([True])])
def test_hyperparameters_must_be_numbers(value):
    with pytest.raises(TypeError, match="real number"):
        jg.algorithms.AsyncGossipSGD(step_size=value)


def test_every_nonnegative_name_is_a_hyperparameter_of_some_method():
    """The refusal list cannot name a field no method has (a typo would skip it)."""
    import dataclasses

    fields = {
        field.name
        for cls in [*jg.algorithms.REGISTRY.values(), *synchronous.SYNC_REGISTRY.values()]
        for field in dataclasses.fields(cls)
    }
    assert NONNEGATIVE <= fields


def test_traced_hyperparameters_are_not_inspected():
    steps = jnp.array([-1.0, 0.1])  # a sweep may build algorithms from traced values
    built = jax.vmap(lambda s: jg.algorithms.AsyncGossipSGD(step_size=s).step_size)(steps)
    np.testing.assert_array_equal(built, steps)


@pytest.mark.parametrize("rate", ["1.0", True, None, np.array([True] * 6)])
def test_rates_must_be_numbers(rate):
    graph = jg.graphs.ring(6)
    with pytest.raises(TypeError, match="compute_rate must be"):
        jg.Clocks(graph, rate, 1.0)
    with pytest.raises(TypeError, match="comm_rate must be"):
        jg.Clocks(graph, 1.0, rate)


def test_non_finite_x0_is_refused(key):
    _, problem, clocks = _setting()
    algorithm = jg.algorithms.AsyncGossipSGD(step_size=0.1)
    x0 = np.zeros(3)
    x0[1] = np.nan
    with pytest.raises(ValueError, match="simulate: x0 contains NaN"):
        jg.simulate(key, algorithm, problem, clocks, num_events=10, num_records=1, x0=x0)
    with pytest.raises(ValueError, match="simulate_rounds: x0 contains NaN"):
        _dsgd_rounds(key, problem, x0=x0)


@pytest.mark.parametrize("start", [float("nan"), -1.0, "0", float("inf")])
def test_bad_start_time_is_refused(key, start):
    _, problem, clocks = _setting()
    algorithm = jg.algorithms.AsyncGossipSGD(step_size=0.1)
    with pytest.raises(ValueError, match="start_time must be"):
        jg.simulate(key, algorithm, problem, clocks, num_events=10, num_records=1, start_time=start)


def test_negative_start_round_is_refused(key):
    _, problem, _ = _setting()
    with pytest.raises(ValueError, match="start_round must be"):
        _dsgd_rounds(key, problem, start_round=-3)


def _minibatch_problem(num_nodes=6):
    features = np.random.default_rng(0).normal(size=(num_nodes * 8, 3))
    targets = features @ np.ones(3)
    parts = jg.problems.partition(jax.random.key(0), features, targets, num_nodes)
    return jg.problems.least_squares(*parts, reg=0.1, batch_size=4)


def test_methods_that_cannot_sample_refuse_minibatch_problems(key):
    """ContinuizedDualGossip and MSDA use exact conjugates: a batch_size would be ignored."""
    problem = _minibatch_problem()
    graph = jg.graphs.ring(6)
    clocks = jg.Clocks(graph, 1.0, 1.0)
    full = problem.with_batch_size(None)
    dual = jg.algorithms.ContinuizedDualGossip.from_theory(full, clocks)
    with pytest.raises(ValueError, match="cannot honour the problem's batch_size=4"):
        jg.simulate(key, dual, problem, clocks, num_events=10, num_records=1)
    msda = synchronous.MSDA.from_theory(full, jg.metropolis_mixing(graph))
    with pytest.raises(ValueError, match="MSDA uses exact local functions"):
        jg.simulate_rounds(
            key, msda, problem, jg.metropolis_mixing(graph), num_rounds=2, num_records=1
        )
    # Full local gradients, or a batch of every sample, are honoured.
    for honoured in (full, problem.with_batch_size(8)):
        jg.simulate(key, dual, honoured, clocks, num_events=10, num_records=1)


def test_methods_that_sample_accept_minibatch_problems(key):
    problem = _minibatch_problem()
    clocks = jg.Clocks(jg.graphs.ring(6), 1.0, 1.0)
    trace = jg.simulate(
        key,
        jg.algorithms.AsyncGossipSGD(step_size=0.05),
        problem,
        clocks,
        num_events=100,
        num_records=1,
    )
    assert np.isfinite(float(trace.suboptimality[-1]))
