import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgossip as jg


def test_event_counts_match_rates(key):
    graph = jg.graphs.ring(8)
    compute_rate = np.linspace(0.5, 4.0, 8)
    comm_rate = np.linspace(1.0, 0.2, graph.num_edges)
    clocks = jg.Clocks(graph, compute_rate, comm_rate)
    num_events = 200_000
    events = jg.sample_events(key, clocks, num_events, num_chunks=4)
    rates = np.concatenate([compute_rate, comm_rate])
    expected = num_events * rates / rates.sum()
    kind = np.asarray(events.kind)
    node_counts = np.bincount(np.asarray(events.i)[kind == jg.COMPUTE], minlength=8)
    edge_counts = np.bincount(np.asarray(events.edge)[kind == jg.COMMUNICATE], minlength=8)
    observed = np.concatenate([node_counts, edge_counts])
    # Each count is ~binomial: 5 standard deviations is loose for a right
    # sampler and far too tight for a wrong one (e.g. uniform labels, off by 1).
    np.testing.assert_array_less(np.abs(observed - expected), 5 * np.sqrt(expected) + 1)
    # Communications name the endpoints of their edge; compute events are (i, i).
    comm = kind == jg.COMMUNICATE
    edge = np.asarray(events.edge)[comm]
    np.testing.assert_array_equal(np.asarray(events.i)[comm], np.asarray(graph.senders)[edge])
    np.testing.assert_array_equal(np.asarray(events.j)[comm], np.asarray(graph.receivers)[edge])
    np.testing.assert_array_equal(np.asarray(events.i)[~comm], np.asarray(events.j)[~comm])
    assert np.all(np.asarray(events.edge)[~comm] == -1)


def test_event_times_are_poisson(key):
    graph = jg.graphs.complete(5)
    clocks = jg.Clocks(graph, compute_rate=2.0, comm_rate=0.5)  # total rate 10 + 5 = 15
    events = jg.sample_events(key, clocks, 100_000, num_chunks=10)
    gaps = np.diff(np.concatenate([[0.0], np.asarray(events.time)]))
    assert np.all(gaps >= 0)
    np.testing.assert_allclose(gaps.mean(), 1 / 15, rtol=0.02)
    np.testing.assert_allclose(gaps.std(), 1 / 15, rtol=0.02)  # exponential: std == mean


def test_zero_rate_clocks_never_ring(key):
    graph = jg.graphs.path(4)
    clocks = jg.Clocks(graph, compute_rate=[1.0, 0.0, 1.0, 0.0], comm_rate=[0.0, 1.0, 0.0])
    events = jg.sample_events(key, clocks, 10_000)
    kind = np.asarray(events.kind)
    assert set(np.asarray(events.i)[kind == jg.COMPUTE].tolist()) == {0, 2}
    assert set(np.asarray(events.edge)[kind == jg.COMMUNICATE].tolist()) == {1}


@pytest.mark.parametrize(
    "compute_rate, comm_rate, match",
    [
        (-1.0, 1.0, "compute_rate must be nonnegative"),
        (1.0, np.nan, "comm_rate contains NaN"),
        (0.0, 0.0, "all rates are zero"),
        (np.ones(3), 1.0, r"compute_rate must be a scalar or have shape \(4,\)"),
    ],
)
def test_bad_rates_raise(compute_rate, comm_rate, match):
    with pytest.raises(ValueError, match=match):
        jg.Clocks(jg.graphs.ring(4), compute_rate, comm_rate)


def test_rates_are_vmappable(key):
    graph = jg.graphs.ring(6)
    sample = jax.vmap(lambda r: jg.sample_events(key, jg.Clocks(graph, 1.0, r), 1000).kind)
    kinds = sample(jnp.array([0.01, 100.0]))
    assert kinds[0].mean() < 0.1 < 0.9 < kinds[1].mean()


def test_events_from_numpy_roundtrip(key):
    graph = jg.graphs.ring(5)
    events = jg.sample_events(key, jg.Clocks(graph, 1.0, 1.0), 500)
    rebuilt = jg.Events.from_numpy(graph, events.time, events.kind, events.i, events.j)
    for a, b in zip(events, rebuilt):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # Endpoints given in either order name the same edge, stored in (sender, receiver) order.
    swapped = jg.Events.from_numpy(graph, events.time, events.kind, events.j, events.i)
    for a, b in zip(events, swapped):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize(
    "time, kind, i, j, match",
    [
        ([0.0, 1.0], [1], [0], [1], "lengths differ"),
        ([1.0, 0.5], [0, 0], [0, 1], [0, 1], "nondecreasing"),
        ([0.0], [2], [0], [0], "kind must be"),
        ([0.0], [0], [7], [7], "outside"),
        ([0.0], [1], [0], [2], "not an edge"),
    ],
)
def test_events_from_numpy_rejects_bad_traces(time, kind, i, j, match):
    with pytest.raises(ValueError, match=match):
        jg.Events.from_numpy(jg.graphs.ring(5), time, kind, i, j)
