"""Asynchronous runs on networks that change over time.

A time-varying network is a sequence of K ``Clocks`` whose graphs may differ
(each must connect the nodes). ``union_clocks`` re-expresses them all on the
union of their graphs, an edge absent from a phase getting rate 0 there (its
clock never rings), so every phase has the same shapes and the engine compiles
once. ``simulate_time_varying`` runs phase p = 0, 1, ... with the clocks of
``clocks[p % K]`` for ``events_per_phase`` events each, every phase starting
from the previous one's final state and simulated time (the chunked runs of
``jaxgossip.engine.long_run``; phase p draws its events with ``fold_in(key, p)``).
The network therefore switches after a fixed number of events, at a random
time; within a phase the clocks are exact Poisson processes.

Algorithms whose theory covers such networks take the sequence in
``from_theory`` (e.g. ``DADAO.from_theory(problem, [clocks_1, clocks_2])``
uses the worst graph constants over the phases).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxgossip.engine.events import init_state, simulate
from jaxgossip.engine.long_run import run_chunks
from jaxgossip.engine.trace import Trace
from jaxgossip.network.clocks import Clocks
from jaxgossip.network.graphs import union


def union_clocks(clocks: Sequence[Clocks]) -> list[Clocks]:
    """The same clocks, each on the union graph of all of them (rate 0 off its own graph).

    Raises:
      ValueError: no clocks, or graphs with different numbers of nodes.
    """
    clocks = list(clocks)
    if not clocks or not all(isinstance(c, Clocks) for c in clocks):
        raise ValueError("union_clocks: give a non-empty sequence of Clocks.")
    graph, positions = union([c.graph for c in clocks])
    result = []
    for c, where in zip(clocks, positions):
        rates = np.zeros(graph.num_edges)
        rates[where] = np.asarray(c.comm_rate, np.float64)
        result.append(Clocks(graph, c.compute_rate, jnp.asarray(rates, c.comm_rate.dtype)))
    return result


def simulate_time_varying(
    key,
    algorithm,
    problem,
    clocks: Sequence[Clocks],
    *,
    events_per_phase: int,
    records_per_phase: int,
    num_phases: int,
    x0=None,
    progress: bool = False,
    schedule: str = "auto",
    window: int | None = None,
    slab_size: int | None = None,
) -> Trace:
    """Runs ``num_phases`` phases, phase p on ``clocks[p % K]`` (see the module docstring).

    Args:
      key: a JAX PRNG key; phase p runs ``simulate(fold_in(key, p), ...)``.
      algorithm, problem, x0: as for ``simulate``.
      clocks: the K phases' clocks; put on their union graph with ``union_clocks``.
      events_per_phase, records_per_phase: per phase, as ``num_events`` and
        ``num_records`` of ``simulate`` (the first must be a multiple of the second).
      num_phases: how many phases to run (cycling through ``clocks``).
      progress: print a progress line after each phase.
      schedule, window, slab_size: how each phase applies its events, as for
        ``simulate`` (the result does not depend on it).

    Returns:
      A ``Trace`` of num_phases * records_per_phase + 1 records; its counters
      run on across phases, and ``time`` is the simulated time.
    """
    phases = union_clocks(clocks)
    if not isinstance(num_phases, int) or num_phases < 1:
        raise ValueError(
            f"simulate_time_varying: num_phases must be an int >= 1; got {num_phases!r}."
        )

    def run_phase(p, state, start_time):
        return simulate(
            jax.random.fold_in(key, p),
            algorithm,
            problem,
            phases[p % len(phases)],
            num_events=events_per_phase,
            num_records=records_per_phase,
            initial_state=state,
            start_time=start_time,
            schedule=schedule,
            window=window,
            slab_size=slab_size,
        )

    return run_chunks(
        run_phase,
        init_state(algorithm, problem, x0),
        jnp.zeros((), phases[0].comm_rate.dtype),
        num_chunks=num_phases,
        steps_per_chunk=events_per_phase,
        fingerprint={},
        progress=progress,
    )
