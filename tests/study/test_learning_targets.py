"""Targets on learning metrics: the best point, the summary and the explorer, goal "max"."""

import json

import equinox as eqx
import jax
import numpy as np
import optax
import pytest
import xarray as xr

import jaxgossip as jg
from jaxgossip.algorithms import AsyncGossipSGD
from jaxgossip.problems import datasets
from jaxgossip.study.analysis import best
from jaxgossip.study.results import choose_best, summary_table
from jaxgossip.study.tradeoff import explore, medians

RECORDS = 5


def _sweep(accuracy: np.ndarray, *, diverged=None) -> xr.Dataset:
    """A sweep Dataset over (learning_rate, seed, record) with the given test accuracies.

    Computations are 10 per record, communications 20, time 1.
    """
    rates, seeds = accuracy.shape[:2]
    dims = ("learning_rate", "seed", "record")
    counts = np.broadcast_to(np.arange(RECORDS), accuracy.shape)
    flags = np.zeros(accuracy.shape, bool) if diverged is None else diverged
    ds = xr.Dataset(
        {
            "test_accuracy": (dims, np.where(flags, np.nan, accuracy)),
            "test_loss": (dims, 1.0 - accuracy),
            "num_computations": (dims, 10 * counts),
            "num_communications": (dims, 20 * counts),
            "time": (dims, 1.0 * counts),
            "diverged": (dims, flags),
        },
        coords=dict(
            learning_rate=[0.01, 0.1, 1.0][:rates], seed=np.arange(seeds), record=np.arange(RECORDS)
        ),
    )
    goals = {"test_accuracy": "max", "test_loss": "min"}
    ds.attrs.update(metric_goals=json.dumps(goals), metric="test_accuracy", eps=0.8)
    return ds


# learning_rate 0.01: slow, ends highest; 0.1: reaches 0.8 first; 1.0: diverges at the end.
ACCURACY = np.array(
    [
        [[0.1, 0.3, 0.5, 0.7, 0.95], [0.1, 0.3, 0.5, 0.75, 0.96]],
        [[0.1, 0.85, 0.9, 0.9, 0.9], [0.1, 0.8, 0.88, 0.9, 0.91]],
        [[0.1, 0.9, 0.99, 0.99, 0.99], [0.1, 0.9, 0.99, 0.99, 0.99]],
    ]
)


def _with_divergence():
    diverged = np.zeros(ACCURACY.shape, bool)
    diverged[2, 0, -1] = True  # one seed of learning_rate 1.0 blows up at the last record
    return _sweep(ACCURACY, diverged=diverged)


def test_best_reads_the_goal_of_the_metric():
    ds = _with_divergence()
    final = best(ds, criterion="final", metric="test_accuracy")
    assert final["learning_rate"] == 0.01  # the highest median final accuracy, not the lowest
    assert final["score"] == pytest.approx(0.955, abs=1e-12)
    fastest = best(ds, criterion="to_reach", eps=0.8, metric="test_accuracy")
    assert fastest["learning_rate"] == 0.1  # 1.0 reaches first but has a diverged seed
    # Seed 0 crosses 0.8 between records 0 and 1 at (0.8 - 0.1) / (0.85 - 0.1) of the way
    # (linear), seed 1 at record 1: the median of 10 * 0.9333 and 10.
    assert fastest["score"] == pytest.approx(np.median([10 * 0.7 / 0.75, 10.0]), rel=1e-12)
    lowest_loss = best(ds, criterion="final", metric="test_loss")
    assert lowest_loss["learning_rate"] == 0.01
    assert best(ds, criterion="final", metric="test_accuracy", goal="min")["learning_rate"] == 0.1
    with pytest.raises(ValueError, match="'suboptimality' was not recorded"):
        best(ds)
    with pytest.raises(ValueError, match="goal must be one of"):
        best(ds, metric="test_accuracy", goal="up")


def test_choose_best_and_the_summary_use_the_target_metric():
    results = {"ring__sgd": _with_divergence()}
    assert choose_best(results["ring__sgd"], 0.8) == ({"learning_rate": 0.1}, "to_reach")
    # A target none reaches for most seeds: the highest final accuracy chooses.
    assert choose_best(results["ring__sgd"], 0.96) == ({"learning_rate": 0.01}, "final")
    table = summary_table(results, 0.8)
    header, _, row, *footer = table.splitlines()
    assert "final test_accuracy" in header and "computations to ε" in header
    assert row.split()[:3] == ["ring", "sgd", "learning_rate=0.1"]
    assert "2/2" in row and "0.9050" in row and row.endswith("1/3")
    text = "\n".join(footer)
    assert "test_accuracy >= ε" in text and "stay above it" in text and "highest final" in text
    starred = summary_table(results, 0.96).splitlines()[2]
    assert "learning_rate=0.01 *" in starred


def _problem():
    """A linear classifier of iris on 3 nodes: the smallest learning problem."""
    data = datasets.classification("iris")
    shards = jg.problems.split(data.train, 3, key=jax.random.key(0))
    return jg.problems.supervised(
        lambda key: eqx.nn.MLP(4, 3, 8, 0, key=key),
        "softmax_cross_entropy",
        shards,
        test=data.test,
        batch_size=8,
        key=jax.random.key(1),
        eval_size=60,
    )


def test_explore_reaches_an_accuracy_target_without_lower_bounds():
    problem, graph = _problem(), jg.graphs.ring(3)
    # An optax step: its leaves are stacked along the ratios like any hyperparameter.
    local = jg.algorithms.optimizer(optax.sgd, learning_rate=0.5, momentum=0.5)
    algorithms = {"sgd_momentum": lambda p, clocks: AsyncGossipSGD(optimizer=local)}
    ds = explore(
        problem,
        graph,
        algorithms,
        ratios=[0.5, 2.0],
        eps=0.7,
        metric="test_accuracy",
        seeds=2,
        events_per_chunk=200,
        records_per_chunk=4,
        max_chunks=3,
    )
    assert ds.attrs["metric"] == "test_accuracy" and ds.attrs["goal"] == "max"
    assert np.isnan(ds.attrs["lower_computations"]) and np.isnan(ds.attrs["lower_communications"])
    assert (
        ds.attrs["bound_source"].startswith("none:")
        and "learning problem" in ds.attrs["bound_source"]
    )
    assert "final_test_accuracy" in ds and "final_suboptimality" not in ds
    reached = np.isfinite(ds["computations"].values)
    assert reached.mean() > 0.5  # most runs reach 70% accuracy within 600 events
    # A run's final accuracy is recorded whether it reached or not.
    assert np.all(np.isfinite(ds["final_test_accuracy"].values))
    assert np.all(ds["computations"].values[reached] <= ds["events"].values[reached])
    med = medians(ds)
    assert "final_test_accuracy" in med and float(med["reached_fraction"].max()) == 1.0


def test_explore_refuses_metrics_the_problem_does_not_record():
    problem, graph = _problem(), jg.graphs.ring(3)
    kwargs = dict(ratios=[1.0], eps=0.9, events_per_chunk=10, records_per_chunk=10)
    with pytest.raises(ValueError, match="does not record 'suboptimality'.*test_accuracy"):
        explore(problem, graph, ["async_gossip_sgd"], **kwargs)
    with pytest.raises(ValueError, match="goal must be one of"):
        explore(problem, graph, ["async_gossip_sgd"], metric="test_loss", goal="lower", **kwargs)
    # A name is its from_theory, which a learning problem does not have.
    with pytest.raises(ValueError, match="AsyncGossipSGD.from_theory .*learning problem"):
        explore(problem, graph, ["async_gossip_sgd"], metric="test_accuracy", **kwargs)
