"""``jaxgossip compare``: every registered algorithm on one quadratic and graph.

The comparison itself is ``jaxgossip.study.compare``; its docstring is the
command's description.
"""

from __future__ import annotations

import argparse
import math

import jax

from jaxgossip import problems
from jaxgossip.algorithms.registry import COUNTING
from jaxgossip.network import graphs
from jaxgossip.network.clocks import Clocks
from jaxgossip.plot import plot_convergence
from jaxgossip.study import compare
from jaxgossip.study.compare import format_rows, groups, run_all, run_all_rounds, to_reach_table

NAME = "compare"
HELP = "every registered algorithm on one quadratic and graph: cost to reach eps"
DESCRIPTION = compare.__doc__


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``jaxgossip compare`` and ``examples/compare_algorithms.py``."""
    parser.add_argument("--nodes", type=int, default=16)
    parser.add_argument("--dim", type=int, default=8)
    parser.add_argument("--kappa", type=float, default=10.0)
    parser.add_argument("--graph", default="ring", help="a generator of jaxgossip.graphs")
    parser.add_argument("--comm-rate", type=float, default=1.0, help="per edge")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2000, help="rounds of synchronous methods")
    parser.add_argument("--eps", type=float, nargs="+", default=[1e-2, 1e-8])
    parser.add_argument("--out", default="compare_algorithms.png", help="figure path")


def run_command(args) -> int:
    """Runs the comparison on a quadratic in float64, prints tables, saves the figure."""
    # The exact methods go below float32's resolution.
    with jax.enable_x64(True):
        graph = getattr(graphs, args.graph)(args.nodes)
        problem = problems.quadratic(jax.random.key(0), args.nodes, args.dim, kappa=args.kappa)
        clocks = Clocks(graph, compute_rate=1.0, comm_rate=args.comm_rate)
        traces, skipped = run_all(
            problem,
            clocks,
            num_events=args.events,
            num_records=args.records,
            num_seeds=args.seeds,
            x0=jax.numpy.ones(args.dim),
        )
        print(
            f"quadratic, kappa {args.kappa:g}, {args.graph} of {args.nodes} nodes, compute rate 1 "
            f"per node, comm rate {args.comm_rate:g} per edge, {args.events:,} events, "
            f"{args.seeds} seeds; each algorithm's from_theory configuration\n"
        )
        rounds, skipped_rounds = run_all_rounds(
            problem,
            graph,
            num_rounds=args.rounds,
            num_records=math.gcd(args.records, args.rounds),  # records must divide rounds
            num_seeds=args.seeds,
            x0=jax.numpy.ones(args.dim),
        )
        skipped.update(skipped_rounds)
        traces = {**traces, **rounds}
        for eps in args.eps:
            for group, group_traces in groups(traces).items():
                print(f"[{group}] counting: {COUNTING[group]}")
                time_label = "simulated time" if group == "asynchronous" else "rounds"
                table = format_rows(to_reach_table(group_traces, eps), eps, time_label=time_label)
                print(table, end="\n\n")
        for name, reason in skipped.items():
            print(f"skipped {name}: {reason}")
        plot_convergence(traces, path=args.out, x_axes=("num_computations", "num_communications"))
    print(f"figure: {args.out}")
    return 0


def main(argv=None) -> int:
    """``examples/compare_algorithms.py``: every registered method on one setting."""
    parser = argparse.ArgumentParser(description=compare.__doc__.splitlines()[0])
    add_arguments(parser)
    return run_command(parser.parse_args(argv))
