"""Theory beside measured curves: predicted rates and lower bounds next to a run.

``jg.theory`` turns a problem and its clocks into numbers: the graph's spectral
constants, each method's predicted cost and the lower bounds
(``theory.report``), and contraction rates per unit of simulated time
(``theory.rates``) that ``plot_convergence(rates=...)`` draws as dashed lines
beside the measured medians. This script does so for AsyncGossipSGD and DADAO
on a ring of 16 nodes, over several seeds.

    python examples/tutorial_theory.py [--quick] [--out DIR]
"""

from __future__ import annotations

import argparse
import os

import jax

import jaxgossip as jg


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer events and seeds")
    parser.add_argument("--out", default=".", help="folder of the figure")
    args = parser.parse_args(argv)
    num_events, seeds = (30_000, 2) if args.quick else (200_000, 8)
    os.makedirs(args.out, exist_ok=True)

    problem = jg.problems.quadratic(
        jax.random.key(0), num_nodes=16, dim=10, kappa=20.0, shared_basis=True
    )
    clocks = jg.Clocks(jg.graphs.ring(16), compute_rate=1.0, comm_rate=4.0)

    # The graph's constants, and every prediction of the theory module for this setting.
    print(jg.theory.format_table(jg.theory.graph_constants(clocks.graph, clocks.comm_rate)))
    print(jg.theory.format_report(jg.theory.report(problem, clocks, eps=1e-6)))
    rates = jg.theory.rates(problem, clocks)
    print("rates per unit time:", {name: round(rate, 4) for name, rate in rates.items()})

    # Measured: the median over seeds of each method, vmapped over keys.
    keys = jax.random.split(jax.random.key(1), seeds)
    traces = {}
    for algo in (jg.algorithms.AsyncGossipSGD, jg.algorithms.DADAO):
        algorithm = algo.from_theory(problem, clocks)
        traces[algo.__name__] = jax.vmap(
            lambda k, algorithm=algorithm: jg.simulate(
                k,
                algorithm,
                problem,
                clocks,
                num_events=num_events,
                num_records=100,
                schedule="sequential",
            )
        )(keys)

    # DADAO's rate beside its curve (the theory holds up to an absolute constant).
    fig = jg.plot_convergence(traces, rates={"DADAO": rates["dadao"]}, x_axes=("time",))
    figure = os.path.join(args.out, "theory.png")
    fig.savefig(figure, dpi=100)
    print(f"figure: {figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
