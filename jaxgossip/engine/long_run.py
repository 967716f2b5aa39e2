"""Long runs in chunks: progress, atomic checkpoints, and exact resumption.

A run is cut into ``num_chunks`` calls of its engine, each starting from the
previous chunk's final state; between chunks the run reports progress and may
write a checkpoint, and resuming from it replays the remaining chunks exactly
as an uninterrupted run would, so the two results are bit for bit equal.

- Asynchronous (an ``Algorithm`` on ``Clocks``, ``num_events``): chunk c calls
  ``simulate`` with ``jax.random.fold_in(key, c)`` from the previous chunk's
  last time. The chunked run is its own reproducible run: it differs from one
  ``simulate`` call of the same key (whose events are drawn otherwise).
- Synchronous (a ``SyncAlgorithm`` on a ``Mixing`` or ``TimeVaryingMixing``,
  ``num_rounds``): chunk c calls ``simulate_rounds`` with the same key from
  round ``c * num_rounds / num_chunks`` (``start_round``), so the chunked run
  equals one ``simulate_rounds`` call of all the rounds, bit for bit.

A checkpoint holds the trace so far and the run's fingerprint
(``engine.fingerprint``: exact digests of every input, the sizes, the x64 flag
and the library version); it is resumed only by the run it describes, and a
checkpoint that cannot be read raises ``io.CorruptFileError``, never a wrong
result.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from jaxgossip import distributed, io
from jaxgossip.algorithms.base import SyncAlgorithm
from jaxgossip.engine import fingerprint
from jaxgossip.engine.events import init_state, simulate
from jaxgossip.engine.rounds import init_round_state, simulate_rounds
from jaxgossip.engine.trace import RECORDED, Trace
from jaxgossip.network.clocks import Clocks
from jaxgossip.network.mixing import Mixing, TimeVaryingMixing

_CUMULATIVE = ("num_computations", "num_communications", "bytes_sent")


def append_traces(done: Trace | None, chunk: Trace) -> Trace:
    """Stitches a chunk's trace after the records so far (record axis last)."""
    if done is None:
        return chunk

    def stitch(name, previous, new):
        # On the host: the records grow every chunk, and eager jnp operations on a
        # new shape each compile (about 3 compiles per field per chunk, most of a
        # 100-phase time-varying run's 27 s). A sharded or traced one stays in jnp.
        on_host = all(
            not isinstance(a, jax.core.Tracer) and getattr(a, "is_fully_addressable", True)
            for a in (previous, new)
        )
        xp = np if on_host else jnp
        previous, new = xp.asarray(previous), xp.asarray(new)[..., 1:]
        if name in _CUMULATIVE:
            new = new + previous[..., -1:]  # chunk counters restart at zero
        elif name == "diverged":
            new = new | previous[..., -1:]
        stitched = xp.concatenate([previous, new], axis=-1)
        return jax.device_put(stitched) if on_host else stitched  # jnp.asarray compiles

    fields = {}
    for name in RECORDED:
        previous, new = getattr(done, name), getattr(chunk, name)
        fields[name] = None if previous is None else stitch(name, previous, new)
    fields["metrics"] = {
        name: stitch(name, value, chunk.metrics[name]) for name, value in done.metrics.items()
    }
    return Trace(**fields, final_state=chunk.final_state)


def chunk_sizes(caller: str, num_steps: int, num_records: int, num_chunks: int, unit="events"):
    """(steps, records) per chunk; a ValueError naming ``caller`` unless both divide.

    ``unit`` names the steps in the message: ``"events"`` or ``"rounds"``.
    """
    if num_chunks < 1 or num_steps % num_chunks or num_records % num_chunks:
        raise ValueError(
            f"{caller}: num_{unit}={num_steps} and num_records={num_records} must "
            f"both be multiples of num_chunks={num_chunks}."
        )
    return num_steps // num_chunks, num_records // num_chunks


def run_budget(caller: str, algorithm, network, num_events, num_rounds) -> tuple[str, int]:
    """The engine that runs ``algorithm`` and its budget: ("events", E) or ("rounds", R).

    An ``Algorithm`` runs on the event engine: ``network`` must be ``Clocks``
    and the budget ``num_events``. A ``SyncAlgorithm`` runs on the round
    engine: ``network`` must be a ``Mixing`` or ``TimeVaryingMixing`` and the
    budget ``num_rounds``. ValueErrors naming ``caller`` say which is wrong.
    """
    if isinstance(algorithm, SyncAlgorithm):
        unit, budget, other, kinds = "rounds", num_rounds, num_events, (Mixing, TimeVaryingMixing)
        expected = "a Mixing or TimeVaryingMixing"
    else:
        unit, budget, other, kinds = "events", num_events, num_rounds, (Clocks,)
        expected = "Clocks"
    name = type(algorithm).__name__
    wrong = "num_events" if unit == "rounds" else "num_rounds"
    if other is not None:
        raise ValueError(
            f"{caller}: {name} runs on the {'round' if unit == 'rounds' else 'event'} engine, "
            f"whose budget is num_{unit}, not {wrong}."
        )
    if budget is None:
        raise ValueError(f"{caller}: {name} needs num_{unit}=.")
    if not isinstance(network, kinds):
        raise ValueError(
            f"{caller}: {name} needs {expected} as its network; got {type(network).__name__}."
        )
    return unit, budget


def run_fingerprint(key, algorithm, problem, network, x0, state, start_time, unit, **sizes) -> dict:
    """What a checkpoint of ``simulate_in_chunks`` must match: every input, exactly.

    ``sizes`` are the budget and chunking (``num_events`` or ``num_rounds``,
    ``num_records``, ``num_chunks``); ``state`` is the initial network state.
    """
    return fingerprint.parts(
        engine=unit,
        algorithm=algorithm,
        problem=problem,
        network=network,
        key=key,
        x0=x0,
        initial_state=state,
        start_time=start_time,
        **sizes,
    )


def check_checkpoint_path(caller: str, path) -> None:
    """Fails before any work if checkpoint ``path`` cannot be written (no folder, read-only)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"{caller}: the folder {directory!r} of checkpoint {path!r} does not exist; "
            "create it or choose another checkpoint path."
        )
    if os.path.isdir(path):
        raise IsADirectoryError(f"{caller}: checkpoint {path!r} is a folder; give a file path.")
    if not os.access(directory, os.W_OK):
        raise PermissionError(
            f"{caller}: cannot write checkpoint {path!r}: its folder {directory!r} is read-only."
        )


def load_checkpoint(path, expected: dict, state, num_chunks: int) -> tuple[Trace, int]:
    """The trace so far and the chunks done, from a checkpoint of the run ``expected`` describes.

    Raises:
      io.CorruptFileError: the file is truncated or corrupt, or not a checkpoint
        of a run of this shape (``state``, ``num_chunks``).
      ValueError: the checkpoint comes from another run; the message names
        every fingerprint part that differs.
    """
    path = os.fspath(path)
    fix = "Delete it or pass resume=False to start over."
    try:
        traces, config = io.load_traces(path)
    except ValueError as error:  # CorruptFileError, or a file save_traces did not write
        message = f"checkpoint {path!r} cannot be resumed: {error} {fix}"
        raise io.CorruptFileError(message) from error
    if not isinstance(config, dict) or "run" not in traces:
        raise io.CorruptFileError(f"checkpoint {path!r} is not a checkpoint of a run. {fix}")
    fingerprint.check_resumable(path, config.get("fingerprint"), expected)
    chunks_done = config.get("chunks_done")
    done = jax.tree.map(jnp.asarray, traces["run"])
    shapes = [[(a.shape, a.dtype) for a in jax.tree.leaves(s)] for s in (state, done.final_state)]
    if (
        not isinstance(chunks_done, int)
        or not 1 <= chunks_done <= num_chunks
        or jax.tree.structure(state) != jax.tree.structure(done.final_state)
        or shapes[0] != shapes[1]
    ):
        raise io.CorruptFileError(
            f"checkpoint {path!r} has this run's fingerprint but not its shape "
            f"(chunks done: {chunks_done!r} of {num_chunks}, or another state). {fix}"
        )
    return done, chunks_done


def simulate_in_chunks(
    key,
    algorithm,
    problem,
    network,
    *,
    num_events: int | None = None,
    num_rounds: int | None = None,
    num_records: int,
    num_chunks: int,
    x0=None,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
    on_chunk: Callable[[int, Trace], None] | None = None,
) -> Trace:
    """Runs ``simulate`` or ``simulate_rounds`` in chunks, with progress, checkpoints, resumption.

    Args:
      key, algorithm, problem, x0: as for ``simulate`` (an ``Algorithm``) or
        ``simulate_rounds`` (a ``SyncAlgorithm``).
      network: ``Clocks`` for an ``Algorithm``; a ``Mixing`` or
        ``TimeVaryingMixing`` for a ``SyncAlgorithm``.
      num_events: total events of an ``Algorithm``, divisible by ``num_chunks``.
      num_rounds: total rounds of a ``SyncAlgorithm``, divisible by ``num_chunks``
        (give exactly the one of the two that the algorithm's engine counts).
      num_records: total records after the initial one, divisible by ``num_chunks``.
      num_chunks: number of engine calls (all share one compilation).
      checkpoint: a file rewritten atomically after every chunk (None: no checkpoint).
      resume: continue from ``checkpoint`` if it exists; it must come from
        this very run: the same key, algorithm (class and every leaf), problem,
        network, ``x0`` and initial state, sizes, x64 flag and jaxgossip version
        (``fingerprint``).
      progress: show a progress bar (tqdm, on stderr): events or rounds done,
        their rate, the time left.
      on_chunk: called as ``on_chunk(chunks_done, trace_so_far)`` after each
        chunk and its checkpoint.

    Returns:
      A ``Trace`` of num_records + 1 records. For a ``SyncAlgorithm`` it equals
      ``simulate_rounds(key, ..., num_rounds=num_rounds, num_records=num_records)``
      bit for bit; for an ``Algorithm`` it is its own run (module docstring).

    Raises:
      FileNotFoundError: the checkpoint's folder does not exist (checked first).
      ValueError: ``resume`` and a checkpoint of another run; the message
        names every part that differs.
      io.CorruptFileError: ``resume`` and a truncated or corrupt checkpoint.
    """
    caller = "simulate_in_chunks"
    if resume and checkpoint is None:
        raise ValueError(f"{caller}: resume=True needs a checkpoint path.")
    if checkpoint is not None:
        check_checkpoint_path(caller, checkpoint)
    unit, num_steps = run_budget(caller, algorithm, network, num_events, num_rounds)
    steps_per_chunk, records_per_chunk = chunk_sizes(
        caller, num_steps, num_records, num_chunks, unit
    )
    if unit == "rounds":
        state = init_round_state(key, algorithm, problem, network, x0)
        start_time = jnp.zeros((), problem.dtype)

        def run_chunk(c, state, start_time):
            del start_time  # the rounds done: c * steps_per_chunk
            return simulate_rounds(
                key,
                algorithm,
                problem,
                network,
                num_rounds=steps_per_chunk,
                num_records=records_per_chunk,
                initial_state=state,
                start_round=jnp.asarray(c * steps_per_chunk, jnp.int32),
            )

    else:
        state = init_state(algorithm, problem, x0)
        start_time = jnp.zeros((), network.comm_rate.dtype)

        def run_chunk(c, state, start_time):
            return simulate(
                jax.random.fold_in(key, c),
                algorithm,
                problem,
                network,
                num_events=steps_per_chunk,
                num_records=records_per_chunk,
                initial_state=state,
                start_time=start_time,
            )

    expected = None  # digesting every input costs a pass over them: only for a checkpoint
    if checkpoint is not None:
        sizes = {f"num_{unit}": num_steps, "num_records": num_records, "num_chunks": num_chunks}
        expected = run_fingerprint(
            key, algorithm, problem, network, x0, state, start_time, unit, **sizes
        )
    return run_chunks(
        run_chunk,
        state,
        start_time,
        num_chunks=num_chunks,
        steps_per_chunk=steps_per_chunk,
        unit=unit,
        fingerprint=expected,
        checkpoint=checkpoint,
        resume=resume,
        progress=progress,
        on_chunk=on_chunk,
    )


def run_chunks(
    run_chunk: Callable[[int, object, jax.Array], Trace],
    state,
    start_time,
    *,
    num_chunks: int,
    steps_per_chunk: int,
    fingerprint: dict | None = None,
    unit: str = "events",
    num_runs: int = 1,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
    label: str = "",
    on_chunk: Callable[[int, Trace], None] | None = None,
    place: Callable | None = None,
) -> Trace:
    """Drives chunked runs, single or batched: stitching, checkpoints, resumption, progress.

    Args:
      run_chunk: ``(chunk_index, state, start_time) -> Trace`` running one chunk
        from ``state`` at ``start_time`` (the last time so far); its trace may
        carry leading batch axes (records are on the last axis), as from a
        vmapped ``simulate`` or ``simulate_rounds``.
      state: the initial network state (batched like ``run_chunk``'s).
      start_time: initial simulated time, () or batched.
      num_chunks: how many chunks to run.
      steps_per_chunk: events or rounds of one chunk of one run (for the progress bar).
      fingerprint: what a checkpoint must match to be resumed, from
        ``fingerprint.parts`` (needed with a checkpoint).
      unit: what a step is, ``"events"`` or ``"rounds"`` (for the progress bar).
      num_runs: runs in the batch (for the progress bar's counts).
      checkpoint, resume, progress, on_chunk: as for ``simulate_in_chunks``.
      label: text before the progress bar's chunk count (e.g. the batch).
      place: puts a resumed checkpoint's trace (host arrays) where the runs
        live, e.g. sharded over the batch axis; by default on the default device.

    Under ``jax.distributed`` every process calls this with the same arguments:
    a checkpoint is gathered on all of them and written by process 0 only
    (``distributed.is_writer``), and on resume every process reads it, so its
    folder must be shared.

    Returns:
      The stitched ``Trace``.
    """
    if resume and checkpoint is None:
        raise ValueError("resume=True needs a checkpoint path.")
    if checkpoint is not None:
        check_checkpoint_path("run_chunks", checkpoint)
        if fingerprint is None:
            raise ValueError("run_chunks: a checkpoint needs the run's fingerprint.")
    done, first_chunk = None, 0
    if resume and os.path.exists(checkpoint):
        done, first_chunk = load_checkpoint(checkpoint, fingerprint, state, num_chunks)
        if place is not None:
            done = place(done)
        state, start_time = done.final_state, done.time[..., -1]

    steps_per_chunk *= num_runs
    bar = tqdm(
        total=num_chunks * steps_per_chunk,
        initial=first_chunk * steps_per_chunk,
        desc=f"{label}chunk {first_chunk}/{num_chunks}",
        unit=f" {unit}",
        unit_scale=num_chunks * steps_per_chunk >= 100_000,  # 1.20M, not 1200000; 1200, not 1.20k
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}{unit} "
        "[{elapsed}<{remaining}, {rate_fmt}]",
        mininterval=0,  # a chunk is long: show every one
        file=sys.stderr,
        disable=not progress,
    )
    with bar:
        for c in range(first_chunk, num_chunks):
            done = append_traces(done, run_chunk(c, state, start_time))
            state, start_time = done.final_state, done.time[..., -1]
            if checkpoint is not None:
                config = dict(fingerprint=fingerprint, chunks_done=c + 1)
                host = distributed.to_host(done)  # a collective across processes
                if distributed.is_writer():
                    io.save_traces(checkpoint, {"run": host}, config=config, overwrite=True)
            if progress:
                jax.block_until_ready(state)  # the rate counts finished work, not dispatch
                bar.set_description_str(f"{label}chunk {c + 1}/{num_chunks}", refresh=False)
                bar.update(steps_per_chunk)
            if on_chunk is not None:
                on_chunk(c + 1, done)
    return done
