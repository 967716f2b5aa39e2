"""Bring your own data set: split it over the nodes and optimize on it.

A data set of your own (here synthetic arrays, saved to and loaded from an
``.npz`` file as yours might be) is split over 16 nodes, once at random and
once by label, and becomes a regularized logistic regression and a ridge
least-squares problem. Each problem knows its L, mu, x* and f*, so the engine
records f(x̄) − f* of AsyncGossipSGD and DADAO on every one.

    python examples/tutorial_own_problem.py [--quick] [--out DIR]
"""

from __future__ import annotations

import argparse
import os

import jax
import numpy as np

import jaxgossip as jg


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer events")
    parser.add_argument("--out", default=".", help="folder of the figure and the data file")
    args = parser.parse_args(argv)
    num_events = 40_000 if args.quick else 200_000
    os.makedirs(args.out, exist_ok=True)

    # Your data: 1024 samples of 8 features and a binary label, saved as an .npz file.
    rng = np.random.default_rng(0)
    features = rng.normal(size=(1024, 8))
    labels = (features @ rng.normal(size=8) + 0.5 * rng.normal(size=1024) > 0).astype(int)
    path = os.path.join(args.out, "my_data.npz")
    np.savez(path, features=features, labels=labels)

    # Load it (a stratified 20% is held out as a test split) and split the train
    # samples over 16 nodes: at random, and sorted by label (non-i.i.d.).
    data = jg.datasets.load_npz(path)
    x, y = data.train
    print(f"{data.name}: {x.shape[0]} train samples, {data.num_classes} classes")
    key = jax.random.key(0)
    problems = {}
    for iid in (True, False):
        a, b = jg.problems.partition(key, x, y, num_nodes=16, iid=iid)  # (16, m, 8), (16, m)
        split = "iid" if iid else "by label"
        problems[f"logistic, {split}"] = jg.problems.logistic_regression_from_data(a, b, reg=1e-2)
        problems[f"least squares, {split}"] = jg.problems.least_squares(a, 2.0 * b - 1.0, reg=1e-2)
    for name, problem in problems.items():
        print(f"{name:<24} L = {float(problem.L):.3f}  mu = {float(problem.mu):.3f}")

    clocks = jg.Clocks(jg.graphs.exponential(16), compute_rate=1.0, comm_rate=1.0)
    traces = {}
    for name, problem in problems.items():
        for algo in (jg.algorithms.AsyncGossipSGD, jg.algorithms.DADAO):
            algorithm = algo.from_theory(problem, clocks)
            trace = jg.simulate(
                key, algorithm, problem, clocks, num_events=num_events, num_records=100
            )
            traces[f"{algo.__name__}, {name}"] = trace
            print(f"{algo.__name__:<15}{name:<24}final f(x̄) − f* = {trace.suboptimality[-1]:.2e}")

    fig = jg.plot_convergence(traces, x_axes=("time", "num_communications"))
    figure = os.path.join(args.out, "own_problem.png")
    fig.savefig(figure, dpi=80)
    print(f"figure: {figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
