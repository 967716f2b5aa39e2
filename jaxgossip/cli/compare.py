"""``jaxgossip compare``: every registered algorithm on one quadratic and graph.

The comparison itself is ``jaxgossip.study.compare``; its docstring is the
command's description.
"""

from __future__ import annotations

import argparse
import math
import os

import jax

from jaxgossip import problems
from jaxgossip.algorithms.registry import COUNTING
from jaxgossip.cli.common import (
    HelpFormatter,
    Parser,
    add_float64_argument,
    condition_number,
    error,
    float64,
    positive_int,
    positive_number,
    rate,
)
from jaxgossip.network.clocks import Clocks
from jaxgossip.network.factory import GRAPH_KINDS, make_graph
from jaxgossip.plot import plot_convergence
from jaxgossip.study import compare
from jaxgossip.study.analysis import check_precision
from jaxgossip.study.compare import format_rows, groups, run_all, run_all_rounds, to_reach_table

NAME = "compare"
HELP = "every registered algorithm on one quadratic and graph: cost to reach eps"
DESCRIPTION = compare.__doc__


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``jaxgossip compare`` and ``examples/compare_algorithms.py``."""
    parser.add_argument("--nodes", type=positive_int, default=16, help="number of nodes n")
    parser.add_argument("--dim", type=positive_int, default=8, help="dimension d")
    parser.add_argument(
        "--kappa", type=condition_number, default=10.0, help="condition number L/mu, >= 1"
    )
    parser.add_argument(
        "--graph",
        default="ring",
        choices=GRAPH_KINDS,
        metavar="KIND",
        help=f"the topology, sized by --nodes: {', '.join(GRAPH_KINDS)}",
    )
    parser.add_argument("--comm-rate", type=rate, default=1.0, help="Poisson rate of every edge")
    parser.add_argument(
        "--events",
        type=positive_int,
        default=200_000,
        help="events per asynchronous run, a multiple of --records",
    )
    parser.add_argument("--records", type=positive_int, default=200, help="records per run")
    parser.add_argument("--seeds", type=positive_int, default=4, help="runs per algorithm")
    parser.add_argument(
        "--rounds", type=positive_int, default=2000, help="rounds of synchronous methods"
    )
    parser.add_argument(
        "--eps",
        type=positive_number,
        nargs="+",
        default=[1e-2, 1e-8],
        help="targets f(x̄) − f*, one table each",
    )
    parser.add_argument("--out", default="compare_algorithms.png", help="figure path")
    add_float64_argument(parser, default=True)


def run_command(args) -> int:
    """Runs the comparison on a quadratic, prints tables, saves the figure; returns the exit code.

    In float64 unless ``--no-float64``: the exact methods go below float32's resolution.
    """
    if args.events % args.records:
        return error(
            f"--events {args.events} is not a multiple of --records {args.records}.", "compare"
        )
    if os.path.isdir(args.out):
        return error(f"--out {args.out!r} is a folder; give the figure's path.", "compare")
    folder = os.path.dirname(args.out)
    if folder and not os.path.isdir(folder):
        return error(f"--out {args.out!r}: no folder {folder!r}.", "compare")
    with float64(args.float64):
        try:
            graph = make_graph(args.graph, num_nodes=args.nodes)
            # One eigenbasis for all nodes: f's condition number is then kappa too,
            # so the kappa theory uses (the local one) is the problem's.
            problem = problems.quadratic(
                jax.random.key(0), args.nodes, args.dim, kappa=args.kappa, shared_basis=True
            )
            clocks = Clocks(graph, compute_rate=1.0, comm_rate=args.comm_rate)
        except ValueError as exc:
            return error(f"--graph {args.graph} --nodes {args.nodes}: {exc}", "compare")
        return _compare(args, graph, problem, clocks)


def _compare(args, graph, problem, clocks) -> int:
    traces, skipped = run_all(
        problem,
        clocks,
        num_events=args.events,
        num_records=args.records,
        num_seeds=args.seeds,
        x0=jax.numpy.ones(args.dim),
    )
    print(
        f"quadratic, local kappa {float(problem.kappa):g} (condition number of f "
        f"{problem.condition_number():.4g}), {args.graph} of {args.nodes} nodes, compute rate 1 "
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
        check_precision(problem, eps, "jaxgossip compare")
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
    parser = Parser(description=compare.__doc__.splitlines()[0], formatter_class=HelpFormatter)
    add_arguments(parser)
    return run_command(parser.parse_args(argv))
