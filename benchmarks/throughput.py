"""Events per second of the jitted engine against a plain NumPy event loop.

For n in {16, 256, 4096} nodes at dim 16 (AsyncGossipSGD on a random
quadratic over a ring), it times
  * a straightforward NumPy loop applying the same algorithm event by event,
  * one jitted ``simulate`` run,
  * a ``jax.vmap``-ed batch of runs (total events per second over the batch),
after checking that the engine and the NumPy loop reach the same final state
on the same event trace. Targets (issue 2): single run >= 10x NumPy, batch
>= 50x NumPy, single-run time per event at n = 4096 within 2x of n = 16.

    python benchmarks/throughput.py [--events N] [--batch B] [--sizes 16 256 4096]
"""

from __future__ import annotations

import argparse

import jax
import numpy as np
from bench_timing import best_times

import jaxgossip as jg

DIM = 16
STEP_SIZE = 0.05


def numpy_loop(events, x0, A, b, step_size):
    """The reference a user would write first: one Python iteration per event."""
    x = x0.copy()
    kind, senders, receivers = (np.asarray(a) for a in (events.kind, events.i, events.j))
    for k, i, j in zip(kind.tolist(), senders.tolist(), receivers.tolist()):
        if k == jg.COMPUTE:
            x[i] -= step_size * (A[i] @ x[i] - b[i])
        else:
            x[i] = x[j] = 0.5 * (x[i] + x[j])
    return x


def bench_size(num_nodes, num_events, numpy_events, batch, num_records=10):
    key = jax.random.key(0)
    problem = jg.problems.quadratic(key, num_nodes, DIM, kappa=10.0)
    clocks = jg.Clocks(jg.graphs.ring(num_nodes), compute_rate=1.0, comm_rate=1.0)
    algorithm = jg.algorithms.AsyncGossipSGD(step_size=STEP_SIZE)
    A, b = np.asarray(problem.A), np.asarray(problem.b)
    x0 = np.zeros((num_nodes, DIM), A.dtype)

    # Same trace through both: the engine must agree with the NumPy loop.
    events = jg.sample_events(jax.random.key(1), clocks, numpy_events)
    replay = jg.simulate(
        key,
        algorithm,
        problem,
        clocks,
        num_events=numpy_events,
        num_records=num_records,
        events=events,
    )
    expected = numpy_loop(events, x0, A, b, STEP_SIZE)
    np.testing.assert_allclose(replay.final_state, expected, rtol=1e-3, atol=1e-4)

    def single():
        return jg.simulate(
            jax.random.key(2),
            algorithm,
            problem,
            clocks,
            num_events=num_events,
            num_records=num_records,
        ).final_state

    batched = jax.jit(
        jax.vmap(
            lambda k: (
                jg.simulate(
                    k, algorithm, problem, clocks, num_events=num_events, num_records=num_records
                ).final_state
            )
        )
    )
    keys = jax.random.split(jax.random.key(3), batch)
    # All three in turns, best of 3 each, as every ratio here (the NumPy loop
    # was timed once, before the others, which this machine's drift skews).
    numpy_seconds, single_seconds, batch_seconds = best_times(
        [lambda: numpy_loop(events, x0, A, b, STEP_SIZE), single, lambda: batched(keys)],
        repeats=3,
    )
    return dict(
        numpy=numpy_events / numpy_seconds,
        single=num_events / single_seconds,
        batch=batch * num_events / batch_seconds,
    )


def recorder_overhead(
    num_nodes, *, node_suboptimality, num_events=200_000, many_records=200, repeats=5
):
    """Time of a run recording 200 times over one recording once: the metrics' share."""
    key = jax.random.key(0)
    problem = jg.problems.logistic_regression(key, num_nodes, DIM, 20, reg=1e-2)
    clocks = jg.Clocks(jg.graphs.ring(num_nodes), compute_rate=1.0, comm_rate=1.0)
    algorithm = jg.algorithms.AsyncGossipSGD(step_size=0.1)

    def run(num_records):
        return jg.simulate(
            key,
            algorithm,
            problem,
            clocks,
            num_events=num_events,
            num_records=num_records,
            node_suboptimality=node_suboptimality,
        ).final_state

    # Timed in turns: this machine's speed drifts by tens of percent between
    # back-to-back timings, which timing one after the other read as overhead.
    once, often = best_times([lambda: run(1), lambda: run(many_records)], repeats)
    return often / once - 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 256, 4096])
    parser.add_argument("--events", type=int, default=200_000, help="events per jitted run")
    parser.add_argument("--numpy-events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args(argv)
    print(f"backend: {jax.default_backend()}, devices: {jax.devices()}")
    print(f"AsyncGossipSGD, quadratic, ring, dim {DIM}; batch of {args.batch} runs\n")
    header = (
        f"{'n':>6} {'numpy ev/s':>12} {'single ev/s':>12} {'batch ev/s':>12} "
        f"{'single/numpy':>13} {'batch/numpy':>12} {'ns/event single':>16}"
    )
    print(header)
    results = {}
    for n in args.sizes:
        r = results[n] = bench_size(n, args.events, args.numpy_events, args.batch)
        print(
            f"{n:>6} {r['numpy']:>12.3g} {r['single']:>12.3g} {r['batch']:>12.3g} "
            f"{r['single'] / r['numpy']:>13.1f} {r['batch'] / r['numpy']:>12.1f} "
            f"{1e9 / r['single']:>16.0f}"
        )
    small, large = min(results), max(results)
    print(
        f"\ntime per event, n={large} vs n={small}: "
        f"single {results[small]['single'] / results[large]['single']:.2f}x, "
        f"batch {results[small]['batch'] / results[large]['batch']:.2f}x (target <= 2x)"
    )
    print(
        "\nrecorder: 200 records vs 1 over 200k events, logistic regression, 20 samples per "
        "node (target < 10%)"
    )
    for n in (32, 256):
        for node_suboptimality in (True, False):
            overhead = recorder_overhead(n, node_suboptimality=node_suboptimality)
            print(
                f"  n={n:>4}, node_suboptimality={node_suboptimality!s:>5}: {100 * overhead:+6.1f}%"
            )


if __name__ == "__main__":
    main()
