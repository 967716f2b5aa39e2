"""Running an experiment's sweeps: every graph x algorithm pair, built first, then swept.

Each pair is one ``jaxgossip.study.sweep.sweep`` call (the grid's points and the
seeds batched into compiled calls): an asynchronous method's on the experiment's
clocks for ``num_events`` events, a synchronous one's on the graph's Metropolis
gossip matrix for ``num_rounds`` rounds. Each is saved as
``<graph>__<algorithm>.npz`` with the experiment (and its target ``metric``) in
its attrs. ``plan_sweeps`` builds everything before anything
runs, so that a bad setting fails at once; ``run_sweeps`` runs the plans. The
file format, the figures and ``summary.txt`` are the front-end's:
``jaxgossip.cli.experiment.run_experiment`` does all of it.

Each sweep's file is written, atomically, as soon as the sweep ends, so an
interrupted run keeps every finished sweep. With ``num_chunks > 1`` a running
sweep also checkpoints between chunks (``<out>/.checkpoints/``); ``resume=True``
skips the sweeps whose files hold this experiment's results and continues a
checkpointed one, giving the results of an uninterrupted run.
"""

from __future__ import annotations

import glob
import json
import math
import os
import time
import zipfile
from collections.abc import Callable
from typing import NamedTuple

import jax

from jaxgossip import distributed
from jaxgossip.study.analysis import check_precision, metric_goals
from jaxgossip.study.build import (
    build_graph,
    build_network,
    build_problem,
    configure_algorithm,
    method,
)
from jaxgossip.study.spec import AlgorithmSpec, Experiment, ExperimentError, GraphSpec
from jaxgossip.study.sweep import load_sweep, save_sweep, sweep

CHECKPOINTS = ".checkpoints"  # the folder of running sweeps' checkpoints, inside the output


class Plan(NamedTuple):
    """One graph x algorithm sweep, built and checked, ready to run."""

    graph: GraphSpec
    algorithm: AlgorithmSpec
    network: object  # Clocks (event engine) or Mixing (round engine)
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


def result_path(experiment: Experiment, graph: GraphSpec, algorithm: AlgorithmSpec) -> str:
    """The file of one sweep: ``<output_dir>/<graph>__<algorithm>.npz``."""
    return os.path.join(experiment.output_dir, f"{graph.label}__{algorithm.label}.npz")


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
    if experiment.metric not in metric_goals(problem):
        raise ExperimentError(
            experiment.file,
            "metric",
            f"the problem does not record {experiment.metric!r}; it records "
            f"{', '.join(sorted(metric_goals(problem)))}",
        )
    if experiment.metric in ("suboptimality", "mean_suboptimality"):
        check_precision(problem, experiment.eps, f"experiment {experiment.name!r}")
    plans = []
    for g in experiment.graphs:
        graph = build_graph(experiment, g)
        for a in experiment.algorithms:
            network = build_network(experiment, graph, method(a.name)[1])
            plans.append(Plan(g, a, network, *configure_algorithm(experiment, a, problem, network)))
    return problem, plans


def run_sweeps(
    experiment: Experiment,
    problem,
    plans: list[Plan],
    *,
    overwrite: bool = False,
    resume: bool = False,
    progress: Callable[[str], None] | None = print,
    on_sweep: Callable[[str, object], None] | None = None,
) -> dict:
    """Runs each plan and saves it as ``<graph>__<algorithm>.npz`` in ``experiment.output_dir``.

    Args:
      overwrite: replace existing result files.
      resume: keep a result file that holds this very sweep (same experiment
        file, same precision: ``finished``) instead of running it again, and
        continue a sweep from its checkpoints (with ``num_chunks > 1``).
      progress: called with a line of text before and after each sweep; None: silent.
      on_sweep: called with ``"<graph>__<algorithm>"`` and its Dataset once it is
        saved (or found finished).

    Returns:
      ``"<graph>__<algorithm>"`` -> the sweep's ``xarray.Dataset``, in run order.

    Raises:
      FileExistsError: with ``resume``, a result file holds another experiment's results.
      ExperimentError: with ``resume``, a checkpoint comes from another run.
    """
    say = progress or (lambda line: None)
    out = experiment.output_dir
    os.makedirs(out, exist_ok=True)
    described = describe_problem(experiment, problem)
    num_seeds = experiment.seeds if isinstance(experiment.seeds, int) else len(experiment.seeds)
    results = {}
    for k, (g, a, network, build, grid, values) in enumerate(plans):
        name, path = f"{g.label}__{a.label}", result_path(experiment, g, a)
        num_configs = math.prod(len(v) for v in grid.values())
        unit, steps = budget(experiment, a)
        described_sweep = (
            f"[{k + 1}/{len(plans)}] {g.label} x {a.label}: {num_configs} configuration(s) x "
            f"{num_seeds} seed(s) x {steps:,} {unit}"
        )
        ds = finished(path, experiment) if resume else None
        if ds is not None:
            say(f"{described_sweep}: finished already, kept {path}")
        else:
            say(described_sweep)
            start = time.perf_counter()
            ds = _run_plan(experiment, problem, g, a, network, build, grid, resume=resume)
            config = json.loads(ds.attrs.get("config", "{}"))
            config["algorithm"] = a.name
            ds.attrs.update(
                config=json.dumps(config),
                experiment=json.dumps(experiment.config),
                experiment_name=experiment.name,
                precision=current_precision(),
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
                metric=experiment.metric,
            )
            save_sweep(path, ds, overwrite=overwrite or resume)
            _remove_checkpoints(experiment, name)
            say(f"    {time.perf_counter() - start:.1f} s; saved {path}")
        results[name] = ds
        if on_sweep is not None:
            on_sweep(name, ds)
    return results


def budget(experiment: Experiment, algorithm: AlgorithmSpec) -> tuple[str, int]:
    """``("events", num_events)`` or, for a synchronous method, ``("rounds", num_rounds)``."""
    if method(algorithm.name)[1] == "rounds":
        return "rounds", experiment.num_rounds
    return "events", experiment.num_events


def _run_plan(experiment, problem, g, a, network, build, grid, *, resume: bool):
    chunked = experiment.num_chunks > 1
    folder = os.path.join(experiment.output_dir, CHECKPOINTS)
    if chunked:
        os.makedirs(folder, exist_ok=True)
    unit, steps = budget(experiment, a)
    try:
        return sweep(
            build,
            problem,
            network,
            **{f"num_{unit}": steps},
            num_records=experiment.num_records,
            grid=grid,
            seeds=list(experiment.seeds)
            if isinstance(experiment.seeds, tuple)
            else experiment.seeds,
            max_batch=experiment.max_batch,
            num_chunks=experiment.num_chunks,
            checkpoint=checkpoint_prefix(experiment, f"{g.label}__{a.label}") if chunked else None,
            resume=resume and chunked,
        )
    except ValueError as error:
        if not (resume and chunked and "checkpoint" in str(error)):
            raise
        raise ExperimentError(
            experiment.file, "", f"{g.label} x {a.label}: {error} (or run without --resume)"
        ) from None
    finally:  # interrupted before its first checkpoint, or done: no empty folder left
        if chunked and not os.listdir(folder):
            os.rmdir(folder)


def current_precision() -> str:
    """ "float64" when ``jax_enable_x64`` is on (as a run's arrays are made), else "float32"."""
    return "float64" if jax.config.read("jax_enable_x64") else "float32"


def finished(path: str, experiment: Experiment):
    """The Dataset in ``path`` if it is this experiment's sweep, complete; None if absent.

    A file that cannot be read (cut short by a full disk, say) counts as absent:
    the sweep runs again. Files are written atomically, so any readable one is whole.

    Raises:
      FileExistsError: ``path`` holds a sweep of another experiment file or precision.
    """
    if not os.path.exists(path):
        return None
    try:
        ds = load_sweep(path)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    same = ds.attrs.get("experiment") is not None and (
        json.loads(ds.attrs["experiment"]) == json.loads(json.dumps(experiment.config))
    )
    if not same or ds.attrs.get("precision", "float32") != current_precision():
        raise FileExistsError(
            f"{path!r} holds the results of another experiment file or precision, which "
            "--resume cannot continue; pass --overwrite to replace it, or choose another --out."
        )
    return ds


def checkpoint_prefix(experiment: Experiment, name: str) -> str:
    """Where sweep ``name`` checkpoints its batches (``<prefix>.batch<b>``)."""
    return os.path.join(experiment.output_dir, CHECKPOINTS, name)


def _remove_checkpoints(experiment: Experiment, name: str) -> None:
    """Drops a saved sweep's checkpoints, and their folder once it is empty (process 0)."""
    if not distributed.is_writer():
        return
    for path in glob.glob(glob.escape(checkpoint_prefix(experiment, name)) + ".batch*"):
        os.remove(path)
    folder = os.path.join(experiment.output_dir, CHECKPOINTS)
    if os.path.isdir(folder) and not os.listdir(folder):
        os.rmdir(folder)


def describe_problem(experiment: Experiment, problem) -> dict:
    """The problem's spec and constants, as stored in each result's attrs."""
    spec = experiment.problem
    described = {"kind": spec.kind, "data": spec.data, **spec.options}
    described.update(num_nodes=problem.num_nodes, dim=problem.dim, seed=experiment.seed)
    if problem.convex:  # a learning problem has no L, mu or f*
        described.update(L=float(problem.L), mu=float(problem.mu), f_star=float(problem.f_star))
    return described
