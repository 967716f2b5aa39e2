"""Long runs in chunks: progress, atomic checkpoints, and exact resumption.

A run of ``num_events`` events is cut into ``num_chunks`` calls of ``simulate``,
chunk c drawing its events with ``jax.random.fold_in(key, c)`` and starting
from the previous chunk's final state and last time. Between chunks the run
reports progress and may write a checkpoint; resuming from it replays the
remaining chunks exactly as an uninterrupted run would, so the two results are
bit for bit equal. The chunked run is its own reproducible run: it differs
from one ``simulate`` call of the same key (whose events are drawn otherwise).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxgossip import io
from jaxgossip.engine.events import init_state, simulate
from jaxgossip.engine.trace import RECORDED, Trace

_CUMULATIVE = ("num_computations", "num_communications", "bytes_sent")


def append_traces(done: Trace | None, chunk: Trace) -> Trace:
    """Stitches a chunk's trace after the records so far (record axis last)."""
    if done is None:
        return chunk
    fields = {}
    for name in RECORDED:
        previous, new = getattr(done, name), getattr(chunk, name)[..., 1:]
        if name in _CUMULATIVE:
            new = new + previous[..., -1:]  # chunk counters restart at zero
        elif name == "diverged":
            new = new | previous[..., -1:]
        fields[name] = jnp.concatenate([jnp.asarray(previous), new], axis=-1)
    return Trace(**fields, final_state=chunk.final_state)


def chunk_sizes(caller: str, num_events: int, num_records: int, num_chunks: int):
    """(events, records) per chunk; a ValueError naming ``caller`` unless both divide."""
    if num_chunks < 1 or num_events % num_chunks or num_records % num_chunks:
        raise ValueError(
            f"{caller}: num_events={num_events} and num_records={num_records} must "
            f"both be multiples of num_chunks={num_chunks}."
        )
    return num_events // num_chunks, num_records // num_chunks


def inputs_digest(tree) -> list[float]:
    """One sum per array leaf: a cheap check that a checkpoint's inputs are these."""
    return [float(np.sum(np.asarray(leaf, np.float64))) for leaf in jax.tree.leaves(tree)]


def _fingerprint(key, algorithm, problem, clocks, num_events, num_records, num_chunks) -> dict:
    """What a checkpoint must match to be resumed: the run's key, sizes and inputs."""
    digest = inputs_digest((algorithm, problem, clocks))
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return dict(
        key=np.asarray(key).tolist(),
        algorithm=type(algorithm).__name__,
        num_events=num_events,
        num_records=num_records,
        num_chunks=num_chunks,
        inputs_digest=digest,
    )


def _progress(chunk: int, num_chunks: int, events_done: int, num_events: int, rate: float):
    eta = (num_events - events_done) / rate if rate > 0 else float("nan")
    width = 30
    filled = int(width * events_done / num_events)
    print(
        f"\r[{'#' * filled}{'.' * (width - filled)}] chunk {chunk}/{num_chunks}, "
        f"{events_done:,}/{num_events:,} events, {rate:,.0f} events/s, ETA {eta:,.1f} s",
        end="\n" if chunk == num_chunks else "",
        file=sys.stderr,
        flush=True,
    )


def simulate_in_chunks(
    key,
    algorithm,
    problem,
    clocks,
    *,
    num_events: int,
    num_records: int,
    num_chunks: int,
    x0=None,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
    on_chunk: Callable[[int, Trace], None] | None = None,
) -> Trace:
    """Runs ``simulate`` in chunks with progress, checkpoints and resumption.

    Args:
      key, algorithm, problem, clocks, x0: as for ``simulate``.
      num_events: total events, divisible by ``num_chunks``.
      num_records: total records after the initial one, divisible by ``num_chunks``.
      num_chunks: number of ``simulate`` calls (all share one compilation).
      checkpoint: a file rewritten atomically after every chunk (None: no checkpoint).
      resume: continue from ``checkpoint`` if it exists; it must come from a
        run with the same key, algorithm, problem, clocks and sizes.
      progress: print a progress line (events done, events/s, ETA) to stderr.
      on_chunk: called as ``on_chunk(chunks_done, trace_so_far)`` after each
        chunk and its checkpoint.

    Returns:
      A ``Trace`` of num_records + 1 records, as from ``simulate``.
    """
    events_per_chunk, records_per_chunk = chunk_sizes(
        "simulate_in_chunks", num_events, num_records, num_chunks
    )

    def run_chunk(c, state, start_time):
        return simulate(
            jax.random.fold_in(key, c),
            algorithm,
            problem,
            clocks,
            num_events=events_per_chunk,
            num_records=records_per_chunk,
            initial_state=state,
            start_time=start_time,
        )

    return run_chunks(
        run_chunk,
        init_state(algorithm, problem, x0),
        jnp.zeros((), clocks.comm_rate.dtype),
        num_chunks=num_chunks,
        events_per_chunk=events_per_chunk,
        fingerprint=_fingerprint(
            key, algorithm, problem, clocks, num_events, num_records, num_chunks
        ),
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
    events_per_chunk: int,
    fingerprint: dict,
    num_runs: int = 1,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
    on_chunk: Callable[[int, Trace], None] | None = None,
) -> Trace:
    """Drives chunked runs, single or batched: stitching, checkpoints, resumption, progress.

    Args:
      run_chunk: ``(chunk_index, state, start_time) -> Trace`` running one chunk
        from ``state`` at ``start_time``; its trace may carry leading batch axes
        (records are on the last axis), as from a vmapped ``simulate``.
      state: the initial network state (batched like ``run_chunk``'s).
      start_time: initial simulated time, () or batched.
      num_chunks: how many chunks to run.
      events_per_chunk: events of one chunk of one run (for the progress line).
      num_runs: runs in the batch (for the progress line's event counts).
      fingerprint: JSON-able description that a checkpoint must match to be resumed.
      checkpoint, resume, progress, on_chunk: as for ``simulate_in_chunks``.

    Returns:
      The stitched ``Trace``.
    """
    if resume and checkpoint is None:
        raise ValueError("resume=True needs a checkpoint path.")
    done, first_chunk = None, 0
    if resume and os.path.exists(checkpoint):
        traces, config = io.load_traces(checkpoint)
        if config.get("fingerprint") != fingerprint:
            raise ValueError(
                f"checkpoint {os.fspath(checkpoint)!r} comes from another run "
                "(key, inputs or sizes differ); remove it or pass resume=False."
            )
        done = jax.tree.map(jnp.asarray, traces["run"])
        state, start_time, first_chunk = done.final_state, done.time[..., -1], config["chunks_done"]

    started = time.perf_counter()
    events_per_chunk *= num_runs
    num_events = num_chunks * events_per_chunk
    for c in range(first_chunk, num_chunks):
        done = append_traces(done, run_chunk(c, state, start_time))
        state, start_time = done.final_state, done.time[..., -1]
        if checkpoint is not None:
            config = dict(fingerprint=fingerprint, chunks_done=c + 1)
            io.save_traces(checkpoint, {"run": done}, config=config, overwrite=True)
        if progress:
            jax.block_until_ready(state)
            rate = (c + 1 - first_chunk) * events_per_chunk / (time.perf_counter() - started)
            _progress(c + 1, num_chunks, (c + 1) * events_per_chunk, num_events, rate)
        if on_chunk is not None:
            on_chunk(c + 1, done)
    return done
