"""Convergence figures: a metric against time, computations and communications.

Matplotlib is imported inside the functions, so ``import jaxgossip`` stays
cheap. Figures are built with ``matplotlib.figure.Figure`` rather than pyplot:
no GUI backend is ever selected (the figure renders with Agg, display or not),
and no global figure registry fills up when a sweep draws hundreds of them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from jaxgossip.simulate import Trace

X_LABELS = {
    "time": "simulated time",
    "num_computations": "gradient computations",
    "num_communications": "communications",
    "bytes_sent": "bytes sent",
}
Y_LABELS = {
    "suboptimality": "f(x̄) − f*",
    "mean_suboptimality": "(1/n) Σᵢ f(xᵢ) − f*",
    "consensus": "(1/n) Σᵢ ‖xᵢ − x̄‖²",
}
BAND = (10, 90)  # percentiles of the band drawn around the median of batched traces


def plot_convergence(
    traces: dict[str, Trace],
    *,
    path=None,
    x_axes=("time", "num_computations", "num_communications"),
    metric: str | Sequence[str] = "suboptimality",
):
    """Draws ``metric`` (log scale) against each of ``x_axes``, one line per label.

    A batched trace (leading axes from ``jax.vmap`` over seeds or any other
    sweep, all flattened into one) is drawn as its median with a 10–90%
    percentile band. Records are taken at equal event counts, so record r is
    aligned across runs and drawn at the median of the runs' x values.
    Non-finite values (a diverged run) count as +infinity in the percentiles,
    percentiles that are infinite or nonpositive are left out of the line, and a
    label whose runs diverged says how many.

    Args:
      traces: label -> ``Trace``, fields of shape (R+1,) or (..., R+1).
      path: if given, the figure is also saved there as a PNG.
      x_axes: ``Trace`` fields for the x axes, one column of subplots each.
      metric: the ``Trace`` field on the y axis, or a sequence of them, one row each.

    Returns:
      The ``matplotlib.figure.Figure``; save it with ``fig.savefig``, or show it
      in a notebook with ``IPython.display.display(fig)``.
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from matplotlib.ticker import EngFormatter, MaxNLocator

    metrics = (metric,) if isinstance(metric, str) else tuple(metric)
    x_axes = (x_axes,) if isinstance(x_axes, str) else tuple(x_axes)
    if not traces:
        raise ValueError("plot_convergence: no traces to plot.")
    if not metrics or not x_axes:
        raise ValueError("plot_convergence: metric and x_axes must name at least one field.")
    for name in (*x_axes, *metrics):
        if not hasattr(next(iter(traces.values())), name):
            raise ValueError(f"plot_convergence: a Trace has no field {name!r}.")
    fig = Figure(figsize=(4.2 * len(x_axes), 0.4 + 3.2 * len(metrics)), layout="constrained")
    grid = fig.subplots(len(metrics), len(x_axes), sharey="row", squeeze=False)
    num_runs = 1
    # Past 10 labels the default colour cycle repeats: take 20 colours and vary the dash.
    colors = colormaps["tab20" if len(traces) > 10 else "tab10"].colors
    styles = [
        dict(color=color, linestyle=linestyle) for linestyle in ("-", "--") for color in colors
    ]
    for index, (label, trace) in enumerate(traces.items()):
        style = styles[index % len(styles)]
        num_diverged = int(np.sum(_runs(trace.diverged)[:, -1]))
        num_runs = max(num_runs, _runs(trace.diverged).shape[0])
        if num_diverged:
            label = f"{label} (diverged: {num_diverged}/{_runs(trace.diverged).shape[0]})"
        for row, name in zip(grid, metrics):
            y = _runs(getattr(trace, name)).astype(float)  # (runs, R+1)
            for ax, x_name in zip(row, x_axes):
                x = np.median(_runs(getattr(trace, x_name)).astype(float), axis=0)
                (line,) = ax.plot(x, _percentile(y, 50), label=label, linewidth=1.5, **style)
                if y.shape[0] > 1:
                    low, high = _percentile(y, BAND[0]), _percentile(y, BAND[1])
                    ax.fill_between(x, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    for row, name in zip(grid, metrics):
        row[0].set_ylabel(Y_LABELS.get(name, name))
        for ax, x_name in zip(row, x_axes):
            ax.set_yscale("log")
            ax.set_xlabel(X_LABELS.get(x_name, x_name))
            # 20k, 1.5M: plain tick labels of event counts run into each other.
            ax.xaxis.set_major_formatter(EngFormatter(sep=""))
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
            ax.grid(True, which="major", alpha=0.3)
    if len(traces) > 6:  # a long legend covers the curves: put it beside the axes
        grid[0, -1].legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
    else:
        grid[0, -1].legend(fontsize="small")
    if num_runs > 1:
        fig.suptitle(
            f"median and {BAND[0]}–{BAND[1]}% band over {num_runs} runs per label",
            fontsize="medium",
        )
    if path is not None:
        fig.savefig(os.fspath(path), format="png", dpi=120)
    return fig


def _runs(values) -> np.ndarray:
    """(runs, R+1): a single trace as one run, leading batch axes flattened."""
    values = np.asarray(values)
    return values.reshape(-1, values.shape[-1])


def _percentile(y: np.ndarray, q: float) -> np.ndarray:
    """Percentile over runs (axis 0) of (runs, R+1), NaN where log scale cannot show it.

    A non-finite value (a diverged run) counts as +infinity, so it pushes the
    percentiles up instead of being dropped from them. It is replaced by the
    largest float, because interpolating towards inf yields NaN; any result
    interpolated towards that stand-in is beyond every real value and is cut.
    """
    big = np.finfo(np.float64).max
    p = np.percentile(np.where(np.isfinite(y), y, big), q, axis=0)
    # Far below the stand-in: log-axis margins around ~1e300 overflow matplotlib's ticks.
    return np.where((p > 0) & (p < 1e200), p, np.nan)
