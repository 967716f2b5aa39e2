import dataclasses

import jax
import numpy as np

import jaxgossip as jg
from jaxgossip.study.compare import format_rows, run_all, to_reach_table


class _NoConjugate(jg.problems.LogisticRegression):
    """Logistic regression with its conjugate gradient hidden: dual methods cannot run."""

    local_conjugate_grad = None


def _logistic_without_conjugate():
    logistic = jg.problems.logistic_regression(jax.random.key(0), 8, 3, 10, reg=0.1)
    return _NoConjugate(**{f.name: getattr(logistic, f.name) for f in dataclasses.fields(logistic)})


def test_run_all_reports_counts_to_reach_eps():
    problem = _logistic_without_conjugate()
    clocks = jg.Clocks(jg.graphs.ring(8), 1.0, 2.0)
    traces, skipped = run_all(
        problem,
        clocks,
        names=["async_gossip_sgd", "continuized_dual"],
        num_events=2000,
        num_records=20,
        num_seeds=2,
    )
    assert list(traces) == ["async_gossip_sgd"]
    assert "conjugate" in skipped["continuized_dual"]  # the problem hides its conjugate
    trace = traces["async_gossip_sgd"]
    assert trace.suboptimality.shape == (2, 21)
    median = np.median(np.asarray(trace.suboptimality), axis=0)
    eps = float(median[5])  # reached at record 5 at the latest
    (row,) = to_reach_table(traces, eps)
    counts = np.median(np.asarray(trace.num_computations), axis=0)

    def interpolated(r):  # between records r - 1 and r, linearly in log f
        above, below = np.log(median[r - 1]), np.log(median[r])
        fraction = (above - np.log(eps)) / (above - below)
        return counts[r - 1] + fraction * (counts[r] - counts[r - 1])

    first = int(np.flatnonzero(median <= eps)[0])
    stays = int(np.flatnonzero(median > eps)[-1]) + 1 if np.any(median > eps) else 0
    assert 0 < first <= stays
    np.testing.assert_allclose(row["first_hit"]["num_computations"], interpolated(first))
    np.testing.assert_allclose(row["num_computations"], interpolated(stays))
    assert counts[first - 1] < row["first_hit"]["num_computations"] <= counts[first]
    assert to_reach_table(traces, 0.0)[0]["num_computations"] is None
    text = format_rows(to_reach_table(traces, 0.0), 0.0)
    assert "async_gossip_sgd" in text and "not reached" in text


def test_compare_command_line(tmp_path, capsys):
    from jaxgossip.cli.main import main

    figure = tmp_path / "compare.png"
    code = main(
        [
            "compare",
            "--nodes",
            "6",
            "--events",
            "600",
            "--records",
            "6",
            "--seeds",
            "1",
            "--eps",
            "1e-1",
            "--out",
            str(figure),
        ]
    )
    assert code == 0 and figure.exists()
    out = capsys.readouterr().out
    assert "async_gradient_tracking" in out and "to reach f(x̄) − f* <= 0.1" in out
    assert not jax.config.jax_enable_x64  # float64 was scoped to the command


def test_synchronous_methods_join_the_comparison():
    from jaxgossip.study.compare import run_all_rounds

    problem = _logistic_without_conjugate()
    traces, skipped = run_all_rounds(
        problem,
        jg.graphs.ring(8),
        names=["extra", "msda", "nesterov"],
        num_rounds=40,
        num_records=4,
        num_seeds=1,
    )
    assert list(traces) == ["extra", "nesterov"] and "msda" in skipped  # MSDA needs conjugates
    rows = {row["algorithm"]: row for row in to_reach_table(traces, 1e9)}
    assert rows["extra"]["num_communications"] == 0  # reached at record 0
    np.testing.assert_array_equal(traces["extra"].num_computations[0], 8 * np.arange(0, 41, 10))
    np.testing.assert_array_equal(traces["nesterov"].num_communications[0], 0)


def test_diverged_runs_are_named_in_the_table():
    problem = jg.problems.quadratic(jax.random.key(0), 8, 3)
    clocks = jg.Clocks(jg.graphs.ring(8), 1.0, 1.0)
    algorithm = jg.algorithms.AsyncGossipSGD(step_size=5.0)
    trace = jax.vmap(
        lambda k: jg.simulate(k, algorithm, problem, clocks, num_events=4000, num_records=4)
    )(jax.random.split(jax.random.key(0), 2))
    text = format_rows(to_reach_table({"unstable": trace}, 1e-3), 1e-3)
    assert "diverged (2/2)" in text
