"""Events per second of a vmapped batch of runs against one run, per algorithm (issue #11).

For every asynchronous method in the registry, on a ring of n nodes (dim 16
quadratic, float32, ``from_theory`` hyperparameters, time order; ``--graph
star`` for a star, where DADAO's theory condition holds: on a ring of 256 it
fails and DADAO's runs diverge), it times in one process
  * one jitted ``simulate`` run,
  * a ``jax.vmap``-ed batch of B runs with B different keys (B seeds: every
    run draws its own events),
  * the same batch with one key for all B runs (a sweep's grid: points of one
    seed share their events; ``jax.vmap(..., in_axes=(None, 0))``),
checks that every run of the batches equals the single run of its key (to
float32 rounding: a vmapped matvec may sum in another order), and prints
event-runs per second and the ratios batch / single.
The hyperparameters (scalar float leaves) are batched in both batches, as in a
sweep; arrays an algorithm holds (the dual method's problem) are shared.
Target on CPU (issue #11): batch of 256 >= 6x one run, for every algorithm.
The three programs are timed in turns (best of ``--repeats`` rounds), so that
a slower spell of a shared machine falls on all of them alike.

``--breakdown`` prints instead, per algorithm, the batch's nanoseconds per
event-run for drawing the events and on replayed traces: compute events only,
communications only and both kinds, with one sequence of kinds shared by all
runs (the engine's ``lax.cond`` on the kind stays a branch), and with each
run's own kinds (under ``jax.vmap`` the cond becomes a select: both hooks run
for every event, which is what a batch of independent seeds pays).

    python benchmarks/batched.py [--nodes 256] [--batch 256] [--events N] [--algorithms ...]
                                 [--graph ring|star]
    python benchmarks/batched.py --breakdown
"""

from __future__ import annotations

import argparse
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from bench_timing import best_times

import jaxgossip as jg
from jaxgossip.algorithms.registry import REGISTRY

DIM = 16


GRAPHS = {"ring": jg.graphs.ring, "star": jg.graphs.star}


def setting(name, num_nodes, batch, graph="ring"):
    """The problem, clocks, algorithm, and the algorithm with leaves batched as in a sweep."""
    key = jax.random.key(0)
    problem = jg.problems.quadratic(key, num_nodes, DIM, kappa=10.0)
    clocks = jg.Clocks(GRAPHS[graph](num_nodes), compute_rate=1.0, comm_rate=1.0)
    with warnings.catch_warnings():  # DADAO's theory condition: throughput, not convergence
        warnings.simplefilter("ignore", jg.algorithms.base.TheoryConditionWarning)
        algorithm = REGISTRY[name].from_theory(problem, clocks)
    # Only the hyperparameters (scalar float leaves) are batched, as a sweep builds
    # each run's algorithm from its own values; arrays an algorithm holds (the
    # dual method's problem and edge lists) stay shared. Broadcasting those too
    # gave every run its own copy of the problem's (n, d, d) matrices.
    batched = jax.tree.map(
        lambda leaf: jnp.broadcast_to(leaf, (batch,)) if _is_hyperparameter(leaf) else leaf,
        algorithm,
    )
    return problem, clocks, algorithm, batched


def batch_axes(algorithm):
    """``jax.vmap``'s in_axes for a ``setting`` batched algorithm: 0 on its hyperparameters."""
    return jax.tree.map(lambda leaf: 0 if _is_hyperparameter(leaf) else None, algorithm)


def _is_hyperparameter(leaf) -> bool:
    return jnp.ndim(leaf) == 0 and jnp.issubdtype(jnp.result_type(leaf), jnp.floating)


def bench(name, num_nodes, batch, num_events, repeats, num_records=10, graph="ring"):
    key = jax.random.key(0)
    problem, clocks, algorithm, batched = setting(name, num_nodes, batch, graph)

    def run(key, algorithm):
        trace = jg.simulate(
            key, algorithm, problem, clocks, num_events=num_events, num_records=num_records,
            schedule="sequential", node_suboptimality=False,
        )  # fmt: skip
        return trace.final_state

    single = jax.jit(run)
    axes = batch_axes(algorithm)
    independent = jax.jit(jax.vmap(run, in_axes=(0, axes)))
    shared = jax.jit(jax.vmap(run, in_axes=(None, axes)))
    keys = jax.random.split(key, batch)

    # A method without hyperparameters (gossip) has nothing to sweep on one seed.
    sweepable = bool(jax.tree.leaves(algorithm))

    # Every batched run is its key's single run.
    first, last = single(keys[0], algorithm), single(keys[-1], algorithm)
    checks, diverged = [(independent(keys, batched), (first, last))], False
    if sweepable:
        checks.append((shared(keys[0], batched), (first, first)))
    for got, want in checks:
        for index, expected in zip((0, batch - 1), want):
            row = jax.tree.map(lambda leaf, index=index: leaf[index], got)
            for a, b in zip(jax.tree.leaves(row), jax.tree.leaves(expected)):
                if not np.all(np.abs(np.asarray(b, np.float64)) < 1e6):
                    diverged = True  # it amplifies rounding differences exponentially
                    continue
                # A vmapped matvec may sum in another order (a shared matrix times a
                # batch of vectors is one matrix product): float32 rounding, not bits,
                # grown over the run; compared to the state's scale (the dual method's
                # one-seed batch: 1.8e-5 of it, elements near 0 off by more than 1e-4
                # of themselves; in float64, 2.5e-14).
                scale = np.max(np.abs(np.asarray(b, np.float64)))
                np.testing.assert_allclose(a, b, rtol=0, atol=1e-4 * scale, err_msg=name)

    if diverged:
        print(f"  {name} diverges on this network: its batched runs were not compared")
    programs = [lambda: single(keys[0], algorithm), lambda: independent(keys, batched)]
    if sweepable:
        programs.append(lambda: shared(keys[0], batched))
    t_single, t_independent, *t_shared = best_times(programs, repeats)
    rate = num_events / t_single
    rate_independent = batch * num_events / t_independent
    if not sweepable:
        return rate, rate_independent, None
    return rate, rate_independent, batch * num_events / t_shared[0]


def breakdown(name, num_nodes, batch, num_events, repeats, graph="ring"):
    """A batch's ns per event-run: drawing the events, then replayed traces.

    In the first three traces all runs share one sequence of event kinds (each
    its own nodes), so the engine's ``lax.cond`` on the kind stays a branch:
    compute events only, communications only, and both (run 0's kinds). In the
    last each run has its own kinds, as with independent seeds: the cond is then
    a select and every event pays for both hooks.
    """
    problem, clocks, algorithm, batched = setting(name, num_nodes, batch, graph)
    axes = batch_axes(algorithm)
    keys = jax.random.split(jax.random.key(1), batch)
    draw = jax.jit(jax.vmap(lambda k: jg.sample_events(k, clocks, num_events)))
    own = draw(keys)
    graph = clocks.graph
    edge = jax.random.randint(jax.random.key(2), own.edge.shape, 0, graph.num_edges)

    def with_kinds(kind):  # (num_events,) kinds shared by all runs; nodes per run
        is_compute = kind == jg.COMPUTE
        return own._replace(
            kind=kind,
            i=jnp.where(is_compute, own.i, graph.senders[edge]),
            j=jnp.where(is_compute, own.i, graph.receivers[edge]),
            edge=jnp.where(is_compute, -1, edge),
        )

    shared = [
        with_kinds(jnp.full(num_events, jg.COMPUTE, jnp.int32)),
        with_kinds(jnp.full(num_events, jg.COMMUNICATE, jnp.int32)),
        with_kinds(own.kind[0]),
    ]

    def run(key, algorithm, events):
        trace = jg.simulate(
            key, algorithm, problem, clocks, num_events=num_events, num_records=1,
            events=events, schedule="sequential", node_suboptimality=False,
        )  # fmt: skip
        return trace.final_state

    kinds_shared = jg.Events(time=0, kind=None, i=0, j=0, edge=0)
    replay_shared = jax.jit(jax.vmap(run, in_axes=(0, axes, kinds_shared)))
    replay_own = jax.jit(jax.vmap(run, in_axes=(0, axes, 0)))
    programs = [lambda: draw(keys)]
    programs += [lambda events=events: replay_shared(keys, batched, events) for events in shared]
    programs.append(lambda: replay_own(keys, batched, own))
    times = best_times(programs, repeats)
    return [spent / (batch * num_events) * 1e9 for spent in times]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=256)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--events", type=int, default=20_000, help="events per run")
    parser.add_argument("--algorithms", nargs="+", default=list(REGISTRY))
    parser.add_argument("--repeats", type=int, default=5, help="rounds of timing (best kept)")
    parser.add_argument("--breakdown", action="store_true", help="ns per event-run by kind")
    parser.add_argument("--graph", choices=sorted(GRAPHS), default="ring")
    args = parser.parse_args(argv)
    if args.breakdown:
        events = min(args.events, 5_000)
        print(f"backend {jax.default_backend()}, {args.graph} of {args.nodes}, dim {DIM}, float32, "
              f"batch of {args.batch}, {events} events per run: ns per event-run")  # fmt: skip
        print("{:24s} {:>8s} {:>8s} {:>8s} {:>8s} {:>8s}".format(
            "algorithm", "drawing", "compute", "comm", "shared", "own"))  # fmt: skip
        for name in args.algorithms:
            costs = breakdown(name, args.nodes, args.batch, events, args.repeats, args.graph)
            print(f"{name:24s}" + "".join(f" {cost:8.1f}" for cost in costs), flush=True)
        print(
            "(replays, drawing excluded: compute / comm / shared = all runs share one "
            "sequence of kinds, a branch per event; own = each run its own kinds, "
            "both hooks per event; about half the events compute)"
        )
        return
    print(f"backend {jax.default_backend()}, {args.graph} of {args.nodes}, dim {DIM}, float32")
    header = ("algorithm", "one run", f"{args.batch} seeds", "ratio", "1 seed", "ratio")
    print("{:24s} {:>10s} {:>10s} {:>6s} {:>10s} {:>6s}".format(*header))
    for name in args.algorithms:
        rate, independent, shared = bench(
            name, args.nodes, args.batch, args.events, args.repeats, graph=args.graph
        )
        one_seed = "—" if shared is None else f"{shared / 1e6:8.2f} M {shared / rate:5.1f}x"
        print(
            f"{name:24s} {rate / 1e6:8.2f} M {independent / 1e6:8.2f} M "
            f"{independent / rate:5.1f}x {one_seed:>17s}",
            flush=True,
        )
    print("(M event-runs per second; target: batch >= 6x one run for every algorithm)")


if __name__ == "__main__":
    main()
