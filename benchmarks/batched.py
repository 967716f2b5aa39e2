"""Events per second of a vmapped batch of runs against one run, per algorithm (issue #11).

For every asynchronous method in the registry, on a ring of n nodes (dim 16
quadratic, float32, ``from_theory`` hyperparameters, time order), it times in
one process
  * one jitted ``simulate`` run,
  * a ``jax.vmap``-ed batch of B runs with B different keys (B seeds: every
    run draws its own events),
  * the same batch with one key for all B runs (a sweep's grid: points of one
    seed share their events; ``jax.vmap(..., in_axes=(None, 0))``),
checks that every run of the batches equals the single run of its key (to
float32 rounding: a vmapped matvec may sum in another order), and prints
event-runs per second and the ratios batch / single.
The hyperparameters are batched leaves in both batches, as in a sweep.
Target on CPU (issue #11): batch of 256 >= 6x one run, for every algorithm.

    python benchmarks/batched.py [--nodes 256] [--batch 256] [--events N] [--algorithms ...]
"""

from __future__ import annotations

import argparse
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np

import jaxgossip as jg
from jaxgossip.algorithms.registry import REGISTRY

DIM = 16


def best_time(fn, repeats=3):
    jax.block_until_ready(fn())  # compile outside the timing
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return min(times)


def bench(name, num_nodes, batch, num_events, num_records=10):
    key = jax.random.key(0)
    problem = jg.problems.quadratic(key, num_nodes, DIM, kappa=10.0)
    clocks = jg.Clocks(jg.graphs.ring(num_nodes), compute_rate=1.0, comm_rate=1.0)
    with warnings.catch_warnings():  # DADAO's theory condition: throughput, not convergence
        warnings.simplefilter("ignore", jg.algorithms.base.TheoryConditionWarning)
        algorithm = REGISTRY[name].from_theory(problem, clocks)
    batched = jax.tree.map(
        lambda leaf: jnp.broadcast_to(leaf, (batch, *jnp.shape(leaf))), algorithm
    )

    def run(key, algorithm):
        trace = jg.simulate(
            key, algorithm, problem, clocks, num_events=num_events, num_records=num_records,
            schedule="sequential", node_suboptimality=False,
        )  # fmt: skip
        return trace.final_state

    single = jax.jit(run)
    independent = jax.jit(jax.vmap(run))
    shared = jax.jit(jax.vmap(run, in_axes=(None, 0)))
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
                # A vmapped matvec may sum in another order: float32 rounding, not bits.
                np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=name)

    if diverged:
        print(f"  {name} diverges on this network: its batched runs were not compared")
    t_single = best_time(lambda: single(keys[0], algorithm))
    t_independent = best_time(lambda: independent(keys, batched))
    rate = num_events / t_single
    rate_independent = batch * num_events / t_independent
    if not sweepable:
        return rate, rate_independent, None
    t_shared = best_time(lambda: shared(keys[0], batched))
    return rate, rate_independent, batch * num_events / t_shared


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=256)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--events", type=int, default=20_000, help="events per run")
    parser.add_argument("--algorithms", nargs="+", default=list(REGISTRY))
    args = parser.parse_args(argv)
    print(f"backend {jax.default_backend()}, ring of {args.nodes}, dim {DIM}, float32")
    header = ("algorithm", "one run", f"{args.batch} seeds", "ratio", "1 seed", "ratio")
    print("{:24s} {:>10s} {:>10s} {:>6s} {:>10s} {:>6s}".format(*header))
    for name in args.algorithms:
        rate, independent, shared = bench(name, args.nodes, args.batch, args.events)
        one_seed = "—" if shared is None else f"{shared / 1e6:8.2f} M {shared / rate:5.1f}x"
        print(
            f"{name:24s} {rate / 1e6:8.2f} M {independent / 1e6:8.2f} M "
            f"{independent / rate:5.1f}x {one_seed:>17s}",
            flush=True,
        )
    print("(M event-runs per second; target: batch >= 6x one run for every algorithm)")


if __name__ == "__main__":
    main()
