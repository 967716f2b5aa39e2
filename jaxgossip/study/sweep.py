"""Sweeps: grids of hyperparameters, rates and seeds run as batched, compiled calls.

The cartesian product of the grid's axes and the seeds is flattened into runs;
the runs go through one ``jax.jit(jax.vmap(simulate))`` in equal batches,
sharded over every device along a ``"runs"`` mesh axis, and come back as a
labelled ``xarray.Dataset``. The helpers below read such a dataset: time to
reach a target, quantiles over seeds, the best configuration, divergences,
and a lossless ``.npz`` round trip.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from jaxgossip.algorithms.base import Algorithm
from jaxgossip.engine.events import init_state, simulate
from jaxgossip.engine.long_run import chunk_sizes, inputs_digest, run_chunks
from jaxgossip.engine.trace import RECORDED
from jaxgossip.network.clocks import Clocks

RATE_AXES = ("compute_rate", "comm_rate")
METRICS = RECORDED
_MASKED = ("suboptimality", "mean_suboptimality", "consensus")
_RESERVED = ("seed", "record", *METRICS)
_FORMAT = "jaxgossip.sweep"


def sweep(
    algorithm,
    problem,
    clocks: Clocks,
    *,
    num_events: int,
    num_records: int,
    grid: dict | None = None,
    seeds=1,
    max_batch: int = 1024,
    x0=None,
    divergence_factor: float = 1e6,
    key=None,
    devices=None,
    num_chunks: int = 1,
    checkpoint=None,
    resume: bool = False,
    progress: bool = False,
) -> xr.Dataset:
    """Runs ``simulate`` over every point of ``grid`` x ``seeds``, batched and sharded.

    Args:
      algorithm: an ``Algorithm`` class or any callable ``**hyperparameters ->
        Algorithm`` (e.g. ``lambda step_size: AsyncGossipSGD(step_size=step_size)``).
        It receives traced scalars, so hyperparameters must be array leaves.
      problem: the problem, shared by every run.
      clocks: the base clocks: graph, (n,) compute and (E,) communication rates.
      num_events, num_records: as in ``simulate``, for every run.
      grid: axis name -> 1-D numeric values; the product of all axes is swept.
        Names are keyword arguments of ``algorithm``, except ``compute_rate``
        and ``comm_rate``, whose values MULTIPLY the base clocks' rates: run
        rates are ``clocks.compute_rate * v`` and ``clocks.comm_rate * v``, so
        heterogeneous clocks keep their shape (with base rates 1, v is the rate).
      seeds: S, for seeds 0..S-1, or a sequence of non-negative ints. Seed s
        runs with ``jax.random.key(s)``, or ``jax.random.fold_in(key, s)``.
      max_batch: most runs per compiled call; every batch has the same size
        (the last is padded by repeating the last run), so a sweep compiles once.
        The compiled call is cached on the algorithm object and the shapes: a
        later sweep with the same class and batch size reuses it, a new lambda
        compiles again.
      x0: optional initial point, (dim,) or (num_nodes, dim), for every run.
      divergence_factor: a record is diverged once the engine flags a
        non-finite state or suboptimality exceeds this factor times the initial one.
      key: optional base key for the seeds.
      devices: devices to shard the batch axis over; all of ``jax.devices()``
        by default. On many devices the batch is rounded to a multiple of their
        number (possibly above ``max_batch``). Multi-host: after
        ``jax.distributed.initialize()`` every process calls ``sweep`` with
        identical arguments (built identically on every host, same seeds); each
        sees all global devices, builds only its own shards, and gets the full Dataset.
      num_chunks: split every run into this many chunks (``simulate_in_chunks``:
        chunk c of a run uses ``fold_in(run_key, c)``, so a chunked sweep equals
        chunked single runs, not unchunked ones). Between chunks the sweep can
        show progress and write checkpoints.
      checkpoint: with num_chunks > 1, a path prefix; batch b is checkpointed
        atomically to ``f"{checkpoint}.batch{b}"`` after each of its chunks.
      resume: continue from existing checkpoints of the same sweep; the result
        is bit for bit that of an uninterrupted sweep.
      progress: print a progress line (events, events/s, ETA) between chunks.

    Returns:
      A Dataset with dims (*grid axes in order, "seed", "record"), coordinates
      the axis values, ``record`` 0..num_records, and the ``Trace`` fields
      (``METRICS``; no final state). Diverged records keep their time and
      counters but have suboptimality, mean_suboptimality and consensus NaN.
      ``attrs["config"]`` is the sweep as JSON; ``attrs["num_devices"]`` is the
      number of devices the runs were sharded over.
    """
    grid = _check_grid(grid)
    seeds = _check_seeds(seeds)
    if not isinstance(max_batch, int) or max_batch < 1:
        raise ValueError(f"sweep: max_batch must be an integer >= 1; got {max_batch!r}.")
    if num_records < 1 or num_events < 1 or num_events % num_records:
        raise ValueError(
            f"sweep: num_events={num_events} must be a positive multiple of "
            f"num_records={num_records}."
        )
    if not divergence_factor > 0:
        raise ValueError(f"sweep: divergence_factor must be > 0; got {divergence_factor!r}.")
    events_per_chunk, records_per_chunk = chunk_sizes("sweep", num_events, num_records, num_chunks)
    if (checkpoint is not None or resume) and num_chunks == 1:
        raise ValueError("sweep: checkpoint and resume need num_chunks > 1.")
    hyper = {name: v for name, v in grid.items() if name not in RATE_AXES}
    _check_algorithm(algorithm, hyper)

    # Runs in C order over (*grid axes, seed): the flat outputs reshape straight into dims.
    shape = (*(len(v) for v in grid.values()), len(seeds))
    index = np.indices(shape).reshape(len(shape), -1)
    num_runs = index.shape[1]
    if key is not None and not jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.wrap_key_data(key)  # a legacy uint32 key
    keys = [jax.random.key(s) if key is None else jax.random.fold_in(key, s) for s in seeds]
    runs = {name: _canonical(v)[index[a]] for a, (name, v) in enumerate(grid.items())}
    rates = {name: runs.pop(name, np.ones(num_runs, _canonical(1.0).dtype)) for name in RATE_AXES}
    total = (
        np.sum(clocks.compute_rate) * rates["compute_rate"]
        + np.sum(clocks.comm_rate) * rates["comm_rate"]
    )
    if np.any(total <= 0):
        raise ValueError("sweep: some grid point sets every rate to zero; no event would happen.")
    batch = {
        "hyper": runs,
        **rates,
        "key_data": np.stack([np.asarray(jax.random.key_data(k)) for k in keys])[index[-1]],
    }

    devices = list(jax.devices() if devices is None else devices)
    mesh = jax.sharding.Mesh(np.array(devices), ("runs",))
    runs_sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("runs"))
    replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    d = len(devices)
    batch_size = max(d, min(max_batch, -(-num_runs // d) * d) // d * d)
    num_batches = -(-num_runs // batch_size)
    padded = np.minimum(np.arange(num_batches * batch_size), num_runs - 1)
    shared = _put((problem, clocks, None if x0 is None else _canonical(x0)), replicated)
    impl = str(jax.random.key_impl(keys[0]))
    fingerprint = dict(
        algorithm=_name(algorithm),
        grid={name: np.asarray(v).tolist() for name, v in grid.items()},
        seeds=list(seeds),
        key=None if key is None else np.asarray(jax.random.key_data(key)).tolist(),
        sizes=[num_events, num_records, num_chunks, batch_size],
        inputs_digest=inputs_digest((problem, clocks, x0)),
    )
    outputs = []
    for b in range(num_batches):  # dispatch is asynchronous: batches queue on the devices
        rows = padded[b * batch_size : (b + 1) * batch_size]
        inputs = _put(jax.tree.map(lambda a, rows=rows: a[rows], batch), runs_sharding)
        if num_chunks == 1:
            outputs.append(_run_batch(algorithm, impl, num_events, num_records, *shared, inputs))
            continue
        trace = _run_batch_in_chunks(
            algorithm,
            impl,
            events_per_chunk,
            records_per_chunk,
            *shared,
            inputs,
            num_chunks=num_chunks,
            fingerprint=dict(fingerprint, batch=b),
            checkpoint=None if checkpoint is None else f"{os.fspath(checkpoint)}.batch{b}",
            resume=resume,
            progress=progress,
        )
        outputs.append({m: getattr(trace, m) for m in METRICS})
    num_devices = len(inputs["key_data"].sharding.device_set)
    out = {m: np.concatenate([_to_host(o[m]) for o in outputs])[:num_runs] for m in METRICS}

    sub = out["suboptimality"]
    # In float64, so that a huge initial suboptimality cannot overflow the threshold.
    threshold = divergence_factor * np.maximum(sub[:, :1].astype(float), np.finfo(sub.dtype).tiny)
    bad = out["diverged"] | (sub > threshold)
    for name in _MASKED:
        bad |= ~np.isfinite(out[name])
    out["diverged"] = np.logical_or.accumulate(bad, axis=1)  # diverged stays diverged
    for name in _MASKED:
        out[name] = np.where(out["diverged"], np.nan, out[name]).astype(out[name].dtype)

    dims = (*grid, "seed", "record")
    coords = {name: np.asarray(v) for name, v in grid.items()}
    coords.update(seed=np.asarray(seeds, np.int64), record=np.arange(num_records + 1))
    config = dict(
        algorithm=_name(algorithm),
        grid={name: np.asarray(v).tolist() for name, v in grid.items()},
        seeds=list(seeds),
        key=None if key is None else np.asarray(jax.random.key_data(key)).tolist(),
        num_events=int(num_events),
        num_records=int(num_records),
        divergence_factor=float(divergence_factor),
        problem=type(problem).__name__,
        num_nodes=problem.num_nodes,
        num_edges=clocks.graph.num_edges,
        dim=problem.dim,
        x0=x0 is not None,
    )
    import jaxgossip  # here: jaxgossip/__init__ imports this module

    attrs = dict(config=json.dumps(config), jaxgossip_version=jaxgossip.__version__)
    attrs["num_devices"] = num_devices
    data = {m: (dims, out[m].reshape(*shape, num_records + 1)) for m in METRICS}
    return xr.Dataset(data, coords=coords, attrs=attrs)


@eqx.filter_jit
def _run_batch(algorithm, impl, num_events, num_records, problem, clocks, x0, batch):
    """Runs a batch of B runs: batch leaves (B, ...) -> metrics (B, num_records + 1)."""

    def run(inputs):
        trace = _simulate_run(
            algorithm,
            impl,
            problem,
            clocks,
            inputs,
            0,
            num_events=num_events,
            num_records=num_records,
            x0=x0,
        )
        return {m: getattr(trace, m) for m in METRICS}

    return jax.vmap(run)(batch)


def _simulate_run(algorithm, impl, problem, clocks, inputs, chunk, **kwargs):
    """``simulate`` of one run of a batch; chunk c > 0 (or traced) folds c into its key."""
    run_clocks = Clocks(
        clocks.graph,
        clocks.compute_rate * inputs["compute_rate"],
        clocks.comm_rate * inputs["comm_rate"],
    )
    key = jax.random.wrap_key_data(inputs["key_data"], impl=impl)
    if not isinstance(chunk, int):
        key = jax.random.fold_in(key, chunk)
    return simulate(key, algorithm(**inputs["hyper"]), problem, run_clocks, **kwargs)


def _run_batch_in_chunks(
    algorithm, impl, events_per_chunk, records_per_chunk, problem, clocks, x0, batch, **chunking
):
    """Runs a batch chunk by chunk through ``long_run.run_chunks``."""
    state = _init_batch(algorithm, problem, x0, batch)
    start_time = jnp.zeros(batch["key_data"].shape[:1], clocks.comm_rate.dtype)

    def run_chunk(chunk, state, start_time):
        return _run_batch_chunk(
            algorithm,
            impl,
            events_per_chunk,
            records_per_chunk,
            problem,
            clocks,
            batch,
            jnp.asarray(chunk, jnp.int32),
            state,
            start_time,
        )

    return run_chunks(
        run_chunk,
        state,
        start_time,
        events_per_chunk=events_per_chunk,
        num_runs=batch["key_data"].shape[0],
        **chunking,
    )


@eqx.filter_jit
def _init_batch(algorithm, problem, x0, batch):
    return jax.vmap(lambda hyper: init_state(algorithm(**hyper), problem, x0))(batch["hyper"])


@eqx.filter_jit
def _run_batch_chunk(
    algorithm,
    impl,
    events_per_chunk,
    records_per_chunk,
    problem,
    clocks,
    batch,
    chunk,
    state,
    start_time,
):
    """One chunk of every run of a batch, from its state and time: a batched ``Trace``."""

    def run(inputs, state, start_time):
        return _simulate_run(
            algorithm,
            impl,
            problem,
            clocks,
            inputs,
            chunk,
            num_events=events_per_chunk,
            num_records=records_per_chunk,
            initial_state=state,
            start_time=start_time,
        )

    return jax.vmap(run)(batch, state, start_time)


def _check_grid(grid) -> dict[str, np.ndarray]:
    checked = {}
    for name, values in (grid or {}).items():
        if not isinstance(name, str) or name in _RESERVED:
            raise ValueError(
                f"sweep: grid axis {name!r} is reserved or not a string; reserved: {_RESERVED}."
            )
        values = np.asarray(values)
        if values.ndim != 1 or values.size == 0:
            raise ValueError(
                f"sweep: grid[{name!r}] must be a non-empty 1-D sequence; got shape {values.shape}."
            )
        if values.dtype.kind not in "biuf":
            raise ValueError(f"sweep: grid[{name!r}] must be numeric; got dtype {values.dtype}.")
        if name in RATE_AXES and (not np.all(np.isfinite(values)) or np.any(values < 0)):
            raise ValueError(f"sweep: grid[{name!r}] multiplies rates: it must be finite, >= 0.")
        checked[name] = values
    return checked


def _check_seeds(seeds) -> list[int]:
    seeds = np.arange(seeds) if isinstance(seeds, (int, np.integer)) else np.asarray(seeds)
    if seeds.ndim != 1 or seeds.size == 0 or seeds.dtype.kind not in "iu" or np.any(seeds < 0):
        raise ValueError("sweep: seeds must be an int >= 1 or a non-empty 1-D list of ints >= 0.")
    return seeds.tolist()


def _check_algorithm(algorithm, hyper: dict[str, np.ndarray]) -> None:
    """Builds the algorithm once from the first grid values, to fail before compiling."""
    try:
        built = algorithm(**{name: v[0] for name, v in hyper.items()})
    except TypeError as error:
        if isinstance(algorithm, type) and dataclasses.is_dataclass(algorithm):
            valid = [f.name for f in dataclasses.fields(algorithm) if f.init]
        else:
            try:
                valid = list(inspect.signature(algorithm).parameters)
            except (TypeError, ValueError):
                valid = None
        unknown = [name for name in hyper if valid is not None and name not in valid]
        raise ValueError(
            f"sweep: cannot build {_name(algorithm)} from the grid"
            + (f": unknown hyperparameter(s) {unknown}" if unknown else "")
            + (f"; valid hyperparameters: {valid}" if valid is not None else "")
            + f" ({error})."
        ) from error
    if not isinstance(built, Algorithm):
        raise ValueError(f"sweep: {_name(algorithm)} returned {type(built).__name__}.")


def _name(algorithm) -> str:
    return getattr(algorithm, "__qualname__", None) or repr(algorithm)


def _canonical(values) -> np.ndarray:
    """A host array in the dtype JAX will use (float32 unless x64), not silently cast later."""
    values = np.asarray(values)
    return values.astype(jax.dtypes.canonicalize_dtype(values.dtype))


def _put(tree, sharding):
    """Places the array leaves of ``tree``; each process builds only its own shards."""

    def put(leaf):
        if not eqx.is_array(leaf):
            return leaf
        if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            return jax.device_put(leaf, sharding)
        host = np.asarray(leaf)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree.map(put, tree)


def _to_host(array) -> np.ndarray:
    if array.is_fully_addressable:
        return np.asarray(array)
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(array, tiled=True))


def _config_dims(ds) -> list[str]:
    return [d for d in ds["diverged"].dims if d not in ("seed", "record")]


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


def to_dataframe(ds: xr.Dataset):
    """Long form: one row per (grid point, seed, record), one column per axis and metric."""
    frame = ds.to_dataframe().reset_index()
    frame.attrs = dict(ds.attrs)
    return frame


def save_sweep(path, ds: xr.Dataset, *, overwrite: bool = False) -> None:
    """Writes ``ds`` to one ``.npz`` file, atomically and losslessly.

    Entries ``v<k>`` hold the variables (coordinates first); ``__metadata__``
    holds UTF-8 JSON with each variable's name, dims and attrs, and the
    Dataset's attrs. Readable with NumPy alone.

    Raises:
      FileExistsError: ``path`` exists and ``overwrite`` is False.
    """
    from jaxgossip.io import atomic_write

    path = os.fspath(path)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"save_sweep: {path!r} exists; pass overwrite=True to replace it.")
    arrays, entries = {}, []
    for kind, variables in (("coord", ds.coords), ("data", ds.data_vars)):
        for name, var in variables.items():
            if var.dtype == object:
                raise TypeError(f"save_sweep: {name!r} has object dtype, which needs pickle.")
            arrays[f"v{len(entries)}"] = var.values
            entries.append(dict(kind=kind, name=name, dims=list(var.dims), attrs=var.attrs))
    metadata = dict(format=_FORMAT, version=1, variables=entries, attrs=ds.attrs)
    text = json.dumps(metadata, default=lambda v: np.asarray(v).tolist())
    arrays["__metadata__"] = np.frombuffer(text.encode("utf-8"), np.uint8)
    atomic_write(path, lambda f: np.savez(f, **arrays), overwrite=overwrite)


def load_sweep(path) -> xr.Dataset:
    """Reads a file written by ``save_sweep``."""
    with np.load(os.fspath(path), allow_pickle=False) as data:
        if "__metadata__" not in data.files:
            raise ValueError(f"load_sweep: {path!r} is not a jaxgossip sweep file.")
        metadata = json.loads(data["__metadata__"].tobytes().decode("utf-8"))
        if metadata.get("format") != _FORMAT:
            raise ValueError(f"load_sweep: {path!r} is not a jaxgossip sweep file.")
        parts = {"coord": {}, "data": {}}
        for k, entry in enumerate(metadata["variables"]):
            variable = xr.Variable(entry["dims"], data[f"v{k}"], attrs=entry["attrs"])
            parts[entry["kind"]][entry["name"]] = variable
    return xr.Dataset(parts["data"], coords=parts["coord"], attrs=metadata["attrs"])
