import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgossip as jg
from jaxgossip.algorithms.asynchronous.async_gradient_tracking import (
    AsyncGradientTracking,
    AsyncGradientTrackingState,
)
from tests import reference
from tests.replays import async_gradient_tracking as replay_tracking

NUM_NODES, DIM = 8, 4


def _problem(kind, key, **options):
    return reference.small_problem(kind, key, NUM_NODES, DIM, **options)


def _clocks(comm_rate=5.0):
    return jg.Clocks(jg.graphs.ring(NUM_NODES), compute_rate=1.0, comm_rate=comm_rate)


@pytest.mark.parametrize("kind", ["quadratic", "logistic"])
def test_engine_equals_numpy_replay(key, x64, kind):
    problem = _problem(kind, key)
    clocks = _clocks(comm_rate=np.linspace(0.3, 1.5, NUM_NODES))
    algorithm = AsyncGradientTracking(step_size=0.3 / problem.L)
    events = jg.sample_events(jax.random.key(3), clocks, 2000)
    x0 = np.asarray(jax.random.normal(jax.random.key(2), (NUM_NODES, DIM)))
    trace = jg.simulate(
        key, algorithm, problem, clocks, num_events=2000, num_records=4, x0=x0, events=events
    )
    expected = replay_tracking.replay(events, problem, algorithm, x0)
    assert isinstance(trace.final_state, AsyncGradientTrackingState)
    for got, want in zip(trace.final_state, expected):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_from_theory_and_flags(key):
    problem = _problem("quadratic", key)
    # Fast communication: the centralized step 1 / L.
    fast = AsyncGradientTracking.from_theory(problem, _clocks(comm_rate=5.0))
    np.testing.assert_allclose(fast.step_size, 1.0 / problem.L, rtol=1e-6)
    # Slow communication: lambda_2 / (2 r L), lambda_2 = 0.1 (2 - 2 cos(2 pi / 8)).
    slow = AsyncGradientTracking.from_theory(problem, _clocks(comm_rate=0.1))
    lambda_2 = 0.1 * (2.0 - 2.0 * np.cos(2.0 * np.pi / NUM_NODES))
    np.testing.assert_allclose(slow.step_size, lambda_2 / 2.0 / problem.L, rtol=1e-6)
    assert AsyncGradientTracking.exact is True
    assert fast.message_floats(DIM) == 4 * DIM  # x and y, both directions


def test_tracking_invariant_holds_after_many_events(key, x64):
    # Averaging preserves sum(y); a compute event adds g - g_last to y_i: so
    # mean(y) - mean(g_last) stays at its initial value, 0.
    problem = _problem("logistic", key)
    clocks = _clocks(comm_rate=1.0)
    algorithm = AsyncGradientTracking(step_size=0.3 / problem.L)
    x0 = jax.random.normal(jax.random.key(1), (NUM_NODES, DIM))
    trace = jg.simulate(key, algorithm, problem, clocks, num_events=50_000, num_records=5, x0=x0)
    state = trace.final_state
    assert np.max(np.abs(state.g_last)) > 1e-3  # not trivially zero
    np.testing.assert_allclose(state.y.mean(0), state.g_last.mean(0), rtol=0, atol=1e-12)


@pytest.mark.parametrize("comm_rate", [5.0, 10.0])
@pytest.mark.parametrize("kind", ["quadratic", "logistic"])
def test_converges_linearly_to_high_precision(key, x64, kind, comm_rate):
    problem = _problem(kind, key)
    clocks = _clocks(comm_rate)
    algorithm = AsyncGradientTracking.from_theory(problem, clocks)
    num_events, num_records = 200_000, 20_000  # a record every 10 events

    def run(k):
        return jg.simulate(
            k,
            algorithm,
            problem,
            clocks,
            num_events=num_events,
            num_records=num_records,
            x0=jnp.ones(DIM),
        ).suboptimality

    subopt = np.asarray(jax.vmap(run)(jax.random.split(key, 4)))  # (seeds, records + 1)
    assert np.all(subopt[:, -1] < 1e-10), subopt[:, -1]
    assert np.all(np.max(subopt[:, num_records // 2 :], axis=1) < 1e-10)  # it stays there
    # Linear: the error falls from 1e-8 to 1e-12 in about as many events as from
    # 1e-4 to 1e-8 (a sublinear O(1/k) method would need 10^4 times more).
    assert np.all(np.min(subopt, axis=1) < 1e-12)
    hits = np.stack([np.argmax(subopt < 10.0**-p, axis=1) for p in (4, 8, 12)], axis=1)
    first, second = np.mean(np.diff(hits, axis=1), axis=0)
    assert first > 0 and 0.5 < second / first < 2.0, (first, second)
