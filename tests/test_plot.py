"""The trade-off figures: theory beside traces, the frontier, and the cost to reach eps."""

import equinox as eqx
import numpy as np
import pytest
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg

from jaxgossip.engine.trace import Trace
from jaxgossip.plot import (
    DIVERGED_CLIP,
    cost_medians,
    format_eps,
    plot_convergence,
    plot_cost,
    plot_frontier,
)

X_AXES = ("time", "num_computations", "num_communications")


def _trace(rng, *, seeds=3, records=21, decay=0.5):
    """A batched Trace (seeds, records) decaying like exp(-decay t), with noisy counters."""
    time = np.cumsum(rng.uniform(0.5, 1.5, (seeds, records)), axis=1)
    time[:, 0] = 0.0
    computations = np.cumsum(rng.integers(5, 15, (seeds, records)), axis=1)
    communications = np.cumsum(rng.integers(20, 40, (seeds, records)), axis=1)
    sub = rng.uniform(0.8, 1.2, (seeds, 1)) * np.exp(-decay * time)
    return Trace(
        time=time,
        num_computations=computations,
        num_communications=communications,
        bytes_sent=8.0 * communications,
        suboptimality=sub,
        mean_suboptimality=2 * sub,
        consensus=sub**2,
        diverged=np.zeros((seeds, records), bool),
        final_state=None,
    )


def _theory_lines(ax):
    return {line.get_label(): line for line in ax.get_lines() if "theory" in line.get_label()}


def test_theory_overlay_is_y0_times_exp_of_rate_times_time_on_every_axis():
    rng = np.random.default_rng(0)
    traces = {"sgd": _trace(rng), "dadao": _trace(rng, decay=0.2)}
    rates = {"sgd": 0.1}
    fig = plot_convergence(traces, x_axes=X_AXES, rates=rates)
    trace = traces["sgd"]
    y0 = np.median(trace.suboptimality[:, 0])
    expected = y0 * np.exp(-0.1 * np.median(trace.time, axis=0))
    for ax, x_name in zip(fig.axes, X_AXES):
        lines = _theory_lines(ax)
        assert list(lines) == ["sgd theory"]  # only the label given a rate
        line = lines["sgd theory"]
        assert line.get_linestyle() == "--"
        data_line = next(d for d in ax.get_lines() if d.get_label() == "sgd")
        assert line.get_color() == data_line.get_color()
        np.testing.assert_allclose(line.get_ydata(), expected, rtol=1e-12, atol=0)
        x = np.median(np.asarray(getattr(trace, x_name), float), axis=0)
        np.testing.assert_allclose(line.get_xdata(), x, rtol=1e-12, atol=0)
    legend = [t.get_text() for t in fig.axes[-1].get_legend().get_texts()]
    assert legend == ["sgd", "dadao", "sgd theory"]
    # A resumed trace (records from t = 5 on) decays from its own first record.
    resumed = eqx.tree_at(lambda t: t.time, trace, trace.time + 5.0)
    line = _theory_lines(plot_convergence({"sgd": resumed}, rates=rates).axes[0])["sgd theory"]
    np.testing.assert_allclose(line.get_ydata(), expected, rtol=1e-12, atol=0)


def test_theory_overlay_rows_and_floor():
    rng = np.random.default_rng(1)
    traces = {"sgd": _trace(rng, decay=0.5)}
    # A rate far faster than the data: cut a thousandfold below the lowest value drawn.
    fig = plot_convergence(
        traces, x_axes=("time",), metric=("suboptimality", "consensus"), rates={"sgd": 50.0}
    )
    top, bottom = fig.axes
    assert _theory_lines(bottom) == {}  # consensus is not f - f*: no theory line
    y = _theory_lines(top)["sgd theory"].get_ydata()
    lowest = np.percentile(traces["sgd"].suboptimality, 10, axis=0).min()
    assert np.isfinite(y[0]) and np.isnan(y[-1])
    assert np.nanmin(y) >= 1e-3 * lowest


def test_no_overlay_without_rates_and_unknown_labels_raise():
    rng = np.random.default_rng(2)
    traces = {"sgd": _trace(rng)}
    fig = plot_convergence(traces, x_axes=X_AXES)
    for ax in fig.axes:
        assert _theory_lines(ax) == {}
        assert len(ax.get_lines()) == 1
    with pytest.raises(ValueError, match="dadao"):
        plot_convergence(traces, rates={"dadao": 0.1})
    with pytest.raises(ValueError, match="finite"):
        plot_convergence(traces, rates={"sgd": -1.0})


ALGORITHMS = ["sgd", "dadao"]
RATIOS = [3.0, 0.1, 1.0, 10.0]  # unsorted on purpose: curves are drawn in order of ratio
SEEDS = 3


def _explored(rng):
    """A Dataset shaped like ``jaxgossip.study.tradeoff.explore``'s, built by hand."""
    shape = (len(ALGORITHMS), len(RATIOS), SEEDS)
    ratio = np.asarray(RATIOS)[None, :, None]
    computations = rng.uniform(950, 1050, shape) * (1 + 1 / ratio)
    communications = computations * ratio * rng.uniform(0.9, 1.1, shape)
    # dadao at ratio 0.1: 2 of 3 seeds miss eps (median NaN); at ratio 10: 1 of 3 (reached).
    computations[1, 1, :2] = np.nan
    communications[1, 1, :2] = np.nan
    computations[1, 3, 0] = communications[1, 3, 0] = np.nan
    dims = ("algorithm", "ratio", "seed")
    return xr.Dataset(
        {
            "computations": (dims, computations),
            "communications": (dims, communications),
            "time": (dims, computations / 16),
            "final_suboptimality": (dims, rng.uniform(0, 1e-4, shape)),
            "diverged": (dims, np.zeros(shape, bool)),
            "events": (dims, np.full(shape, 100_000)),
        },
        coords={"algorithm": ALGORITHMS, "ratio": RATIOS, "seed": np.arange(SEEDS)},
        attrs=dict(
            eps=1e-4,
            num_nodes=16,
            num_edges=16,
            graph="ring",
            compute_rate=1.0,
            compilations=1,
            lower_computations=50.0,
            lower_communications=20.0,
            bound_source="Scaman et al. 2017",
        ),
    )


def _median(values):
    """Median over seeds (last axis) with NaN as +inf, and NaN where that is infinite."""
    median = np.median(np.where(np.isnan(values), np.inf, values), axis=-1)
    return np.where(np.isfinite(median), median, np.nan)


def test_frontier_points_are_the_medians_in_ratio_order(tmp_path):
    ds = _explored(np.random.default_rng(3))
    path = tmp_path / "frontier.png"
    fig = plot_frontier(ds, path=path)
    (ax,) = fig.axes
    assert ax.get_xscale() == ax.get_yscale() == "log"
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"sgd", "dadao (1/4 ratios not reached)"}
    order = np.argsort(RATIOS)
    for a, label in enumerate(["sgd", "dadao (1/4 ratios not reached)"]):
        x = _median(ds["computations"].values[a])[order]
        y = _median(ds["communications"].values[a])[order]
        keep = np.isfinite(x)
        np.testing.assert_allclose(lines[label].get_xdata(), x[keep], rtol=1e-12, atol=0)
        np.testing.assert_allclose(lines[label].get_ydata(), y[keep], rtol=1e-12, atol=0)
    assert len(lines["dadao (1/4 ratios not reached)"].get_xdata()) == 3  # ratio 0.1 skipped
    texts = [t.get_text() for t in ax.texts]
    assert texts[:4] == ["0.1", "1", "3", "10"]  # sgd's points, labelled by ratio
    assert "0.1" not in texts[4:]
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_frontier_shades_what_the_lower_bounds_forbid():
    ds = _explored(np.random.default_rng(4))
    fig = plot_frontier(ds)
    (ax,) = fig.axes
    spans = {patch.get_gid(): patch for patch in ax.patches if patch.get_gid()}
    assert set(spans) == {"lower_computations", "lower_communications"}
    x_low, x_high = ax.get_xlim()
    y_low, y_high = ax.get_ylim()
    vertical = spans["lower_computations"].get_bbox()  # data x, axes-fraction y
    np.testing.assert_allclose([vertical.x0, vertical.x1], [x_low, 50.0], rtol=1e-12)
    horizontal = spans["lower_communications"].get_bbox()
    np.testing.assert_allclose([horizontal.y0, horizontal.y1], [y_low, 20.0], rtol=1e-12)
    assert x_low < 50.0 < x_high and y_low < 20.0 < y_high
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend.count("worst-case lower bounds (Scaman et al. 2017), up to constants") == 1
    # No usable bound, no shade.
    ds.attrs.update(lower_computations=float("nan"), lower_communications=0.0)
    (ax,) = plot_frontier(ds).axes
    assert not [patch for patch in ax.patches if patch.get_gid()]


def test_cost_is_the_median_of_each_runs_cost_and_the_star_is_its_argmin(tmp_path):
    ds = _explored(np.random.default_rng(5))
    models = [(1.0, 0.1), (1.0, 30.0)]
    fig = plot_cost(ds, costs=models, path=tmp_path / "cost.png")
    assert len(fig.axes) == 2
    order = np.argsort(RATIOS)
    ratios = np.asarray(RATIOS)[order]
    for ax, (c_grad, c_comm) in zip(fig.axes, models):
        assert ax.get_xlabel() == "communications per computation (rate ratio)"
        assert ax.get_xscale() == "log"
        lines = {line.get_label(): line for line in ax.get_lines()}
        runs = c_grad * ds["computations"].values + c_comm * ds["communications"].values
        for a, label in enumerate(ALGORITHMS):
            cost = _median(runs[a])[order]  # the median of the runs' costs
            legend = label if a == 0 else f"{label} (1/4 ratios not reached)"
            keep = np.isfinite(cost)
            np.testing.assert_allclose(lines[legend].get_xdata(), ratios[keep], rtol=1e-12)
            np.testing.assert_allclose(lines[legend].get_ydata(), cost[keep], rtol=1e-12)
            (star,) = [line for line in ax.get_lines() if line.get_gid() == f"best:{label}"]
            best = np.nanargmin(cost)
            np.testing.assert_allclose(star.get_xdata(), [ratios[best]], rtol=0)
            np.testing.assert_allclose(star.get_ydata(), [cost[best]], rtol=1e-12)
            assert star.get_marker() == "*"
    # Cheap communication favours many communications per computation; dear, few.
    stars = [
        float(line.get_xdata()[0])
        for ax in fig.axes
        for line in ax.get_lines()
        if line.get_gid() == "best:sgd"
    ]
    assert stars[0] > stars[1]


def test_cost_medians_differ_from_the_cost_of_the_medians():
    ds = _explored(np.random.default_rng(6))
    ds["computations"][0, 0] = [1.0, 2.0, 100.0]
    ds["communications"][0, 0] = [100.0, 2.0, 1.0]
    cost = cost_medians(ds, c_grad=1.0, c_comm=1.0)
    assert cost[0, 0] == 101.0  # the median of (101, 4, 101); the cost of the medians is 2 + 2
    one = plot_cost(ds, c_grad=2.0, c_comm=3.0).axes
    assert len(one) == 1 and "2·computations + 3·communications" in one[0].get_title()
    with pytest.raises(ValueError, match="not both 0"):
        plot_cost(ds, costs=[(0.0, 0.0)])


def test_a_diverged_curve_is_cut_and_labelled_and_keeps_the_scale():
    rng = np.random.default_rng(7)
    good = _trace(rng)
    # Grows to ~1e197 without the engine's flag (a trace of simulate, not a sweep).
    bad = eqx.tree_at(
        lambda t: t.suboptimality,
        good,
        good.suboptimality[:, :1] * np.logspace(0, 197, good.suboptimality.shape[1]),
    )
    fig = plot_convergence({"good": good, "bad": bad}, x_axes=X_AXES)
    initial = max(np.median(good.suboptimality[:, 0]), np.median(bad.suboptimality[:, 0]))
    for ax in fig.axes:
        low, high = ax.get_ylim()
        assert high <= 10 * DIVERGED_CLIP * initial, high  # not stretched to 1e197
        assert low < np.percentile(good.suboptimality[:, -1], 10)  # the good curve's end shows
        labels = [line.get_label() for line in ax.get_lines()]
        assert labels[:2] == ["good", "bad (diverged)"]
        (mark,) = [line for line in ax.get_lines() if line.get_gid() == "diverged"]
        assert mark.get_marker() == "x"
        np.testing.assert_allclose(mark.get_ydata(), [DIVERGED_CLIP * initial], rtol=1e-12)
    fig.draw_without_rendering()


def test_a_long_legend_is_not_cut():
    rng = np.random.default_rng(8)
    traces = {f"a rather long label number {k}": _trace(rng, decay=0.1 * k) for k in range(1, 13)}
    for fig in (
        plot_convergence(traces, x_axes=X_AXES, rates={label: 0.1 for label in traces}),
        plot_convergence(dict(list(traces.items())[:8]), x_axes=X_AXES),
        plot_frontier(_explored(rng)),
        plot_cost(_explored(rng), costs=[(1.0, 1.0), (1.0, 0.1)]),
    ):
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        (legend,) = fig.legends or [ax.get_legend() for ax in fig.axes if ax.get_legend()]
        box, page = legend.get_window_extent(canvas.get_renderer()), fig.bbox
        assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and box.y1 <= page.y1


@pytest.mark.parametrize(
    "eps, text",
    [
        (1.99006e-4, "2e-4"),
        (1e-3, "1e-3"),
        (2.5e-8, "2.5e-8"),
        (0.05, "0.05"),
        (1.0, "1"),
        (1e4, "1e4"),
    ],
)
def test_eps_in_titles_is_short(eps, text):
    assert format_eps(eps) == text
    ds = _explored(np.random.default_rng(9))
    ds.attrs["eps"] = eps
    (ax,) = plot_frontier(ds).axes
    assert f"ε = {text}:" in ax.get_title()
    assert f"ε = {text}:" in plot_cost(ds).get_suptitle()


def test_nothing_reached_still_draws():
    ds = _explored(np.random.default_rng(10))
    for name in ("computations", "communications", "time"):
        ds[name][:] = np.nan
    for attrs in ({}, {"lower_computations": np.nan, "lower_communications": np.nan}):
        ds.attrs.update(attrs)
        for fig in (plot_frontier(ds), plot_cost(ds, costs=[(1.0, 1.0), (1.0, 0.1)])):
            fig.draw_without_rendering()  # log axes without data used to raise
            for ax in fig.axes:
                assert "no algorithm reached ε at any ratio" in [t.get_text() for t in ax.texts]
