"""Reading run results: one divergence rule, time to reach a target, seeds, the best point.

``mask_divergence`` is the one rule by which sweeps (``jaxgossip.study.sweep``)
and the trade-off explorer (``jaxgossip.study.tradeoff``) call a record
diverged; the other helpers read a ``sweep`` Dataset, whichever engine ran it.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping

import numpy as np
import xarray as xr

# What a diverged record keeps: when it happened and what it cost. Every other
# recorded quantity (the problem's metrics, consensus) is set to NaN there.
KEPT = ("time", "num_computations", "num_communications", "bytes_sent", "diverged")
GOALS = ("min", "max")


def metric_goals(problem) -> dict[str, str]:
    """Recorded name -> "min" or "max" (which way is better) for runs on ``problem``."""
    return {**problem.metric_goals, "consensus": "min"}


def mask_divergence(records: Mapping[str, np.ndarray], divergence_factor: float) -> dict:
    """The records with ``diverged`` made final and the diverged metrics set to NaN.

    A record is diverged when the engine flagged it (a non-finite state), when
    a recorded metric is non-finite (NaN where a metric was not recorded at
    all, e.g. ``mean_suboptimality`` run with ``node_suboptimality=False``, is
    ignored), or, for a convex problem, when its suboptimality exceeds
    ``divergence_factor`` times the run's first one; once diverged, a run
    stays diverged.

    Args:
      records: name -> array (..., T), records on the last axis; needs
        ``diverged``.
      divergence_factor: > 0.

    Returns:
      A new dict: ``diverged`` (..., T) bool, every metric (all but ``KEPT``)
      NaN where diverged (dtypes kept), the ``KEPT`` entries as given.
    """
    bad = np.asarray(records["diverged"])
    if "suboptimality" in records:
        sub = np.asarray(records["suboptimality"])
        # In float64, so that a huge initial suboptimality cannot overflow the threshold.
        threshold = divergence_factor * np.maximum(
            sub[..., :1].astype(np.float64), np.finfo(sub.dtype).tiny
        )
        bad = bad | (sub > threshold)
    present = [name for name in records if name not in KEPT]
    for name in present:
        values = np.asarray(records[name])
        recorded = ~np.all(np.isnan(values), axis=-1, keepdims=True)
        bad = bad | (~np.isfinite(values) & recorded)
    out = dict(records)
    out["diverged"] = np.logical_or.accumulate(bad, axis=-1)  # diverged stays diverged
    for name in present:
        values = np.asarray(records[name])
        out[name] = np.where(out["diverged"], np.nan, values).astype(values.dtype)
    return out


CRITERIA = ("sustained", "first")


def reach_position(
    metric: np.ndarray, eps: float, criterion: str = "sustained", goal: str = "min"
) -> np.ndarray:
    """Where a metric reaches eps, as a fractional record position (..., T) -> (...).

    ``goal="min"`` (a suboptimality, a loss): reached means <= eps;
    ``goal="max"`` (an accuracy): reached means >= eps.
    ``criterion="sustained"``: the first record from which the metric stays
    reached to the end of the run; ``"first"``: the first record reached (a noisy
    run may touch eps and fall back). Between the record before (not reached)
    and that record the position is interpolated: for "min" linearly in
    log(metric), the metric's natural scale under linear convergence
    (linearly when it reaches 0); for "max" linearly. NaN where never
    reached; a NaN (diverged) record never reaches.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}; got {criterion!r}.")
    if goal not in GOALS:
        raise ValueError(f"goal must be one of {GOALS}; got {goal!r}.")
    metric = np.asarray(metric, np.float64)
    if goal == "max":
        return _reach_position_above(metric, eps, criterion)
    below = metric <= eps  # NaN compares False
    if criterion == "sustained":
        below = np.flip(np.logical_and.accumulate(np.flip(below, -1), -1), -1)
    reached = below.any(-1)
    index = np.argmax(below, -1)
    previous = np.take_along_axis(metric, np.maximum(index - 1, 0)[..., None], -1)[..., 0]
    current = np.take_along_axis(metric, index[..., None], -1)[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(previous) - np.log(eps), np.log(previous) - np.log(current)
        fraction = np.where(current > 0, logs[0] / logs[1], (previous - eps) / previous)
    fraction = np.where(index > 0, np.clip(np.nan_to_num(fraction, nan=1.0), 0.0, 1.0), 1.0)
    return np.where(reached, index - 1 + fraction, np.nan)


def _reach_position_above(metric: np.ndarray, eps: float, criterion: str) -> np.ndarray:
    """``reach_position`` for goal "max": reached at metric >= eps, linear interpolation."""
    above = metric >= eps  # NaN compares False
    if criterion == "sustained":
        above = np.flip(np.logical_and.accumulate(np.flip(above, -1), -1), -1)
    reached = above.any(-1)
    index = np.argmax(above, -1)
    previous = np.take_along_axis(metric, np.maximum(index - 1, 0)[..., None], -1)[..., 0]
    current = np.take_along_axis(metric, index[..., None], -1)[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = (eps - previous) / (current - previous)
    fraction = np.where(index > 0, np.clip(np.nan_to_num(fraction, nan=1.0), 0.0, 1.0), 1.0)
    return np.where(reached, index - 1 + fraction, np.nan)


def value_at(values: np.ndarray, position: np.ndarray) -> np.ndarray:
    """Records' values (..., T) read at fractional positions (...): linear between records."""
    values = np.asarray(values, np.float64)
    safe = np.nan_to_num(position, nan=0.0)
    low = np.floor(safe).astype(int)
    high = np.minimum(low + 1, values.shape[-1] - 1)
    at = lambda k: np.take_along_axis(values, k[..., None], -1)[..., 0]  # noqa: E731
    result = at(low) + (safe - low) * (at(high) - at(low))
    return np.where(np.isnan(position), np.nan, result)


def to_reach(
    ds: xr.Dataset,
    eps: float,
    *,
    metric="suboptimality",
    by="num_computations",
    criterion: str = "sustained",
    goal: str | None = None,
):
    """The value of ``by`` at which ``metric`` reaches ``eps``, per run.

    Args:
      ds: a ``sweep`` Dataset.
      eps: the target, e.g. 1e-6 for suboptimality or 0.95 for test_accuracy.
      metric: a metric of ``ds`` (NaN once diverged, so never reached after).
      by: ``num_computations``, ``num_communications``, ``time`` or ``bytes_sent``.
      criterion: ``"sustained"`` (default): from when on the metric stays
        reached to the end of the run; ``"first"``: when it first reaches eps
        (``reach_position``). Both interpolate between records.
      goal: ``"min"`` (reached at <= eps) or ``"max"`` (>= eps); by default
        the metric's own, from ``ds.attrs["metric_goals"]`` ("min" if unknown).

    Returns:
      A float DataArray over (*grid axes, "seed"); NaN where never reached.
    """
    if metric not in ds:
        names = [name for name in ds.data_vars if name not in KEPT]
        raise ValueError(f"to_reach: {metric!r} was not recorded; the metrics are {names}.")
    if goal is None:
        goal = json.loads(ds.attrs.get("metric_goals", "{}")).get(metric, "min")
    warn_if_below_floor(ds.attrs.get("suboptimality_floor"), eps, "to_reach", metric)
    position = xr.apply_ufunc(
        reach_position,
        ds[metric],
        kwargs=dict(eps=eps, criterion=criterion, goal=goal),
        input_core_dims=[["record"]],
    )
    values = xr.apply_ufunc(
        value_at, ds[by].astype(float), position, input_core_dims=[["record"], []]
    )
    return values.rename(f"{by}_to_reach")


class PrecisionWarning(UserWarning):
    """A target below what the run's floating-point precision can resolve."""


def warn_if_below_floor(floor, eps, caller: str, metric: str = "suboptimality") -> None:
    """Warns (``PrecisionWarning``) when ``eps`` is at or below ``floor``, the
    problem's ``suboptimality_floor()`` in the run's dtype; None: unknown, silent."""
    if floor is None or metric not in ("suboptimality", "mean_suboptimality"):
        return
    if eps <= float(floor):
        warnings.warn(
            f"{caller}: eps = {eps:.3g} is at or below {float(floor):.3g}, the smallest "
            "f - f* this problem resolves in its dtype, so 'reached' cannot be told from "
            "rounding. Run in float64: jax.config.update('jax_enable_x64', True), "
            'precision = "float64" in an experiment file, or --float64 on the command line.',
            PrecisionWarning,
            stacklevel=3,
        )


def check_precision(problem, eps: float, caller: str) -> None:
    """``warn_if_below_floor`` for a problem: eps against ``problem.suboptimality_floor()``
    (a learning problem has no f*, hence no floor: nothing to check)."""
    if not problem.convex:
        return
    warn_if_below_floor(problem.suboptimality_floor(), eps, caller)


def over_seeds(obj, quantiles=(0.1, 0.5, 0.9)):
    """Quantiles over the "seed" axis, ignoring NaN (diverged) seeds, on a new "quantile" dim.

    The median is quantile 0.5. For a Dataset, the boolean ``diverged``
    becomes ``diverged_fraction``, the fraction of seeds diverged.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all seeds NaN: the quantile is NaN
        if isinstance(obj, xr.DataArray):
            return obj.astype(float).quantile(list(quantiles), dim="seed", skipna=True)
        flags = [name for name, v in obj.data_vars.items() if v.dtype == bool]
        result = obj.drop_vars(flags).quantile(list(quantiles), dim="seed", skipna=True)
        for name in flags:
            result[f"{name}_fraction"] = obj[name].mean("seed")
        return result


def best(
    ds: xr.Dataset,
    *,
    criterion="final",
    eps=None,
    by="num_computations",
    metric="suboptimality",
    goal: str | None = None,
) -> dict:
    """The best configuration of the grid, over the median of its seeds.

    Args:
      ds: a ``sweep`` Dataset.
      criterion: ``"final"``, the best median final value of ``metric`` (the
        lowest for a metric to minimize, the highest for one to maximize), or
        ``"to_reach"``, the fewest median ``by`` to reach ``eps`` (a seed that
        never reaches counts as infinite, so more than half must reach).
      eps: the target for ``"to_reach"`` (e.g. 1e-6 for suboptimality, 0.95
        for test_accuracy).
      by: the budget ``to_reach`` counts in.
      metric: a recorded metric, e.g. ``"suboptimality"`` or ``"test_accuracy"``.
      goal: ``"min"`` or ``"max"``; by default the metric's own, from
        ``ds.attrs["metric_goals"]`` ("min" if unknown).

    Returns:
      ``{axis: value, ..., "score": score}``, the score being the median final
      value or the median cost to reach. A configuration with any diverged
      seed never wins.

    Raises:
      ValueError: no configuration qualifies, or ``metric`` was not recorded.
    """
    if metric not in ds:
        names = [name for name in ds.data_vars if name not in KEPT]
        raise ValueError(f"best: {metric!r} was not recorded; the metrics are {names}.")
    if goal is None:
        goal = json.loads(ds.attrs.get("metric_goals", "{}")).get(metric, "min")
    if goal not in GOALS:
        raise ValueError(f"best: goal must be one of {GOALS}; got {goal!r}.")
    highest = criterion == "final" and goal == "max"
    if criterion == "final":
        score = ds[metric].isel(record=-1).median("seed", skipna=False)
    elif criterion == "to_reach":
        if eps is None:
            raise ValueError('best: criterion="to_reach" needs eps.')
        score = to_reach(ds, eps, metric=metric, by=by, goal=goal).fillna(np.inf).median("seed")
    else:
        raise ValueError(f'best: criterion must be "final" or "to_reach"; got {criterion!r}.')
    ok = ~ds["diverged"].any(("seed", "record")) & np.isfinite(score)
    values = np.where(ok.values, score.values, np.nan)
    if np.all(np.isnan(values)):
        raise ValueError("best: every configuration diverged or never reached the target.")
    position = np.unravel_index((np.nanargmax if highest else np.nanargmin)(values), values.shape)
    result = {d: score[d].values[i].item() for d, i in zip(score.dims, position)}
    result["score"] = float(values[position])
    return result


def divergence_summary(ds: xr.Dataset) -> list[dict]:
    """Configurations with at least one diverged seed: their coordinates,
    ``num_diverged_seeds`` and ``num_seeds``."""
    counts = ds["diverged"].any("record").sum("seed")
    summary = []
    for position in np.argwhere(counts.values > 0):
        entry = {d: counts[d].values[i].item() for d, i in zip(counts.dims, position)}
        entry["num_diverged_seeds"] = int(counts.values[tuple(position)])
        entry["num_seeds"] = ds.sizes["seed"]
        summary.append(entry)
    return summary
