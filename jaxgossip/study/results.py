"""Reading an experiment's sweeps: the best grid point, its runs, its figure, the summary.

Each reads a target ``metric`` and its value ``eps`` (f(x̄) − f* <= eps by
default; e.g. test_accuracy >= 0.9 on a learning problem), its direction from
the Dataset's ``attrs["metric_goals"]``, and by default the metric the
experiment stored in ``attrs["metric"]``.
"""

from __future__ import annotations

import json
import math

import numpy as np

from jaxgossip.engine.trace import RECORDED, Trace
from jaxgossip.study.analysis import best, divergence_summary, to_reach
from jaxgossip.study.table import format_table


def grid_dims(ds) -> list[str]:
    """The grid axes of a sweep Dataset: every dimension but ``seed`` and ``record``."""
    return [d for d in ds["diverged"].dims if d not in ("seed", "record")]


def target_metric(ds, metric: str | None = None) -> str:
    """``metric``, else the one the experiment targeted (``attrs["metric"]``), else
    ``suboptimality`` (results of earlier versions)."""
    return metric or ds.attrs.get("metric", "suboptimality")


def goal_of(ds, metric: str) -> str:
    """ "min" or "max": which way ``metric`` is better, from ``attrs["metric_goals"]``."""
    return json.loads(ds.attrs.get("metric_goals", "{}")).get(metric, "min")


def choose_best(ds, eps: float, metric: str | None = None) -> tuple[dict, str] | None:
    """The best grid point of a sweep and the criterion that chose it, or None.

    The fewest median computations for ``metric`` to reach ``eps`` (more than
    half the seeds must reach it), else the best median final value (the lowest
    f(x̄) − f* or loss, the highest accuracy); a configuration with a diverged
    seed never wins. None when every configuration diverged.

    Args:
      metric: by default ``target_metric(ds)``.

    Returns:
      ``({axis: value, ...}, "to_reach" or "final")``.
    """
    metric = target_metric(ds, metric)
    for criterion in ("to_reach", "final"):
        try:
            choice = best(ds, criterion=criterion, eps=eps, metric=metric)
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


def summary_table(results: dict, eps: float, metric: str | None = None) -> str:
    """One row per sweep: the best settings and what they cost to reach ``eps``.

    Columns: graph, algorithm, best grid point (``choose_best``; ``*`` when no
    configuration reached ``eps`` and the best final value chose it), seeds
    reaching eps, the median computations, communications and simulated time
    (rounds for a synchronous method) to reach eps (``-`` when fewer than half
    the seeds reach it), the median final value of the metric, and the number
    of configurations with a diverged seed.

    Args:
      results: ``"<graph>__<algorithm>"`` -> sweep Dataset, as ``run_experiment``
        returns; the labels come from the datasets' attrs when present.
      eps: the target value of the metric.
      metric: by default the first Dataset's ``target_metric``.
    """
    first = next(iter(results.values()), None)
    metric = target_metric(first, metric) if first is not None else metric or "suboptimality"
    goal = goal_of(first, metric) if first is not None else "min"
    name = "f(x̄) − f*" if metric == "suboptimality" else metric
    header = (
        "graph",
        "algorithm",
        "best settings",
        "reached",
        "computations to ε",
        "communications to ε",
        "time to ε",
        "first hit (computations)",
        f"final {name}",
        "diverged",
    )
    rows = []
    num_seeds, rounds = set(), False
    for label, ds in results.items():
        rounds |= json.loads(ds.attrs.get("config", "{}")).get("engine") == "rounds"
        graph, _, algorithm = label.partition("__")
        graph, algorithm = ds.attrs.get("graph", graph), ds.attrs.get("algorithm", algorithm)
        num_configs = math.prod(ds.sizes[d] for d in grid_dims(ds))
        diverged = f"{len(divergence_summary(ds))}/{num_configs}"
        seeds = ds.sizes["seed"]
        num_seeds.add(seeds)
        chosen = choose_best(ds, eps, metric)
        if chosen is None:
            rows.append((graph, algorithm, "all diverged", "-", "-", "-", "-", "-", "-", diverged))
            continue
        point, criterion = chosen
        selected = ds.sel(point)
        costs = [
            to_reach(selected, eps, metric=metric, by=by, goal=goal).values
            for by in ("num_computations", "num_communications", "time")
        ]
        hits = to_reach(
            selected, eps, metric=metric, by="num_computations", criterion="first", goal=goal
        ).values
        reached = int(np.sum(np.isfinite(costs[0])))
        touched = int(np.sum(np.isfinite(hits)))
        medians = [float(np.median(np.where(np.isfinite(c), c, np.inf))) for c in costs]
        first_median = float(np.median(np.where(np.isfinite(hits), hits, np.inf)))
        final = float(np.median(selected[metric].isel(record=-1).values))
        rows.append(
            (
                graph,
                algorithm,
                format_point(point) + ("" if criterion == "to_reach" else " *"),
                f"{reached}/{seeds}" + (f" (touched {touched})" if touched != reached else ""),
                *(_count(m) for m in medians[:2]),
                "-" if not np.isfinite(medians[2]) else f"{medians[2]:.4g}",
                _count(first_median),
                f"{final:.3e}" if goal == "min" else f"{final:.4f}",
                diverged,
            )
        )
    seeds_text = "/".join(str(s) for s in sorted(num_seeds)) or "0"
    side, extreme = ("below", "lowest") if goal == "min" else ("above", "highest")
    relation = "<=" if goal == "min" else ">="
    target = "" if metric == "suboptimality" else f", the target {name} {relation} ε"
    footer = (
        f"(ε = {eps:g}{target}: medians over {seeds_text} seeds of the best settings, the "
        f"fewest computations to reach ε and stay {side} it to the end (interpolated between\n"
        f"records); first hit: when {name} first touches ε (touched: seeds that did, if "
        f"more than stayed);\n * where none reached ε for most seeds: the {extreme} final "
        f"{name}; diverged: configurations with a diverged seed"
        + ("; time: rounds for synchronous methods)" if rounds else ")")
    )
    # Text columns (the first three) align left, numbers right.
    return format_table(header, rows, left=3) + "\n" + footer


def _count(value: float) -> str:
    return "-" if not np.isfinite(value) else f"{value:,.0f}"
