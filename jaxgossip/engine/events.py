"""The event engine: applies events to a network state and records metrics.

The network state is one pytree whose leaves have a leading node axis (n, ...).
An event touches only the rows of the nodes it names: one gather of rows
(i, j), the algorithm's local hook, one scatter of both rows (a compute event
is the pair (i, i), both rows then carrying the same value). The cost of an
event therefore does not grow with n. Events are drawn in bulk per chunk,
outside the per-event step, and metrics (O(n d)) are recorded once per chunk.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from jaxgossip.algorithms.base import Algorithm, check_problem_setting
from jaxgossip.engine import waves
from jaxgossip.engine.trace import (
    Trace,
    assemble_trace,
    check_run_sizes,
    check_start,
    initial_points,
    network_metrics,
)
from jaxgossip.network.clocks import COMMUNICATE, COMPUTE, Clocks, Events, sample_chunk


def split_key(key) -> tuple[jax.Array, jax.Array]:
    """The (event_key, gradient_key) pair a run derives from its key.

    ``sample_events(event_key, clocks, num_events, num_chunks=num_records)`` is
    exactly the trace ``simulate(key, ...)`` draws; gradient minibatches of
    event k use ``jax.random.fold_in(gradient_key, k)``.
    """
    event_key, gradient_key = jax.random.split(key)
    return event_key, gradient_key


def init_state(algorithm: Algorithm, problem, x0=None):
    """The network state ``simulate`` starts from: ``algorithm.init`` at every node.

    Args:
      algorithm: the algorithm.
      problem: the problem (gives num_nodes, dim and the float dtype).
      x0: None (zeros), one point (dim,) for all nodes, or (num_nodes, dim).

    Returns:
      A pytree whose leaves have a leading node axis (num_nodes, ...).
    """
    xs0 = initial_points(x0, problem, problem.num_nodes)
    return jax.vmap(lambda x: algorithm.init(x, problem))(xs0)


def _metrics(algorithm: Algorithm, problem, state, node_suboptimality: bool = True):
    xs = jax.vmap(algorithm.params)(state)  # (n, d)
    return network_metrics(problem, xs, state, node_suboptimality)


def _local_step(algorithm: Algorithm, problem, gradient_key, node_i, node_j, event):
    """One event's hook on its gathered rows: (new_i, new_j); a compute event's are equal."""
    t, kind, i, j, edge, index = event

    def compute(node_i, node_j):
        del node_j
        key = jax.random.fold_in(gradient_key, index)
        new = algorithm.on_compute(node_i, t, lambda x: problem.local_grad(key, x, i))
        return new, new

    def communicate(node_i, node_j):
        return algorithm.on_communicate(node_i, node_j, t, edge)

    return jax.lax.cond(kind == COMPUTE, compute, communicate, node_i, node_j)


def _apply_event(algorithm: Algorithm, problem, gradient_key, state, event, batched=False):
    """Applies one event: gather rows (i, j), run the local hook, write both back.

    One run writes both rows with one scatter; a vmapped batch of runs with
    their own events (``batched``: each run's rows differ) with two, one row
    each: XLA:CPU's batched scatter of two rows per run was the slower (n = 256,
    batch of 256, ns per event-run: gossip 58 -> 34, async_gossip_sgd 151 -> 97,
    async_gradient_tracking 348 -> 195), and two scatters the slower alone
    (354 -> 662 ns for gossip) or in a batch that shares its events (3x for
    ad_psgd). A compute event has j == i and writes the same row twice.
    """
    _, _, i, j, _, _ = event
    rows = jnp.stack([i, j])
    gathered = jax.tree.map(lambda leaf: leaf[rows], state)
    node_i = jax.tree.map(lambda leaf: leaf[0], gathered)
    node_j = jax.tree.map(lambda leaf: leaf[1], gathered)
    new_i, new_j = _local_step(algorithm, problem, gradient_key, node_i, node_j, event)

    def write(leaf, a, b):
        a, b = a.astype(leaf.dtype), b.astype(leaf.dtype)
        if batched:
            return leaf.at[i].set(a).at[j].set(b)
        return leaf.at[rows].set(jnp.stack([a, b]))

    return jax.tree.map(write, state, new_i, new_j)


try:  # JAX has no public test for "inside jax.vmap"; without one, auto sees no batch
    from jax._src.interpreters.batching import BatchTracer as _BatchTracer
except ImportError:  # pragma: no cover - a JAX that moved it
    _BatchTracer = None

SCHEDULES = ("auto", "sequential", "waves")
# The schedule of runs that are vmapped together (sweeps, the explorer, compare):
# time order, which a batch amortizes better. Measured, AsyncGossipSGD on a ring,
# batch of 64: waves 1.59 M and sequential 2.73 M event-runs/s at n = 1,024
# (1.89 M and 3.52 M at n = 64). The compiled run cannot see a vmap; ``simulate``
# sees one around itself (``under_vmap``) and then takes this schedule for "auto".
BATCHED_SCHEDULE = "sequential"


def choose_schedule(schedule: str, num_nodes: int, chunk_size: int, window, slab_size):
    """(schedule, window K, slab size C) that a run uses; all static Python values.

    ``"auto"`` picks waves from n >= 64 nodes (where a window's levels hold
    enough events to fill slabs; ``benchmarks/waves.py`` measures the
    crossover) and the sequential schedule below, or when the window would
    hold fewer than 64 events; both give the same result. K is the largest
    divisor of the chunk (events per record) not above ``window`` (default
    1024). C defaults to the power of two nearest min(n, K) / 6, clipped to
    [8, K]: about half the events of a level (a level holds about min(n, K) / 3
    of them on sparse graphs).
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"simulate: schedule must be one of {SCHEDULES}; got {schedule!r}.")
    target = 1024 if window is None else window
    if isinstance(target, bool) or not isinstance(target, int) or target < 1:
        raise ValueError(f"simulate: window must be an integer >= 1; got {window!r}.")
    fitting = max(k for k in range(1, min(target, chunk_size) + 1) if chunk_size % k == 0)
    if schedule == "auto":  # windows of a few events would not amortize their levels
        schedule = "waves" if num_nodes >= 64 and fitting >= 64 else "sequential"
    if schedule == "sequential":
        return schedule, None, None
    window = fitting
    if slab_size is None:
        slab_size = 2 ** round(math.log2(min(max(min(num_nodes, window) / 6, 8), window)))
    if isinstance(slab_size, bool) or not isinstance(slab_size, int) or slab_size < 1:
        raise ValueError(f"simulate: slab_size must be an integer >= 1; got {slab_size!r}.")
    if not waves.fits(num_nodes, window):
        raise ValueError(
            f"simulate: a window of {window} events on {num_nodes:,} nodes is too large "
            "for the waves' 32-bit sort keys; pass a smaller window."
        )
    return schedule, window, min(slab_size, window)


@functools.partial(
    jax.jit,
    static_argnames=(
        "num_events",
        "num_records",
        "node_suboptimality",
        "schedule",
        "window",
        "slab_size",
        "batched",
    ),
)
def _simulate_compiled(
    key,
    algorithm: Algorithm,
    problem,
    clocks: Clocks,
    *,
    num_events: int,
    num_records: int,
    x0=None,
    events: Events | None = None,
    initial_state=None,
    start_time=0.0,
    node_suboptimality: bool = True,
    schedule: str = "auto",
    window: int | None = None,
    slab_size: int | None = None,
    batched: bool | None = None,
) -> Trace:
    """Runs ``algorithm`` on ``problem`` over the asynchronous network ``clocks``.

    Compiled once per shape: new hyperparameter values, rates, keys or initial
    points reuse the compiled run, and the whole function can be ``jax.vmap``-ed
    over any of them.

    Args:
      key: a JAX PRNG key; see ``split_key`` for how it is used.
      algorithm: an ``Algorithm`` (hyperparameters are array leaves).
      problem: a ``Problem`` with ``num_nodes == clocks.graph.num_nodes``.
      clocks: the graph and its Poisson rates.
      num_events: number of events to apply (static), divisible by num_records.
      num_records: number of metric records after the initial one (static).
      x0: optional initial point, (dim,) for all nodes or (num_nodes, dim);
        zeros by default.
      events: optional trace to replay instead of sampling, with num_events
        events (e.g. from ``sample_events`` or ``Events.from_numpy``). A
        concrete trace is checked against ``clocks.graph`` first
        (``Events.check``); one traced inside ``jax.jit``/``jax.vmap`` cannot be.
      initial_state: optional network state to start from instead of
        ``algorithm.init`` (e.g. a previous trace's ``final_state``, to continue it).
      start_time: simulated time at which sampled events start (to continue a
        run, pass the previous trace's last time).
      node_suboptimality: record ``mean_suboptimality`` (static). It evaluates f
        at all n iterates: O(n d^2) for quadratics but O(n * n m d) for logistic
        regression, which dominates runs of hundreds of nodes recorded often
        (``benchmarks/throughput.py`` measures it); False records NaN instead.
      schedule: how events are applied (static): ``"sequential"``, one per
        step in time order; ``"waves"``, windows of ``window`` events applied
        level by level, ``slab_size`` events that touch disjoint nodes per
        step (``jaxgossip.engine.waves``); ``"auto"`` (default) picks one by
        the network's size (``choose_schedule``), and time order under a
        ``jax.vmap`` around ``simulate`` (``BATCHED_SCHEDULE``: waves amortize
        worse over a batch). The result does not depend on it for an
        algorithm that follows the local-view contract (its hooks read nothing
        but the rows of the event's nodes and the event). A vmap around a
        ``jax.jit`` of ``simulate`` is not seen: pass ``"sequential"`` there.
      window, slab_size: the waves' K and C (static; defaults: ``choose_schedule``).
      batched: whether this run is one of a vmapped batch whose runs apply
        different events (static; None: a ``jax.vmap`` around ``simulate``
        batches ``key``, ``clocks`` or ``events``; pass True under a vmap of a
        ``jax.jit`` of it). It picks how time order writes an event's rows
        back, the faster way for such a batch or otherwise (``_apply_event``);
        the runs are the same, bit for bit or, for methods that store times,
        to round-off (tests/engine/test_batched_writes.py).

    Returns:
      A ``Trace`` of num_records + 1 records and the final network state.

    Raises:
      ValueError: sizes that do not match, or a replayed trace with decreasing
        times, unknown kinds, out-of-range nodes or edges, or a pair that is not
        its edge's (a trace built for another graph).
    """
    n, dim = clocks.graph.num_nodes, problem.dim
    check_run_sizes("simulate", problem, n, "num_events", num_events, num_records)
    if events is not None and events.num_events != num_events:
        raise ValueError(
            f"simulate: the replayed trace has {events.num_events} events, not {num_events}."
        )
    chunk_size = num_events // num_records
    event_key, gradient_key = split_key(key)
    state = init_state(algorithm, problem, x0) if initial_state is None else initial_state
    apply_event = functools.partial(
        _apply_event, algorithm, problem, gradient_key, batched=bool(batched)
    )
    schedule, window, slab_size = choose_schedule(schedule, n, chunk_size, window, slab_size)
    if schedule == "waves":
        apply_slots = waves.make_apply_slots(
            functools.partial(_local_step, algorithm, problem, gradient_key), n
        )

    def apply_chunk(state, chunk_events):
        if schedule == "sequential":
            return jax.lax.scan(
                lambda s, e: (apply_event(s, e), None),
                state,
                chunk_events,
                # Per-iteration loop overhead dominates an event on CPU; unrolling 4
                # cut it from ~460 to ~340-420 ns (benchmarks/throughput.py), 8 was slower.
                unroll=4,
            )[0]
        windows = jax.tree.map(lambda a: a.reshape(-1, window), chunk_events)
        return jax.lax.scan(
            lambda s, w: (waves.apply_window(apply_slots, s, w, slab_size, n), None),
            state,
            windows,
        )[0]

    relative = algorithm.stores_time
    shift_times = jax.vmap(algorithm.shift_time, in_axes=(0, None))

    def run_chunk(carry, chunk):
        # origin: the absolute time of the previous chunk's last event.
        state, origin, diverged = carry
        if events is None:
            chunk_events = sample_chunk(
                jax.random.fold_in(event_key, chunk), clocks, chunk_size, jnp.zeros_like(origin)
            )
            since_origin = chunk_events.time  # cumulative gaps: exact however long the run
            absolute = origin + since_origin
        else:
            chunk_events = jax.tree.map(
                lambda a: jax.lax.dynamic_slice_in_dim(a, chunk * chunk_size, chunk_size), events
            )
            absolute = chunk_events.time.astype(origin.dtype)
            since_origin = absolute - origin
        index = chunk * chunk_size + jnp.arange(chunk_size)
        state = apply_chunk(
            state, (since_origin if relative else absolute, *chunk_events[1:], index)
        )
        if relative:  # stored times become relative to this chunk's last event
            state = shift_times(state, since_origin[-1])
        metrics = _metrics(algorithm, problem, state, node_suboptimality)
        metrics["diverged"] = metrics["diverged"] | diverged
        metrics["time"] = absolute[-1]
        metrics["num_computations"] = jnp.sum(chunk_events.kind == COMPUTE, dtype=jnp.int32)
        metrics["num_communications"] = jnp.sum(chunk_events.kind == COMMUNICATE, dtype=jnp.int32)
        return (state, metrics["time"], metrics["diverged"]), metrics

    initial = _metrics(algorithm, problem, state, node_suboptimality)
    time_dtype = clocks.comm_rate.dtype
    start_time = jnp.asarray(start_time, time_dtype)
    if relative:  # the hooks see times since start_time, then since each chunk's end
        state = shift_times(state, start_time)
    carry = (state, start_time, initial["diverged"])
    (state, end_time, _), records = jax.lax.scan(run_chunk, carry, jnp.arange(num_records))
    if relative:  # back to absolute times, for a trace that continues this one
        state = shift_times(state, -end_time)

    bytes_per_message = algorithm.message_floats(dim) * problem.dtype.itemsize
    return assemble_trace(initial, records, start_time, bytes_per_message, state)


def under_vmap(*trees) -> bool:
    """Whether a leaf of ``trees`` is being batched by a ``jax.vmap`` around this call.

    A vmap around a ``jax.jit`` of the call is not seen (the jit traces its
    function unbatched first), nor any when this JAX lacks the tracer class.
    """
    if _BatchTracer is None:
        return False
    return any(isinstance(leaf, _BatchTracer) for leaf in jax.tree.leaves(trees))


@functools.wraps(_simulate_compiled)
def simulate(key, algorithm: Algorithm, problem, clocks: Clocks, *, events=None, x0=None, **kwargs):
    # Checked here, outside jit, where given values are still concrete.
    check_problem_setting(algorithm, problem, "simulate")
    inputs = (key, algorithm, problem, clocks, events, x0, kwargs.get("initial_state"))
    if kwargs.get("schedule", "auto") == "auto" and under_vmap(*inputs):
        kwargs["schedule"] = BATCHED_SCHEDULE  # waves amortize worse over a batch
    if kwargs.get("batched") is None:  # the runs' events differ: their rows are batched
        kwargs["batched"] = under_vmap(key, clocks, events)
    elif not isinstance(kwargs["batched"], bool):
        given = kwargs["batched"]
        raise ValueError(f"simulate: batched must be True, False or None; got {given!r}.")
    if events is not None:
        events.check(clocks.graph, "simulate")
    check_start(x0, kwargs.get("start_time", 0.0), "simulate")
    return _simulate_compiled(key, algorithm, problem, clocks, events=events, x0=x0, **kwargs)


simulate._cache_size = _simulate_compiled._cache_size  # compiled programs, for tests
