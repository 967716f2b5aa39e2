"""A trace handed to ``simulate(..., events=...)`` is checked against the graph first.

Before, decreasing times, non-edges, out-of-range ids or a trace built for
another graph ran silently (issue #13, item 2).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgossip as jg
from tests import reference

N, DIM, NUM_EVENTS, NUM_RECORDS = 8, 2, 40, 4


@pytest.fixture
def setting(key):
    problem = reference.small_problem("quadratic", key, N, DIM)
    clocks = jg.Clocks(jg.graphs.ring(N), compute_rate=1.0, comm_rate=1.0)
    events = jg.sample_events(key, clocks, NUM_EVENTS)
    return problem, clocks, events


def run(setting, events, clocks=None):
    problem, ring_clocks, _ = setting
    return jg.simulate(
        jax.random.key(1),
        jg.algorithms.Gossip(),
        problem,
        ring_clocks if clocks is None else clocks,
        num_events=NUM_EVENTS,
        num_records=NUM_RECORDS,
        events=events,
    )


def first(events, kind):
    return int(np.flatnonzero(np.asarray(events.kind) == kind)[0])


def test_a_sampled_trace_replays(setting):
    trace = run(setting, setting[2])
    assert int(trace.num_computations[-1] + trace.num_communications[-1]) == NUM_EVENTS


def test_decreasing_times_are_refused(setting):
    events = setting[2]
    time = np.asarray(events.time).copy()
    time[5], time[6] = time[6], time[5] - 1.0
    with pytest.raises(ValueError, match="simulate: .*nondecreasing.*event 6"):
        run(setting, events._replace(time=jnp.asarray(time)))


def test_non_finite_times_are_refused(setting):
    events = setting[2]
    time = np.asarray(events.time).copy()
    time[3] = np.nan
    with pytest.raises(ValueError, match="finite"):
        run(setting, events._replace(time=jnp.asarray(time)))


def test_unknown_kinds_are_refused(setting):
    events = setting[2]
    kind = np.asarray(events.kind).copy()
    kind[0] = 2
    with pytest.raises(ValueError, match="kind must be"):
        run(setting, events._replace(kind=jnp.asarray(kind)))


def test_out_of_range_nodes_are_refused(setting):
    events = setting[2]
    i = np.asarray(events.i).copy()
    i[first(events, jg.COMPUTE)] = N
    with pytest.raises(ValueError, match=r"i has node ids outside \[0, 8\)"):
        run(setting, events._replace(i=jnp.asarray(i)))


def test_a_pair_that_is_not_its_edge_is_refused(setting):
    events = setting[2]
    k = first(events, jg.COMMUNICATE)
    j = np.asarray(events.j).copy()
    j[k] = (int(events.i[k]) + 4) % N  # on a ring of 8, never a neighbour
    with pytest.raises(ValueError, match=f"communication {k} names .* not an edge"):
        run(setting, events._replace(j=jnp.asarray(j)))


def test_an_edge_out_of_range_is_refused(setting):
    events = setting[2]
    k = first(events, jg.COMMUNICATE)
    edge = np.asarray(events.edge).copy()
    edge[k] = 99
    with pytest.raises(ValueError, match=r"edge 99, outside \[0, 8\)"):
        run(setting, events._replace(edge=jnp.asarray(edge)))


def test_a_compute_event_must_name_its_node_twice(setting):
    events = setting[2]
    k = first(events, jg.COMPUTE)
    j = np.asarray(events.j).copy()
    j[k] = (int(events.i[k]) + 1) % N
    with pytest.raises(ValueError, match=f"compute event {k} must name"):
        run(setting, events._replace(j=jnp.asarray(j)))


def test_a_trace_built_for_another_graph_is_refused(setting, key):
    problem, _, _ = setting
    star = jg.Clocks(jg.graphs.star(N), compute_rate=1.0, comm_rate=1.0)
    # Enough events that some communication is not a ring edge.
    star_events = jg.sample_events(key, star, NUM_EVENTS)
    assert np.any(np.asarray(star_events.kind) == jg.COMMUNICATE)
    with pytest.raises(ValueError, match="simulate: the replayed events"):
        run(setting, star_events)


def test_a_traced_trace_is_not_checked_but_runs(setting):
    problem, clocks, events = setting
    many = jax.tree.map(lambda a: jnp.stack([a, a]), events)

    def one(ev):
        return jg.simulate(
            jax.random.key(1),
            jg.algorithms.Gossip(),
            problem,
            clocks,
            num_events=NUM_EVENTS,
            num_records=NUM_RECORDS,
            events=ev,
        )

    traces = jax.vmap(one)(many)
    single = run(setting, events)
    np.testing.assert_array_equal(traces.suboptimality[0], single.suboptimality)
