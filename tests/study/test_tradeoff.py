"""The trade-off explorer: rate-ratio clocks, vmapped runs to eps, and their summaries."""

import jax
import numpy as np
import pytest
import xarray as xr

import jaxgossip as jg
from jaxgossip import theory
from jaxgossip.algorithms import REGISTRY, AsyncGossipSGD
from jaxgossip.algorithms.base import TheoryConditionWarning
from jaxgossip.engine.long_run import simulate_in_chunks
from jaxgossip.study import tradeoff


@pytest.fixture(autouse=True)
def bounds(monkeypatch):
    """A stand-in for ``theory.lower_bounds`` that records the clocks it was given."""
    calls = []

    def lower_bounds(problem, clocks, eps, **kwargs):
        calls.append((clocks, kwargs))
        return dict(computations=12.0, communications=34.0, source="stand-in")

    monkeypatch.setattr(theory, "lower_bounds", lower_bounds, raising=False)
    return calls


def _problem():
    """Heterogeneous enough for gossip-SGD's error floor to depend on the ratio, under 3e-3."""
    return jg.problems.quadratic(jax.random.key(0), 8, 3, kappa=10.0, heterogeneity=0.1)


def _explore(algorithms, **kwargs):
    """Small runs; the defaults are shared so that tests reuse one another's compilations."""
    defaults = dict(ratios=[0.5, 5.0], seeds=2, events_per_chunk=1000, records_per_chunk=20)
    kwargs = defaults | dict(max_chunks=10) | kwargs
    return tradeoff.explore(_problem(), jg.graphs.ring(8), algorithms, **kwargs)


_sample_events = jax.jit(jg.sample_events, static_argnames=("num_events",))


@pytest.mark.parametrize("graph", [jg.graphs.ring(8), jg.graphs.exponential(16)])
@pytest.mark.parametrize("ratio", [0.1, 3.0])
def test_rate_ratio_clocks_give_ratio_communications_per_computation(key, graph, ratio):
    clocks = tradeoff.rate_ratio_clocks(graph, ratio, compute_rate=2.0)
    np.testing.assert_allclose(clocks.compute_rate, 2.0, rtol=0, atol=0)
    expected = float(np.sum(clocks.comm_rate) / np.sum(clocks.compute_rate))
    np.testing.assert_allclose(expected, ratio, rtol=1e-6, atol=0)
    # Empirically: the fraction of communication events is ratio / (1 + ratio).
    num_events = 20_000
    events = _sample_events(key, clocks, num_events)
    communications = int(np.sum(np.asarray(events.kind) == jg.COMMUNICATE))
    p = ratio / (1 + ratio)
    sigma = np.sqrt(num_events * p * (1 - p))
    assert abs(communications - num_events * p) < 5 * sigma


def test_rate_ratio_clocks_rejects_nonpositive_ratio():
    with pytest.raises(ValueError, match="ratio"):
        tradeoff.rate_ratio_clocks(jg.graphs.ring(8), 0.0)


def test_explore_compiles_once_per_algorithm_and_reuses_it():
    algorithms = {"sgd": "async_gossip_sgd", "gossip": jg.algorithms.Gossip.from_theory}
    kwargs = dict(eps=1e-9, seeds=3, events_per_chunk=500, records_per_chunk=5, max_chunks=3)
    before = tradeoff._run_chunk._cache_size()
    ds = _explore(algorithms, ratios=[0.5, 1.0, 2.0, 4.0], **kwargs)
    assert ds.attrs["compilations"] == 2
    assert tradeoff._run_chunk._cache_size() - before == 2
    np.testing.assert_array_equal(ds["events"], 3 * 500)  # three chunks, one compilation
    # New ratio values and seeds of the same shapes reuse the compiled chunks.
    again = _explore(algorithms, ratios=[0.3, 3.0, 30.0, 300.0], **kwargs | dict(seeds=[4, 5, 6]))
    assert again.attrs["compilations"] == 0
    assert tradeoff._run_chunk._cache_size() - before == 2


def test_explore_equals_single_chunked_runs(x64):
    problem, graph = _problem(), jg.graphs.ring(8)
    # A2CiD2: three of its hyperparameters depend on the ratio.
    algorithms = {"a2cid2": "a2cid2"}
    ratios, seeds, events_per_chunk, records_per_chunk = [0.5, 5.0], [0, 3], 800, 8
    eps = 0.05
    ds = tradeoff.explore(
        problem,
        graph,
        algorithms,
        ratios=ratios,
        eps=eps,
        seeds=seeds,
        events_per_chunk=events_per_chunk,
        records_per_chunk=records_per_chunk,
        max_chunks=6,
    )
    assert ds["computations"].dtype == np.float64
    for label, name in algorithms.items():
        num_chunks = int(ds["events"].sel(algorithm=label).max()) // events_per_chunk
        for ratio in ratios:
            clocks = tradeoff.rate_ratio_clocks(graph, ratio)
            algorithm = REGISTRY[name].from_theory(problem, clocks)
            for seed in seeds:
                trace = simulate_in_chunks(
                    jax.random.key(seed),
                    algorithm,
                    problem,
                    clocks,
                    num_events=num_chunks * events_per_chunk,
                    num_records=num_chunks * records_per_chunk,
                    num_chunks=num_chunks,
                    progress=False,
                )
                reached = np.flatnonzero(np.asarray(trace.suboptimality) <= eps)
                run = ds.sel(algorithm=label, ratio=ratio, seed=seed)
                assert reached.size and not bool(run["diverged"])
                k = reached[0]
                for var, field in [
                    ("computations", "num_computations"),
                    ("communications", "num_communications"),
                    ("time", "time"),
                ]:
                    expected = float(np.asarray(getattr(trace, field))[k])
                    np.testing.assert_array_equal(float(run[var]), expected)
                np.testing.assert_allclose(
                    float(run["final_suboptimality"]),
                    float(trace.suboptimality[-1]),
                    rtol=1e-12,
                    atol=0,
                )


def test_more_communication_never_needs_more_computations():
    """Gossip-SGD: more averaging per gradient never costs more gradients (median)."""
    ds = _explore(
        {"sgd": "async_gossip_sgd"},
        ratios=[0.1, 1.0, 10.0],
        eps=3e-3,
        seeds=4,
        events_per_chunk=2000,
        records_per_chunk=40,
    )
    median = tradeoff.medians(ds).sel(algorithm="sgd")
    computations = median["computations"].values
    communications = median["communications"].values
    assert np.all(np.isfinite(computations)), computations
    assert np.all(np.diff(computations) <= 0), computations
    assert computations[-1] < 0.7 * computations[0], computations
    assert np.all(np.diff(communications) > 0), communications  # paid for in messages


def test_explore_stops_early_once_every_run_reached():
    ds = _explore({"sgd": "async_gossip_sgd"}, eps=1.0)
    assert not ds["diverged"].any()
    assert ds["computations"].notnull().all()
    assert int(ds["events"].max()) < 10 * 1000


def test_divergence_gives_nan_and_stops_early():
    ds = _explore(
        {"huge step": lambda problem, clocks: AsyncGossipSGD(step_size=10.0 / problem.L)},
        eps=1e-6,
    )
    assert ds["diverged"].all()
    for name in ("computations", "communications", "time", "final_suboptimality"):
        assert ds[name].isnull().all()
    assert int(ds["events"].max()) < 10 * 1000
    medians = tradeoff.medians(ds)
    np.testing.assert_array_equal(medians["diverged_fraction"], 1.0)
    assert medians["computations"].isnull().all()


def test_attributes_and_lower_bounds_at_ratio_one(bounds):
    ds = _explore(["async_gossip_sgd"], eps=1.0, graph_name="ring")
    assert list(ds.dims) == ["algorithm", "ratio", "seed"]
    assert list(ds["algorithm"].values) == ["async_gossip_sgd"]
    assert ds.attrs["eps"] == 1.0 and ds.attrs["graph"] == "ring"
    assert (ds.attrs["num_nodes"], ds.attrs["num_edges"]) == (8, 8)
    assert ds.attrs["lower_computations"] == 12.0
    assert ds.attrs["lower_communications"] == 34.0
    assert ds.attrs["bound_source"] == "stand-in"
    # The asynchronous side of the shared layout: its ratio is its clocks', no rounds.
    assert list(ds["engine"].values) == ["events"]
    np.testing.assert_array_equal(
        ds["realized_ratio"].sel(algorithm="async_gossip_sgd"), [0.5, 5.0]
    )
    np.testing.assert_array_equal(ds["rounds"], 0)
    ((clocks, kwargs),) = bounds
    np.testing.assert_allclose(np.sum(clocks.comm_rate) / np.sum(clocks.compute_rate), 1.0)
    assert kwargs == {}
    # A start x0 per node: the bound is relative to f at their mean, as record 0 is.
    x0 = np.arange(24.0).reshape(8, 3)
    _explore(["async_gossip_sgd"], eps=1e3, x0=x0)
    np.testing.assert_allclose(bounds[-1][1]["x0"], x0.mean(0), rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_registry_algorithm_stacks_across_ratios(name):
    problem, graph = _problem(), jg.graphs.ring(8)
    factory = REGISTRY[name].from_theory
    clocks = [tradeoff.rate_ratio_clocks(graph, r) for r in (0.5, 5)]
    if name == "dadao":  # chi1 chi2 > 1/2 at ratio 0.5: one warning names that ratio
        with pytest.warns(
            TheoryConditionWarning, match="dadao's theory conditions fail at ratios 0.5;"
        ):
            built = tradeoff._built_per_ratio(name, factory, problem, clocks, (0.5, 5))
    else:
        built = tradeoff._built_per_ratio(name, factory, problem, clocks, (0.5, 5))
    stacked = tradeoff._stack(name, built)
    for leaf, first in zip(jax.tree.leaves(stacked), jax.tree.leaves(built[0])):
        assert leaf.shape == (2, *np.shape(first))


def test_unstackable_builds_are_rejected():
    def factory(problem, clocks):
        size = 1 if float(clocks.comm_rate[0]) < 1 else 2
        return AsyncGossipSGD(step_size=np.full(size, 0.1))

    with pytest.raises(ValueError, match="stacked"):
        _explore({"bad": factory}, ratios=[0.5, 5.0], eps=1.0)


def _hand_made():
    """Two algorithms, three ratios, four seeds, with known counts."""
    computations = np.array(
        [
            [[10, 12, 14, 16], [8, 8, 8, 8], [4, np.nan, 6, 5]],
            [[np.nan] * 4, [20, 20, np.nan, np.nan], [2, 2, 2, 2]],
        ]
    )
    communications = np.array(
        [
            [[1, 1, 1, 1], [8, 8, 8, 8], [40, np.nan, 60, 50]],
            [[np.nan] * 4, [20, 20, np.nan, np.nan], [100, 100, 100, 100]],
        ]
    )
    dims = ("algorithm", "ratio", "seed")
    return xr.Dataset(
        dict(
            computations=(dims, computations),
            communications=(dims, communications),
            time=(dims, computations / 8),
            final_suboptimality=(dims, np.full(computations.shape, 1e-3)),
            diverged=(dims, np.isnan(computations)),
            events=(dims, np.full(computations.shape, 100)),
        ),
        coords=dict(algorithm=["a", "b"], ratio=[0.1, 1.0, 10.0], seed=np.arange(4)),
        attrs=dict(eps=1e-3),
    )


def test_cost_to_reach_and_best_ratios_known_answer():
    ds = _hand_made()
    cost = tradeoff.cost_to_reach(ds, c_grad=1.0, c_comm=0.1)
    np.testing.assert_allclose(
        cost.sel(algorithm="a", ratio=10.0), [8.0, np.nan, 12.0, 10.0], rtol=1e-12, atol=0
    )
    # a: medians 13.1, 8.8 and 11 (a missing seed counts +inf: median of 8, 10, 12, inf);
    # b: inf, inf (half the seeds missing) and 12.
    best = tradeoff.best_ratios(ds, c_grad=1.0, c_comm=0.1)
    assert best["a"] == (1.0, pytest.approx(8.8, rel=1e-12))
    assert best["b"] == (10.0, pytest.approx(12.0, rel=1e-12))
    # Communications free: the most communicating ratio wins (a: 13, 8, 5.5).
    best = tradeoff.best_ratios(ds, c_grad=1.0, c_comm=0.0)
    assert best["a"] == (10.0, pytest.approx(5.5, rel=1e-12))
    # Computations free: the least communicating ratio that reaches (a: 1, 8, 55).
    best = tradeoff.best_ratios(ds, c_grad=0.0, c_comm=1.0)
    assert best["a"] == (0.1, 1.0) and best["b"] == (10.0, 100.0)


def test_best_ratios_of_an_algorithm_that_never_reaches_is_nan():
    ds = _hand_made()
    ds["computations"][1] = np.nan
    best = tradeoff.best_ratios(ds, c_grad=1.0, c_comm=1.0)
    assert np.isnan(best["b"][0]) and np.isnan(best["b"][1])


def test_medians_count_not_reached_as_infinite():
    m = tradeoff.medians(_hand_made())
    np.testing.assert_allclose(m["computations"].sel(algorithm="a"), [13.0, 8.0, 5.5], rtol=1e-12)
    # b at ratio 1: half the seeds missed, so the median is not reached.
    np.testing.assert_array_equal(m["computations"].sel(algorithm="b"), [np.nan, np.nan, 2.0])
    np.testing.assert_allclose(m["reached_fraction"].sel(algorithm="b"), [0.0, 0.5, 1.0])
    np.testing.assert_allclose(m["diverged_fraction"].sel(algorithm="a"), [0.0, 0.0, 0.25])
    assert m.attrs["eps"] == 1e-3
