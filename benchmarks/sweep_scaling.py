"""Events per second of a sweep as its batch of runs grows.

AsyncGossipSGD on a random quadratic over a ring of 64 nodes at dim 16, a few
thousand events per run; the sweep runs B step sizes in one batch for
B = 1, 4, 16, ... up to ``--max-runs``. Each size is compiled by a first call,
then timed (best of 2, whole ``sweep`` call: dispatch, transfer and the
Dataset). It prints total events per second over the batch, and the first
batch size within 10% of the best throughput, where batching stops paying.

On a GPU or TPU it runs there as is. ``--devices 4`` re-executes itself with 4
simulated host (CPU) devices, to measure the sharded path.

    python benchmarks/sweep_scaling.py [--max-runs 4096] [--events 2000] [--devices 4]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import jax
import numpy as np

import jaxgossip as jg
from jaxgossip.study.sweep import sweep

NUM_NODES, DIM = 64, 16
_FLAG = "--xla_force_host_platform_device_count"


def best_time(fn, repeats=2):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()  # sweep returns host NumPy data: the call has finished
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-runs", type=int, default=4096)
    parser.add_argument("--events", type=int, default=2000, help="events per run")
    parser.add_argument("--records", type=int, default=10)
    parser.add_argument("--devices", type=int, default=0, help="simulated host devices")
    args = parser.parse_args()

    if args.devices and _FLAG not in os.environ.get("XLA_FLAGS", ""):
        # The device count is read once, when the backend starts: set it in a fresh process.
        env = dict(os.environ, JAX_PLATFORMS="cpu")
        env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {_FLAG}={args.devices}".strip()
        sys.exit(subprocess.run([sys.executable, *sys.argv], env=env).returncode)

    devices = jax.devices()
    print(f"backend: {jax.default_backend()}, {len(devices)} device(s): {devices}")
    print(f"ring n={NUM_NODES}, dim={DIM}, {args.events} events per run\n")
    key = jax.random.key(0)
    problem = jg.problems.quadratic(key, NUM_NODES, DIM, kappa=10.0)
    clocks = jg.Clocks(jg.graphs.ring(NUM_NODES), compute_rate=1.0, comm_rate=1.0)

    sizes = [b for b in (1, 4, 16, 64, 256, 1024, 4096, 16384) if b <= args.max_runs]
    rows = []
    print(f"{'runs':>6} {'seconds':>9} {'events/s':>12} {'us/run':>9}")
    for size in sizes:

        def run(size=size):
            return sweep(
                jg.algorithms.AsyncGossipSGD,
                problem,
                clocks,
                num_events=args.events,
                num_records=args.records,
                grid={"step_size": np.linspace(0.01, 0.05, size)},
                max_batch=size,
            )

        ds = run()  # compiles
        assert not bool(ds["diverged"].any())
        seconds = best_time(run)
        rate = size * args.events / seconds
        rows.append((size, rate))
        print(f"{size:>6} {seconds:>9.3f} {rate:>12.3e} {1e6 * seconds / size:>9.1f}")

    best_rate = max(rate for _, rate in rows)
    saturation = next(size for size, rate in rows if rate >= 0.9 * best_rate)
    print(f"\nbest {best_rate:.3e} events/s; within 10% of it from {saturation} runs per batch")


if __name__ == "__main__":
    main()
