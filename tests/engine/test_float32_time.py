"""Event times in float32 long runs (issue #13, item 4).

At simulated time T a float32 timestamp has a resolution of T * 2^-24; late in
a long run that is as coarse as the gaps between events, so the methods that
integrate an ODE over t - t_i (``stores_time``) would see most gaps rounded
to zero or doubled. The engine hands them times relative to a per-chunk origin:
their dynamics no longer depend on how late the run is.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgossip as jg
from jaxgossip.algorithms.asynchronous.dadao import theory_comm_rate
from jaxgossip.engine.events import init_state, split_key
from jaxgossip.network.clocks import Events, sample_chunk

NUM_NODES = 16
LATE = 2.0**17  # float32 resolution 2^-7 ~ 0.008, about the mean gap between events


def _setting():
    graph = jg.graphs.ring(NUM_NODES)
    problem = jg.problems.quadratic(jax.random.key(1), num_nodes=NUM_NODES, dim=4, kappa=100.0)
    clocks = jg.Clocks(graph, 1.0, 1.2 * theory_comm_rate(graph))
    return problem, clocks


def _started_at(algorithm, problem, start):
    state = init_state(algorithm, problem)
    return algorithm.shift_time(state, -start)  # every node's last event at ``start``


@pytest.mark.parametrize("name", ["DADAO", "A2CiD2", "ContinuizedDualGossip"])
def test_lazily_integrated_methods_do_not_depend_on_how_late_the_run_is(key, name):
    """Same events shifted by 2^17 in float32: bit for bit the same states (the
    hooks see gaps since the chunk's origin, which do not depend on it)."""
    problem, clocks = _setting()
    algorithm = getattr(jg.algorithms, name).from_theory(problem, clocks)
    assert algorithm.stores_time
    runs = [
        jg.simulate(
            key,
            algorithm,
            problem,
            clocks,
            num_events=20_000,
            num_records=4,
            initial_state=_started_at(algorithm, problem, start),
            start_time=start,
        )
        for start in (0.0, LATE)
    ]
    early, late = (jax.vmap(algorithm.params)(run.final_state) for run in runs)
    assert early.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(late), np.asarray(early))
    np.testing.assert_array_equal(
        np.asarray(runs[1].suboptimality), np.asarray(runs[0].suboptimality)
    )
    # The continued state carries absolute times again (a later call continues it).
    last = np.asarray(runs[1].final_state.time, np.float64)
    assert np.all((last >= LATE) & (last <= float(runs[1].time[-1])))


def test_dadao_late_in_a_float32_run_follows_the_float64_run_of_the_same_events(key):
    """DADAO from time 2^17 in float32 against float64 on the same event times
    (the float32 chunks' exact times, summed in float64): within 6e-4 of the
    distance to x* (measured 3.7e-4, from float32 arithmetic; absolute float32
    times, whose resolution is about the mean gap, gave 1.4e-3)."""
    num_events, chunk = 20_000, 5_000
    problem, clocks = _setting()
    algorithm = jg.algorithms.DADAO.from_theory(problem, clocks)
    run = jg.simulate(
        key,
        algorithm,
        problem,
        clocks,
        num_events=num_events,
        num_records=num_events // chunk,
        initial_state=_started_at(algorithm, problem, LATE),
        start_time=LATE,
    )
    x32 = np.asarray(jax.vmap(algorithm.params)(run.final_state), np.float64)

    event_key, _ = split_key(key)
    chunks = [
        sample_chunk(jax.random.fold_in(event_key, c), clocks, chunk, jnp.zeros((), jnp.float32))
        for c in range(num_events // chunk)
    ]
    times, origin = [], LATE
    for events in chunks:
        since = np.asarray(events.time, np.float64)
        times.append(origin + since)
        origin += since[-1]
    with jax.enable_x64(True):
        problem, clocks = _setting()
        algorithm = jg.algorithms.DADAO.from_theory(problem, clocks)
        fields = [np.concatenate([np.asarray(e[k]) for e in chunks]) for k in range(1, 5)]
        events = Events(jnp.asarray(np.concatenate(times)), *map(jnp.asarray, fields))
        reference = jg.simulate(
            key,
            algorithm,
            problem,
            clocks,
            num_events=num_events,
            num_records=num_events // chunk,
            events=events,
            initial_state=_started_at(algorithm, problem, LATE),
            start_time=LATE,
        )
        x64 = np.asarray(jax.vmap(algorithm.params)(reference.final_state))
        x_star = np.asarray(problem.x_star)
    distance = np.linalg.norm(x64 - x_star)
    assert distance > 0.05  # still far from x*, where float32 rounding of the problem is small
    assert np.linalg.norm(x32 - x64) / distance < 6e-4
