"""Synchronous methods in the drivers: sweeps, chunked long runs and the trade-off explorer."""

import jax
import numpy as np
import pytest
import xarray as xr

import jaxgossip as jg
from jaxgossip.algorithms.synchronous import DSGD, EXTRA, ADOMPlusMultiConsensus
from jaxgossip.engine.long_run import simulate_in_chunks
from jaxgossip.network.mixing import metropolis_mixing, time_varying_mixing
from jaxgossip.plot import plot_frontier
from jaxgossip.study import tradeoff
from jaxgossip.study.sweep import METRICS

NUM_ROUNDS, NUM_RECORDS = 40, 8
STEP_SIZES = [0.005, 0.01, 0.02]  # from_theory: 0.0167 (L = 20)


def _problem():
    # Heterogeneous and ill-conditioned enough that nothing reaches 0 in 40 rounds.
    return jg.problems.quadratic(jax.random.key(0), 8, 3, kappa=20.0, heterogeneity=1.0)


def _mixing():
    return metropolis_mixing(jg.graphs.ring(8))


def test_sweep_of_extra_equals_single_rounds_runs(x64):
    # Counters, time and flags exactly; the float metrics to 1e-12 (float64): the
    # vmapped program may order the reductions of f(x_bar) and of the gossip's
    # segment sums differently from a single run's (in float32 they differ by an ulp).
    problem, mixing = _problem(), _mixing()
    ds = jg.sweep(
        EXTRA,
        problem,
        mixing,
        num_rounds=NUM_ROUNDS,
        num_records=NUM_RECORDS,
        grid={"step_size": STEP_SIZES},
        seeds=[0, 5],
        max_batch=4,  # 6 runs: two batches, the second padded
    )
    assert ds["suboptimality"].dims == ("step_size", "seed", "record")
    assert '"engine": "rounds"' in ds.attrs["config"] and '"num_rounds": 40' in ds.attrs["config"]
    for step_size in STEP_SIZES:
        for seed in (0, 5):
            trace = jg.simulate_rounds(
                jax.random.key(seed),
                EXTRA(step_size=step_size),
                problem,
                mixing,
                num_rounds=NUM_ROUNDS,
                num_records=NUM_RECORDS,
            )
            point = ds.sel(step_size=step_size, seed=seed)
            assert float(trace.suboptimality[-1]) > 0
            for name in METRICS:
                expected = np.asarray(getattr(trace, name))
                if expected.dtype.kind == "f" and name != "time":
                    np.testing.assert_allclose(
                        point[name].values, expected, rtol=1e-12, atol=1e-14, err_msg=name
                    )
                else:
                    np.testing.assert_array_equal(point[name].values, expected, err_msg=name)
    # A diverging step is masked like an asynchronous one (0.2 > the bound 2 / L = 0.1).
    diverged = jg.sweep(
        EXTRA, problem, mixing, num_rounds=NUM_ROUNDS, num_records=NUM_RECORDS,
        grid={"step_size": [0.01, 0.2]},
    )  # fmt: skip
    assert bool(diverged["diverged"].sel(step_size=0.2).isel(record=-1).all())
    assert not bool(diverged["diverged"].sel(step_size=0.01).any())
    assert jg.divergence_summary(diverged)[0]["step_size"] == 0.2


def test_chunked_checkpointed_sweep_of_rounds_equals_unchunked(tmp_path):
    problem, mixing = _problem(), _mixing()
    kwargs = dict(num_rounds=NUM_ROUNDS, num_records=NUM_RECORDS, grid={"step_size": STEP_SIZES})
    whole = jg.sweep(EXTRA, problem, mixing, seeds=2, **kwargs)
    chunked = jg.sweep(
        EXTRA, problem, mixing, seeds=2, num_chunks=4, checkpoint=tmp_path / "s", max_batch=4,
        **kwargs,
    )  # fmt: skip
    xr.testing.assert_identical(whole.drop_attrs(), chunked.drop_attrs())
    resumed = jg.sweep(
        EXTRA, problem, mixing, seeds=2, num_chunks=4, checkpoint=tmp_path / "s", resume=True,
        max_batch=4, **kwargs,
    )  # fmt: skip
    xr.testing.assert_identical(whole.drop_attrs(), resumed.drop_attrs())


@pytest.mark.parametrize(
    "network, kwargs, match",
    [
        ("mixing", dict(num_events=40), "budget is num_rounds, not num_events"),
        ("mixing", dict(), "needs num_rounds"),
        ("clocks", dict(num_rounds=40), "needs a Mixing or TimeVaryingMixing"),
        ("mixing", dict(num_rounds=40, grid={"step_size": [0.1], "comm_rate": [1.0]}), "rounds"),
        ("mixing", dict(num_rounds=41), "num_rounds=41 must be a positive multiple"),
    ],
)
def test_sweep_refuses_what_rounds_do_not_have(network, kwargs, match):
    network = _mixing() if network == "mixing" else jg.Clocks(jg.graphs.ring(8))
    kwargs = dict(grid={"step_size": [0.1]}) | kwargs
    with pytest.raises(ValueError, match=match):
        jg.sweep(EXTRA, _problem(), network, num_records=NUM_RECORDS, **kwargs)


def test_sweep_refuses_rounds_budget_for_an_asynchronous_method():
    with pytest.raises(ValueError, match="budget is num_events, not num_rounds"):
        jg.sweep(
            jg.algorithms.AsyncGossipSGD, _problem(), jg.Clocks(jg.graphs.ring(8)),
            num_rounds=40, num_records=8, grid={"step_size": [0.1]},
        )  # fmt: skip


@pytest.mark.parametrize("varying", [False, True])
def test_chunked_rounds_with_checkpoints_equal_one_run(key, tmp_path, varying):
    problem = _problem()
    if varying:
        # Round r must keep its key round_key(key, r) (minibatches) and its matrix
        # mixing.at(r) across chunks: 3 matrices do not divide 12 rounds per chunk.
        problem = jg.problems.logistic_regression(key, 8, 3, 20, reg=0.1, batch_size=3)
        graphs = [jg.graphs.ring(8), jg.graphs.complete(8), jg.graphs.star(8)]
        mixing = time_varying_mixing([metropolis_mixing(g) for g in graphs])
        algorithm = DSGD(step_size=0.1)
    else:
        mixing = _mixing()
        algorithm = ADOMPlusMultiConsensus.from_theory(problem, mixing)
    one = jg.simulate_rounds(key, algorithm, problem, mixing, num_rounds=48, num_records=12)
    path = tmp_path / "rounds.ckpt"

    class Interrupted(Exception):
        pass

    def interrupt(chunks_done, trace):
        if chunks_done == 2:
            raise Interrupted

    kwargs = dict(num_rounds=48, num_records=12, num_chunks=4, checkpoint=path, progress=False)
    with pytest.raises(Interrupted):
        simulate_in_chunks(key, algorithm, problem, mixing, on_chunk=interrupt, **kwargs)
    resumed = simulate_in_chunks(key, algorithm, problem, mixing, resume=True, **kwargs)
    chunked = simulate_in_chunks(
        key, algorithm, problem, mixing, num_rounds=48, num_records=12, num_chunks=4,
        progress=False,
    )  # fmt: skip
    for run in (chunked, resumed):
        for a, b in zip(jax.tree.leaves(one), jax.tree.leaves(run)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
            assert np.asarray(a).dtype == np.asarray(b).dtype
    np.testing.assert_array_equal(one.time, np.arange(0, 49, 4))


def test_simulate_in_chunks_refuses_the_wrong_budget(key):
    with pytest.raises(ValueError, match="budget is num_rounds, not num_events"):
        simulate_in_chunks(
            key, EXTRA(step_size=0.1), _problem(), _mixing(), num_events=40, num_records=8,
            num_chunks=2,
        )  # fmt: skip


def test_start_round_continues_keys_and_time(key):
    problem, mixing = _problem(), _mixing()
    algorithm = EXTRA(step_size=0.05)
    whole = jg.simulate_rounds(key, algorithm, problem, mixing, num_rounds=20, num_records=4)
    first = jg.simulate_rounds(key, algorithm, problem, mixing, num_rounds=10, num_records=2)
    rest = jg.simulate_rounds(
        key, algorithm, problem, mixing, num_rounds=10, num_records=2,
        initial_state=first.final_state, start_round=10,
    )  # fmt: skip
    np.testing.assert_array_equal(rest.time, [10.0, 15.0, 20.0])
    np.testing.assert_array_equal(rest.suboptimality, whole.suboptimality[2:])
    np.testing.assert_array_equal(rest.final_state.x, whole.final_state.x)


def test_explorer_puts_a_synchronous_method_on_the_asynchronous_frontier(x64):
    problem, graph = _problem(), jg.graphs.ring(8)
    mixing = metropolis_mixing(graph)
    ratios, eps = [0.5, 2.0, 5.0], 1e-2
    ds = tradeoff.explore(
        problem,
        graph,
        {"sgd": "async_gossip_sgd", "adom": "adom_plus_multi"},
        ratios=ratios,
        eps=eps,
        seeds=2,
        events_per_chunk=1000,
        records_per_chunk=20,
        max_chunks=10,
        mixing=mixing,
    )
    assert list(ds["engine"].values) == ["events", "rounds"]
    assert ds["computations"].dims == ("algorithm", "ratio", "seed")
    n, links = graph.num_nodes, graph.num_edges
    np.testing.assert_array_equal(ds["realized_ratio"].sel(algorithm="sgd"), ratios)
    steps = [tradeoff.gossip_steps(r, n, links) for r in ratios]
    assert steps == [1, 2, 5]  # |E| = n on a ring: K is the ratio, at least 1
    np.testing.assert_array_equal(
        ds["realized_ratio"].sel(algorithm="adom"), [k * links / n for k in steps]
    )
    adom = ds.sel(algorithm="adom")
    assert adom["computations"].notnull().all() and not adom["diverged"].any()
    np.testing.assert_array_equal(ds["rounds"].sel(algorithm="sgd"), 0)
    np.testing.assert_array_equal(adom["events"], 0)
    for ratio, k in zip(ratios, steps):
        run = adom.sel(ratio=ratio)
        rounds = run["time"].values  # time of a synchronous run is rounds
        # A round: n gradients and K gossip steps of |E| messages.
        np.testing.assert_array_equal(run["computations"], rounds * n)
        np.testing.assert_array_equal(run["communications"], rounds * k * links)
        # The round found is the first at which one plain run reaches eps.
        algorithm = ADOMPlusMultiConsensus.from_theory(problem, mixing, num_gossip_steps=k)
        total = int(run["rounds"].values[0])
        trace = jg.simulate_rounds(
            jax.random.key(0), algorithm, problem, mixing, num_rounds=total, num_records=total
        )
        first = int(np.flatnonzero(np.asarray(trace.suboptimality) <= eps)[0])
        assert rounds[0] == first
    # More gossip per round: fewer gradients to eps, as on the asynchronous curve.
    assert adom["computations"].values[-1, 0] < adom["computations"].values[0, 0]
    medians = tradeoff.medians(ds)
    assert set(medians["realized_ratio"].dims) == {"algorithm", "ratio"}
    figure = plot_frontier(ds)
    labels = figure.axes[0].get_legend_handles_labels()[1]
    assert {"sgd", "adom"} <= set(labels)


def test_explorer_refuses_a_synchronous_method_without_a_knob():
    with pytest.raises(ValueError, match="no num_gossip_steps"):
        tradeoff.explore(
            _problem(), jg.graphs.ring(8), ["extra"], ratios=[1.0], eps=1e-2,
            events_per_chunk=100, records_per_chunk=10,
        )  # fmt: skip


def test_gossip_steps_are_the_log_nearest_integer():
    assert tradeoff.gossip_steps(0.1, 8, 8) == 1
    assert tradeoff.gossip_steps(1.4, 8, 8) == 1  # 1.4 / 1 < 2 / 1.4
    assert tradeoff.gossip_steps(1.5, 8, 8) == 2
    assert tradeoff.gossip_steps(3.0, 8, 16) == 2  # K = 1.5 -> 2 (2 / 1.5 < 1.5 / 1)
