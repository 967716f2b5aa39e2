"""Events per second of a learning run, and where its time goes: gradients, engine, metrics.

A 32-node MLP on digits (64-64-64-10, 8,970 parameters, minibatches of 32,
Dirichlet(0.1) split), AsyncGossipSGD with optax SGD + momentum 0.9, on the
exponential graph with compute rate 1 per node and comm rate 0.5 per edge
(degree 9: 69% of the events are communications). It times, compilation
excluded (a warm-up call first, then the best of --repeats calls ended by
``block_until_ready``):

  * one run of --events events recording --records times, and a ``jax.vmap``-ed
    batch of --batch learning rates (``optimizer(optax.sgd, learning_rate=lr,
    momentum=0.9)`` built inside the vmap; all share the key, hence the events,
    so the engine's compute/communicate ``cond`` stays a branch), in events/s
    and event-runs/s;
  * the share of the single run's time in
      - metrics: the same run recording once (the difference is the records'),
        with and without the per-node metrics (``node_suboptimality``), and one
        record timed alone (a difference of two long runs drowns in load noise),
      - gradients: as many minibatch gradients (``problem.local_grad``) as the
        run has compute events, vmapped in one call (``lax.map`` in chunks of
        4,096 to bound memory), and one per step of a ``lax.scan`` whose carry
        each gradient updates, as in the engine,
      - the engine: the same run with every gradient replaced by zeros (the
        optax step, gathers, scatters and event sampling remain), and a run of
        ``Gossip``, which ignores compute events and moves half the state.

The issue's requirement: 100 records of a 200k-event run cost < 10% of it.

    python benchmarks/learning.py [--events 200000] [--records 100] [--batch 16]
        [--batch-events 10000] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxgossip as jg
from jaxgossip.engine.trace import network_metrics

NUM_NODES, BATCH_SIZE, MOMENTUM, LEARNING_RATE = 32, 32, 0.9, 0.05
COMPUTE_RATE, EDGE_RATE = 1.0, 0.5
GRADIENT_CHUNK = 4096


class ZeroGradients(jg.problems.Supervised):
    """The problem with every minibatch gradient replaced by zeros: the engine's cost alone."""

    def local_grad(self, key, x, node):
        del key, node
        return jnp.zeros_like(x)


def make_problem(key) -> jg.problems.Supervised:
    data = jg.datasets.digits()
    shards = jg.problems.split(data.train, num_nodes=NUM_NODES, by="dirichlet", alpha=0.1, key=key)
    model = eqx.nn.MLP(64, data.num_classes, width_size=64, depth=2, key=key)
    return jg.problems.supervised(
        model, "softmax_cross_entropy", shards, test=data.test, batch_size=BATCH_SIZE
    )


def async_gossip_sgd(learning_rate):
    local = jg.algorithms.optimizer(optax.sgd, learning_rate=learning_rate, momentum=MOMENTUM)
    return jg.algorithms.AsyncGossipSGD(optimizer=local)


def best_times(cases: dict, repeats: int) -> tuple[dict, dict, dict]:
    """Each case's first call (it compiles), and its best wall and CPU seconds of ``repeats``.

    The repeats go round the cases in turn, so that a burst of load from other
    processes slows one repeat of every case rather than every repeat of one; the
    process's CPU time, which waiting for a core does not inflate, tells such load
    apart (on an idle machine it is at least the wall time).
    """
    first = {}
    wall, cpu = dict.fromkeys(cases, float("inf")), dict.fromkeys(cases, float("inf"))
    for name, fn in cases.items():
        start = time.perf_counter()
        jax.block_until_ready(fn())
        first[name] = time.perf_counter() - start
    for _ in range(repeats):
        for name, fn in cases.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            jax.block_until_ready(fn())
            wall[name] = min(wall[name], time.perf_counter() - start)
            cpu[name] = min(cpu[name], time.process_time() - start_cpu)
    return first, wall, cpu


def run_fn(key, algorithm, problem, clocks, num_events, num_records, per_node=True):
    run = jax.jit(
        lambda key, algorithm, problem, clocks: jg.simulate(
            key,
            algorithm,
            problem,
            clocks,
            num_events=num_events,
            num_records=num_records,
            node_suboptimality=per_node,
            schedule="sequential",  # what "auto" picks at n = 32 too
        )
    )
    return lambda: run(key, algorithm, problem, clocks)


def batched_fn(key, problem, clocks, learning_rates, num_events, num_records):
    def one(learning_rate):
        trace = jg.simulate(
            key,
            async_gossip_sgd(learning_rate),
            problem,
            clocks,
            num_events=num_events,
            num_records=num_records,
            schedule="sequential",  # a vmapped run's schedule (events.BATCHED_SCHEDULE)
        )
        return trace.metrics["test_accuracy"], trace.final_state

    run = jax.jit(jax.vmap(one))
    return lambda: run(learning_rates)


def gradient_fns(key, problem, count: int):
    """(vmapped, scanned): ``count`` minibatch gradients (key, x, node), two ways."""
    keys = jax.random.split(key, count)
    nodes = jnp.arange(count, dtype=jnp.int32) % problem.num_nodes
    x0 = problem.start[0]

    @jax.jit
    def vmapped(keys, nodes):
        def grad(triple):  # each its own x, made here: (count, d) inputs would take GBs
            key, node, k = triple
            return problem.local_grad(key, x0 * (1.0 + 1e-6 * k), node)

        # Every gradient is materialized ((count, d) out): none can be fused away.
        indices = jnp.arange(count, dtype=x0.dtype)
        return jax.lax.map(grad, (keys, nodes, indices), batch_size=GRADIENT_CHUNK)

    @jax.jit
    def scanned(keys, nodes):
        def step(x, pair):  # each gradient is taken where the previous one left x
            return x - 1e-3 * problem.local_grad(pair[0], x, pair[1]), None

        return jax.lax.scan(step, x0, (keys, nodes))[0]

    return lambda: vmapped(keys, nodes), lambda: scanned(keys, nodes)


def record_seconds(algorithm, problem, per_node: bool, repeats: int = 20) -> float:
    """Best seconds of one record (what the engine computes per record) of the start state."""
    state = jg.init_state(algorithm, problem)
    record = jax.jit(
        lambda state: network_metrics(problem, jax.vmap(algorithm.params)(state), state, per_node)
    )
    jax.block_until_ready(record(state))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(record(state))
        best = min(best, time.perf_counter() - start)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="events of the single run")
    parser.add_argument("--records", type=int, default=100, help="records of the single run")
    parser.add_argument("--batch", type=int, default=16, help="learning rates vmapped")
    parser.add_argument("--batch-events", type=int, default=10_000, help="events per batched run")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls after the warm-up")
    parser.add_argument("--quick", action="store_true", help="20k events, batch of 4, 1 repeat")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.records, args.batch, args.batch_events, args.repeats = (
            20_000,
            100,
            4,
            4_000,
            1,
        )
    key = jax.random.key(0)
    problem = make_problem(key)
    clocks = jg.Clocks(jg.graphs.exponential(NUM_NODES), COMPUTE_RATE, EDGE_RATE)
    algorithm = async_gossip_sgd(LEARNING_RATE)
    print(f"backend: {jax.default_backend()}, devices: {jax.devices()}")
    print(
        f"AsyncGossipSGD (optax sgd, momentum {MOMENTUM}), digits MLP d={problem.dim}, "
        f"batch {BATCH_SIZE}, n={NUM_NODES} exponential, edge rate {EDGE_RATE}; "
        f"best of {args.repeats} after a warm-up\n"
    )

    # The run's own trace (simulate draws it so), to count its compute events.
    events = jg.sample_events(jg.split_key(key)[0], clocks, args.events, num_chunks=args.records)
    num_computations = int(jnp.sum(events.kind == jg.COMPUTE))
    full = run_fn(key, algorithm, problem, clocks, args.events, args.records)
    zero = ZeroGradients(**{f.name: getattr(problem, f.name) for f in dataclasses.fields(problem)})
    learning_rates = jnp.asarray(np.geomspace(0.005, 0.2, args.batch), problem.dtype)
    vmapped, scanned = gradient_fns(key, problem, num_computations)
    full_name = f"single run, {args.records} records"
    grads = f"{num_computations:,} gradients"
    cases = {
        full_name: full,
        "single run, 1 record": run_fn(key, algorithm, problem, clocks, args.events, 1),
        f"{args.records} records, no per-node metrics": run_fn(
            key, algorithm, problem, clocks, args.events, args.records, per_node=False
        ),
        "zero gradients, 1 record": run_fn(key, algorithm, zero, clocks, args.events, 1),
        "Gossip, 1 record": run_fn(key, jg.algorithms.Gossip(), problem, clocks, args.events, 1),
        f"{grads}, vmapped": vmapped,
        f"{grads}, lax.scan": scanned,
        f"batch of {args.batch} lrs, {args.batch_events:,} events": batched_fn(
            key, problem, clocks, learning_rates, args.batch_events, 10
        ),
    }
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    first, wall, cpu = best_times(cases, args.repeats)
    print(f"load average after: {os.getloadavg()[0]:.1f}\n")
    print(
        f"{'case':<40} {'compile s':>9} {'wall s':>7} {'cpu s':>7} {'events/s':>9} "
        f"{'event-runs/s':>12}"
    )
    for name, best in wall.items():
        if name.startswith(grads):
            rates = f"{num_computations / best:>9,.0f} {'(grads/s)':>12}"
        elif name.startswith("batch"):
            runs = args.batch * args.batch_events
            rates = f"{args.batch_events / best:>9,.0f} {runs / best:>12,.0f}"
        else:
            rates = f"{args.events / best:>9,.0f} {args.events / best:>12,.0f}"
        print(f"{name:<40} {first[name] - best:>9.1f} {best:>7.2f} {cpu[name]:>7.2f} {rates}")

    print(f"\nshares of the single run, {num_computations:,} compute events:")
    print(f"  {'':<30} {'wall s':>7} {'%':>6} {'cpu s':>7} {'%':>6}")
    for seconds in (wall, cpu):  # the derived rows, in each clock
        seconds["metrics"] = seconds[full_name] - seconds["single run, 1 record"]
        seconds["rest"] = seconds["single run, 1 record"] - seconds[f"{grads}, lax.scan"]
        seconds["rest"] -= seconds["zero gradients, 1 record"]
    rows = {
        f"whole run, {args.records} records": full_name,
        f"metrics ({args.records} records - 1)": "metrics",
        "gradients, lax.scan": f"{grads}, lax.scan",
        "gradients, vmapped": f"{grads}, vmapped",
        "engine, zero gradients": "zero gradients, 1 record",
        "engine, Gossip": "Gossip, 1 record",
        "rest (1 record - scan - zero)": "rest",
    }
    for label, name in rows.items():
        shares = [
            f"{seconds[name]:>7.2f} {100 * seconds[name] / seconds[full_name]:>5.1f}%"
            for seconds in (wall, cpu)
        ]
        print(f"  {label:<30} {' '.join(shares)}")
    print(f"\nrecorder, {args.records} records vs 1 over {args.events:,} events (target < 10%):")
    for clock, seconds in (("wall", wall), ("cpu", cpu)):
        one_record = seconds["single run, 1 record"]
        without = seconds[f"{args.records} records, no per-node metrics"] / one_record - 1
        print(
            f"  {clock:<4} {100 * seconds['metrics'] / one_record:+6.1f}%, "
            f"{100 * without:+6.1f}% without per-node metrics (difference of two runs)"
        )
    # The difference of two long runs drowns in load from other processes; one
    # record timed alone, many times, does not.
    one_record = wall["single run, 1 record"]
    for per_node in (True, False):
        seconds = record_seconds(algorithm, problem, per_node)
        share = 100 * (args.records - 1) * seconds / one_record
        print(
            f"  one record {1e3 * seconds:.1f} ms{'' if per_node else ' without per-node'}: "
            f"{args.records - 1} more cost {share:+.1f}% of the 1-record run"
        )


if __name__ == "__main__":
    main()
