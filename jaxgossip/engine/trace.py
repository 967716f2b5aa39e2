"""What a run returns, and how both engines assemble it.

The event engine and the round engine record the same metrics into the same
``Trace``: record 0 is the initial state, then one record per chunk of events
or rounds. ``assemble_trace`` turns a scan's per-chunk records into that Trace
(cumulative counters, bytes, the initial record prepended), so the two
engines cannot drift apart.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np


class Trace(eqx.Module):
    """What a run returns: ``num_records + 1`` records, record 0 being the initial state.

    Record r is taken after r * num_events / num_records events. Which metrics
    are recorded is the problem's to say (``problem.metric_goals``): a convex
    problem records ``suboptimality`` and ``mean_suboptimality`` (fields here);
    a learning problem has no f*, leaves them None and records its own
    metrics (train and test loss and accuracy) in ``metrics``.
    """

    time: jax.Array  # (R+1,) simulated time of the record's last event
    num_computations: jax.Array  # (R+1,) int32, cumulative compute events
    num_communications: jax.Array  # (R+1,) int32, cumulative communication events
    bytes_sent: jax.Array  # (R+1,) float, cumulative bytes exchanged by communications
    consensus: jax.Array  # (R+1,) (1/n) sum_i ||x_i - x_bar||^2
    diverged: jax.Array  # (R+1,) bool, a non-finite value has appeared by this record
    final_state: Any  # the algorithm's network state after the last event, leaves (n, ...)
    suboptimality: jax.Array | None = None  # (R+1,) f(x_bar) - f*, x_bar the network average
    mean_suboptimality: jax.Array | None = None  # (R+1,) (1/n) sum_i f(x_i) - f*
    metrics: dict = eqx.field(default_factory=dict)  # name -> (R+1,), the problem's others

    def records(self) -> dict[str, Any]:
        """Every recorded quantity by name (fields that are None left out), record axis last."""
        out = {name: getattr(self, name) for name in RECORDED}
        out = {name: value for name, value in out.items() if value is not None}
        return out | dict(self.metrics)


# The Trace fields that hold one value per record (all but final_state and metrics).
RECORDED = (
    "time",
    "num_computations",
    "num_communications",
    "bytes_sent",
    "suboptimality",
    "mean_suboptimality",
    "consensus",
    "diverged",
)
# The problem metrics that have a Trace field of their own.
FIELD_METRICS = ("suboptimality", "mean_suboptimality")


def initial_points(x0, problem, num_nodes: int) -> jax.Array:
    """(n, d) starting points: x0 given as (d,) or (n, d), else ``problem.start_points()``."""
    dim, dtype = problem.dim, problem.dtype
    if x0 is None:
        return problem.start_points()
    x0 = jnp.asarray(x0, dtype)
    if x0.shape == (dim,):
        return jnp.broadcast_to(x0, (num_nodes, dim))
    if x0.shape == (num_nodes, dim):
        return x0
    raise ValueError(
        f"simulate: x0 must have shape ({dim},) or ({num_nodes}, {dim}); got {x0.shape}."
    )


def check_start(x0, start, caller: str, start_name: str = "start_time") -> None:
    """ValueErrors naming ``caller``: a concrete x0 with NaN or infinite entries, or
    a concrete start time (or round) that is NaN, infinite or negative.

    Values traced under ``jax.jit`` / ``jax.vmap`` cannot be inspected and are skipped.
    """
    if x0 is not None and not isinstance(x0, jax.core.Tracer):
        if not np.all(np.isfinite(np.asarray(x0, np.float64))):
            raise ValueError(f"{caller}: x0 contains NaN or infinite values.")
    if start is not None and not isinstance(start, jax.core.Tracer):
        value = np.asarray(start)
        if value.dtype.kind not in "iuf" or value.shape != ():
            raise ValueError(f"{caller}: {start_name} must be a real scalar; got {start!r}.")
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"{caller}: {start_name} must be finite and >= 0; got {start!r}.")


def check_run_sizes(
    caller: str, problem, num_nodes: int, steps_name: str, steps: int, num_records: int
) -> None:
    """ValueErrors naming ``caller``: node counts differ, or records do not divide steps."""
    if problem.num_nodes != num_nodes:
        raise ValueError(
            f"{caller}: the problem has {problem.num_nodes} nodes but the graph has {num_nodes}."
        )
    if num_records < 1 or steps < 1 or steps % num_records:
        raise ValueError(
            f"{caller}: {steps_name}={steps} must be a positive multiple of "
            f"num_records={num_records}."
        )


def network_metrics(problem, xs, state, node_suboptimality: bool = True) -> dict:
    """One record's metrics of the iterates xs (n, d) of a network state.

    The problem's own (``problem.record``: suboptimality for a convex problem,
    losses and accuracies for a learning one), the consensus distance, and
    ``diverged``: the state or a metric is non-finite (a finite state can
    still overflow f).
    """
    x_bar = jnp.mean(xs, axis=0)
    metrics = dict(problem.record(xs, node_suboptimality))
    metrics["consensus"] = jnp.mean(jnp.sum((xs - x_bar) ** 2, axis=-1))
    finite = [jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(state)]
    # Per-node metrics are NaN by design when not recorded; the others must be finite.
    skipped = problem.per_node_metrics
    finite += [jnp.isfinite(value) for name, value in metrics.items() if name not in skipped]
    metrics["diverged"] = ~jnp.all(jnp.array(finite))
    return metrics


def assemble_trace(initial: dict, records: dict, start_time, bytes_per_message, final_state):
    """The Trace of a run from its initial metrics and its per-chunk records.

    Args:
      initial: ``network_metrics`` of the initial state.
      records: per-chunk arrays (R,): the ``network_metrics`` fields, ``time``
        (simulated time at the chunk's end) and the chunk's own
        ``num_computations`` / ``num_communications``.
      start_time: simulated time of record 0 (its dtype is the time dtype).
      bytes_per_message: bytes of one communication.
      final_state: the network state after the run.
    """

    def with_initial(name, value):
        return jnp.concatenate([jnp.asarray(value, records[name].dtype)[None], records[name]])

    num_computations = jnp.cumsum(with_initial("num_computations", 0))
    num_communications = jnp.cumsum(with_initial("num_communications", 0))
    start_time = jnp.asarray(start_time)
    counters = ("time", "num_computations", "num_communications", "consensus", "diverged")
    metrics = {name: with_initial(name, initial[name]) for name in initial if name not in counters}
    fields = {name: metrics.pop(name) for name in FIELD_METRICS if name in metrics}
    return Trace(
        time=with_initial("time", start_time),
        num_computations=num_computations,
        num_communications=num_communications,
        bytes_sent=num_communications.astype(start_time.dtype) * bytes_per_message,
        consensus=with_initial("consensus", initial["consensus"]),
        diverged=with_initial("diverged", initial["diverged"]),
        final_state=final_state,
        metrics=metrics,
        **fields,
    )
