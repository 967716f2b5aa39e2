"""Sweeps: grids of hyperparameters, rates and seeds run as batched, compiled calls.

The cartesian product of the grid's axes and the seeds is flattened into runs;
the runs go through one ``jax.jit(jax.vmap(...))`` of their engine in equal
batches (``simulate`` for an event-driven ``Algorithm``, ``simulate_rounds``
for a ``SyncAlgorithm``), sharded over every device along a ``"runs"`` mesh
axis, optionally in checkpointed chunks, and come back as one labelled
``xarray.Dataset`` whichever engine ran them. ``to_dataframe``, ``save_sweep``
and ``load_sweep`` convert and store it losslessly; the readers (``to_reach``,
``over_seeds``, ``best``, ``divergence_summary``) live in
``jaxgossip.study.analysis``.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import os

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from jaxgossip import distributed
from jaxgossip.algorithms.base import Algorithm, SyncAlgorithm
from jaxgossip.engine import fingerprint
from jaxgossip.engine.events import BATCHED_SCHEDULE, init_state, simulate
from jaxgossip.engine.long_run import check_checkpoint_path, chunk_sizes, run_budget, run_chunks
from jaxgossip.engine.rounds import init_round_state, simulate_rounds
from jaxgossip.engine.trace import RECORDED
from jaxgossip.io import CorruptFileError, atomic_write, read_npz
from jaxgossip.network.clocks import Clocks
from jaxgossip.study.analysis import mask_divergence, metric_goals
from jaxgossip.version import VERSION

RATE_AXES = ("compute_rate", "comm_rate")
METRICS = RECORDED
_RESERVED = ("seed", "record", *METRICS)
_FORMAT = "jaxgossip.sweep"


def sweep(
    algorithm,
    problem,
    network,
    *,
    num_events: int | None = None,
    num_rounds: int | None = None,
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
    """Runs every point of ``grid`` x ``seeds`` on its engine, batched and sharded.

    An ``Algorithm`` runs on the event engine (``simulate`` on ``Clocks``, a
    budget of ``num_events``); a ``SyncAlgorithm`` on the round engine
    (``simulate_rounds`` on a ``Mixing`` or ``TimeVaryingMixing``, a budget of
    ``num_rounds``). Both return the same Dataset.

    Args:
      algorithm: an ``Algorithm`` or ``SyncAlgorithm`` class, or any callable
        ``**hyperparameters -> algorithm`` (e.g. ``lambda step_size:
        EXTRA(step_size=step_size)``). It receives traced scalars, so
        hyperparameters must be array leaves.
      problem: the problem, shared by every run.
      network: for an ``Algorithm``, the base ``Clocks`` (graph, (n,) compute and
        (E,) communication rates); for a ``SyncAlgorithm``, the ``Mixing`` or
        ``TimeVaryingMixing``.
      num_events: events of every run of an ``Algorithm`` (as in ``simulate``).
      num_rounds: rounds of every run of a ``SyncAlgorithm`` (as in
        ``simulate_rounds``); give exactly the one the algorithm's engine counts.
      num_records: records after the initial one, for every run.
      grid: axis name -> 1-D numeric values; the product of all axes is swept.
        Names are keyword arguments of ``algorithm``, except ``compute_rate``
        and ``comm_rate`` (event engine only), whose values MULTIPLY the base
        clocks' rates: run rates are ``clocks.compute_rate * v`` and
        ``clocks.comm_rate * v``, so heterogeneous clocks keep their shape
        (with base rates 1, v is the rate).
      seeds: S, for seeds 0..S-1, or a sequence of non-negative ints. Seed s
        runs with ``jax.random.key(s)``, or ``jax.random.fold_in(key, s)``.
      max_batch: most runs per compiled call; every batch has the same size
        (the last is padded by repeating runs), so a sweep compiles once. Runs
        that share a seed and rates share their events and are batched together
        (drawn and indexed once) when a batch can hold whole groups of them.
        The compiled call is cached on the algorithm object and the shapes: a
        later sweep with the same class and batch size reuses it, a new lambda
        compiles again.
      x0: optional initial point, (dim,) or (num_nodes, dim), for every run.
      divergence_factor: a record is diverged once the engine flags a
        non-finite state or suboptimality exceeds this factor times the initial
        one (``analysis.mask_divergence``).
      key: optional base key for the seeds.
      devices: devices to shard the batch axis over; all of ``jax.devices()``
        by default. On many devices the batch is rounded to a multiple of their
        number (possibly above ``max_batch``). Multi-host: after
        ``jax.distributed.initialize()`` every process calls ``sweep`` with
        identical arguments (built identically on every host, same seeds); each
        sees all global devices, builds only its own shards, and gets the full Dataset.
      num_chunks: split every run into this many chunks, as
        ``simulate_in_chunks`` does: on the event engine chunk c of a run uses
        ``fold_in(run_key, c)``, so a chunked sweep equals chunked single runs,
        not unchunked ones; on the round engine a chunked run equals the
        unchunked one. Between chunks the sweep can show progress and write
        checkpoints.
      checkpoint: with num_chunks > 1, a path prefix; batch b is checkpointed
        atomically to ``f"{checkpoint}.batch{b}"`` after each of its chunks.
        Its folder must exist (checked before any work).
      resume: continue from existing checkpoints of the same sweep; the result
        is bit for bit that of an uninterrupted sweep. A checkpoint of another
        sweep (any algorithm built for the grid, problem, network, x0, key,
        grid, seeds, sizes, batch layout, x64 flag or version differing) raises
        a ValueError naming what differs; a truncated or corrupt one raises
        ``io.CorruptFileError``.
      progress: show a progress bar per batch (tqdm, on stderr) between chunks.

    Returns:
      A Dataset with dims (*grid axes in order, "seed", "record"), coordinates
      the axis values, ``record`` 0..num_records, and what the runs recorded
      (``Trace.records()``: the counters, consensus and the problem's metrics,
      e.g. suboptimality or test_accuracy; no final state). Diverged records
      keep their time and counters but have every metric NaN.
      ``attrs["metric_goals"]`` (JSON) says whether each metric is to be
      minimized or maximized.
      ``attrs["config"]`` is the sweep as JSON (with ``engine``, and
      ``num_events`` or ``num_rounds``); ``attrs["suboptimality_floor"]`` is
      a convex problem's (``to_reach`` warns for targets at or below it);
      ``attrs["num_devices"]`` is the number of devices the runs were sharded over.
    """
    grid = _check_grid(grid)
    seeds = _check_seeds(seeds)
    if not isinstance(max_batch, int) or max_batch < 1:
        raise ValueError(f"sweep: max_batch must be an integer >= 1; got {max_batch!r}.")
    if not divergence_factor > 0:
        raise ValueError(f"sweep: divergence_factor must be > 0; got {divergence_factor!r}.")
    hyper = {name: v for name, v in grid.items() if name not in RATE_AXES}
    built = _check_algorithm(algorithm, hyper)
    unit, num_steps = run_budget("sweep", built, network, num_events, num_rounds)
    if unit == "rounds" and set(grid) & set(RATE_AXES):
        raise ValueError(
            f"sweep: {sorted(set(grid) & set(RATE_AXES))} scale Poisson clocks; a synchronous "
            f"method ({type(built).__name__}) runs in rounds and has no rates to sweep."
        )
    if num_records < 1 or num_steps < 1 or num_steps % num_records:
        raise ValueError(
            f"sweep: num_{unit}={num_steps} must be a positive multiple of "
            f"num_records={num_records}."
        )
    steps_per_chunk, records_per_chunk = chunk_sizes(
        "sweep", num_steps, num_records, num_chunks, unit
    )
    if (checkpoint is not None or resume) and num_chunks == 1:
        raise ValueError("sweep: checkpoint and resume need num_chunks > 1.")
    if resume and checkpoint is None:
        raise ValueError("sweep: resume=True needs a checkpoint path prefix.")
    if checkpoint is not None:
        check_checkpoint_path("sweep", _batch_path(checkpoint, 0))

    # Runs in C order over (*grid axes, seed): the flat outputs reshape straight into dims.
    shape = (*(len(v) for v in grid.values()), len(seeds))
    if key is not None and not jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.wrap_key_data(key)  # a legacy uint32 key
    keys = [jax.random.key(s) if key is None else jax.random.fold_in(key, s) for s in seeds]
    batch = _runs(grid, keys, shape, network if unit == "events" else None)

    devices = list(jax.devices() if devices is None else devices)
    mesh = jax.sharding.Mesh(np.array(devices), ("runs",))
    runs_sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("runs"))
    replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    num_runs = int(np.prod(shape))
    layout = _layout(grid, shape, max_batch, len(devices))
    batch_size, num_batches, group_size, order = (
        layout[k] for k in ("batch_size", "num_batches", "group_size", "order")
    )
    shared = _put((problem, network, None if x0 is None else _canonical(x0)), replicated)
    impl = str(jax.random.key_impl(keys[0]))
    config = dict(
        algorithm=_name(algorithm),
        engine=unit,
        grid={name: np.asarray(v).tolist() for name, v in grid.items()},
        seeds=list(seeds),
        key=None if key is None else np.asarray(jax.random.key_data(key)).tolist(),
    )
    expected = None
    if checkpoint is not None or distributed.is_multiprocess():
        expected = _fingerprint(
            algorithm, built, hyper, problem, network, x0, config, batch,
            **{f"num_{unit}": num_steps}, num_records=num_records, num_chunks=num_chunks,
            batch_size=batch_size, num_batches=num_batches, group_size=group_size,
        )  # fmt: skip
    if distributed.is_multiprocess():  # before any collective: an error, not a hang
        parts = _agreed(expected, config, checkpoint, num_batches, resume, devices)
        distributed.agree("sweep", parts)
    progress = progress and distributed.is_writer()
    advice = (
        "Restart every process with resume=True to continue from the checkpoints."
        if checkpoint
        else ""
    )
    with distributed.peers_lost("sweep", advice):
        outputs = []
        for b in range(num_batches):  # dispatch is asynchronous: batches queue on the devices
            rows = order[b * batch_size : (b + 1) * batch_size]
            inputs = _put(jax.tree.map(lambda a, rows=rows: a[rows], batch), runs_sharding)
            if num_chunks == 1:
                outputs.append(
                    _run_batch(algorithm, impl, num_steps, num_records, *shared, inputs, group_size)
                )
                continue
            batch_fingerprint = (
                None if expected is None else _batch_fingerprint(expected, b, rows, batch)
            )
            trace = _run_batch_in_chunks(
                algorithm,
                impl,
                steps_per_chunk,
                records_per_chunk,
                *shared,
                inputs,
                group_size,
                unit=unit,
                num_chunks=num_chunks,
                fingerprint=batch_fingerprint,
                checkpoint=None if checkpoint is None else _batch_path(checkpoint, b),
                resume=resume,
                progress=progress,
                label=f"batch {b + 1}/{num_batches}, ",
                place=lambda trace: _put(trace, runs_sharding),
            )
            outputs.append(trace.records())
        num_devices = len(inputs["key_data"].sharding.device_set)
        host = distributed.to_host(outputs)  # a collective across processes
    out = {}
    for m in host[0]:  # batches hold the runs in ``order``: put each back at its index
        out[m] = np.empty((num_runs, *host[0][m].shape[1:]), host[0][m].dtype)
        out[m][order[:num_runs]] = np.concatenate([o[m] for o in host])[:num_runs]
    out = mask_divergence(out, divergence_factor)

    dims = (*grid, "seed", "record")
    coords = {name: np.asarray(v) for name, v in grid.items()}
    coords.update(seed=np.asarray(seeds, np.int64), record=np.arange(num_records + 1))
    config.update(
        {f"num_{unit}": int(num_steps)},
        num_records=int(num_records),
        divergence_factor=float(divergence_factor),
        problem=type(problem).__name__,
        num_nodes=problem.num_nodes,
        num_edges=network.graph.num_edges,
        dim=problem.dim,
        x0=x0 is not None,
    )
    attrs = dict(
        config=json.dumps(config),
        jaxgossip_version=VERSION,
        num_devices=num_devices,
        # For to_reach: which way each metric improves.
        metric_goals=json.dumps(metric_goals(problem)),
    )
    if problem.convex:  # for to_reach's PrecisionWarning: the smallest f - f* the run resolves
        attrs["suboptimality_floor"] = problem.suboptimality_floor()
    data = {m: (dims, out[m].reshape(*shape, num_records + 1)) for m in out}
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _batch_path(prefix, b: int) -> str:
    return f"{os.fspath(prefix)}.batch{b}"


def _fingerprint(algorithm, built, hyper, problem, network, x0, config, batch, **sizes) -> dict:
    """What every batch checkpoint of this sweep must match (``engine.fingerprint``).

    The algorithm part digests the algorithms actually built for every run, so
    a factory that fixes a hyperparameter (``lambda step_size: M(step_size,
    momentum=0.9)``) differs from one that fixes another value.
    """
    if hyper:
        built = eqx.filter_vmap(lambda h: algorithm(**h))(batch["hyper"])
    return fingerprint.parts(
        engine=config["engine"],
        algorithm=built,
        problem=problem,
        network=network,
        x0=x0,
        key=config["key"],
        grid=config["grid"],
        seeds=config["seeds"],
        **sizes,
    )


def _agreed(expected: dict, config: dict, checkpoint, num_batches, resume, devices) -> dict:
    """What every process of a multi-process sweep must share: the sweep's fingerprint
    (with the grid and seeds as plain values, for the error to show them), the
    devices, and with ``resume`` the checkpoints each process sees (a digest per
    batch file, or None), since all must resume from the same chunk."""
    parts = dict(expected, grid=config["grid"], seeds=config["seeds"], resume=resume)
    parts["devices"] = [device.id for device in devices]
    if resume:
        parts["checkpoints"] = [
            fingerprint.file_digest(_batch_path(checkpoint, b)) for b in range(num_batches)
        ]
    return parts


def _batch_fingerprint(expected: dict, b: int, rows, batch: dict) -> dict:
    """The sweep's fingerprint and batch b's own: its index and every run's inputs."""
    inputs = jax.tree.map(lambda a: a[rows], batch)
    return dict(expected, batch=b, batch_inputs=fingerprint.digest((rows, inputs)))


def _layout(grid: dict, shape: tuple, max_batch: int, num_devices: int) -> dict:
    """How the runs are cut into equal batches: sizes and the order runs take in them.

    Runs that differ only in hyperparameters (not in seed or rates) see the
    same events. When a batch can hold whole groups of them, ``order`` puts
    each group's ``group_size`` runs next to each other and the batch runs a
    vmap over groups of a vmap over their hyperparameters, whose events are
    then drawn and indexed once per group instead of once per run (in
    ``benchmarks/batched.py`` 2-4x the event-runs per second of independent
    runs). Otherwise (``group_size`` None) runs keep C order over (*grid,
    seed). The last batch is padded by repeating the last group, or run.
    """
    num_runs = int(np.prod(shape))
    d = num_devices
    hyper_axes = [a for a, name in enumerate(grid) if name not in RATE_AXES]
    group_size = int(np.prod([shape[a] for a in hyper_axes]))
    unit = group_size * d // math.gcd(group_size, d)  # a batch holds whole groups on d devices
    if group_size > 1 and unit <= max(max_batch, d):
        batch_size = unit * max(1, min(max_batch // unit, -(-num_runs // unit)))
        num_batches = -(-num_runs // batch_size)
        # Each group's runs last: (*rate axes, seed, *hyper axes), groups in C order.
        event_axes = [a for a in range(len(shape)) if a not in hyper_axes]
        grouped = np.arange(num_runs).reshape(shape).transpose(*event_axes, *hyper_axes).ravel()
        last_group = grouped[-group_size:]
        padding = num_batches * batch_size - num_runs  # a multiple of group_size
        order = np.concatenate([grouped, np.tile(last_group, padding // group_size)])
        return dict(
            batch_size=batch_size, num_batches=num_batches, group_size=group_size, order=order
        )
    batch_size = max(d, min(max_batch, -(-num_runs // d) * d) // d * d)
    num_batches = -(-num_runs // batch_size)
    order = np.minimum(np.arange(num_batches * batch_size), num_runs - 1)
    return dict(batch_size=batch_size, num_batches=num_batches, group_size=None, order=order)


def _grouped(run, group_size):
    """``run`` (inputs, *per-run arrays) -> out, vmapped over a batch.

    With ``group_size``, the batch's runs come in groups that share key and
    rates (``_layout``): a vmap over groups of a vmap over the group's
    hyperparameters and per-run arrays, with the group's key and rates
    unbatched, so its events are drawn and indexed once.
    """
    if group_size is None:
        return jax.vmap(run)

    def batched(inputs, *per_run):
        def group(inputs, *per_run):
            shared = {k: v[0] for k, v in inputs.items() if k != "hyper"}
            return jax.vmap(lambda hyper, *rest: run({**shared, "hyper": hyper}, *rest))(
                inputs["hyper"], *per_run
            )

        split = lambda a: a.reshape(-1, group_size, *a.shape[1:])  # noqa: E731
        out = jax.vmap(group)(*jax.tree.map(split, (inputs, *per_run)))
        return jax.tree.map(lambda a: a.reshape(-1, *a.shape[2:]), out)

    return batched


def _runs(grid: dict, keys: list, shape: tuple, clocks) -> dict:
    """The flat per-run inputs (num_runs, ...): hyperparameters, rate factors, key data.

    ``clocks`` is None on the round engine, which has no rates.
    """
    index = np.indices(shape).reshape(len(shape), -1)
    num_runs = index.shape[1]
    runs = {name: _canonical(v)[index[a]] for a, (name, v) in enumerate(grid.items())}
    batch = {"key_data": np.stack([np.asarray(jax.random.key_data(k)) for k in keys])[index[-1]]}
    if clocks is not None:
        for name in RATE_AXES:
            batch[name] = runs.pop(name, np.ones(num_runs, _canonical(1.0).dtype))
        total = (
            np.sum(clocks.compute_rate) * batch["compute_rate"]
            + np.sum(clocks.comm_rate) * batch["comm_rate"]
        )
        if np.any(total <= 0):
            raise ValueError(
                "sweep: some grid point sets every rate to zero; no event would happen."
            )
    batch["hyper"] = runs
    return batch


@eqx.filter_jit
def _run_batch(algorithm, impl, num_steps, num_records, problem, network, x0, batch, group_size):
    """Runs a batch of B runs: batch leaves (B, ...) -> metrics (B, num_records + 1)."""

    def run(inputs):
        trace = _simulate_run(
            algorithm, impl, problem, network, inputs, num_steps, num_records, x0=x0
        )
        return trace.records()

    return _grouped(run, group_size)(batch)


def _simulate_run(
    algorithm, impl, problem, network, inputs, num_steps, num_records, *, x0=None, chunk=None,
    state=None, start_time=0.0,
):  # fmt: skip
    """One run of a batch on its engine: the one place where the two engines differ.

    Unchunked (``chunk`` None) it is ``simulate`` or ``simulate_rounds`` of the
    run's key. Chunk c (traced) of a chunked run continues ``state``: on the
    event engine with key ``fold_in(run_key, c)`` from ``start_time``, on the
    round engine with the run's key from round ``c * num_steps``.
    """
    built = algorithm(**inputs["hyper"])
    key = jax.random.wrap_key_data(inputs["key_data"], impl=impl)
    if isinstance(built, SyncAlgorithm):
        start_round = 0 if chunk is None else chunk * num_steps
        return simulate_rounds(
            key, built, problem, network, num_rounds=num_steps, num_records=num_records,
            x0=x0, initial_state=state, start_round=start_round,
        )  # fmt: skip
    run_clocks = Clocks(
        network.graph,
        network.compute_rate * inputs["compute_rate"],
        network.comm_rate * inputs["comm_rate"],
    )
    if chunk is not None:
        key = jax.random.fold_in(key, chunk)
    return simulate(
        key, built, problem, run_clocks, num_events=num_steps, num_records=num_records,
        x0=x0, initial_state=state, start_time=start_time,
        schedule=BATCHED_SCHEDULE,
    )  # fmt: skip


def _run_batch_in_chunks(
    algorithm, impl, steps_per_chunk, records_per_chunk, problem, network, x0, batch, group_size,
    *, unit, **chunking,
):  # fmt: skip
    """Runs a batch chunk by chunk through ``long_run.run_chunks``."""
    state = _init_batch(algorithm, impl, problem, network, x0, batch)
    time_dtype = network.comm_rate.dtype if unit == "events" else problem.dtype
    start_time = jnp.zeros(batch["key_data"].shape[:1], time_dtype)

    def run_chunk(chunk, state, start_time):
        return _run_batch_chunk(
            algorithm,
            impl,
            steps_per_chunk,
            records_per_chunk,
            problem,
            network,
            batch,
            group_size,
            jnp.asarray(chunk, jnp.int32),
            state,
            start_time,
        )

    return run_chunks(
        run_chunk,
        state,
        start_time,
        steps_per_chunk=steps_per_chunk,
        unit=unit,
        num_runs=batch["key_data"].shape[0],
        **chunking,
    )


@eqx.filter_jit
def _init_batch(algorithm, impl, problem, network, x0, batch):
    """Every run's initial network state, leaves (B, n, ...), as its engine builds it."""

    def init(inputs):
        built = algorithm(**inputs["hyper"])
        if isinstance(built, SyncAlgorithm):
            key = jax.random.wrap_key_data(inputs["key_data"], impl=impl)
            return init_round_state(key, built, problem, network, x0)
        return init_state(built, problem, x0)

    return jax.vmap(init)(batch)


@eqx.filter_jit
def _run_batch_chunk(
    algorithm, impl, steps_per_chunk, records_per_chunk, problem, network, batch, group_size,
    chunk, state, start_time,
):  # fmt: skip
    """One chunk of every run of a batch, from its state and time: a batched ``Trace``."""

    def run(inputs, state, start_time):
        return _simulate_run(
            algorithm, impl, problem, network, inputs, steps_per_chunk, records_per_chunk,
            chunk=chunk, state=state, start_time=start_time,
        )  # fmt: skip

    return _grouped(run, group_size)(batch, state, start_time)


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


def _check_algorithm(algorithm, hyper: dict[str, np.ndarray]):
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
    if not isinstance(built, (Algorithm, SyncAlgorithm)):
        raise ValueError(
            f"sweep: {_name(algorithm)} returned {type(built).__name__}, "
            "neither an Algorithm nor a SyncAlgorithm."
        )
    return built


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

    Under ``jax.distributed`` only process 0 writes (``distributed.is_writer``);
    on the others this does nothing.

    Raises:
      FileExistsError: ``path`` exists and ``overwrite`` is False.
    """
    path = os.fspath(path)
    if not distributed.is_writer():
        return
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
    """Reads a file written by ``save_sweep``.

    Raises:
      io.CorruptFileError: the file is truncated or damaged.
      ValueError: the file is not a jaxgossip sweep file.
    """
    path = os.fspath(path)
    data, metadata = read_npz("load_sweep", path)
    if not isinstance(metadata, dict) or metadata.get("format") != _FORMAT:
        raise ValueError(f"load_sweep: {path!r} is not a jaxgossip sweep file.")
    parts = {"coord": {}, "data": {}}
    try:
        for k, entry in enumerate(metadata["variables"]):
            variable = xr.Variable(entry["dims"], data[f"v{k}"], attrs=entry["attrs"])
            parts[entry["kind"]][entry["name"]] = variable
        return xr.Dataset(parts["data"], coords=parts["coord"], attrs=metadata["attrs"])
    except (KeyError, TypeError, ValueError) as error:
        raise CorruptFileError(
            f"load_sweep: {path!r} is corrupt: its metadata does not match its arrays "
            f"({type(error).__name__}: {error})."
        ) from error
