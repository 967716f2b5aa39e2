"""Running an experiment's sweeps: every graph x algorithm pair, built first, then swept.

Each pair is one ``jaxgossip.study.sweep.sweep`` call (the grid's points and the
seeds batched into compiled calls), saved as ``<graph>__<algorithm>.npz`` with
the experiment in its attrs. ``plan_sweeps`` builds everything before anything
runs, so that a bad setting fails at once; ``run_sweeps`` runs the plans. The
file format, the figures and ``summary.txt`` are the front-end's:
``jaxgossip.cli.experiment.run_experiment`` does all of it.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from typing import NamedTuple

from jaxgossip.network.clocks import Clocks
from jaxgossip.study.build import build_graph, build_problem, configure_algorithm
from jaxgossip.study.spec import AlgorithmSpec, Experiment, GraphSpec
from jaxgossip.study.sweep import save_sweep, sweep


class Plan(NamedTuple):
    """One graph x algorithm sweep, built and checked, ready to run."""

    graph: GraphSpec
    algorithm: AlgorithmSpec
    clocks: Clocks
    build: Callable  # grid point -> algorithm, for ``sweep``
    grid: dict  # axis -> values
    values: dict  # the fixed hyperparameters, stored with the results


def figures(experiment: Experiment) -> list[tuple[str, str, dict]]:
    """``(file name, title, {line label: result label})`` of each figure.

    One per graph, comparing the algorithms on it; with several graphs, also one
    per algorithm, comparing the graphs.
    """
    graphs, algorithms = experiment.graphs, experiment.algorithms
    drawn = [
        (f"{g.label}.png", g.label, {a.label: f"{g.label}__{a.label}" for a in algorithms})
        for g in graphs
    ]
    if len(graphs) > 1:
        drawn += [
            (
                f"{a.label}__by_graph.png",
                f"{a.label} on each graph",
                {g.label: f"{g.label}__{a.label}" for g in graphs},
            )
            for a in algorithms
        ]
    return drawn


def output_paths(experiment: Experiment) -> list[str]:
    """Every file ``run_experiment`` writes, in ``experiment.output_dir``."""
    names = [f"{g.label}__{a.label}.npz" for g in experiment.graphs for a in experiment.algorithms]
    if experiment.figures:
        names += [name for name, _, _ in figures(experiment)]
    names.append("summary.txt")
    return [os.path.join(experiment.output_dir, name) for name in names]


def plan_sweeps(experiment: Experiment) -> tuple[object, list[Plan]]:
    """``(problem, plans)``: the problem and every sweep, built in run order.

    Raises:
      ExperimentError: the problem, a graph or an algorithm cannot be built.
    """
    problem = build_problem(experiment)
    plans = []
    for g in experiment.graphs:
        graph = build_graph(experiment, g)
        clocks = Clocks(graph, experiment.compute_rate, experiment.comm_rate)
        for a in experiment.algorithms:
            plans.append(Plan(g, a, clocks, *configure_algorithm(experiment, a, problem, clocks)))
    return problem, plans


def run_sweeps(
    experiment: Experiment,
    problem,
    plans: list[Plan],
    *,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = print,
) -> dict:
    """Runs each plan and saves it as ``<graph>__<algorithm>.npz`` in ``experiment.output_dir``.

    Returns:
      ``"<graph>__<algorithm>"`` -> the sweep's ``xarray.Dataset``, in run order.
    """
    say = progress or (lambda line: None)
    out = experiment.output_dir
    os.makedirs(out, exist_ok=True)
    described = describe_problem(experiment, problem)
    num_seeds = experiment.seeds if isinstance(experiment.seeds, int) else len(experiment.seeds)
    results = {}
    for k, (g, a, clocks, build, grid, values) in enumerate(plans):
        num_configs = math.prod(len(v) for v in grid.values())
        say(
            f"[{k + 1}/{len(plans)}] {g.label} x {a.label}: {num_configs} configuration(s) x "
            f"{num_seeds} seed(s) x {experiment.num_events:,} events"
        )
        start = time.perf_counter()
        ds = sweep(
            build,
            problem,
            clocks,
            num_events=experiment.num_events,
            num_records=experiment.num_records,
            grid=grid,
            seeds=list(experiment.seeds) if isinstance(experiment.seeds, tuple) else num_seeds,
            max_batch=experiment.max_batch,
        )
        config = json.loads(ds.attrs.get("config", "{}"))
        config["algorithm"] = a.name
        ds.attrs.update(
            config=json.dumps(config),
            experiment=json.dumps(experiment.config),
            experiment_name=experiment.name,
            graph=g.label,
            graph_kind=g.kind,
            graph_args=json.dumps(g.args),
            algorithm=a.label,
            algorithm_name=a.name,
            hyperparameters=json.dumps(values),
            problem=json.dumps(described),
            compute_rate=experiment.compute_rate,
            comm_rate=experiment.comm_rate,
            eps=experiment.eps,
        )
        path = os.path.join(out, f"{g.label}__{a.label}.npz")
        save_sweep(path, ds, overwrite=overwrite)
        say(f"    {time.perf_counter() - start:.1f} s; saved {path}")
        results[f"{g.label}__{a.label}"] = ds
    return results


def describe_problem(experiment: Experiment, problem) -> dict:
    """The problem's spec and constants, as stored in each result's attrs."""
    spec = experiment.problem
    described = {"kind": spec.kind, "data": spec.data, **spec.options}
    described.update(num_nodes=problem.num_nodes, dim=problem.dim, seed=experiment.seed)
    described.update(L=float(problem.L), mu=float(problem.mu), f_star=float(problem.f_star))
    return described
