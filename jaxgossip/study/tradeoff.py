"""The computation/communication trade-off: what each rate ratio costs to reach eps.

For a grid of rate ratios rho (expected communications per gradient
computation), ``explore`` runs every algorithm on ``rate_ratio_clocks(graph,
rho)`` over several seeds and reports, per run, the computations,
communications and simulated time it needed to reach f(x_bar) - f* <= eps.
Each algorithm is built once per ratio by its ``from_theory`` (NumPy set-up),
the builds are stacked along a leading ratio axis, and ONE compiled function
runs every (ratio, seed) run of that algorithm at once, vmapped; a Python loop
over chunks of events stops as soon as every run has reached eps or diverged.
Chunk c of a run uses ``jax.random.fold_in(run_key, c)``, as
``long_run.simulate_in_chunks`` does, so each run equals that chunked single run.

``medians``, ``cost_to_reach`` and ``best_ratios`` read the resulting Dataset.
"""

from __future__ import annotations

import functools
import sys
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from jaxgossip import theory
from jaxgossip.algorithms import REGISTRY
from jaxgossip.engine.events import init_state, simulate
from jaxgossip.engine.long_run import append_traces
from jaxgossip.network.clocks import Clocks

REACH = ("computations", "communications", "time")


def rate_ratio_clocks(graph, ratio, compute_rate=1.0) -> Clocks:
    """Uniform clocks with ``ratio`` communications per gradient computation, in expectation.

    Every node computes at ``compute_rate``; every edge communicates at
    ``ratio * n * compute_rate / |E|``, so the network communicates at ``ratio``
    times the rate at which it computes.

    Args:
      graph: the communication graph (n nodes, |E| edges).
      ratio: communications per computation, > 0.
      compute_rate: each node's rate of gradient computations, > 0.
    """
    ratio, compute_rate = float(ratio), float(compute_rate)
    if not (0 < ratio < np.inf and 0 < compute_rate < np.inf):
        raise ValueError(
            f"rate_ratio_clocks: ratio and compute_rate must be finite and > 0; "
            f"got {ratio!r}, {compute_rate!r}."
        )
    comm_rate = ratio * graph.num_nodes * compute_rate / graph.num_edges
    return Clocks(graph, compute_rate=compute_rate, comm_rate=comm_rate)


def explore(
    problem,
    graph,
    algorithms,
    *,
    ratios,
    eps: float,
    seeds=4,
    events_per_chunk: int,
    records_per_chunk: int = 20,
    max_chunks: int = 50,
    x0=None,
    compute_rate: float = 1.0,
    divergence_factor: float = 1e6,
    graph_name: str = "",
    progress: bool = False,
) -> xr.Dataset:
    """Computations, communications and time to reach ``eps``, per algorithm, ratio and seed.

    Args:
      problem: the problem, shared by every run.
      graph: the communication graph; ratio rho runs on ``rate_ratio_clocks(graph, rho,
        compute_rate)``.
      algorithms: label -> a callable ``(problem, clocks) -> Algorithm`` (e.g.
        ``DADAO.from_theory``) or a name of ``jaxgossip.algorithms.REGISTRY`` (its
        ``from_theory``); a sequence of names is labelled by them. Its builds for
        the ratios must share one pytree structure and leaf shapes.
      ratios: 1-D communications per computation, > 0 (at least two decades make
        a frontier).
      eps: the absolute target on f(x_bar) - f*.
      seeds: S, for seeds 0..S-1, or a sequence of ints >= 0; seed s runs with
        ``jax.random.key(s)`` at every ratio (common random numbers).
      events_per_chunk: events of every run per compiled call, a multiple of
        ``records_per_chunk``.
      records_per_chunk: records per chunk; "to reach" values are read at records,
        every ``events_per_chunk / records_per_chunk`` events.
      max_chunks: at most this many chunks per algorithm: a budget of
        ``max_chunks * events_per_chunk`` events per run.
      x0: optional initial point, (dim,) or (num_nodes, dim); zeros by default.
      compute_rate: every node's gradient rate.
      divergence_factor: a record whose suboptimality exceeds this factor times the
        initial one counts as diverged, as does a non-finite state (the engine's flag).
      graph_name: stored as ``attrs["graph"]`` (a ``Graph`` does not know its name).
      progress: print one line per chunk to stderr.

    Returns:
      A Dataset with dims ("algorithm", "ratio", "seed") and data variables

      - ``computations``, ``communications``, ``time`` (float64): the cumulative
        counts and simulated time at the first record with f(x_bar) - f* <= eps;
        NaN where the run did not reach eps within its events, or diverged.
      - ``final_suboptimality`` (float64): at the last record run; NaN once diverged.
      - ``diverged`` (bool): the run diverged at some record of its events. An
        unstable run (e.g. DADAO below its communication-rate condition) may dip
        under eps before it blows up; it then counts as diverged, not reached,
        provided the blow-up shows within the events run, which go on until
        every run of the algorithm has reached eps or diverged.
      - ``events`` (int64): events run, the same for every run of an algorithm
        (its chunks run x events_per_chunk); each run equals its single chunked
        run of that many events.

      attrs: eps, num_nodes, num_edges, graph, compute_rate, divergence_factor,
      events_per_chunk, records_per_chunk, max_chunks, compilations (compiled
      chunk functions this call created: one per algorithm, none when an
      identical earlier call left them cached), and lower_computations,
      lower_communications, bound_source from
      ``jaxgossip.theory.lower_bounds(problem, clocks, eps)`` at the clocks of ratio 1
      (with ``x0=`` the mean initial point when ``x0`` is given).
    """
    algorithms = _factories(algorithms)
    ratios = np.asarray(ratios, np.float64)
    if ratios.ndim != 1 or ratios.size == 0 or not np.all((ratios > 0) & np.isfinite(ratios)):
        raise ValueError("explore: ratios must be a non-empty 1-D sequence of finite values > 0.")
    seeds = _seeds(seeds)
    if events_per_chunk < 1 or records_per_chunk < 1 or events_per_chunk % records_per_chunk:
        raise ValueError(
            f"explore: events_per_chunk={events_per_chunk} must be a positive multiple of "
            f"records_per_chunk={records_per_chunk}."
        )
    if max_chunks < 1:
        raise ValueError(f"explore: max_chunks must be >= 1; got {max_chunks}.")
    if not divergence_factor > 0:
        raise ValueError(f"explore: divergence_factor must be > 0; got {divergence_factor!r}.")
    # Before any run, so that a failing bound wastes no simulation.
    unit_clocks = rate_ratio_clocks(graph, 1.0, compute_rate)
    if x0 is None:
        bounds = theory.lower_bounds(problem, unit_clocks, eps)
    else:  # the bound is relative to f(x_bar_0) - f*, the first record's suboptimality
        x_bar = np.mean(np.reshape(np.asarray(x0, np.float64), (-1, problem.dim)), axis=0)
        bounds = theory.lower_bounds(problem, unit_clocks, eps, x0=x_bar)

    clocks = [rate_ratio_clocks(graph, rho, compute_rate) for rho in ratios]
    compute_rates = jnp.stack([c.compute_rate for c in clocks])  # (R, n)
    comm_rates = jnp.stack([c.comm_rate for c in clocks])  # (R, E)
    keys = jnp.stack([jax.random.key(s) for s in seeds])  # (S,)
    sizes = dict(events_per_chunk=events_per_chunk, records_per_chunk=records_per_chunk)
    cached = _run_chunk._cache_size()
    results = {}
    for label, factory in algorithms.items():
        algorithm = _stack(label, [factory(problem, c) for c in clocks])
        # Initial states (R, S, n, ...): init may read hyperparameters, so vmap it over ratios.
        state = jax.vmap(lambda a: init_state(a, problem, x0), axis_size=len(ratios))(algorithm)
        state = jax.tree.map(lambda s: jnp.repeat(s[:, None], len(seeds), axis=1), state)
        start_time = jnp.zeros((len(ratios), len(seeds)), comm_rates.dtype)
        trace, started = None, time.perf_counter()
        for c in range(max_chunks):
            chunk = _run_chunk(
                algorithm, problem, graph, compute_rates, comm_rates, keys,
                np.int32(c), state, start_time, **sizes,
            )  # fmt: skip
            trace = append_traces(trace, chunk)
            state, start_time = trace.final_state, trace.time[..., -1]
            result = _settle(trace, eps, divergence_factor)
            done = int(np.sum(result.pop("settled")))
            if progress:
                print(
                    f"{label}: chunk {c + 1}/{max_chunks}, {done}/{result['diverged'].size} runs "
                    f"reached or diverged, {time.perf_counter() - started:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
            if done == result["diverged"].size:
                break
        result["events"] = np.full(result["diverged"].shape, (c + 1) * events_per_chunk, np.int64)
        results[label] = result

    dims = ("algorithm", "ratio", "seed")
    data = {
        name: (dims, np.stack([results[label][name] for label in algorithms]))
        for name in (*REACH, "final_suboptimality", "diverged", "events")
    }
    coords = dict(algorithm=np.asarray(list(algorithms)), ratio=ratios, seed=np.asarray(seeds))
    attrs = dict(
        eps=float(eps),
        num_nodes=int(graph.num_nodes),
        num_edges=int(graph.num_edges),
        graph=str(graph_name),
        compute_rate=float(compute_rate),
        divergence_factor=float(divergence_factor),
        events_per_chunk=int(events_per_chunk),
        records_per_chunk=int(records_per_chunk),
        max_chunks=int(max_chunks),
        compilations=int(_run_chunk._cache_size() - cached),
        lower_computations=float(bounds["computations"]),
        lower_communications=float(bounds["communications"]),
        bound_source=str(bounds["source"]),
    )
    return xr.Dataset(data, coords=coords, attrs=attrs)


@functools.partial(jax.jit, static_argnames=("events_per_chunk", "records_per_chunk"))
def _run_chunk(
    algorithm, problem, graph, compute_rate, comm_rate, keys, chunk, state, start_time, **sizes
):
    """One chunk of every (ratio, seed) run.

    algorithm leaves (R, ...), compute_rate (R, n), comm_rate (R, E), keys (S,),
    state leaves (R, S, n, ...), start_time (R, S) -> a Trace with records (R, S, K + 1).
    """

    def run(algorithm, compute_rate, comm_rate, key, state, start_time):
        return simulate(
            jax.random.fold_in(key, chunk),
            algorithm,
            problem,
            Clocks(graph, compute_rate, comm_rate),
            num_events=sizes["events_per_chunk"],
            num_records=sizes["records_per_chunk"],
            initial_state=state,
            start_time=start_time,
            node_suboptimality=False,  # unused here, and O(n * n m d) for logistic regression
        )

    over_seeds = jax.vmap(run, in_axes=(None, None, None, 0, 0, 0))
    return jax.vmap(over_seeds, in_axes=(0, 0, 0, None, 0, 0))(
        algorithm, compute_rate, comm_rate, keys, state, start_time
    )


def _settle(trace, eps: float, divergence_factor: float) -> dict:
    """Per-run results (R, S) of a stitched trace, and whether each run is settled."""
    sub = np.asarray(trace.suboptimality, np.float64)  # (R, S, T)
    tiny = np.finfo(np.asarray(trace.suboptimality).dtype).tiny
    bad = np.asarray(trace.diverged) | ~np.isfinite(sub)
    bad |= sub > divergence_factor * np.maximum(sub[..., :1], tiny)
    bad = np.logical_or.accumulate(bad, axis=-1)  # diverged stays diverged
    reached = (sub <= eps) & ~bad
    ever = reached.any(-1)
    first = reached.argmax(-1)[..., None]
    diverged = bad[..., -1]

    def at_first(values):
        values = np.take_along_axis(np.asarray(values, np.float64), first, -1)[..., 0]
        return np.where(ever & ~diverged, values, np.nan)

    counters = (trace.num_computations, trace.num_communications, trace.time)
    result = {name: at_first(values) for name, values in zip(REACH, counters)}
    result["final_suboptimality"] = np.where(diverged, np.nan, sub[..., -1])
    result["diverged"] = diverged
    result["settled"] = ever | diverged
    return result


def _factories(algorithms) -> dict:
    """label -> callable (problem, clocks) -> Algorithm."""
    if isinstance(algorithms, str) or not hasattr(algorithms, "__iter__"):
        raise TypeError("explore: algorithms must be a dict label -> factory or a list of names.")
    if not isinstance(algorithms, dict):
        algorithms = {name: name for name in algorithms}
    if not algorithms:
        raise ValueError("explore: no algorithm given.")
    factories = {}
    for label, spec in algorithms.items():
        if isinstance(spec, str):
            if spec not in REGISTRY:
                raise ValueError(f"explore: unknown algorithm {spec!r}; known: {sorted(REGISTRY)}.")
            spec = REGISTRY[spec].from_theory
        if not callable(spec):
            raise TypeError(f"explore: algorithms[{label!r}] is neither a callable nor a name.")
        factories[str(label)] = spec
    return factories


def _seeds(seeds) -> list[int]:
    seeds = np.arange(seeds) if isinstance(seeds, (int, np.integer)) else np.asarray(seeds)
    if seeds.ndim != 1 or seeds.size == 0 or seeds.dtype.kind not in "iu" or np.any(seeds < 0):
        raise ValueError("explore: seeds must be an int >= 1 or a non-empty 1-D list of ints >= 0.")
    return seeds.tolist()


def _stack(label: str, built: list):
    """Stacks one algorithm's builds along a leading ratio axis (leaves (R, ...))."""

    def as_array(leaf):
        if not eqx.is_array_like(leaf):
            raise TypeError(
                f"explore: {label!r} has a leaf of type {type(leaf).__name__}; "
                "hyperparameters must be arrays."
            )
        return jnp.asarray(leaf)

    built = [jax.tree.map(as_array, b) for b in built]
    structure = jax.tree.structure(built[0])
    shapes = [leaf.shape for leaf in jax.tree.leaves(built[0])]
    for b in built[1:]:
        if jax.tree.structure(b) != structure or [x.shape for x in jax.tree.leaves(b)] != shapes:
            raise ValueError(
                f"explore: {label!r} builds differ in structure or leaf shapes across ratios, "
                "so they cannot be stacked (static fields must not depend on the clocks)."
            )
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *built)


def medians(ds: xr.Dataset) -> xr.Dataset:
    """Medians over ``seed`` of an ``explore`` Dataset, a run that did not reach counting +inf.

    ``computations``, ``communications``, ``time`` and ``final_suboptimality``
    count NaN (not reached, or diverged) as +infinity, so their median is NaN
    unless more than half the seeds reached (for an even count the two middle
    runs are averaged, so exactly half reaching gives NaN). ``diverged`` becomes
    ``diverged_fraction`` and a ``reached_fraction`` is added; ``events`` is
    the most events any seed ran. Attributes are kept.
    """
    out = {}
    for name in (*REACH, "final_suboptimality"):
        median = ds[name].fillna(np.inf).median("seed")
        out[name] = median.where(np.isfinite(median))
    out["reached_fraction"] = ds["computations"].notnull().mean("seed")
    out["diverged_fraction"] = ds["diverged"].mean("seed")
    out["events"] = ds["events"].max("seed")
    return xr.Dataset(out, attrs=dict(ds.attrs))


def cost_to_reach(ds: xr.Dataset, *, c_grad: float, c_comm: float) -> xr.DataArray:
    """Total resource cost to reach eps: ``c_grad * computations + c_comm * communications``.

    Both counts are totals over the network, so this is the whole network's
    spend (e.g. energy or money) for one run to reach eps, per (algorithm,
    ratio, seed); NaN where the run did not reach eps. It is also a time: if
    every node is busy c_grad per gradient and c_comm per message it takes part
    in, and nodes work in parallel with even loads, the time to eps is
    (c_grad * computations + 2 c_comm * communications) / n (a message has two
    ends); pass ``c_comm`` doubled and divide by n for that reading.
    """
    if not (0 <= c_grad < np.inf and 0 <= c_comm < np.inf):
        raise ValueError(f"cost_to_reach: costs must be finite and >= 0; got {c_grad}, {c_comm}.")
    cost = c_grad * ds["computations"] + c_comm * ds["communications"]
    return cost.rename("cost_to_reach")


def best_ratios(ds: xr.Dataset, *, c_grad: float, c_comm: float) -> dict:
    """label -> (ratio, median cost): the ratio of least median ``cost_to_reach``.

    The median is over seeds with a run that did not reach counting as +inf
    (as in ``medians``); an algorithm that reaches at no ratio maps to
    ``(nan, nan)``. Ties go to the smallest ratio.
    """
    cost = cost_to_reach(ds, c_grad=c_grad, c_comm=c_comm).fillna(np.inf).median("seed")
    cost = cost.transpose("algorithm", "ratio")
    ratios = ds["ratio"].values
    order = np.argsort(ratios, kind="stable")
    best = {}
    for label, row in zip(ds["algorithm"].values, cost.values[:, order]):
        if not np.any(np.isfinite(row)):
            best[str(label)] = (float("nan"), float("nan"))
            continue
        k = int(np.argmin(row))
        best[str(label)] = (float(ratios[order][k]), float(row[k]))
    return best
