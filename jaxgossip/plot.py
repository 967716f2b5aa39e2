"""Figures: convergence against time, computations and communications; trade-offs.

``plot_convergence`` draws traces (optionally beside theory's rates);
``plot_frontier`` and ``plot_cost`` draw the trade-off explorer's results
(``jaxgossip.study.tradeoff.explore``): computations against communications to reach
eps, and the cost to reach eps as a function of the rate ratio.

Matplotlib is imported inside the functions, so ``import jaxgossip`` stays
cheap. Figures are built with ``matplotlib.figure.Figure`` rather than pyplot:
no GUI backend is ever selected (the figure renders with Agg, display or not),
and no global figure registry fills up when a sweep draws hundreds of them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from jaxgossip.engine.trace import Trace
from jaxgossip.study.tradeoff import cost_to_reach, medians

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
    "test_accuracy": "test accuracy of x̄",
    "train_accuracy": "train accuracy of x̄",
    "test_loss": "test loss of x̄",
    "train_loss": "train loss of x̄",
    "node_test_accuracy": "mean test accuracy of the xᵢ",
    "node_test_loss": "mean test loss of the xᵢ",
}
BAND = (10, 90)  # percentiles of the band drawn around the median of batched traces
THEORY_METRICS = ("suboptimality", "mean_suboptimality")  # rows that get a theory line
THEORY_FLOOR = 1e-3  # the theory line stops this far below the row's lowest value
# A curve is cut where it rises above this multiple of its row's largest initial value, and
# labelled diverged: one run heading to 1e197 would otherwise flatten every other curve.
DIVERGED_CLIP = 1e3
# A legend entry at fontsize "small" (8.3 pt): its height, its handle and padding, a character.
LEGEND_ROW_INCHES, LEGEND_HANDLE_INCHES, LEGEND_CHAR_INCHES = 0.2, 0.6, 0.06


def plot_convergence(
    traces: dict[str, Trace],
    *,
    path=None,
    x_axes=("time", "num_computations", "num_communications"),
    metric: str | Sequence[str] = "suboptimality",
    rates: dict[str, float] | None = None,
):
    """Draws ``metric`` (log scale; accuracies linear) against each of ``x_axes``, a line per label.

    A batched trace (leading axes from ``jax.vmap`` over seeds or any other
    sweep, all flattened into one) is drawn as its median with a 10–90%
    percentile band. Records are taken at equal event counts, so record r is
    aligned across runs and drawn at the median of the runs' x values.
    Non-finite values (a diverged run) count as +infinity in the percentiles,
    percentiles that are infinite or nonpositive are left out of the line, and a
    label whose runs diverged says how many. A curve (median or band) is also
    cut where it exceeds ``DIVERGED_CLIP`` times the largest initial value of
    its row, marked with an x there and labelled "diverged", so that the y axis
    stays on the scale of the converging curves.

    Args:
      traces: label -> ``Trace``, fields of shape (R+1,) or (..., R+1).
      path: if given, the figure is also saved there as a PNG.
      x_axes: ``Trace`` fields for the x axes, one column of subplots each.
      metric: what the y axis shows: a ``Trace`` field or one of its ``metrics``
        (e.g. ``"test_accuracy"`` of a learning problem), or a sequence of them,
        one row each.
      rates: label -> theory's contraction rate per unit of simulated time of that
        label's algorithm (f − f* <= C exp(−rate t)). Each is drawn as a dashed line
        of the label's colour, labelled "<label> theory", on the rows of
        ``THEORY_METRICS``: y(r) = y(0) exp(−rate (t(r) − t(0))) at every record r,
        with y(0) the median at record 0 and t(r) the median simulated time, drawn at
        the same records' x values (so the trace's own counters convert time into
        computations or communications). It stops a thousandfold below the row's
        lowest drawn value, so that a fast rate does not squash the data.

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
    first = next(iter(traces.values()))
    for name in (*x_axes, *metrics):
        if _recorded(first, name) is None:
            names = ", ".join(sorted(first.records()))
            raise ValueError(f"plot_convergence: the traces did not record {name!r} ({names}).")
    rates = _check_rates(rates or {}, traces)
    fig = Figure(figsize=(4.2 * len(x_axes), 0.4 + 3.2 * len(metrics)), layout="constrained")
    grid = fig.subplots(len(metrics), len(x_axes), sharey="row", squeeze=False)
    num_runs = 1
    # Past 10 labels the default colour cycle repeats: take 20 colours and vary the dash.
    colors = colormaps["tab20" if len(traces) > 10 else "tab10"].colors
    styles = [
        dict(color=color, linestyle=linestyle) for linestyle in ("-", "--") for color in colors
    ]
    lowest = np.full(len(metrics), np.inf)  # per row: the lowest value drawn
    ceiling = DIVERGED_CLIP * _initial_values(traces, metrics)  # per row: where curves are cut
    theory = []  # (row index, axis, x, y, style): drawn once every row's floor is known
    for index, (label, trace) in enumerate(traces.items()):
        style = styles[index % len(styles)]
        rate = rates.get(label)
        if rate is not None:
            time = np.median(_runs(trace.time).astype(float), axis=0)
            decay = np.exp(-rate * (time - time[0]))  # a trace may start at t > 0 (a resumed run)
            # Theory dashes, unless the data are dashed already (past 20 labels): then dots.
            dashes = ":" if style["linestyle"] == "--" else "--"
            theory_style = dict(color=style["color"], linestyle=dashes, label=f"{label} theory")
        num_diverged = int(np.sum(_runs(trace.diverged)[:, -1]))
        num_runs = max(num_runs, _runs(trace.diverged).shape[0])
        rows, cut = [], []  # per row: (median, low, high) cut at the ceiling; where it cut
        for r, name in enumerate(metrics):
            y = _runs(_recorded(trace, name)).astype(float)  # (runs, R+1)
            median = _percentile(y, 50)
            low = _percentile(y, BAND[0]) if y.shape[0] > 1 else median
            high = _percentile(y, BAND[1]) if y.shape[0] > 1 else None
            above = np.flatnonzero(median > ceiling[r])
            cut.append(int(above[0]) if above.size else None)
            median, low = _cut(median, ceiling[r]), _cut(low, ceiling[r])
            rows.append((median, low, None if high is None else _cut(high, ceiling[r])))
            lowest[r] = np.nanmin([lowest[r], *median, *low])
        if num_diverged:
            label = f"{label} (diverged: {num_diverged}/{_runs(trace.diverged).shape[0]})"
        elif any(c is not None for c in cut):
            label = f"{label} (diverged)"
        for r, (row, name, (median, low, high)) in enumerate(zip(grid, metrics, rows)):
            for ax, x_name in zip(row, x_axes):
                x = np.median(_runs(_recorded(trace, x_name)).astype(float), axis=0)
                (line,) = ax.plot(x, median, label=label, linewidth=1.5, **style)
                if high is not None:
                    ax.fill_between(x, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
                if cut[r] is not None:  # where the median left the plot
                    ax.plot(x[cut[r]], ceiling[r], "x", color=line.get_color(), gid="diverged")
                if rate is not None and name in THEORY_METRICS:
                    theory.append((r, ax, x, median[0] * decay, theory_style))
    for r, ax, x, y, theory_style in theory:
        y = np.where(y >= THEORY_FLOOR * lowest[r], y, np.nan)
        ax.plot(x, y, linewidth=1.0, **theory_style)
    for row, name in zip(grid, metrics):
        row[0].set_ylabel(Y_LABELS.get(name, name))
        for ax, x_name in zip(row, x_axes):
            ax.set_yscale("linear" if name.endswith("accuracy") else "log")
            ax.set_xlabel(X_LABELS.get(x_name, x_name))
            # 20k, 1.5M: plain tick labels of event counts run into each other.
            ax.xaxis.set_major_formatter(EngFormatter(sep=""))
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
            ax.grid(True, which="major", alpha=0.3)
    if len(traces) + len(rates) > 6:
        # A long legend covers the curves: beside the axes, in the figure's layout, in as
        # many columns as keep it within the figure's height, the figure widened for them
        # (an axes legend anchored outside its axes, or one taller than the figure, is cut).
        handles, labels = grid[0, -1].get_legend_handles_labels()
        rows = max(1, int((fig.get_figheight() - 0.6) / LEGEND_ROW_INCHES))  # 0.6": the title
        columns = -(-len(labels) // rows)
        width = LEGEND_HANDLE_INCHES + LEGEND_CHAR_INCHES * max(map(len, labels))
        fig.set_figwidth(fig.get_figwidth() + columns * width)
        # Lower: the legend then leaves the band of the suptitle free.
        fig.legend(handles, labels, fontsize="small", loc="outside right lower", ncols=columns)
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


def _check_rates(rates: dict, traces: dict) -> dict[str, float]:
    unknown = [label for label in rates if label not in traces]
    if unknown:
        raise ValueError(
            f"plot_convergence: rates has labels {unknown} that are not traces' "
            f"({', '.join(map(repr, traces))})."
        )
    checked = {label: float(rate) for label, rate in rates.items()}
    bad = {label: rate for label, rate in checked.items() if not 0 <= rate < np.inf}
    if bad:
        raise ValueError(f"plot_convergence: rates must be finite and >= 0, got {bad}.")
    return checked


def _recorded(trace, name: str):
    """A trace's records of ``name``: a field, or one of the problem's ``metrics``; None
    when it was not recorded."""
    if name in trace.metrics:
        return trace.metrics[name]
    return getattr(trace, name, None) if name != "metrics" else None


def _runs(values) -> np.ndarray:
    """(runs, R+1): a single trace as one run, leading batch axes flattened."""
    values = np.asarray(values)
    return values.reshape(-1, values.shape[-1])


def _initial_values(traces: dict, metrics: tuple) -> np.ndarray:
    """Per metric: the largest over labels of the median's first positive finite value.

    Usually the value at record 0; a metric that starts at 0 (consensus from a
    common x0) takes its first positive record. inf where no label has one.
    """
    initial = np.full(len(metrics), -np.inf)
    for trace in traces.values():
        for r, name in enumerate(metrics):
            median = _percentile(_runs(_recorded(trace, name)).astype(float), 50)
            positive = median[np.isfinite(median) & (median > 0)]
            if positive.size:
                initial[r] = max(initial[r], positive[0])
    return np.where(np.isfinite(initial), initial, np.inf)


def _cut(values: np.ndarray, ceiling: float) -> np.ndarray:
    """``values`` with NaN above ``ceiling``: the line breaks off there."""
    return np.where(values <= ceiling, values, np.nan)


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


def plot_frontier(ds, *, path=None, title: str | None = None):
    """Computations against communications to reach eps, one curve per algorithm.

    Each point is one rate ratio (communications per computation) of
    ``jaxgossip.study.tradeoff.explore``'s Dataset: the median over seeds of the
    computations and of the communications its runs needed to reach eps (a run
    that did not reach counts as +infinity; a median that is infinite is "not
    reached" and is skipped; the legend says how many ratios were). Points are
    joined in order of ratio and labelled with it. The region below the lower
    bounds, fewer computations than ``attrs["lower_computations"]`` or fewer
    communications than ``attrs["lower_communications"]``, is shaded: no
    algorithm can be there on the worst problem of the class, up to the bounds'
    constants (an easy instance may well fall inside).

    Args:
      ds: dims (algorithm, ratio, seed); data vars computations and communications
        (NaN where not reached); attrs eps, graph, lower_computations,
        lower_communications, bound_source.
      path: if given, the figure is also saved there as a PNG.
      title: the figure's title (default: the graph and eps).

    Returns:
      The ``matplotlib.figure.Figure``.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 5.6), layout="constrained")
    ax = fig.subplots()
    ratios = np.asarray(ds["ratio"].values, float)
    order = np.argsort(ratios)
    med = medians(ds).transpose("algorithm", "ratio")
    computations = med["computations"].values[:, order]  # (algorithms, ratios)
    communications = med["communications"].values[:, order]
    for a, label in enumerate(ds["algorithm"].values):
        x, y = computations[a], communications[a]
        reached = np.isfinite(x) & np.isfinite(y)
        missed = int(np.sum(~reached))
        if missed:
            label = f"{label} ({missed}/{len(ratios)} ratios not reached)"
        (line,) = ax.plot(x[reached], y[reached], "o-", markersize=4, linewidth=1.5, label=label)
        for ratio, xi, yi in zip(ratios[order][reached], x[reached], y[reached]):
            ax.annotate(
                f"{ratio:g}",
                (xi, yi),
                xytext=(3, 3),
                textcoords="offset points",
                fontsize="x-small",
                color=line.get_color(),
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    if not np.any(np.isfinite(computations) & np.isfinite(communications)):
        _nothing_reached(ax, "no algorithm reached ε at any ratio")
    _shade_lower_bounds(ax, ds.attrs, computations, communications)
    ax.set_xlabel("gradient computations to reach ε (median over seeds)")
    ax.set_ylabel("communications to reach ε (median over seeds)")
    ax.grid(True, which="major", alpha=0.3)
    # Below the axes: the frontier runs across the whole plot, and a legend inside covers it.
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", fontsize="small")
    default = (
        f"{_describe(ds)}: what reaching ε takes\n"
        "(points labelled with their communications per computation)"
    )
    ax.set_title(title or default, fontsize="medium")
    if path is not None:
        fig.savefig(os.fspath(path), format="png", dpi=120)
    return fig


def _nothing_reached(ax, text: str, x=None) -> None:
    """Says ``text`` across an empty log-log axes, with limits it can draw (x around ``x``)."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.3")
    ax.set_xlim(*((np.min(x) / 2, np.max(x) * 2) if x is not None and len(x) else (1, 10)))
    ax.set_ylim(1, 10)


def _shade_lower_bounds(ax, attrs, computations, communications) -> None:
    """Shades x < lower_computations and y < lower_communications (those that are > 0)."""
    bounds = {}
    for name in ("lower_computations", "lower_communications"):
        value = float(attrs.get(name, np.nan))
        if np.isfinite(value) and value > 0:
            bounds[name] = value
    if not bounds:
        return
    source = attrs.get("bound_source")
    label = f"worst-case lower bounds{f' ({source})' if source else ''}, up to constants"
    style = dict(facecolor="0.6", edgecolor="0.45", hatch="//", alpha=0.25, linewidth=0)
    for name, axis, data in (
        ("lower_computations", "x", computations),
        ("lower_communications", "y", communications),
    ):
        if name not in bounds:
            continue
        # Explicit limits, so that the shade reaches the axis edge and also shows a bound
        # far below the data.
        values = [bounds[name], *data[np.isfinite(data)]]
        low, high = min(values) / 2, max(values) * 2
        (ax.set_xlim if axis == "x" else ax.set_ylim)(low, high)
        span = (ax.axvspan if axis == "x" else ax.axhspan)(low, bounds[name], label=label, **style)
        span.set_gid(name)
        label = None  # one legend entry for both spans
        (ax.set_xlim if axis == "x" else ax.set_ylim)(low, high)


def plot_cost(
    ds,
    *,
    c_grad: float = 1.0,
    c_comm: float = 1.0,
    costs: Sequence[tuple[float, float]] | None = None,
    path=None,
    title: str | None = None,
):
    """The cost to reach eps against the rate ratio, one curve per algorithm.

    A run's cost is ``c_grad · computations + c_comm · communications`` to reach
    eps (``jaxgossip.study.tradeoff.cost_to_reach``); each point is the median over
    seeds of the runs' costs (not the cost of the median counts), a run that did
    not reach counting as +infinity and an infinite median left out. A star marks
    each algorithm's cheapest ratio.

    Args:
      ds: the Dataset of ``jaxgossip.study.tradeoff.explore`` (as for ``plot_frontier``).
      c_grad, c_comm: the price of one gradient computation and one communication.
      costs: a sequence of ``(c_grad, c_comm)`` pairs, one subplot each; replaces
        ``c_grad`` and ``c_comm``.
      path: if given, the figure is also saved there as a PNG.
      title: the figure's title (default: the graph and eps).

    Returns:
      The ``matplotlib.figure.Figure``, one subplot per cost model.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    models = _check_costs([(c_grad, c_comm)] if costs is None else costs)
    fig = Figure(figsize=(5.2 * len(models), 4.8), layout="constrained")
    axes = fig.subplots(1, len(models), squeeze=False)[0]
    ratios = np.asarray(ds["ratio"].values, float)
    order = np.argsort(ratios)
    ratios = ratios[order]
    for ax, (grad, comm) in zip(axes, models):
        drawn = False
        medians = cost_medians(ds, c_grad=grad, c_comm=comm)[:, order]  # (algorithms, ratios)
        for a, label in enumerate(ds["algorithm"].values):
            cost = medians[a]
            reached = np.isfinite(cost)
            missed = int(np.sum(~reached))
            legend = f"{label} ({missed}/{len(ratios)} ratios not reached)" if missed else label
            (line,) = ax.plot(ratios[reached], cost[reached], "o-", markersize=3, label=legend)
            if not reached.any():
                continue
            drawn = True
            best = int(np.nanargmin(cost))
            (star,) = ax.plot(ratios[best], cost[best], "*", markersize=13, color=line.get_color())
            star.set_gid(f"best:{label}")
            ax.annotate(
                f"best {ratios[best]:g}",
                (ratios[best], cost[best]),
                xytext=(4, -10),
                textcoords="offset points",
                fontsize="x-small",
                color=line.get_color(),
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        if not drawn:
            _nothing_reached(ax, "no algorithm reached ε at any ratio", x=ratios)
        # Ticks at the ratios run: log ticks label every minor tick of a narrow range, overlapping.
        ax.set_xticks(ratios, [f"{r:g}" for r in ratios])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("communications per computation (rate ratio)")
        ax.set_title(f"cost = {grad:g}·computations + {comm:g}·communications", fontsize="small")
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("cost to reach ε (median over seeds)")
    handles, labels = axes[0].get_legend_handles_labels()  # the same algorithms in every panel
    # As many columns as the figure is wide: one panel holds one long label per row.
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncols=min(len(labels), len(models)),
        fontsize="small",
    )
    fig.suptitle(title or f"{_describe(ds)}: cost to reach ε", fontsize="medium")
    if path is not None:
        fig.savefig(os.fspath(path), format="png", dpi=120)
    return fig


def cost_medians(ds, *, c_grad: float = 1.0, c_comm: float = 1.0) -> np.ndarray:
    """(algorithms, ratios): median over seeds of each run's cost to reach eps, NaN if infinite.

    A run's cost is ``jaxgossip.study.tradeoff.cost_to_reach``, ``c_grad · computations
    + c_comm · communications``; NaN (not reached, or diverged) counts as
    +infinity, as in ``jaxgossip.study.tradeoff.medians`` and ``best_ratios``, so the
    median is NaN unless more than half the seeds reached (for an even count,
    exactly half reaching gives NaN).
    """
    cost = cost_to_reach(ds, c_grad=c_grad, c_comm=c_comm).transpose("algorithm", "ratio", "seed")
    values = cost.values.astype(float)
    median = np.median(np.where(np.isnan(values), np.inf, values), axis=-1)
    return np.where(np.isfinite(median), median, np.nan)


def _check_costs(costs) -> list[tuple[float, float]]:
    models = []
    for pair in costs:
        try:
            grad, comm = (float(c) for c in pair)
        except (TypeError, ValueError):
            raise ValueError(f"plot_cost: expected (c_grad, c_comm) pairs, got {pair!r}.") from None
        if not (0 <= grad < np.inf and 0 <= comm < np.inf and grad + comm > 0):
            raise ValueError(
                f"plot_cost: costs must be finite, >= 0 and not both 0, got {(grad, comm)}."
            )
        models.append((grad, comm))
    if not models:
        raise ValueError("plot_cost: no cost model.")
    return models


def format_eps(value) -> str:
    """A target as a title shows it: two significant digits, ``2e-4`` rather than ``0.000199006``.

    Scientific notation (a bare exponent, no ``+`` or leading zeros) below 1e-2
    and from 1e4 on; plain otherwise (``0.05``, ``1.5``, ``300``).
    """
    value = float(value)
    if not np.isfinite(value) or value == 0:
        return f"{value:g}"
    mantissa, exponent = f"{value:.1e}".split("e")
    if -2 <= int(exponent) < 4:
        return f"{float(f'{value:.2g}'):g}"
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def _describe(ds) -> str:
    """The graph, its size and eps as far as attrs say: ``ring (16 nodes, 16 edges), ε = 0.001``."""
    attrs = ds.attrs
    words = {"num_nodes": "nodes", "num_edges": "edges"}
    sizes = ", ".join(f"{attrs[key]} {word}" for key, word in words.items() if key in attrs)
    name = str(attrs.get("graph", "trade-off"))
    eps = f", ε = {format_eps(attrs['eps'])}" if "eps" in attrs else ""
    return f"{name}{f' ({sizes})' if sizes else ''}{eps}"


def plot_label_histogram(shards, *, path=None, title: str | None = None):
    """How a split dealt the classes out: one stacked bar per node, one colour per class.

    Shows at a glance how skewed a ``jaxgossip.problems.split`` is: i.i.d. bars
    are even stripes, label and Dirichlet bars a few blocks each.

    Args:
      shards: a ``jaxgossip.problems.Shards`` (anything with ``label_histogram()``
        returning (n, C) counts).
      path: if given, the figure is also saved there as a PNG.
      title: the figure's title (default: the numbers of nodes, classes, samples).

    Returns:
      The ``matplotlib.figure.Figure``.
    """
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    counts = np.asarray(shards.label_histogram())  # (n, C)
    num_nodes, num_classes = counts.shape
    # Qualitative colours while they can be told apart; past 20 classes, a gradient.
    cmap = colormaps["tab10" if num_classes <= 10 else "tab20" if num_classes <= 20 else "viridis"]
    colors = cmap(np.arange(num_classes) if num_classes <= 20 else np.linspace(0, 1, num_classes))
    fig = Figure(figsize=(min(max(6.4, 0.3 * num_nodes + 2.0), 16.0), 4.8), layout="constrained")
    ax = fig.subplots()
    nodes = np.arange(num_nodes)
    bottom = np.zeros(num_nodes)
    for c in range(num_classes):
        ax.bar(nodes, counts[:, c], bottom=bottom, width=0.85, color=colors[c], label=f"{c}")
        bottom += counts[:, c]
    if num_classes <= 20:
        fig.legend(title="class", loc="outside right upper", fontsize="small")
    else:
        norm = Normalize(0, num_classes - 1)
        ticks = MaxNLocator(integer=True)
        fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="class", ticks=ticks)
    ax.set_xlabel("node")
    ax.set_ylabel("samples")
    ax.set_xlim(-0.6, num_nodes - 0.4)
    ax.grid(True, axis="y", alpha=0.3)
    default = f"labels over {num_nodes} nodes ({num_classes} classes, {int(counts.sum())} samples)"
    ax.set_title(title or default, fontsize="medium")
    if path is not None:
        fig.savefig(os.fspath(path), format="png", dpi=120)
    return fig
