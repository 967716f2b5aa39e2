"""Reading run results: one divergence rule, time to reach a target, seeds, the best point.

``mask_divergence`` is the one rule by which sweeps (``jaxgossip.study.sweep``)
and the trade-off explorer (``jaxgossip.study.tradeoff``) call a record
diverged; the other helpers read a ``sweep`` Dataset, whichever engine ran it.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import xarray as xr

# The metrics a diverged record no longer reports (set to NaN there).
MASKED = ("suboptimality", "mean_suboptimality", "consensus")


def mask_divergence(records: Mapping[str, np.ndarray], divergence_factor: float) -> dict:
    """The records with ``diverged`` made final and the diverged metrics set to NaN.

    A record is diverged when the engine flagged it (a non-finite state), when
    one of the ``MASKED`` metrics present in ``records`` is non-finite, or when
    its suboptimality exceeds ``divergence_factor`` times the run's first one;
    once diverged, a run stays diverged.

    Args:
      records: name -> array (..., T), records on the last axis; needs
        ``diverged`` and ``suboptimality``. Leave out a metric that was not
        recorded (e.g. ``mean_suboptimality`` run with ``node_suboptimality=False``).
      divergence_factor: > 0.

    Returns:
      A new dict: ``diverged`` (..., T) bool, the ``MASKED`` metrics NaN where
      diverged (dtypes kept), every other entry as given.
    """
    sub = np.asarray(records["suboptimality"])
    # In float64, so that a huge initial suboptimality cannot overflow the threshold.
    threshold = divergence_factor * np.maximum(
        sub[..., :1].astype(np.float64), np.finfo(sub.dtype).tiny
    )
    bad = np.asarray(records["diverged"]) | (sub > threshold)
    present = [name for name in MASKED if name in records]
    for name in present:
        bad |= ~np.isfinite(np.asarray(records[name]))
    out = dict(records)
    out["diverged"] = np.logical_or.accumulate(bad, axis=-1)  # diverged stays diverged
    for name in present:
        values = np.asarray(records[name])
        out[name] = np.where(out["diverged"], np.nan, values).astype(values.dtype)
    return out


def to_reach(ds: xr.Dataset, eps: float, *, metric="suboptimality", by="num_computations"):
    """The first value of ``by`` at which ``metric <= eps``, per run.

    Args:
      ds: a ``sweep`` Dataset.
      eps: the target.
      metric: a metric of ``ds`` (NaN once diverged, so never reached after).
      by: ``num_computations``, ``num_communications``, ``time`` or ``bytes_sent``.

    Returns:
      A float DataArray over (*grid axes, "seed"); NaN where never reached.
    """
    reached = ds[metric] <= eps  # NaN compares False
    first = reached.argmax("record")
    value = ds[by].isel(record=first).drop_vars("record").astype(float)
    return value.where(reached.any("record")).rename(f"{by}_to_reach")


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


def best(ds: xr.Dataset, *, criterion="final", eps=None, by="num_computations") -> dict:
    """The best configuration of the grid, over the median of its seeds.

    Args:
      ds: a ``sweep`` Dataset.
      criterion: ``"final"``, the lowest median final suboptimality, or
        ``"to_reach"``, the fewest median ``by`` to reach ``eps`` (a seed that
        never reaches counts as infinite, so more than half must reach).
      eps: the target for ``"to_reach"``.
      by: the budget ``to_reach`` counts in.

    Returns:
      ``{axis: value, ..., "score": score}``. A configuration with any diverged
      seed never wins.

    Raises:
      ValueError: no configuration qualifies.
    """
    if criterion == "final":
        score = ds["suboptimality"].isel(record=-1).median("seed", skipna=False)
    elif criterion == "to_reach":
        if eps is None:
            raise ValueError('best: criterion="to_reach" needs eps.')
        score = to_reach(ds, eps, by=by).fillna(np.inf).median("seed")
    else:
        raise ValueError(f'best: criterion must be "final" or "to_reach"; got {criterion!r}.')
    ok = ~ds["diverged"].any(("seed", "record")) & np.isfinite(score)
    values = np.where(ok.values, score.values, np.nan)
    if np.all(np.isnan(values)):
        raise ValueError("best: every configuration diverged or never reached the target.")
    position = np.unravel_index(np.nanargmin(values), values.shape)
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
