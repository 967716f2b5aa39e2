"""Every asynchronous method on one problem and graph: who needs fewest computations
and communications to reach a target accuracy?

    python examples/compare_algorithms.py [--nodes 16] [--kappa 10] [--comm-rate 1.0]
        [--events 200000] [--eps 1e-2 1e-8] [--out compare_algorithms.png]

Runs in float64 (the exact methods go far below float32's resolution). Prints a
table of computations and communications to reach eps and saves a figure of
f(x̄) − f* against computations and against communications.
"""

from __future__ import annotations

import argparse

import jax


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=16)
    parser.add_argument("--dim", type=int, default=8)
    parser.add_argument("--kappa", type=float, default=10.0)
    parser.add_argument("--graph", default="ring", help="a generator of jaxgossip.graphs")
    parser.add_argument("--comm-rate", type=float, default=1.0, help="per edge")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--eps", type=float, nargs="+", default=[1e-2, 1e-8])
    parser.add_argument("--out", default="compare_algorithms.png")
    args = parser.parse_args(argv)

    jax.config.update("jax_enable_x64", True)
    import jaxgossip as jg
    from jaxgossip.compare import format_rows, run_all, to_reach_table

    graph = getattr(jg.graphs, args.graph)(args.nodes)
    problem = jg.problems.quadratic(jax.random.key(0), args.nodes, args.dim, kappa=args.kappa)
    clocks = jg.Clocks(graph, compute_rate=1.0, comm_rate=args.comm_rate)
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
    for eps in args.eps:
        print(format_rows(to_reach_table(traces, eps), eps), end="\n\n")
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}")
    jg.plot_convergence(traces, path=args.out, x_axes=("num_computations", "num_communications"))
    print(f"figure: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
