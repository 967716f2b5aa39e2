"""The asynchrony model: Poisson clocks on nodes and edges, and their events.

Node i computes at the events of a Poisson process of rate ``compute_rate[i]``;
edge e = (senders[e], receivers[e]) communicates at the events of a Poisson
process of rate ``comm_rate[e]``. All clocks are independent, so their
superposition is one Poisson process of rate R = sum(compute_rate) +
sum(comm_rate) whose events are labelled independently with probability
rate / R. ``sample_events`` draws exactly that, in bulk.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxgossip.network.graphs import Graph

COMPUTE = 0
COMMUNICATE = 1


class Events(NamedTuple):
    """A trace of events, in time order.

    A compute event at node i is stored as the pair (i, i), so that the
    engine serves both kinds with one gather and one scatter of two rows.
    """

    time: jax.Array  # (num_events,) float, nondecreasing
    kind: jax.Array  # (num_events,) int32, COMPUTE or COMMUNICATE
    i: jax.Array  # (num_events,) int32, the computing node or the edge's sender
    j: jax.Array  # (num_events,) int32, i for compute events, else the edge's receiver
    edge: jax.Array  # (num_events,) int32, edge index for communications, -1 for compute

    @property
    def num_events(self) -> int:
        return self.time.shape[0]

    def check(self, graph: Graph, caller: str = "simulate") -> None:
        """Checks a concrete trace against ``graph``, as ``from_numpy`` checks its input.

        A trace is valid when its fields are 1-D of one length, its times are
        finite and nondecreasing, its kinds are ``COMPUTE`` or ``COMMUNICATE``,
        its nodes are in range, a compute event names (i, i) and edge -1, and a
        communication names an edge in range together with that edge's
        (sender, receiver). Under tracing (inside ``jax.jit`` or ``jax.vmap``)
        the values are not known and nothing is checked.

        Raises:
          ValueError: naming ``caller`` and the first defect found.
        """
        if any(isinstance(leaf, jax.core.Tracer) for leaf in self):
            return
        time, kind, i, j, edge = (np.asarray(leaf) for leaf in self)
        n, num_edges = graph.num_nodes, graph.num_edges
        what = f"{caller}: the replayed events"
        if edge.ndim != 1 or len(edge) != len(time):
            raise ValueError(f"{what}: edge must be 1-D, of the length of time.")
        _check_event_arrays(what, time, kind, i, j, n)
        compute = kind == COMPUTE
        bad = compute & ((j != i) | (edge != -1))
        if np.any(bad):
            raise ValueError(
                f"{what}: compute event {int(np.argmax(bad))} must name (i, i) and edge -1."
            )
        comm = ~compute
        bad = comm & ((edge < 0) | (edge >= num_edges))
        if np.any(bad):
            k = int(np.argmax(bad))
            raise ValueError(
                f"{what}: communication {k} names edge {int(edge[k])}, outside [0, {num_edges})."
            )
        safe = np.clip(edge, 0, max(num_edges - 1, 0))
        senders, receivers = np.asarray(graph.senders), np.asarray(graph.receivers)
        bad = comm & ((i != senders[safe]) | (j != receivers[safe]))
        if np.any(bad):
            k = int(np.argmax(bad))
            raise ValueError(
                f"{what}: communication {k} names ({int(i[k])}, {int(j[k])}) on edge "
                f"{int(edge[k])}, which joins ({int(senders[safe[k]])}, "
                f"{int(receivers[safe[k]])}): not an edge of this graph, or built for another."
            )

    @classmethod
    def from_numpy(cls, graph: Graph, time, kind, i, j=None) -> Events:
        """Builds a replayable trace from plain arrays, e.g. exported by another tool.

        Args:
          graph: the graph the communications run on.
          time: (N,) nondecreasing event times.
          kind: (N,) ``COMPUTE`` (0) or ``COMMUNICATE`` (1).
          i: (N,) node of a compute event, one endpoint of a communication.
          j: (N,) other endpoint of a communication (ignored for compute events).

        Raises:
          ValueError: on mismatched lengths, decreasing times, unknown kinds,
            out-of-range nodes, or a communication along a pair that is not an edge.
        """
        time, kind, i = np.asarray(time, float), np.asarray(kind), np.asarray(i)
        j = i.copy() if j is None else np.asarray(j)
        _check_event_arrays("Events.from_numpy", time, kind, i, j, graph.num_nodes)
        is_comm = kind == COMMUNICATE
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        edge_ids = {
            (int(s), int(r)): e
            for e, (s, r) in enumerate(zip(np.asarray(graph.senders), np.asarray(graph.receivers)))
        }
        edge = np.full(len(time), -1, dtype=np.int32)
        for k in np.flatnonzero(is_comm):
            pair = (int(lo[k]), int(hi[k]))
            if pair not in edge_ids:
                raise ValueError(
                    f"Events.from_numpy: event {k} communicates along {pair}, not an edge."
                )
            edge[k] = edge_ids[pair]
        # A communication names its edge's endpoints in (sender, receiver) order, as sampled.
        i, j = np.where(is_comm, lo, i), np.where(is_comm, hi, i)
        return cls(
            time=jnp.asarray(time),
            kind=jnp.asarray(kind, jnp.int32),
            i=jnp.asarray(i, jnp.int32),
            j=jnp.asarray(j, jnp.int32),
            edge=jnp.asarray(edge),
        )


def _check_event_arrays(what: str, time, kind, i, j, num_nodes: int) -> None:
    """The checks ``Events.from_numpy`` and ``Events.check`` share; ValueErrors start with what."""
    if not (time.ndim == kind.ndim == i.ndim == j.ndim == 1):
        raise ValueError(f"{what}: time, kind, i, j must be 1-D arrays.")
    if not (len(time) == len(kind) == len(i) == len(j)):
        raise ValueError(
            f"{what}: lengths differ (time {len(time)}, kind {len(kind)}, i {len(i)}, j {len(j)})."
        )
    bad_time = ~np.isfinite(time) | np.r_[False, np.diff(time) < 0]
    if np.any(bad_time):
        raise ValueError(
            f"{what}: times must be finite and nondecreasing "
            f"(event {int(np.argmax(bad_time))} is not)."
        )
    if not np.all(np.isin(kind, (COMPUTE, COMMUNICATE))):
        raise ValueError(
            f"{what}: kind must be {COMPUTE} (compute) or {COMMUNICATE} "
            f"(communicate); got values {sorted(set(kind.tolist()))}."
        )
    for name, nodes in (("i", i), ("j", j)):
        if np.any((nodes < 0) | (nodes >= num_nodes)):
            raise ValueError(f"{what}: {name} has node ids outside [0, {num_nodes}).")


def _as_rates(name: str, rates, size: int) -> jax.Array:
    """Broadcasts rates to (size,), validating them when they are concrete.

    Traced rates (inside vmap or jit) cannot be inspected; they are the caller's charge.
    """
    dtype = jnp.result_type(float)  # float32, or float64 under jax_enable_x64
    if not isinstance(rates, jax.Array):
        kind = np.asarray(rates).dtype.kind
        if kind not in "iuf":  # True would silently become rate 1, "2" a parse error
            raise TypeError(f"Clocks: {name} must be a number or array of numbers; got {rates!r}.")
    elif not jnp.issubdtype(rates.dtype, jnp.number) or rates.dtype == jnp.bool_:
        raise TypeError(f"Clocks: {name} must be an array of numbers; got dtype {rates.dtype}.")
    rates = jnp.asarray(rates, dtype=dtype)
    if rates.ndim == 0:
        rates = jnp.broadcast_to(rates, (size,))
    if rates.shape != (size,):
        raise ValueError(
            f"Clocks: {name} must be a scalar or have shape ({size},); got {rates.shape}."
        )
    if isinstance(rates, jax.core.Tracer):
        return rates
    values = np.asarray(rates)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"Clocks: {name} contains NaN or infinite values.")
    if np.any(values < 0):
        raise ValueError(f"Clocks: {name} must be nonnegative; got min {values.min()}.")
    return rates


class Clocks(eqx.Module):
    """Poisson clocks of computation (per node) and communication (per edge).

    Rates are array leaves, so ``jax.vmap`` can sweep them.

    Args:
      graph: the communication graph.
      compute_rate: scalar or (num_nodes,) rates of gradient computations.
      comm_rate: scalar or (num_edges,) rates of pairwise communications.
    """

    graph: Graph
    compute_rate: jax.Array  # (num_nodes,)
    comm_rate: jax.Array  # (num_edges,)

    def __init__(self, graph: Graph, compute_rate=1.0, comm_rate=1.0):
        n, m = graph.num_nodes, graph.num_edges
        compute_rate = _as_rates("compute_rate", compute_rate, n)
        comm_rate = _as_rates("comm_rate", comm_rate, m)
        if not isinstance(compute_rate, jax.core.Tracer) and not isinstance(
            comm_rate, jax.core.Tracer
        ):
            if float(jnp.sum(compute_rate) + jnp.sum(comm_rate)) <= 0:
                raise ValueError("Clocks: all rates are zero; no event would ever happen.")
        self.graph = graph
        self.compute_rate = compute_rate
        self.comm_rate = comm_rate

    @property
    def total_rate(self) -> jax.Array:
        """Rate of the superposed process: events per unit of simulated time."""
        return jnp.sum(self.compute_rate) + jnp.sum(self.comm_rate)


def sample_chunk(key, clocks: Clocks, num_events: int, start_time) -> Events:
    n = clocks.graph.num_nodes
    rates = jnp.concatenate([clocks.compute_rate, clocks.comm_rate])
    cumulative = jnp.cumsum(rates)
    total = cumulative[-1]
    gap_key, label_key = jax.random.split(key)
    gaps = jax.random.exponential(gap_key, (num_events,), dtype=rates.dtype) / total
    # Inverse-CDF labelling costs O(log(n + E)) per event, unlike categorical's O(n + E).
    u = jax.random.uniform(label_key, (num_events,), dtype=rates.dtype) * total
    label = jnp.searchsorted(cumulative, u, side="right")
    label = jnp.minimum(label, rates.shape[0] - 1).astype(jnp.int32)
    is_compute = label < n
    edge = jnp.where(is_compute, -1, label - n)
    safe_edge = jnp.maximum(edge, 0)
    i = jnp.where(is_compute, label, clocks.graph.senders[safe_edge])
    j = jnp.where(is_compute, label, clocks.graph.receivers[safe_edge])
    kind = jnp.where(is_compute, COMPUTE, COMMUNICATE).astype(jnp.int32)
    # XLA's cumsum sums in blocks, so in float32 it can step back by an ulp; the
    # running maximum restores the order that the hooks (t - t_i >= 0) rely on.
    elapsed = jax.lax.cummax(jnp.cumsum(gaps))
    return Events(start_time + elapsed, kind, i.astype(jnp.int32), j.astype(jnp.int32), edge)


def sample_events(key, clocks: Clocks, num_events: int, *, num_chunks: int = 1) -> Events:
    """Draws the first ``num_events`` events of the superposed Poisson clocks.

    The trace is drawn in ``num_chunks`` equal chunks, chunk c with key
    ``jax.random.fold_in(key, c)``; ``simulate`` draws its events exactly this
    way with ``num_chunks=num_records``, so this reproduces a run's trace.

    Args:
      key: a JAX PRNG key.
      clocks: the node and edge rates.
      num_events: total number of events (static); divisible by ``num_chunks``.
      num_chunks: number of chunks (static).

    Returns:
      Events with arrays of shape (num_events,), times starting after 0.
    """
    if num_events % num_chunks:
        raise ValueError(f"num_events={num_events} is not divisible by num_chunks={num_chunks}.")
    size = num_events // num_chunks

    def chunk(start_time, c):
        events = sample_chunk(jax.random.fold_in(key, c), clocks, size, start_time)
        return events.time[-1], events

    _, events = jax.lax.scan(chunk, jnp.zeros((), clocks.comm_rate.dtype), jnp.arange(num_chunks))
    return jax.tree_util.tree_map(lambda a: a.reshape(num_events), events)
