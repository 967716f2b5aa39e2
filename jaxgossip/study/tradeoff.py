"""The computation/communication trade-off: what each rate ratio costs to reach eps.

For a grid of ratios rho (communications per gradient computation), ``explore``
runs every algorithm at each ratio over several seeds and reports, per run, the
computations, communications and time it needed to reach a target: by default
f(x_bar) - f* <= eps, or any recorded metric, e.g. test_accuracy >= 0.95 on a
learning problem (its direction from the problem's ``metric_goals``),
asynchronous and synchronous methods side by side in one Dataset (so that
``plot.plot_frontier`` draws them on one frontier):

- an asynchronous method runs on ``rate_ratio_clocks(graph, rho)``. It is built
  once per ratio by its ``from_theory`` (NumPy set-up), the builds are stacked
  along a leading ratio axis, and ONE compiled function runs every (ratio,
  seed) run at once, vmapped. Chunk c of a run uses
  ``jax.random.fold_in(run_key, c)``, as ``long_run.simulate_in_chunks`` does,
  so each run equals that chunked single run;
- a synchronous method whose knob is its gossip steps per round runs with
  K = ``gossip_steps(rho, n, |E|)`` (ratio K |E| / n); K is static, so each K
  is its own compiled call, vmapped over seeds, and each run equals one
  ``simulate_rounds`` call.

A Python loop over chunks stops as soon as every run has reached eps or
diverged (``analysis.mask_divergence``, the rule sweeps use too). A learning
problem has no theory lower bounds: they are NaN, and ``attrs["bound_source"]``
says why.
``medians``, ``cost_to_reach`` and ``best_ratios`` read the resulting Dataset.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import time
import warnings
from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from jaxgossip import theory
from jaxgossip.algorithms.base import TheoryConditionWarning
from jaxgossip.algorithms.registry import METHODS, REGISTRY
from jaxgossip.engine.events import BATCHED_SCHEDULE, init_state, simulate
from jaxgossip.engine.long_run import append_traces
from jaxgossip.engine.rounds import init_round_state, simulate_rounds
from jaxgossip.network.clocks import Clocks
from jaxgossip.network.mixing import Mixing, metropolis_mixing
from jaxgossip.study.analysis import GOALS, check_precision, mask_divergence, metric_goals

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


class Synchronous(NamedTuple):
    """A synchronous method for ``explore``, its knob the gossip steps per round.

    ``build(problem, mixing, num_gossip_steps) -> SyncAlgorithm``; e.g.
    ``Synchronous(lambda p, m, k: MSDA.from_theory(p, m, num_gossip_steps=k))``,
    which is what the name ``"msda"`` gives.
    """

    build: Callable


def gossip_steps(ratio: float, num_nodes: int, num_links: int) -> int:
    """K >= 1 gossip steps per round nearest (in log) to ``ratio`` communications per computation.

    A round of n computations and K gossip steps of |E| communications has
    ratio K |E| / n.
    """
    exact = float(ratio) * num_nodes / num_links
    low = max(1, int(np.floor(exact)))
    high = low + 1
    return low if exact <= low or np.log(exact / low) <= np.log(high / exact) else high


def explore(
    problem,
    graph,
    algorithms,
    *,
    ratios,
    eps: float,
    metric: str = "suboptimality",
    goal: str | None = None,
    seeds=4,
    events_per_chunk: int,
    records_per_chunk: int = 20,
    rounds_per_chunk: int | None = None,
    max_chunks: int = 50,
    x0=None,
    compute_rate: float = 1.0,
    mixing: Mixing | None = None,
    divergence_factor: float = 1e6,
    graph_name: str = "",
    progress: bool = False,
) -> xr.Dataset:
    """Computations, communications and time to reach ``eps``, per algorithm, ratio and seed.

    An asynchronous method runs ratio rho on ``rate_ratio_clocks(graph, rho,
    compute_rate)``. A synchronous method whose knob is its gossip steps per
    round (MSDA, OPAPC, ADOM+, ADOM+ multi-consensus) runs ratio rho with
    K = ``gossip_steps(rho, n, |E|)`` gossip steps per round on ``mixing``, so
    that its communications per computation, K |E| / n, is as near rho as an
    integer K allows (``realized_ratio`` says what it is); each K is its own
    compiled call, and ratios that give the same K share one run.

    Args:
      problem: the problem, shared by every run.
      graph: the communication graph.
      algorithms: label -> a callable ``(problem, clocks) -> Algorithm`` (e.g.
        ``DADAO.from_theory``), a ``Synchronous`` entry, or a name of
        ``jaxgossip.algorithms.METHODS`` (an asynchronous method's
        ``from_theory``, or a synchronous one with ``num_gossip_steps``, built
        by ``from_theory(problem, mixing, num_gossip_steps=K)``); a sequence of
        names is labelled by them. An asynchronous method's builds for the
        ratios must share one pytree structure and leaf shapes.
      ratios: 1-D communications per computation, > 0 (at least two decades make
        a frontier).
      eps: the target value of ``metric``, e.g. 1e-4 for f(x_bar) - f* or 0.95
        for test_accuracy.
      metric: a metric the problem records (``analysis.metric_goals(problem)``):
        ``suboptimality`` (default), or on a learning problem e.g.
        ``test_accuracy`` or ``test_loss``; a run reaches the target at its
        first record with metric <= eps (goal "min") or >= eps (goal "max").
      goal: ``"min"`` or ``"max"``; by default the metric's own, from the
        problem's ``metric_goals``.
      seeds: S, for seeds 0..S-1, or a sequence of ints >= 0; seed s runs with
        ``jax.random.key(s)`` at every ratio (common random numbers).
      events_per_chunk: events of every asynchronous run per compiled call, a
        multiple of ``records_per_chunk``.
      records_per_chunk: records per chunk; "to reach" values are read at records,
        every ``events_per_chunk / records_per_chunk`` events (or rounds).
      rounds_per_chunk: rounds of every synchronous run per compiled call, a
        multiple of ``records_per_chunk``; by default ``records_per_chunk``
        (one record per round, so "to reach" is exact to the round).
      max_chunks: at most this many chunks per algorithm (and per K): a budget of
        ``max_chunks * events_per_chunk`` events or ``max_chunks * rounds_per_chunk``
        rounds per run.
      x0: optional initial point, (dim,) or (num_nodes, dim); zeros by default.
      compute_rate: every node's gradient rate (asynchronous methods).
      mixing: the gossip matrix of the synchronous methods, on ``graph``;
        ``metropolis_mixing(graph)`` by default.
      divergence_factor: a record whose suboptimality exceeds this factor times the
        initial one counts as diverged, as does a non-finite state (the engine's
        flag; ``analysis.mask_divergence``).
      graph_name: stored as ``attrs["graph"]`` (a ``Graph`` does not know its name).
      progress: print one line per chunk to stderr.

    Returns:
      A Dataset with dims ("algorithm", "ratio", "seed"), a coordinate
      ``engine`` ("events" or "rounds") along "algorithm", and data variables

      - ``computations``, ``communications``, ``time`` (float64): the cumulative
        counts and time at the first record that reaches the target (time is
        simulated time for an asynchronous run, rounds for a synchronous one);
        NaN where the run did not reach eps within its budget, or diverged. A
        synchronous run's counts are its rounds times the round's cost: n
        computations and K |E| communications per round.
      - ``final_<metric>`` (float64), e.g. ``final_suboptimality``: the metric at
        the last record run; NaN once diverged.
      - ``diverged`` (bool): the run diverged at some record it ran. An
        unstable run (e.g. DADAO below its communication-rate condition) may dip
        under eps before it blows up; it then counts as diverged, not reached,
        provided the blow-up shows within the chunks run, which go on until
        every run of the algorithm (of the K) has reached eps or diverged.
      - ``events`` (int64): events run by an asynchronous method, the same for
        all its runs (its chunks run x events_per_chunk; each run equals its
        single chunked run of that many events); 0 for a synchronous one.
      - ``rounds`` (int64): rounds run by a synchronous method, the same for the
        runs of one K (each equals one ``simulate_rounds`` call of that many
        rounds); 0 for an asynchronous one.
      - ``realized_ratio`` (float64, dims ("algorithm", "ratio")): the
        communications per computation run: rho for an asynchronous method (its
        clocks' expectation), K |E| / n as counted for a synchronous one.

      attrs: eps, metric, goal, num_nodes, num_edges, graph, compute_rate,
      divergence_factor, events_per_chunk, records_per_chunk, rounds_per_chunk,
      max_chunks, compilations (compiled chunk functions this call created: one
      per asynchronous algorithm and one per synchronous algorithm and K, none
      when an identical earlier call left them cached), and lower_computations,
      lower_communications, bound_source from
      ``jaxgossip.theory.lower_bounds(problem, clocks, eps)`` at the clocks of ratio 1
      (with ``x0=`` the mean initial point when ``x0`` is given); for a learning
      problem, or a metric other than suboptimality, the bounds are NaN and
      bound_source says that there are none.

    Raises:
      ValueError: bad arguments, or a metric the problem does not record.
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
    rounds_per_chunk = records_per_chunk if rounds_per_chunk is None else rounds_per_chunk
    if rounds_per_chunk < 1 or rounds_per_chunk % records_per_chunk:
        raise ValueError(
            f"explore: rounds_per_chunk={rounds_per_chunk} must be a positive multiple of "
            f"records_per_chunk={records_per_chunk}."
        )
    if max_chunks < 1:
        raise ValueError(f"explore: max_chunks must be >= 1; got {max_chunks}.")
    goals = metric_goals(problem)
    if metric not in goals:
        raise ValueError(
            f"explore: the problem does not record {metric!r}; it records {sorted(goals)}."
        )
    goal = goals[metric] if goal is None else goal
    if goal not in GOALS:
        raise ValueError(f"explore: goal must be one of {GOALS}; got {goal!r}.")
    if metric == "suboptimality":
        check_precision(problem, eps, "explore")
    if not divergence_factor > 0:
        raise ValueError(f"explore: divergence_factor must be > 0; got {divergence_factor!r}.")
    if any(engine == "rounds" for engine, _ in algorithms.values()):
        mixing = metropolis_mixing(graph) if mixing is None else mixing
        if not isinstance(mixing, Mixing) or (
            mixing.num_nodes,
            mixing.graph.num_edges,
        ) != (graph.num_nodes, graph.num_edges):
            raise ValueError("explore: mixing must be a fixed Mixing on graph.")
    # Before any run, so that a failing bound wastes no simulation.
    bounds = _lower_bounds(problem, graph, compute_rate, eps, x0, metric)
    settle = dict(
        eps=eps, metric=metric, goal=goal, divergence_factor=divergence_factor, progress=progress
    )
    cached = _run_chunk._cache_size() + _run_rounds_chunk._cache_size()
    results = {}
    for label, (engine, factory) in algorithms.items():
        if engine == "events":
            results[label] = _explore_events(
                label, factory, problem, graph, ratios, seeds, x0, compute_rate,
                events_per_chunk, records_per_chunk, max_chunks, **settle,
            )  # fmt: skip
        else:
            results[label] = _explore_rounds(
                label, factory, problem, mixing, ratios, seeds, x0,
                rounds_per_chunk, records_per_chunk, max_chunks, **settle,
            )  # fmt: skip

    dims = ("algorithm", "ratio", "seed")
    data = {
        name: (dims, np.stack([results[label][name] for label in algorithms]))
        for name in (*REACH, f"final_{metric}", "diverged", "events", "rounds")
    }
    data["realized_ratio"] = (
        dims[:2],
        np.stack([results[label]["realized_ratio"] for label in algorithms]),
    )
    coords = dict(
        algorithm=np.asarray(list(algorithms)),
        engine=("algorithm", np.asarray([engine for engine, _ in algorithms.values()])),
        ratio=ratios,
        seed=np.asarray(seeds),
    )
    attrs = dict(
        eps=float(eps),
        metric=str(metric),
        goal=str(goal),
        num_nodes=int(graph.num_nodes),
        num_edges=int(graph.num_edges),
        graph=str(graph_name),
        compute_rate=float(compute_rate),
        divergence_factor=float(divergence_factor),
        events_per_chunk=int(events_per_chunk),
        records_per_chunk=int(records_per_chunk),
        rounds_per_chunk=int(rounds_per_chunk),
        max_chunks=int(max_chunks),
        compilations=int(_run_chunk._cache_size() + _run_rounds_chunk._cache_size() - cached),
        lower_computations=float(bounds["computations"]),
        lower_communications=float(bounds["communications"]),
        bound_source=str(bounds["source"]),
    )
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _lower_bounds(problem, graph, compute_rate, eps, x0, metric) -> dict:
    """``theory.lower_bounds`` at the clocks of ratio 1; NaN, with the reason as the
    source, for a learning problem or a target on another metric than f(x_bar) - f*."""
    if not problem.convex or metric != "suboptimality":
        why = "a learning problem" if not problem.convex else f"a target on {metric}"
        return dict(
            computations=np.nan,
            communications=np.nan,
            source=f"none: theory's lower bounds are on f(x̄) − f* of convex problems, not {why}",
        )
    unit_clocks = rate_ratio_clocks(graph, 1.0, compute_rate)
    if x0 is None:
        return theory.lower_bounds(problem, unit_clocks, eps)
    # The bound is relative to f(x_bar_0) - f*, the first record's suboptimality.
    x_bar = np.mean(np.reshape(np.asarray(x0, np.float64), (-1, problem.dim)), axis=0)
    return theory.lower_bounds(problem, unit_clocks, eps, x0=x_bar)


def _explore_events(
    label, factory, problem, graph, ratios, seeds, x0, compute_rate, events_per_chunk,
    records_per_chunk, max_chunks, *, eps, metric, goal, divergence_factor, progress,
):  # fmt: skip
    """One asynchronous algorithm: every (ratio, seed) run in one vmapped chunk function."""
    clocks = [rate_ratio_clocks(graph, rho, compute_rate) for rho in ratios]
    compute_rates = jnp.stack([c.compute_rate for c in clocks])  # (R, n)
    comm_rates = jnp.stack([c.comm_rate for c in clocks])  # (R, E)
    keys = jnp.stack([jax.random.key(s) for s in seeds])  # (S,)
    sizes = dict(events_per_chunk=events_per_chunk, records_per_chunk=records_per_chunk)
    # Per-node metrics cost n evaluations a record: only when they are the target.
    sizes["per_node"] = metric in problem.per_node_metrics
    algorithm = _stack(label, _built_per_ratio(label, factory, problem, clocks, ratios))
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
        result = _settle(trace, eps, metric, goal, divergence_factor)
        done = int(np.sum(result.pop("settled")))
        if progress:
            _report(label, c, max_chunks, done, result["diverged"].size, started)
        if done == result["diverged"].size:
            break
    result["events"] = np.full(result["diverged"].shape, (c + 1) * events_per_chunk, np.int64)
    result["rounds"] = np.zeros(result["diverged"].shape, np.int64)
    result["realized_ratio"] = ratios
    return result


def _explore_rounds(
    label, build, problem, mixing, ratios, seeds, x0, rounds_per_chunk, records_per_chunk,
    max_chunks, *, eps, metric, goal, divergence_factor, progress,
):  # fmt: skip
    """One synchronous algorithm: per K, every seed's run in one vmapped chunk function."""
    keys = jnp.stack([jax.random.key(s) for s in seeds])  # (S,)
    sizes = dict(rounds_per_chunk=rounds_per_chunk, records_per_chunk=records_per_chunk)
    per_steps = {}
    steps = [gossip_steps(rho, mixing.num_nodes, mixing.graph.num_edges) for rho in ratios]
    for k in dict.fromkeys(steps):
        algorithm = build(problem, mixing, k)
        init = jax.vmap(init_round_state, in_axes=(0, None, None, None, None))
        state = init(keys, algorithm, problem, mixing, x0)  # leaves (S, n, ...)
        trace, started = None, time.perf_counter()
        for c in range(max_chunks):
            start_round = np.int32(c * rounds_per_chunk)
            chunk = _run_rounds_chunk(algorithm, problem, mixing, keys, start_round, state, **sizes)
            trace = append_traces(trace, chunk)
            state = trace.final_state
            result = _settle(trace, eps, metric, goal, divergence_factor)
            done = int(np.sum(result.pop("settled")))
            if progress:
                _report(f"{label} (K={k})", c, max_chunks, done, len(seeds), started)
            if done == len(seeds):
                break
        result["events"] = np.zeros(len(seeds), np.int64)
        result["rounds"] = np.full(len(seeds), (c + 1) * rounds_per_chunk, np.int64)
        # Counted, not assumed: every round of these methods costs the same.
        computations = float(trace.num_computations[0, -1])
        result["realized_ratio"] = float(trace.num_communications[0, -1]) / computations
        per_steps[k] = result
    return {name: np.stack([per_steps[k][name] for k in steps]) for name in per_steps[steps[0]]}


def _report(label, c, max_chunks, done, total, started) -> None:
    print(
        f"{label}: chunk {c + 1}/{max_chunks}, {done}/{total} runs "
        f"reached or diverged, {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
        flush=True,
    )


@functools.partial(jax.jit, static_argnames=("rounds_per_chunk", "records_per_chunk"))
def _run_rounds_chunk(algorithm, problem, mixing, keys, start_round, state, **sizes):
    """One chunk of every seed's run of a synchronous algorithm (compiled once per K).

    keys (S,), start_round (), state leaves (S, n, ...) -> a Trace with records (S, K + 1).
    """

    def run(key, state):
        return simulate_rounds(
            key,
            algorithm,
            problem,
            mixing,
            num_rounds=sizes["rounds_per_chunk"],
            num_records=sizes["records_per_chunk"],
            initial_state=state,
            start_round=start_round,
        )

    return jax.vmap(run)(keys, state)


@functools.partial(jax.jit, static_argnames=("events_per_chunk", "records_per_chunk", "per_node"))
def _run_chunk(
    algorithm, problem, graph, compute_rate, comm_rate, keys, chunk, state, start_time, **sizes
):
    """One chunk of every (ratio, seed) run; ``per_node``: record the per-node metrics.

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
            # O(n * n m d) for logistic regression: only when it is the target.
            node_suboptimality=sizes["per_node"],
            schedule=BATCHED_SCHEDULE,
        )

    over_seeds = jax.vmap(run, in_axes=(None, None, None, 0, 0, 0))
    return jax.vmap(over_seeds, in_axes=(0, 0, 0, None, 0, 0))(
        algorithm, compute_rate, comm_rate, keys, state, start_time
    )


def _settle(trace, eps: float, metric: str, goal: str, divergence_factor: float) -> dict:
    """Per-run results (...) of a stitched trace (records last), and whether each run is settled."""
    # Every recorded metric enters the mask (one not recorded, all NaN, is ignored).
    records = {name: np.asarray(value) for name, value in trace.records().items()}
    bad = mask_divergence(records, divergence_factor)["diverged"]
    values = records[metric].astype(np.float64)
    reached = ((values <= eps) if goal == "min" else (values >= eps)) & ~bad
    ever = reached.any(-1)
    first = reached.argmax(-1)[..., None]
    diverged = bad[..., -1]

    def at_first(values):
        values = np.take_along_axis(np.asarray(values, np.float64), first, -1)[..., 0]
        return np.where(ever & ~diverged, values, np.nan)

    counters = (trace.num_computations, trace.num_communications, trace.time)
    result = {name: at_first(values) for name, values in zip(REACH, counters)}
    result[f"final_{metric}"] = np.where(diverged, np.nan, values[..., -1])
    result["diverged"] = diverged
    result["settled"] = ever | diverged
    return result


def _factories(algorithms) -> dict:
    """label -> (engine, build): ("events", (problem, clocks) -> Algorithm) or
    ("rounds", (problem, mixing, num_gossip_steps) -> SyncAlgorithm)."""
    if isinstance(algorithms, str) or not hasattr(algorithms, "__iter__"):
        raise TypeError("explore: algorithms must be a dict label -> factory or a list of names.")
    if not isinstance(algorithms, dict):
        algorithms = {name: name for name in algorithms}
    if not algorithms:
        raise ValueError("explore: no algorithm given.")
    factories = {}
    for label, spec in algorithms.items():
        if isinstance(spec, str):
            factories[str(label)] = _named(spec)
        elif isinstance(spec, Synchronous):
            factories[str(label)] = ("rounds", spec.build)
        elif callable(spec):
            factories[str(label)] = ("events", spec)
        else:
            raise TypeError(f"explore: algorithms[{label!r}] is neither a callable nor a name.")
    return factories


def _named(name: str):
    """(engine, build) of a registered method."""
    if name not in METHODS:
        raise ValueError(f"explore: unknown algorithm {name!r}; known: {sorted(METHODS)}.")
    method = METHODS[name]
    if method.engine == "events":
        return "events", REGISTRY[name].from_theory
    if not _has_gossip_steps(method.cls):
        raise ValueError(
            f"explore: {name!r} is synchronous with a fixed communications per computation "
            "(no num_gossip_steps), so it has no ratio to explore; knobbed synchronous methods: "
            f"{sorted(m for m, v in METHODS.items() if _has_gossip_steps(v.cls))}."
        )

    def build(problem, mixing, num_gossip_steps):
        return method.cls.from_theory(problem, mixing, num_gossip_steps=num_gossip_steps)

    return "rounds", build


def _has_gossip_steps(cls) -> bool:
    return "num_gossip_steps" in {f.name for f in dataclasses.fields(cls)}


def _seeds(seeds) -> list[int]:
    seeds = np.arange(seeds) if isinstance(seeds, (int, np.integer)) else np.asarray(seeds)
    if seeds.ndim != 1 or seeds.size == 0 or seeds.dtype.kind not in "iu" or np.any(seeds < 0):
        raise ValueError("explore: seeds must be an int >= 1 or a non-empty 1-D list of ints >= 0.")
    return seeds.tolist()


def _built_per_ratio(label, factory, problem, clocks, ratios) -> list:
    """``factory(problem, c)`` per ratio's clocks; a method whose theory's
    conditions fail at some ratios (an explorer goes there on purpose) gets one
    ``TheoryConditionWarning`` naming those ratios, not one per ratio."""
    built, failing = [], []
    for ratio, c in zip(ratios, clocks):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", TheoryConditionWarning)
            built.append(factory(problem, c))
        if any(issubclass(w.category, TheoryConditionWarning) for w in caught):
            failing.append(float(ratio))
        for w in caught:
            if not issubclass(w.category, TheoryConditionWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if failing:
        warnings.warn(
            f"explore: {label}'s theory conditions fail at ratios "
            f"{', '.join(f'{r:g}' for r in failing)}; its guarantee does not hold there.",
            TheoryConditionWarning,
            stacklevel=4,
        )
    return built


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

    ``computations``, ``communications``, ``time`` and the final metric
    (``final_suboptimality``, ``final_test_accuracy``, ...) count NaN (not
    reached, or diverged) as +infinity, so their median is NaN unless more than
    half the seeds reached (for an even count the two middle runs are averaged,
    so exactly half reaching gives NaN). ``diverged`` becomes
    ``diverged_fraction`` and a ``reached_fraction`` is added; ``events`` is
    the most events any seed ran, as is ``rounds``; ``realized_ratio`` is
    kept. Attributes are kept.
    """
    out = {}
    finals = [name for name in ds.data_vars if name.startswith("final_")]
    for name in (*REACH, *finals):
        median = ds[name].fillna(np.inf).median("seed")
        out[name] = median.where(np.isfinite(median))
    out["reached_fraction"] = ds["computations"].notnull().mean("seed")
    out["diverged_fraction"] = ds["diverged"].mean("seed")
    out["events"] = ds["events"].max("seed")
    for name in ("rounds", "realized_ratio"):  # absent from Datasets of earlier versions
        if name in ds:
            out[name] = ds[name].max("seed") if "seed" in ds[name].dims else ds[name]
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
