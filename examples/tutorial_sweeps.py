"""Sweep a grid of step sizes and communication rates, and read the labelled results.

``jg.sweep`` runs every point of the grid, over several seeds, as one compiled
and vmapped call, and returns an ``xarray.Dataset`` indexed by the grid's axes,
``seed`` and ``record``. This script sweeps AsyncGossipSGD's step size against
the communication rate on a ring of 16 nodes, asks which configuration needs the
fewest gradient computations to reach a target, saves the sweep and loads it
back, and draws the median suboptimality per configuration.

    python examples/tutorial_sweeps.py [--quick] [--out DIR]
"""

from __future__ import annotations

import argparse
import os

import jax
import numpy as np

import jaxgossip as jg


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer events and seeds")
    parser.add_argument("--out", default=".", help="folder of the figure and the saved sweep")
    args = parser.parse_args(argv)
    num_events, seeds = (20_000, 3) if args.quick else (100_000, 8)
    os.makedirs(args.out, exist_ok=True)

    # The setting: logistic regression on a ring of 16 nodes, unit clock rates.
    problem = jg.problems.logistic_regression(
        jax.random.key(0), num_nodes=16, dim=10, samples_per_node=32, reg=1e-2
    )
    clocks = jg.Clocks(jg.graphs.ring(16), compute_rate=1.0, comm_rate=1.0)

    # The grid: comm_rate values multiply the clocks' base rate (here 1).
    ds = jg.sweep(
        jg.algorithms.AsyncGossipSGD,
        problem,
        clocks,
        num_events=num_events,
        num_records=50,
        grid={"step_size": [0.5, 1.0, 2.0], "comm_rate": [0.5, 2.0, 8.0]},
        seeds=seeds,
    )
    print(ds.suboptimality.dims, ds.suboptimality.shape)

    # Computations to reach eps, per configuration and seed (NaN: never reached).
    eps = 1e-3 * float(ds.suboptimality.isel(record=0).max())
    needed = jg.to_reach(ds, eps, by="num_computations")
    print(f"median computations to reach eps = {eps:.2g}:")
    print(needed.median("seed").to_pandas().round(0))
    best = jg.best(ds, criterion="to_reach", eps=eps)
    print("best:", best)

    # Save and load: the labels and attributes come back as they were.
    path = os.path.join(args.out, "tutorial_sweeps.npz")
    jg.save_sweep(path, ds, overwrite=True)
    again = jg.load_sweep(path)
    np.testing.assert_array_equal(again.suboptimality.values, ds.suboptimality.values)

    # Median and 10/90% quantiles over seeds, one panel per communication rate.
    bands = jg.over_seeds(ds.suboptimality)
    x = ds.num_computations.median("seed")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.2), layout="constrained")
    axes = fig.subplots(1, ds.sizes["comm_rate"], sharey=True)
    for ax, comm_rate in zip(axes, ds.comm_rate.values):
        for step_size in ds.step_size.values:
            at = dict(step_size=step_size, comm_rate=comm_rate)
            q = bands.sel(**at)
            xs = x.sel(**at)
            (line,) = ax.plot(xs, q.sel(quantile=0.5), label=f"step {step_size:g}")
            ax.fill_between(
                xs, q.sel(quantile=0.1), q.sel(quantile=0.9), color=line.get_color(), alpha=0.2
            )
        ax.axhline(eps, color="gray", ls=":", lw=1)
        ax.set(yscale="log", title=f"comm_rate = {comm_rate:g}", xlabel="computations")
    axes[0].set_ylabel("f(x̄) − f*")
    axes[0].legend()
    figure = os.path.join(args.out, "sweeps.png")
    fig.savefig(figure, dpi=90)
    print(f"figure: {figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
