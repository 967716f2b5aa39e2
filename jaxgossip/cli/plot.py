"""``jaxgossip plot RESULTS.npz``: a figure of a saved sweep or traces file."""

from __future__ import annotations

import itertools
import json
import os

import numpy as np

from jaxgossip.cli.common import error
from jaxgossip.cli.experiment import add_title, draw_convergence
from jaxgossip.io import atomic_write, load_traces
from jaxgossip.plot import Y_LABELS, plot_frontier
from jaxgossip.study.analysis import best
from jaxgossip.study.results import (
    choose_best,
    format_point,
    grid_dims,
    point_trace,
    target_metric,
)
from jaxgossip.study.spec import metric_goals
from jaxgossip.study.sweep import load_sweep

MAX_PLOTTED_POINTS = 8  # grid points drawn before only the best is kept
# What runs record: convex problems' metrics and learning problems' losses and accuracies.
METRICS = sorted({*Y_LABELS, *metric_goals("quadratic"), *metric_goals("supervised")})


NAME = "plot"
HELP = "draw a saved sweep (jaxgossip run), traces (jaxgossip demo) or trade-off file"
DESCRIPTION = (
    "Draws the metric against simulated time, computations and communications: "
    "for a sweep, the median and 10-90% band over seeds of each grid point (of the "
    f"best point when the grid has more than {MAX_PLOTTED_POINTS}); for a traces "
    "file, each label. For a trade-off file (<graph>__tradeoff.npz of jaxgossip "
    "tradeoff), the frontier: computations against communications to reach eps."
)


def add_arguments(parser) -> None:
    """``jaxgossip plot``'s arguments."""
    parser.add_argument("results", metavar="RESULTS.npz", help="a sweep or traces file")
    parser.add_argument("--out", default=None, help="the PNG to write (default: RESULTS.png)")
    parser.add_argument(
        "--metric",
        default=None,
        choices=METRICS,
        help="the metric on the y axis, not of trade-off files (default: a sweep's target "
        "metric, else suboptimality)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing figure")


def run_command(args) -> int:
    """Runs ``jaxgossip plot``; returns the exit code."""
    path = args.results
    try:
        figure, note = results_figure(path, args.metric)
    except (OSError, ValueError) as exc:
        return error(str(exc), "plot")
    out = args.out or os.path.splitext(path)[0] + ".png"
    if os.path.exists(out) and not args.overwrite:
        return error(f"{out!r} exists; pass --overwrite to replace it, or choose --out.", "plot")
    atomic_write(out, lambda f: figure.savefig(f, format="png", dpi=120), overwrite=args.overwrite)
    if note:
        print(note)
    print(f"wrote {out}")
    return 0


def results_figure(path: str, metric: str | None = None):
    """``(figure, note)`` for a sweep file or a traces file; ``note`` says what was left out.

    ``metric``: by default a sweep's target metric (``target_metric``), else suboptimality.
    """
    with np.load(path, allow_pickle=False) as data:
        if "__metadata__" not in data.files:
            raise ValueError(f"{path!r} is neither a jaxgossip sweep nor a traces file.")
        kind = json.loads(data["__metadata__"].tobytes().decode("utf-8")).get("format")
    if kind == "jaxgossip.traces":
        traces, _ = load_traces(path)
        metric = metric or "suboptimality"
        _check_metric(path, metric, next(iter(traces.values())).records())
        return draw_convergence(traces, metric), ""
    if kind != "jaxgossip.sweep":
        raise ValueError(f"{path!r} is neither a jaxgossip sweep nor a traces file.")

    ds = load_sweep(path)
    if is_tradeoff(ds):
        note = (
            f"{path!r} is a trade-off file (jaxgossip tradeoff): drew its frontier, "
            "computations against communications to reach eps"
        )
        return plot_frontier(ds), note
    if "record" not in ds.dims:
        raise ValueError(
            f"{path!r} is a jaxgossip Dataset with dims {tuple(ds.dims)}, neither a sweep "
            "(dims ..., seed, record) nor a trade-off file (algorithm, ratio, seed)."
        )
    metric = target_metric(ds, metric)
    _check_metric(path, metric, ds.data_vars)
    dims = grid_dims(ds)
    points = [dict(zip(dims, v)) for v in itertools.product(*(ds[d].values.tolist() for d in dims))]
    note = ""
    if len(points) > MAX_PLOTTED_POINTS:
        chosen = _best_point(ds, dims, metric)
        note = (
            f"the grid has {len(points)} points, more than {MAX_PLOTTED_POINTS}: "
            f"drew the best, {format_point(chosen)}"
        )
        points = [chosen]
    traces = {format_point(p) if dims else "all seeds": point_trace(ds, p) for p in points}
    title = " x ".join(filter(None, (ds.attrs.get("graph"), ds.attrs.get("algorithm"))))
    return add_title(draw_convergence(traces, metric), title), note


def _check_metric(path: str, metric: str, recorded) -> None:
    names = [name for name in recorded if name not in ("time", "diverged", "bytes_sent")]
    names = [name for name in names if not name.startswith("num_")]
    if metric not in names:
        raise ValueError(f"{path!r} did not record {metric!r}; it recorded {', '.join(names)}.")


def is_tradeoff(ds) -> bool:
    """Whether a Dataset is ``jaxgossip.study.tradeoff.explore``'s (read from a file)."""
    return {"algorithm", "ratio", "seed"} <= set(ds.dims) and "computations" in ds


def _best_point(ds, dims, metric: str) -> dict:
    """The best grid point: by the experiment's eps when the file has one, else by final value."""
    if "eps" in ds.attrs:
        chosen = choose_best(ds, float(ds.attrs["eps"]), metric)
        if chosen is not None:
            return chosen[0]
    try:
        choice = best(ds, criterion="final", metric=metric)
    except ValueError:  # every configuration diverged
        return {d: ds[d].values[0].item() for d in dims}
    return {d: choice[d] for d in dims}
