"""Reading an experiment's sweeps: the best grid point, its runs, its figure, the summary."""

from __future__ import annotations

import math

import numpy as np

from jaxgossip.engine.trace import RECORDED, Trace
from jaxgossip.study.analysis import best, divergence_summary, to_reach
from jaxgossip.study.table import format_table


def grid_dims(ds) -> list[str]:
    """The grid axes of a sweep Dataset: every dimension but ``seed`` and ``record``."""
    return [d for d in ds["diverged"].dims if d not in ("seed", "record")]


def choose_best(ds, eps: float) -> tuple[dict, str] | None:
    """The best grid point of a sweep and the criterion that chose it, or None.

    The fewest median computations to reach ``eps`` (more than half the seeds
    must reach it), else the lowest median final f(x̄) - f*; a configuration with
    a diverged seed never wins. None when every configuration diverged.

    Returns:
      ``({axis: value, ...}, "to_reach" or "final")``.
    """
    for criterion in ("to_reach", "final"):
        try:
            choice = best(ds, criterion=criterion, eps=eps)
        except ValueError:
            continue
        return {d: choice[d] for d in grid_dims(ds)}, criterion
    return None


def point_trace(ds, point: dict | None = None) -> Trace:
    """The runs of one grid point as a ``Trace`` with a leading seed axis (no final state)."""
    selected = ds.sel(point or {})
    values = {
        name: selected[name].transpose("seed", "record").values
        for name in selected.data_vars
        if "record" in selected[name].dims
    }
    fields = {name: values.pop(name) for name in RECORDED if name in values}
    return Trace(**fields, metrics=values, final_state=None)


def format_point(point: dict) -> str:
    """``"step_size=0.05, comm_rate=2"``; ``"-"`` for an empty grid."""
    return ", ".join(f"{k}={v:.4g}" for k, v in point.items()) or "-"


def summary_table(results: dict, eps: float) -> str:
    """One row per sweep: the best settings and what they cost to reach ``eps``.

    Columns: graph, algorithm, best grid point (``choose_best``; ``*`` when no
    configuration reached ``eps`` and the lowest final suboptimality chose it),
    seeds reaching eps, the median computations, communications and simulated
    time to reach eps (``-`` when fewer than half the seeds reach it), the
    median final f(x̄) - f*, and the number of configurations with a diverged seed.

    Args:
      results: ``"<graph>__<algorithm>"`` -> sweep Dataset, as ``run_experiment``
        returns; the labels come from the datasets' attrs when present.
      eps: the target suboptimality.
    """
    header = (
        "graph",
        "algorithm",
        "best settings",
        "reached",
        "computations to ε",
        "communications to ε",
        "time to ε",
        "first hit (computations)",
        "final f(x̄) − f*",
        "diverged",
    )
    rows = []
    num_seeds = set()
    for label, ds in results.items():
        graph, _, algorithm = label.partition("__")
        graph, algorithm = ds.attrs.get("graph", graph), ds.attrs.get("algorithm", algorithm)
        num_configs = math.prod(ds.sizes[d] for d in grid_dims(ds))
        diverged = f"{len(divergence_summary(ds))}/{num_configs}"
        seeds = ds.sizes["seed"]
        num_seeds.add(seeds)
        chosen = choose_best(ds, eps)
        if chosen is None:
            rows.append((graph, algorithm, "all diverged", "-", "-", "-", "-", "-", "-", diverged))
            continue
        point, criterion = chosen
        selected = ds.sel(point)
        costs = [
            to_reach(selected, eps, by=by).values
            for by in ("num_computations", "num_communications", "time")
        ]
        first = to_reach(selected, eps, by="num_computations", criterion="first").values
        reached = int(np.sum(np.isfinite(costs[0])))
        touched = int(np.sum(np.isfinite(first)))
        medians = [float(np.median(np.where(np.isfinite(c), c, np.inf))) for c in costs]
        first_median = float(np.median(np.where(np.isfinite(first), first, np.inf)))
        final = float(np.median(selected["suboptimality"].isel(record=-1).values))
        rows.append(
            (
                graph,
                algorithm,
                format_point(point) + ("" if criterion == "to_reach" else " *"),
                f"{reached}/{seeds}" + (f" (touched {touched})" if touched != reached else ""),
                *(_count(m) for m in medians[:2]),
                "-" if not np.isfinite(medians[2]) else f"{medians[2]:.4g}",
                _count(first_median),
                f"{final:.3e}",
                diverged,
            )
        )
    seeds_text = "/".join(str(s) for s in sorted(num_seeds)) or "0"
    footer = (
        f"(ε = {eps:g}: medians over {seeds_text} seeds of the best settings, the fewest "
        "computations to reach ε and stay below it to the end (interpolated between\n"
        "records); first hit: when f(x̄) − f* first touches ε (touched: seeds that did, if "
        "more than stayed);\n * where none reached ε for most seeds: the lowest final "
        "f(x̄) − f*; diverged: configurations with a diverged seed)"
    )
    # Text columns (the first three) align left, numbers right.
    return format_table(header, rows, left=3) + "\n" + footer


def _count(value: float) -> str:
    return "-" if not np.isfinite(value) else f"{value:,.0f}"
