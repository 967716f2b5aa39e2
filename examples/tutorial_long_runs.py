"""Long runs with checkpoints: run in chunks, stop, resume exactly where it stopped.

``jg.simulate_in_chunks`` cuts a run into chunks that share one compilation,
shows a progress line, and rewrites an atomic checkpoint after each chunk.
This script starts a run of DADAO on a ring of 32 nodes, stops it after the
third of eight chunks (as a killed job would stop), resumes it from the
checkpoint, and checks that the result equals the uninterrupted run bit for bit.

    python examples/tutorial_long_runs.py [--quick] [--out DIR]
"""

from __future__ import annotations

import argparse
import os

import jax
import numpy as np

import jaxgossip as jg

NUM_CHUNKS = 8


class Stop(Exception):
    """Raised after a few chunks: stands in for a job killed mid-run."""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer events")
    parser.add_argument("--out", default=".", help="folder of the figure and the checkpoint")
    args = parser.parse_args(argv)
    num_events = 80_000 if args.quick else 800_000
    os.makedirs(args.out, exist_ok=True)

    key = jax.random.key(0)
    problem = jg.problems.logistic_regression(
        key, num_nodes=32, dim=10, samples_per_node=32, reg=1e-2
    )
    # Edge rate 6: DADAO's theory needs >= 5.02 on this ring (chi1 chi2 <= 1/2).
    clocks = jg.Clocks(jg.graphs.ring(32), compute_rate=1.0, comm_rate=6.0)
    algorithm = jg.algorithms.DADAO.from_theory(problem, clocks)
    checkpoint = os.path.join(args.out, "dadao.ckpt")
    if os.path.exists(checkpoint):
        os.remove(checkpoint)
    run = dict(num_events=num_events, num_records=NUM_CHUNKS * 10, num_chunks=NUM_CHUNKS)

    # The first attempt stops after 3 chunks; the checkpoint holds those 3.
    def stop_after_three(chunks_done, trace_so_far):
        if chunks_done == 3:
            raise Stop(f"stopped at t = {float(trace_so_far.time[-1]):.1f}")

    try:
        jg.simulate_in_chunks(
            key,
            algorithm,
            problem,
            clocks,
            **run,
            checkpoint=checkpoint,
            progress=False,
            on_chunk=stop_after_three,
        )
    except Stop as stop:
        print(stop)

    # The same call with resume=True runs only the 5 chunks left.
    resumed = jg.simulate_in_chunks(
        key, algorithm, problem, clocks, **run, checkpoint=checkpoint, resume=True
    )
    # An uninterrupted run, without a checkpoint: the same trace, bit for bit.
    straight = jg.simulate_in_chunks(key, algorithm, problem, clocks, **run, progress=False)
    for name in ("time", "num_computations", "suboptimality", "consensus"):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(straight, name))
    print(f"resumed run equals the uninterrupted run: {resumed.suboptimality.shape[0]} records")

    # A checkpoint belongs to its run: DADAO tuned for other rates is refused, naming what differs.
    other = jg.algorithms.DADAO.from_theory(problem, jg.Clocks(clocks.graph, comm_rate=12.0))
    try:
        jg.simulate_in_chunks(
            key, other, problem, clocks, **run, checkpoint=checkpoint, resume=True
        )
    except ValueError as error:
        print("refused:", str(error).splitlines()[0])

    fig = jg.plot_convergence(
        {"DADAO, resumed": resumed}, x_axes=("time",), metric=("suboptimality", "consensus")
    )
    stopped = float(resumed.time[3 * 10])  # the first attempt's last record
    for ax in fig.axes:
        ax.axvline(stopped, color="gray", ls=":", lw=1, label="stopped and resumed")
    figure = os.path.join(args.out, "long_runs.png")
    fig.savefig(figure, dpi=100)
    print(f"figure: {figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
