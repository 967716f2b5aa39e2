"""The computation/communication trade-off explorer, on a small network.

For each rate ratio rho (communications per gradient computation),
``jg.tradeoff.explore`` runs every algorithm on uniform Poisson clocks with that
ratio, over several seeds, until it reaches f(x̄) − f* <= eps, and records the
computations, communications and simulated time it needed. The frontier figure
puts them against each other with the lower bounds shaded; ``best_ratios``
picks, for a price of a gradient against a message, the cheapest ratio.
``examples/tradeoff_frontier.py`` is the full-size study (64 nodes, three
methods, two graphs); this is its tutorial-sized cousin.

    python examples/tutorial_tradeoff.py [--quick] [--out DIR]
"""

from __future__ import annotations

import argparse
import os

import jax

import jaxgossip as jg


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer ratios and seeds")
    parser.add_argument("--out", default=".", help="folder of the figures")
    args = parser.parse_args(argv)
    ratios, seeds = ([0.3, 1.0, 3.0, 10.0], 2) if args.quick else ([0.1, 0.3, 1, 3, 10, 30], 8)
    os.makedirs(args.out, exist_ok=True)

    problem = jg.problems.logistic_regression(
        jax.random.key(0), num_nodes=16, dim=10, samples_per_node=32, reg=1e-2
    )
    graph = jg.graphs.exponential(16)
    eps = 1e-2 * float(problem.value(jax.numpy.zeros(problem.dim)) - problem.f_star)

    # label -> (problem, clocks) -> algorithm; each ratio gets its own clocks.
    algorithms = {
        "AsyncGossipSGD": jg.algorithms.AsyncGossipSGD.from_theory,
        "DADAO": jg.algorithms.DADAO.from_theory,
    }
    ds = jg.tradeoff.explore(
        problem,
        graph,
        algorithms,
        ratios=ratios,
        eps=eps,
        seeds=seeds,
        events_per_chunk=2_000,  # stops after the chunk where every run has reached eps
        records_per_chunk=40,
        max_chunks=50,
        graph_name="exponential graph",
    )
    medians = jg.tradeoff.medians(ds)  # over seeds; NaN where most seeds never reach eps
    print(medians[["computations", "communications", "reached_fraction"]].to_dataframe())

    # The cheapest ratio per algorithm when a message costs a tenth of a gradient.
    for label, (ratio, cost) in jg.tradeoff.best_ratios(ds, c_grad=1.0, c_comm=0.1).items():
        print(f"{label}: best ratio {ratio:g}, cost {cost:,.0f}")

    figure = os.path.join(args.out, "tradeoff.png")
    fig = jg.plot.plot_frontier(ds)
    fig.savefig(figure, dpi=100)
    print(f"figure: {figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
