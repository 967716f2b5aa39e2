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
from jaxgossip.algorithms.base import SyncAlgorithm
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
    fields = {}
    for name in RECORDED:
        previous, new = getattr(done, name), getattr(chunk, name)[..., 1:]
        if name in _CUMULATIVE:
            new = new + previous[..., -1:]  # chunk counters restart at zero
        elif name == "diverged":
            new = new | previous[..., -1:]
        fields[name] = jnp.concatenate([jnp.asarray(previous), new], axis=-1)
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


def inputs_digest(tree) -> list[float]:
    """One sum per array leaf: a cheap check that a checkpoint's inputs are these."""
    return [float(np.sum(np.asarray(leaf, np.float64))) for leaf in jax.tree.leaves(tree)]


def _fingerprint(key, algorithm, problem, network, unit, num_steps, num_records, num_chunks):
    """What a checkpoint must match to be resumed: the run's key, sizes and inputs."""
    digest = inputs_digest((algorithm, problem, network))
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return {
        "key": np.asarray(key).tolist(),
        "algorithm": type(algorithm).__name__,
        f"num_{unit}": num_steps,
        "num_records": num_records,
        "num_chunks": num_chunks,
        "inputs_digest": digest,
    }


def _progress(chunk, num_chunks, steps_done, num_steps, rate, unit):
    eta = (num_steps - steps_done) / rate if rate > 0 else float("nan")
    width = 30
    filled = int(width * steps_done / num_steps)
    print(
        f"\r[{'#' * filled}{'.' * (width - filled)}] chunk {chunk}/{num_chunks}, "
        f"{steps_done:,}/{num_steps:,} {unit}, {rate:,.0f} {unit}/s, ETA {eta:,.1f} s",
        end="\n" if chunk == num_chunks else "",
        file=sys.stderr,
        flush=True,
    )


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
      resume: continue from ``checkpoint`` if it exists; it must come from a
        run with the same key, algorithm, problem, network and sizes.
      progress: print a progress line (events or rounds done, their rate, ETA) to stderr.
      on_chunk: called as ``on_chunk(chunks_done, trace_so_far)`` after each
        chunk and its checkpoint.

    Returns:
      A ``Trace`` of num_records + 1 records. For a ``SyncAlgorithm`` it equals
      ``simulate_rounds(key, ..., num_rounds=num_rounds, num_records=num_records)``
      bit for bit; for an ``Algorithm`` it is its own run (module docstring).
    """
    unit, num_steps = run_budget("simulate_in_chunks", algorithm, network, num_events, num_rounds)
    steps_per_chunk, records_per_chunk = chunk_sizes(
        "simulate_in_chunks", num_steps, num_records, num_chunks, unit
    )
    if unit == "rounds":
        state = init_round_state(key, algorithm, problem, network, x0)
        start_time = jnp.zeros((), problem.x_star.dtype)

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

    return run_chunks(
        run_chunk,
        state,
        start_time,
        num_chunks=num_chunks,
        steps_per_chunk=steps_per_chunk,
        unit=unit,
        fingerprint=_fingerprint(
            key, algorithm, problem, network, unit, num_steps, num_records, num_chunks
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
    steps_per_chunk: int,
    fingerprint: dict,
    unit: str = "events",
    num_runs: int = 1,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
    on_chunk: Callable[[int, Trace], None] | None = None,
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
      steps_per_chunk: events or rounds of one chunk of one run (for the progress line).
      fingerprint: JSON-able description that a checkpoint must match to be resumed.
      unit: what a step is, ``"events"`` or ``"rounds"`` (for the progress line).
      num_runs: runs in the batch (for the progress line's counts).
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
    steps_per_chunk *= num_runs
    num_steps = num_chunks * steps_per_chunk
    for c in range(first_chunk, num_chunks):
        done = append_traces(done, run_chunk(c, state, start_time))
        state, start_time = done.final_state, done.time[..., -1]
        if checkpoint is not None:
            config = dict(fingerprint=fingerprint, chunks_done=c + 1)
            io.save_traces(checkpoint, {"run": done}, config=config, overwrite=True)
        if progress:
            jax.block_until_ready(state)
            rate = (c + 1 - first_chunk) * steps_per_chunk / (time.perf_counter() - started)
            _progress(c + 1, num_chunks, (c + 1) * steps_per_chunk, num_steps, rate, unit)
        if on_chunk is not None:
            on_chunk(c + 1, done)
    return done
