"""One sweep over several processes or hosts: joining them, agreeing, and who writes.

Every process runs the same script; ``jax.distributed`` joins them into one
set of global devices, and ``study.sweep`` shards its runs over all of them.
This module holds what the library adds around that:

- ``initialize_from_env``: the same script runs on one process (nothing set)
  or on many (``JAXGOSSIP_COORDINATOR``, ``JAXGOSSIP_NUM_PROCESSES``,
  ``JAXGOSSIP_PROCESS_ID``), with CPU collectives and a short heartbeat, so
  that a process that dies stops the others in seconds, not minutes;
- ``agree``: before a sweep runs, every process publishes a fingerprint of its
  arguments to the coordinator's key-value store and compares it with every
  other's, so processes that disagree (another grid, seed list or problem)
  all stop with a message naming what differs instead of computing different
  things or waiting forever in a collective;
- ``is_writer`` and ``to_host``: results and checkpoints are gathered on
  every process and written by process 0 only.

On one process every function here is a no-op or trivial, so single-process
code pays nothing for it.
"""

from __future__ import annotations

import contextlib
import json
import os

import jax
import numpy as np

ENV_COORDINATOR = "JAXGOSSIP_COORDINATOR"
ENV_NUM_PROCESSES = "JAXGOSSIP_NUM_PROCESSES"
ENV_PROCESS_ID = "JAXGOSSIP_PROCESS_ID"
_ENV = (ENV_COORDINATOR, ENV_NUM_PROCESSES, ENV_PROCESS_ID)

# agree() keys its exchanges by call number: processes that run the same
# script call it in the same order, so the n-th call of each meets the others'.
_calls = {"agree": 0}


def initialize(
    coordinator: str,
    num_processes: int,
    process_id: int,
    *,
    heartbeat_timeout_seconds: int = 10,
    initialization_timeout_seconds: int = 60,
) -> None:
    """Joins this process to the others of one run (``jax.distributed.initialize``).

    Call it first, before any JAX computation. On CPU the processes exchange
    data through gloo collectives. A process that stops answering is detected
    after ``heartbeat_timeout_seconds`` and then every other process aborts
    with "the coordinator detected missing heartbeats"; JAX's default of 100 s
    would leave them waiting that long.

    Args:
      coordinator: ``host:port`` of process 0, reachable by every process.
      num_processes: how many processes take part.
      process_id: this process, 0 .. num_processes - 1; process 0 hosts the
        coordinator and writes every result and checkpoint.
      heartbeat_timeout_seconds: how long a silent process is waited for.
      initialization_timeout_seconds: how long to wait for all to join.

    Raises:
      ValueError: ``num_processes`` or ``process_id`` out of range, or a
        coordinator address without a port.
    """
    if not isinstance(num_processes, int) or num_processes < 1:
        raise ValueError(f"distributed: num_processes must be >= 1; got {num_processes!r}.")
    if not isinstance(process_id, int) or not 0 <= process_id < num_processes:
        raise ValueError(
            f"distributed: process_id must be in 0..{num_processes - 1}; got {process_id!r}."
        )
    if not isinstance(coordinator, str) or ":" not in coordinator:
        raise ValueError(f"distributed: coordinator must be 'host:port'; got {coordinator!r}.")
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator,
        num_processes,
        process_id,
        heartbeat_timeout_seconds=heartbeat_timeout_seconds,
        initialization_timeout=initialization_timeout_seconds,
        shutdown_timeout_seconds=heartbeat_timeout_seconds,
    )


def initialize_from_env(**options) -> bool:
    """``initialize`` from ``JAXGOSSIP_COORDINATOR``, ``_NUM_PROCESSES``, ``_PROCESS_ID``.

    With none of the three set it does nothing, so the same script runs alone
    or as one of many. ``options`` go to ``initialize``.

    Returns:
      Whether this process joined others.

    Raises:
      ValueError: some but not all of the three are set, or one is not a number.
    """
    given = {name: os.environ.get(name) for name in _ENV}
    if not any(given.values()):
        return False
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise ValueError(f"distributed: set all of {list(_ENV)} or none; missing {missing}.")
    try:
        num_processes, process_id = int(given[ENV_NUM_PROCESSES]), int(given[ENV_PROCESS_ID])
    except ValueError as error:
        raise ValueError(
            f"distributed: {ENV_NUM_PROCESSES} and {ENV_PROCESS_ID} must be integers; "
            f"got {given[ENV_NUM_PROCESSES]!r} and {given[ENV_PROCESS_ID]!r}."
        ) from error
    initialize(given[ENV_COORDINATOR], num_processes, process_id, **options)
    return True


def is_multiprocess() -> bool:
    """Whether this process is one of several joined by ``jax.distributed``."""
    return jax.process_count() > 1


def is_writer() -> bool:
    """Whether this process writes results and checkpoints: process 0 (or the only one)."""
    return jax.process_index() == 0


def to_host(tree):
    """Every array leaf of ``tree`` as a whole NumPy array, on every process.

    A leaf sharded over several processes is gathered (a collective: every
    process must call this at the same point); others are copied.
    """

    def gather(leaf):
        if not isinstance(leaf, jax.Array):
            return leaf
        if leaf.is_fully_addressable:
            return np.asarray(leaf)
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(leaf, tiled=True))

    return jax.tree.map(gather, tree)


@contextlib.contextmanager
def peers_lost(caller: str, advice: str = ""):
    """Turns a failed exchange with the other processes into one clear error.

    When a process dies, the others' next collective fails (gloo: "connection
    reset by peer") within seconds; this re-raises it as a RuntimeError saying
    so, with ``advice`` (e.g. how to resume). After it, JAX's shutdown barrier
    fails too and the process aborts with JAX's own message ("another task
    died"), exit status 134. Alone, it changes nothing.
    """
    try:
        yield
    except Exception as error:
        if not is_multiprocess() or not _is_peer_failure(error):
            raise
        raise RuntimeError(
            f"{caller}: process {jax.process_index()} lost contact with the other processes "
            f"(one of them probably stopped): {str(error).splitlines()[0]}. {advice}".strip()
        ) from error


def _is_peer_failure(error: Exception) -> bool:
    # By its text only: any other runtime error (out of memory, a bad program) is
    # raised as it is, not blamed on the other processes.
    text = str(error)
    return any(
        word in text for word in ("Gloo", "gloo", "Connection reset", "heartbeat", "UNAVAILABLE")
    )


def agree(caller: str, parts: dict, *, timeout_seconds: float = 60.0) -> None:
    """Checks that every process calls ``caller`` with the same ``parts``; no-op alone.

    Each process publishes ``parts`` (JSON-able values, e.g. a fingerprint
    from ``engine.fingerprint.parts``) and reads every other's, so all of them
    find the same differences and all raise the same error.

    Raises:
      ValueError: some process's parts differ from process 0's; the message
        names every differing part and its value on process 0 and on each
        process that differs.
      TimeoutError: some process did not reach this call within
        ``timeout_seconds`` (it died, or runs another script).
    """
    if not is_multiprocess():
        return
    from jax._src import distributed as state  # the coordinator's key-value store

    client = state.global_state.client
    _calls["agree"] += 1
    prefix = f"jaxgossip/agree/{_calls['agree']}"
    mine = json.dumps(parts, sort_keys=True, default=str)
    client.key_value_set(f"{prefix}/{jax.process_index()}", mine)
    published = {}
    for p in range(jax.process_count()):
        try:
            text = client.blocking_key_value_get(f"{prefix}/{p}", int(timeout_seconds * 1000))
        except Exception as error:  # the client raises a runtime error on its deadline
            raise TimeoutError(
                f"{caller}: process {p} did not reach this call within {timeout_seconds:g} s "
                f"(it stopped, or runs another script); process {jax.process_index()} stops."
            ) from error
        published[p] = json.loads(text)
    lines = []
    for name in sorted(set().union(*published.values())):
        values = {p: v.get(name, "<absent>") for p, v in published.items()}
        others = [p for p, value in values.items() if value != values[0]]
        if others:
            shown = [f"process {p}: {_short(values[p])}" for p in (0, *others)]
            lines.append(f"{name} ({', '.join(shown)})")
    if lines:
        raise ValueError(
            f"{caller}: the {len(published)} processes were given different arguments; every "
            "process must pass the same ones. Differing: " + "; ".join(lines) + "."
        )


def _short(value, limit: int = 120) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."
