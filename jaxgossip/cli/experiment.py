"""Experiment files: a whole study in one TOML file, run by ``run_experiment``.

An experiment is one problem, one or more graphs, the clocks, and one or more
algorithms, each with fixed hyperparameters and a grid to sweep. Every graph
x algorithm pair is one ``jaxgossip.study.sweep.sweep`` call (the grid's points and
the seeds batched into compiled calls), saved as ``<graph>__<algorithm>.npz``.
Asynchronous methods run ``num_events`` events on the clocks; synchronous ones
(D-SGD, all-reduce SGD, ...) ``num_rounds`` rounds on the graph's Metropolis
gossip matrix. The summary ranks each sweep's grid points by what they cost to
reach the target ``metric`` <= ``eps`` (>= for an accuracy).
This module is ``jg.experiment``: the reader (``jaxgossip.cli.config``), the
building (``jaxgossip.study.build``), the sweeps (``jaxgossip.study.experiment``)
and the results (``jaxgossip.study.results``) in one place.

Schema (every key is checked: an unknown key is an error that suggests the
closest valid one; a wrong type or a value out of range is an error naming the
file, the key path, e.g. ``algorithms[1].grid.step_size``, indices counting
from 0, and what was expected)::

    name = "step-sizes"     # default: the file name without .toml
    seed = 0                # key of the problem, the data split and random graphs
    seeds = 4               # runs per configuration; run s uses jax.random.key(s)
                            #   (or a list of distinct seeds >= 0)
    num_events = 20_000     # events per run of an asynchronous method (required)
    num_records = 100       # records per run; must divide num_events (and num_rounds)
    num_rounds = 1_000      # rounds per run of a synchronous method (required when there
                            #   is one, else refused; a round is n computations); the
                            #   error when missing suggests as many computations per node
                            #   as num_events gives on the first graph
    metric = "suboptimality"    # the target of the summary table and of the best settings:
                            #   any recorded metric; default suboptimality, f(x̄) − f*, on
                            #   convex problems and test_accuracy on supervised ones (also
                            #   test_loss, train_accuracy, train_loss, node_test_accuracy,
                            #   node_test_loss (mean over nodes of their own models),
                            #   consensus; mean_suboptimality for convex problems)
    eps = 1e-3              # the target value of metric: reached at metric <= eps for a
                            #   metric to minimize, >= eps for an accuracy (then in (0, 1]);
                            #   default 1e-3 on convex problems, required on supervised ones
    max_batch = 1024        # runs per compiled batch
    precision = "float32"   # or "float64": jax_enable_x64 from the start (for eps below
                            #   float32's resolution; also `jaxgossip run --float64`)
    num_chunks = 1          # > 1: each run in this many chunks (dividing num_records),
                            #   checkpointed between them, so that `jaxgossip run --resume`
                            #   continues an interrupted sweep; chunk c of a run uses
                            #   fold_in(key, c), so results differ from num_chunks = 1

    [problem]
    kind = "logistic_regression"   # quadratic | logistic_regression | least_squares |
                                   #   supervised (below)
    num_nodes = 16                 # n >= 2 (required)
    dim = 10                       # d (required for synthetic data)
    # quadratic:            kappa = 10.0, mu = 1.0, heterogeneity = 1.0,
    #                       shared_basis = false (true: one eigenbasis for every node,
    #                       so the average Hessian has condition number kappa)
    # logistic_regression:  samples_per_node = 50, reg = 0.01, heterogeneity = 0.0,
    #                       batch_size (default: full local gradients)
    # least_squares:        samples_per_node = 50, reg = 0.0, heterogeneity = 1.0,
    #                       noise = 0.1, batch_size
    data = "synthetic"      # or "sklearn:<name>" (breast_cancer, diabetes, digits, iris,
                            # wine: needs scikit-learn), or a LIBSVM file, relative to
                            # this file's folder; not for quadratic
    iid = true              # data only: shuffle (true) or sort by label (false) into nodes
    standardize = true      # data only: features to zero mean, unit variance
    positive_class = 1      # data, logistic only: this label +1, others -1 (default: the
                            # data must have two classes; the larger label becomes +1)

    [problem]               # kind = "supervised": a classifier trained on one data shard
    kind = "supervised"     #   per node (jaxgossip.problems.supervised); no f*, L or mu, so
    num_nodes = 16          #   no from_theory: give every algorithm its hyperparameters
    data = "digits"         # (required) a bundled classification set: breast_cancer, digits,
                            #   iris, wine ("sklearn:digits" too), or an .npz file (x_train,
                            #   y_train[, x_test, y_test] or features, labels), relative to
                            #   this file's folder
    test_fraction = 0.2     # held out (stratified, seeded by seed) unless the file has a test split
    standardize = true      # features to zero mean, unit deviation on the train split (digits:
                            #   divided by 16); default true for bundled sets, false for files
    split = "iid"           # iid | label | dirichlet: how the train split is dealt out
    alpha = 0.1             # dirichlet only (required): 0.1 skewed, 100 near i.i.d.
    classes_per_node = 2    # label only: shards, hence at most classes, per node
    model = { kind = "mlp", width = 32, depth = 1, activation = "relu" }   # the defaults;
                            #   depth = hidden layers (0: linear), activation relu | tanh;
                            #   `model = "mlp"` takes the defaults
    loss = "softmax_cross_entropy"  # the per-sample loss (a classification loss)
    batch_size = 32         # minibatch of a compute event (default: the full local shard)
    init = "shared"         # shared: every node starts from one model; per_node: node i from
                            #   its own draw
    eval_size = 2048        # train samples the train metrics are measured on (fixed subset)

    [graph]                 # one graph, or several as [[graphs]] tables with a `label`
    kind = "ring"           # ring, path, star, complete, grid, torus, hypercube,
                            # exponential, erdos_renyi, random_geometric, barbell
    # and the generator's arguments: n (default: problem.num_nodes), rows/cols,
    # dim, p, radius, clique_size/path_length, max_tries; n must equal num_nodes.
    label = "ring"          # default: kind; names the result files

    [clocks]
    compute_rate = 1.0      # per node (default 1)
    comm_rate = 1.0         # per edge (default 1)

    [[algorithms]]
    name = "async_gossip_sgd"   # a key of jaxgossip.algorithms.METHODS: REGISTRY's run on
                                # the clocks, SYNC_REGISTRY's (dsgd, all_reduce_sgd, ...) in rounds
    label = "sgd"               # default: name
    step_size = 0.05            # fixed hyperparameters; the others come from
                                # from_theory(problem, clocks or mixing) at the base rates
                                # (a supervised problem has none: give them all)
    relative_to_theory = false  # true: hyperparameter values (fixed and grid) are
                                # multiples of from_theory's values
    [algorithms.grid]           # axis -> values; the product of the axes is swept
    step_size = [0.01, 0.05, 0.1]
    comm_rate = [0.5, 1.0, 2.0]     # compute_rate/comm_rate multiply [clocks] (asynchronous
                                    # methods only)

    [[algorithms]]              # an optax local step instead of a step size, for the methods
    name = "async_gossip_sgd"   # that take optimizer= (async_gossip_sgd, ad_psgd, dsgd,
    label = "sgd_momentum"      # all_reduce_sgd)
    [algorithms.optimizer]      # name: sgd, adam, adamw, nadam, nadamw, amsgrad, adamax,
    name = "sgd"                #   adabelief, radam, yogi, rmsprop, adagrad, lion, lamb,
    momentum = 0.9              #   novograd (jaxgossip.study.build.OPTIMIZERS); the other keys
                                #   are the constructor's keyword arguments: numbers (array
                                #   leaves) or booleans (nesterov); learning_rate is required,
                                #   here or in the grid; step_size is then refused
    [algorithms.grid]           # grid axes may be the optimizer's numeric arguments: the
    learning_rate = [0.01, 0.05]    # result's dimension is named after them

    [output]
    dir = "results/step-sizes"  # relative to the current folder; default results/<name>
    figures = true              # <graph>.png: the best configuration of each algorithm,
                                # the target metric against time, computations and
                                # communications (time: rounds for synchronous methods);
                                # <algorithm>__by_graph.png (several graphs): on each graph

Keys: ``seed`` s gives the problem key ``fold_in(key(s), 0)`` (a supervised
problem's model initialisation), the random graphs ``fold_in(key(s), 1)`` and
the data split over the nodes ``fold_in(key(s), 2)``; a supervised problem's
train/test split is seeded by s.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable

import jax
import numpy as np

from jaxgossip import distributed
from jaxgossip.cli.common import check_outputs
from jaxgossip.cli.config import load_experiment, name_and_seed, parse_experiment
from jaxgossip.engine.trace import RECORDED
from jaxgossip.io import atomic_write
from jaxgossip.network.factory import GRAPH_KINDS, graph_parameters, make_graph
from jaxgossip.plot import BAND, X_LABELS, format_eps, plot_convergence
from jaxgossip.study.build import build_graph, build_problem, configure_algorithm, hyperparameters
from jaxgossip.study.experiment import figures, output_paths, plan_sweeps, run_sweeps
from jaxgossip.study.results import (
    choose_best,
    format_point,
    goal_of,
    grid_dims,
    point_trace,
    summary_table,
    target_metric,
)
from jaxgossip.study.spec import (
    PROBLEM_KINDS,
    RATE_AXES,
    AlgorithmSpec,
    Experiment,
    ExperimentError,
    GraphSpec,
    ProblemSpec,
)

__all__ = [
    "GRAPH_KINDS",
    "PROBLEM_KINDS",
    "RATE_AXES",
    "AlgorithmSpec",
    "Experiment",
    "ExperimentError",
    "GraphSpec",
    "ProblemSpec",
    "build_graph",
    "build_problem",
    "choose_best",
    "configure_algorithm",
    "draw_convergence",
    "format_point",
    "graph_parameters",
    "hyperparameters",
    "load_experiment",
    "make_graph",
    "name_and_seed",
    "output_paths",
    "parse_experiment",
    "plot_best",
    "point_trace",
    "run_experiment",
    "summary_table",
]


def run_experiment(
    experiment,
    *,
    overwrite: bool = False,
    resume: bool = False,
    progress: Callable[[str], None] | None = print,
    on_sweep: Callable[[str, object], None] | None = None,
) -> dict:
    """Runs every graph x algorithm sweep of ``experiment`` and saves the results.

    Writes into ``experiment.output_dir``: ``<graph>__<algorithm>.npz`` per pair
    (``jaxgossip.study.sweep.save_sweep``; its attrs hold the experiment), each
    as soon as its sweep ends, a figure
    ``<graph>.png`` per graph (the median of the target metric against time,
    computations and communications for the best configuration of each
    algorithm), with several
    graphs also ``<algorithm>__by_graph.png`` per algorithm (its best
    configuration on each graph), and
    ``summary.txt``, the ``summary_table``. With ``precision = "float64"`` it all
    runs under ``jax.enable_x64(True)``.

    Args:
      experiment: an ``Experiment`` or the path of an experiment file.
      overwrite: replace existing result files.
      resume: finish an interrupted run: keep the result files that hold this
        experiment's sweeps, continue checkpointed sweeps (``num_chunks > 1``),
        run the others, and write the figures and ``summary.txt`` anew.
      progress: called with a line of text before and after each sweep; None: silent.
      on_sweep: called with ``"<graph>__<algorithm>"`` and its Dataset as each sweep
        is saved or kept.

    Under ``jax.distributed`` (``jaxgossip.distributed``) every process runs the
    sweeps and gets the results; process 0 alone writes the files.

    Returns:
      ``"<graph>__<algorithm>"`` -> the sweep's ``xarray.Dataset``, in run order.

    Raises:
      FileExistsError: some output files exist and neither ``overwrite`` nor
        ``resume`` is set (it names them all, and nothing has run), or with
        ``resume`` a result file holds another experiment's results.
      ExperimentError: the problem, a graph or an algorithm cannot be built
        (raised before the first sweep runs), or with ``resume`` a checkpoint
        comes from another run.
    """
    if not isinstance(experiment, Experiment):
        experiment = load_experiment(experiment)
    x64 = experiment.precision == "float64"
    with jax.enable_x64(True) if x64 else contextlib.nullcontext():
        return _run_experiment(
            experiment, overwrite=overwrite, resume=resume, progress=progress, on_sweep=on_sweep
        )


def _run_experiment(experiment, *, overwrite, resume, progress, on_sweep) -> dict:
    out = experiment.output_dir
    check_outputs(
        out,
        output_paths(experiment),
        overwrite or resume,
        prefix="run_experiment: ",
        replace_hint="pass overwrite=True to replace them, resume=True to finish an "
        "interrupted run, or choose another output folder.",
    )
    # Build everything first, so that a bad setting fails before any sweep runs.
    problem, plans = plan_sweeps(experiment)
    results = run_sweeps(
        experiment,
        problem,
        plans,
        overwrite=overwrite,
        resume=resume,
        progress=progress,
        on_sweep=on_sweep,
    )
    if not distributed.is_writer():  # several processes: process 0 writes
        return results
    replace = overwrite or resume  # figures and summary are drawn from the results anew
    if experiment.figures:
        for name, title, labels in figures(experiment):
            lines = {line: results[label] for line, label in labels.items()}
            figure = plot_best(
                lines, experiment.eps, title=f"{experiment.name}: {title}", metric=experiment.metric
            )
            atomic_write(
                os.path.join(out, name),
                lambda f, figure=figure: figure.savefig(f, format="png", dpi=120),
                overwrite=replace,
            )
    table = summary_table(results, experiment.eps, experiment.metric)
    atomic_write(
        os.path.join(out, "summary.txt"),
        lambda f: f.write((table + "\n").encode("utf-8")),
        overwrite=replace,
    )
    return results


def plot_best(results: dict, eps: float, *, title: str | None = None, metric: str | None = None):
    """Figure: each sweep's best configuration (``choose_best``), labelled by its grid point.

    Args:
      results: label -> sweep Dataset, one line each.
      eps: the target that ``choose_best`` ranks by.
      metric: the target metric, drawn on the y axis; by default the first
        Dataset's (``target_metric``).
    """
    metric = target_metric(next(iter(results.values())), metric)
    traces = {}
    for label, ds in results.items():
        chosen = choose_best(ds, eps, metric)
        if chosen is None:
            point, text = {d: ds[d].values[0] for d in grid_dims(ds)}, "all diverged"
        else:
            point, text = chosen[0], format_point(chosen[0])
        traces[label if text == "-" else f"{label} ({text})"] = point_trace(ds, point)
    figure = draw_convergence(traces, metric)
    if metric == "suboptimality":
        target = f"ε = {format_eps(eps)}"
    else:
        relation = ">=" if goal_of(next(iter(results.values())), metric) == "max" else "<="
        target = f"{metric} {relation} {format_eps(eps)}"
    return add_title(figure, f"{title} (best settings for {target})" if title else None)


def draw_convergence(
    traces: dict, metric: str, x_axes=("time", "num_computations", "num_communications")
):
    """``plot.plot_convergence`` of ``metric``, or, for a metric it cannot draw (a
    learning problem's, in ``Trace.metrics``), the same panels on a linear scale:
    the median over runs and its 10–90% band against each of ``x_axes``."""
    if metric in RECORDED:
        return plot_convergence(traces, metric=metric, x_axes=x_axes)
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.2 * len(x_axes), 3.6), layout="constrained")
    axes = figure.subplots(1, len(x_axes), sharey=True, squeeze=False)[0]
    num_runs = 1
    for label, trace in traces.items():
        if metric not in trace.metrics:
            raise ValueError(f"{label!r} did not record {metric!r}.")
        y = np.asarray(trace.metrics[metric], np.float64)
        y = y.reshape(-1, y.shape[-1])  # (runs, records)
        num_runs = max(num_runs, y.shape[0])
        with warnings.catch_warnings():  # a record where every run diverged is NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            low, median, high = np.nanpercentile(y, (BAND[0], 50, BAND[1]), axis=0)
        for ax, x_name in zip(axes, x_axes):
            x = np.asarray(getattr(trace, x_name), np.float64).reshape(y.shape)
            (line,) = ax.plot(np.median(x, axis=0), median, label=label, linewidth=1.5)
            if y.shape[0] > 1:
                ax.fill_between(
                    np.median(x, axis=0), low, high, color=line.get_color(), alpha=0.2, lw=0
                )
    for ax, x_name in zip(axes, x_axes):
        ax.set_xlabel(X_LABELS.get(x_name, x_name))
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel(metric)
    axes[-1].legend(fontsize="small")
    if num_runs > 1:
        figure.suptitle(
            f"median and {BAND[0]}–{BAND[1]}% band over {num_runs} runs per label",
            fontsize="medium",
        )
    return figure


def add_title(figure, title: str | None):
    """``figure`` with ``title`` above the suptitle ``plot_convergence`` gave it."""
    if title:
        subtitle = figure.get_suptitle()
        figure.suptitle(f"{title}\n{subtitle}" if subtitle else title, fontsize="medium")
    return figure
