"""Events per second of one run, sequential schedule against waves (issue #11).

For each algorithm (AsyncGossipSGD and DADAO), graph (ring, random geometric)
and n, it times one jitted ``simulate`` under ``schedule="sequential"``,
``"waves"`` and ``"auto"`` in one process, checks that waves reproduce the
sequential final state (bit for bit, or for DADAO, whose vmapped exponentials
XLA may vectorize, to 1e-13 relative in float64 and 1e-4 in float32), and
prints events/s and the ratios.
Problems are diagonal quadratics of dim 16 (a dense rotation per node would
dominate set-up at large n); compute and communication rates are 1 per node
and per edge (DADAO: its theory's least edge rate, so that it converges).

Targets on CPU: waves >= 2.5x sequential at n = 1,024, >= 6x at 16,384,
>= 9x at 262,144; ``auto`` never more than 10% slower than the better of the two.

    python benchmarks/waves.py [--sizes 64 1024 16384 262144] [--events N] [--float64]
"""

from __future__ import annotations

import argparse
import functools

import jax
import numpy as np
from bench_timing import best_times

import jaxgossip as jg
from jaxgossip.algorithms.asynchronous.dadao import theory_comm_rate

DIM = 16


def diagonal_quadratic(key, num_nodes):
    """f_i(x) = 1/2 sum_k a_ik x_k^2 - b_i^T x, a_ik in [1, 10]: O(n d) to build."""
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel())
    diag = rng.uniform(1.0, 10.0, (num_nodes, DIM))
    diag[:, 0], diag[:, 1] = 1.0, 10.0  # local kappa exactly 10
    A = np.zeros((num_nodes, DIM, DIM))
    A[:, np.arange(DIM), np.arange(DIM)] = diag
    b = rng.normal(size=(num_nodes, DIM))
    return jg.problems.quadratic_from_arrays(A, b)


def graph(kind, n):
    if kind == "ring":
        return jg.graphs.ring(n)
    radius = float(np.sqrt(2.5 * np.log(n) / (np.pi * n)))  # a little above connectivity
    return jg.graphs.random_geometric(jax.random.key(7), n, radius)


def bench(name, kind, n, num_events):
    g = graph(kind, n)
    problem = diagonal_quadratic(jax.random.key(1), n)
    if name == "DADAO":
        clocks = jg.Clocks(g, 1.0, 1.01 * theory_comm_rate(g))
        algorithm = jg.algorithms.DADAO.from_theory(problem, clocks)
    else:
        clocks = jg.Clocks(g, 1.0, 1.0)
        algorithm = jg.algorithms.AsyncGossipSGD(step_size=0.05)

    def run(schedule):
        trace = jg.simulate(
            jax.random.key(0),
            algorithm,
            problem,
            clocks,
            num_events=num_events,
            num_records=2,
            node_suboptimality=False,
            schedule=schedule,
        )
        return jax.vmap(algorithm.params)(trace.final_state)

    schedules = ("sequential", "waves", "auto")
    finals = {schedule: np.asarray(run(schedule)) for schedule in schedules}  # compiles
    # Timed in turns: auto's target is a ratio to the better of the other two.
    seconds = best_times([functools.partial(run, schedule) for schedule in schedules], 5)
    rates = {schedule: num_events / s for schedule, s in zip(schedules, seconds)}
    difference = np.max(np.abs(finals["waves"] - finals["sequential"]))
    relative = difference / max(np.max(np.abs(finals["sequential"])), 1e-300)
    # Plain arithmetic hooks: bit for bit. ODE hooks: vectorized exponentials differ
    # in the last bits, which the ODE carries on (float32: ~1e-6, float64: ~1e-14).
    precise = finals["sequential"].dtype == np.float64
    limit = 0.0 if not algorithm.stores_time else 1e-13 if precise else 1e-4
    assert relative <= limit, (name, kind, n, relative)
    return rates, relative


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 1024, 16384, 262144])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--algorithms", nargs="+", default=["AsyncGossipSGD", "DADAO"])
    parser.add_argument("--graphs", nargs="+", default=["ring", "random_geometric"])
    parser.add_argument("--float64", action="store_true")
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", args.float64)
    print(f"backend: {jax.default_backend()}, devices: {jax.devices()}")
    precision = "float64" if args.float64 else "float32"
    print(f"{precision}, dim {DIM}, {args.events:,} events per run\n")
    print(
        f"{'algorithm':<15} {'graph':<17} {'n':>8} {'sequential':>12} {'waves':>12} "
        f"{'auto':>12} {'waves/seq':>10} {'auto/best':>10} {'max rel diff':>13}"
    )
    for name in args.algorithms:
        for kind in args.graphs:
            for n in args.sizes:
                rates, relative = bench(name, kind, n, args.events)
                best = max(rates["sequential"], rates["waves"])
                print(
                    f"{name:<15} {kind:<17} {n:>8,} {rates['sequential']:>12,.0f} "
                    f"{rates['waves']:>12,.0f} {rates['auto']:>12,.0f} "
                    f"{rates['waves'] / rates['sequential']:>9.2f}x "
                    f"{rates['auto'] / best:>9.2f}x {relative:>13.1e}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
