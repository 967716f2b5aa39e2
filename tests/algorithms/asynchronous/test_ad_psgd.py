import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgossip as jg
from jaxgossip.algorithms.asynchronous.ad_psgd import ADPSGD, ADPSGDState
from tests import reference
from tests.replays import ad_psgd as replay_ad_psgd

NUM_NODES, DIM = 8, 4


def _problem(kind, key, **options):
    return reference.small_problem(kind, key, NUM_NODES, DIM, **options)


def _clocks(comm_rate=5.0):
    return jg.Clocks(jg.graphs.ring(NUM_NODES), compute_rate=1.0, comm_rate=comm_rate)


@pytest.mark.parametrize("kind", ["quadratic", "logistic"])
def test_engine_equals_numpy_replay(key, x64, kind):
    problem = _problem(kind, key)
    clocks = _clocks(comm_rate=np.linspace(0.3, 1.5, NUM_NODES))
    algorithm = ADPSGD(step_size=0.7 / problem.L)
    events = jg.sample_events(jax.random.key(3), clocks, 2000)
    x0 = np.asarray(jax.random.normal(jax.random.key(2), (NUM_NODES, DIM)))
    trace = jg.simulate(
        key, algorithm, problem, clocks, num_events=2000, num_records=4, x0=x0, events=events
    )
    expected = replay_ad_psgd.replay(events, problem, algorithm, x0)
    assert isinstance(trace.final_state, ADPSGDState)
    assert trace.final_state.opt_state is None  # plain SGD keeps no optimizer state
    for name in ("x", "x_read"):
        got, want = getattr(trace.final_state, name), getattr(expected, name)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_from_theory_and_flags(key):
    problem = _problem("quadratic", key)
    algorithm = ADPSGD.from_theory(problem, _clocks())
    np.testing.assert_allclose(algorithm.step_size, 0.5 / problem.L, rtol=1e-6)
    assert ADPSGD.exact is False
    assert algorithm.message_floats(DIM) == 2 * DIM  # only x is exchanged


def _both_on_one_trace(key, problem, clocks, step_size, num_events):
    """ADPSGD and AsyncGossipSGD run on the same event trace (same key)."""
    stale, fresh = (
        jg.simulate(
            key, algo, problem, clocks, num_events=num_events, num_records=10, x0=jnp.ones(DIM)
        )
        for algo in (ADPSGD(step_size=step_size), jg.algorithms.AsyncGossipSGD(step_size))
    )
    return stale, fresh


def test_without_communication_it_is_async_gossip_sgd(key, x64):
    # No averaging, no staleness: the snapshot read at the previous compute event
    # is still the current model, so both algorithms take identical steps.
    problem = _problem("logistic", key)
    stale, fresh = _both_on_one_trace(key, problem, _clocks(comm_rate=0.0), 0.5 / problem.L, 2000)
    np.testing.assert_allclose(stale.final_state.x, fresh.final_state, rtol=0, atol=1e-13)


def test_staleness_changes_the_iterates_and_the_stable_steps(key, x64):
    problem = _problem("quadratic", key, heterogeneity=2.0)
    steps = jnp.array([0.5, 1.5]) / problem.L
    keys = jax.random.split(key, 4)
    stale, fresh = jax.vmap(
        jax.vmap(lambda s, k: _both_on_one_trace(k, problem, _clocks(), s, 20_000), (None, 0)),
        (0, None),
    )(steps, keys)  # leaves (steps, seeds, ...)
    assert np.min(np.max(np.abs(stale.final_state.x[0] - fresh.final_state[0]), axis=(1, 2))) > 1e-2
    # A gradient of a stale snapshot destabilizes steps that instant application
    # tolerates: at 1.5 / L (< 2 / L) AsyncGossipSGD stays bounded on every
    # trace while AD-PSGD diverges on every trace.
    assert np.all(stale.diverged[1, :, -1] | (stale.suboptimality[1, :, -1] > 1e6))
    assert not np.any(fresh.diverged) and np.all(fresh.suboptimality[:, :, -1] < 10.0)


def test_error_floor_shrinks_with_step_size(key, x64):
    # Heterogeneous f_i: a constant step leaves a floor, O(step), in f(x_bar) - f*.
    problem = _problem("quadratic", key, heterogeneity=2.0)
    clocks = _clocks()
    step = 0.5 / problem.L

    def floor(k, step_size):
        trace = jg.simulate(
            k, ADPSGD(step_size=step_size), problem, clocks, num_events=100_000, num_records=20
        )
        return jnp.mean(trace.suboptimality[10:])  # average over the second half

    keys = jax.random.split(key, 8)
    floors = jax.vmap(jax.vmap(floor, (0, None)), (None, 0))(keys, jnp.array([step, step / 4]))
    large, small = np.median(np.asarray(floors), axis=1)
    assert np.all(np.isfinite(floors))
    assert small < 0.5 * large, (large, small)
