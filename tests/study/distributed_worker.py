"""One process of a multi-process sweep, started by tests/study/test_distributed.py.

    python tests/study/distributed_worker.py OUT [--steps 0.03,0.1,0.3] [--chunks N]
        [--resume]

Joins the others from the JAXGOSSIP_* environment (alone when unset), runs
AsyncGossipSGD over the step sizes x 4 seeds on a ring of 8 and calls
``save_sweep`` on OUT/process<k>/result.npz, as a user script would (only
process 0 writes; a folder per process shows who did), and, for the test to
compare, saves the Dataset this process got to OUT/process<k>/dataset.npz.
With --chunks the sweep shows progress and is checkpointed to OUT/ckpt, shared.
"""

import argparse
import os
import sys

import numpy as np

import jaxgossip as jg


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--steps", default="0.03,0.1,0.3")
    parser.add_argument("--chunks", type=int, default=1)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    joined = jg.distributed.initialize_from_env(heartbeat_timeout_seconds=5)
    import jax

    problem = jg.problems.quadratic(jax.random.key(0), 8, 3)
    clocks = jg.Clocks(jg.graphs.ring(8))
    chunked = {}
    if args.chunks > 1:
        chunked = dict(
            num_chunks=args.chunks,
            checkpoint=os.path.join(args.out, "ckpt"),
            resume=args.resume,
            progress=True,
        )
    ds = jg.sweep(
        jg.algorithms.AsyncGossipSGD,
        problem,
        clocks,
        num_events=args.events,
        num_records=args.chunks * 2,
        grid={"step_size": [float(v) for v in args.steps.split(",")]},
        seeds=4,
        max_batch=4,
        **chunked,
    )
    mine = os.path.join(args.out, f"process{jax.process_index()}")
    os.makedirs(mine, exist_ok=True)
    jg.save_sweep(os.path.join(mine, "result.npz"), ds, overwrite=True)
    np.savez(os.path.join(mine, "dataset.npz"), **{name: ds[name].values for name in ds.data_vars})
    print(f"process {jax.process_index()} of {jax.process_count()} (joined: {joined}) done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
