"""``jaxgossip theory --graph KIND``: a graph's spectral constants and predicted complexities."""

from __future__ import annotations

import argparse

import jax

from jaxgossip.cli.common import (
    add_float64_argument,
    condition_number,
    error,
    positive_int,
    positive_number,
    rate,
    seed,
)
from jaxgossip.network.clocks import Clocks
from jaxgossip.network.factory import GRAPH_KINDS, make_graph
from jaxgossip.theory import format_report, format_table, graph_constants, predictions

NAME = "theory"
HELP = "print a graph's spectral constants (lambda_2, chi1, chi2, gossip rate)"
DESCRIPTION = (
    "Prints lambda_2 and lambda_max of the Laplacian weighted by the edge rates, "
    "the spectral gap, chi1, chi2 and the contraction rate of randomized gossip "
    "(see jaxgossip.theory.graph_constants)."
)


def add_arguments(parser) -> None:
    """``jaxgossip theory``'s arguments."""
    parser.add_argument(
        "--graph",
        required=True,
        choices=GRAPH_KINDS,
        metavar="KIND",
        help=f"the topology: {', '.join(GRAPH_KINDS)}",
    )
    parser.add_argument(
        "--nodes",
        type=positive_int,
        default=None,
        help="number of nodes (the n of ring, complete, ...; sizes grid, torus, hypercube); "
        "default: the generator's own, where it has one",
    )
    parser.add_argument("--comm-rate", type=rate, default=1.0, help="Poisson rate of every edge")
    parser.add_argument(
        "--graph-arg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        type=graph_arg,
        help="another argument of the generator, e.g. p=0.3 or rows=4 (repeatable; default: none)",
    )
    parser.add_argument("--seed", type=seed, default=0, help="key of random graphs")
    parser.add_argument(
        "--kappa",
        type=condition_number,
        default=None,
        help="condition number L/mu: also print the predicted complexities and lower bounds "
        "(default: none, the spectral constants only)",
    )
    parser.add_argument(
        "--eps", type=positive_number, default=1e-6, help="relative precision of the predictions"
    )
    parser.add_argument(
        "--samples", type=positive_int, default=1, help="m samples per node (finite sums)"
    )
    parser.add_argument(
        "--compute-rate", type=rate, default=1.0, help="gradient rate of every node"
    )
    add_float64_argument(parser)


def graph_arg(text: str) -> tuple[str, int | float]:
    """An argparse type: ``NAME=VALUE`` with a number, as ``(name, int or float)``."""
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    for kind in (int, float):
        try:
            return name.strip(), kind(value)
        except ValueError:
            pass
    raise argparse.ArgumentTypeError(f"expected a number after {name}=, got {value!r}")


def run_command(args) -> int:
    """Runs ``jaxgossip theory``; returns the exit code."""
    graph_args = dict(args.graph_arg)
    try:
        graph = make_graph(
            args.graph, num_nodes=args.nodes, key=jax.random.key(args.seed), **graph_args
        )
        constants = graph_constants(graph, args.comm_rate)
        rows = None
        if args.kappa is not None:
            clocks = Clocks(graph, args.compute_rate, args.comm_rate)
            rows = predictions(args.kappa, clocks, args.eps, num_samples=args.samples)
    except ValueError as exc:
        return error(str(exc), "theory")
    described = ", ".join(f"{k}={v}" for k, v in graph_args.items())
    print(
        f"{args.graph}{f' ({described})' if described else ''}: {graph.num_nodes} nodes, "
        f"{graph.num_edges} edges, communication rate {args.comm_rate:g} per edge\n"
    )
    print(format_table(constants))
    if rows is not None:
        print(
            f"\nTo reach relative precision eps = {args.eps:g} with local kappa = max L_i / "
            f"min mu_i = {args.kappa:g}, "
            f"m = {args.samples}, gradient rate {args.compute_rate:g} per node "
            "(totals over the network; see jaxgossip.theory):\n"
        )
        print(format_report(rows))
    return 0
