"""The command line: ``jaxgossip demo | run | plot | theory | compare | tradeoff``.

``demo`` runs the built-in experiment; ``run`` runs an experiment file
(``jaxgossip.study.experiment``); ``plot`` draws a saved sweep or traces file;
``theory`` prints a graph's spectral constants and, with ``--kappa``, the
predicted complexities and lower bounds (``jaxgossip.theory``); ``compare``
runs every registered algorithm on one setting (``jaxgossip.study.compare``);
``tradeoff`` runs the computation/communication trade-off explorer on a TOML
file (``jaxgossip.cli.tradeoff``).

The demo asks the project's question on a small instance: how does the rate of
communication change asynchronous gossip SGD's convergence per unit of
simulated time, per gradient computation and per communication? It runs
logistic regression on a ring of 32 nodes at three communication rates, all
seeds and rates in one vmapped, compiled call, prints a summary table and
writes a figure and the traces.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import unicodedata

import numpy as np

DEFAULT_OUT = "jaxgossip-demo"
FIGURE, TRACES = "convergence.png", "traces.npz"
COMM_RATES = (0.25, 1.0, 4.0)  # per edge; each node computes at rate 1
# With a constant step, f(x̄) - f* settles at a noise floor proportional to the
# step (x̄ moves by step/n * g_i at a uniformly random node i: SGD over nodes).
# Measured over 200k events (float32, 4 seeds): 1/L stalls at ~3e-4 within 20%
# of the run, 0.1/L at ~5e-5; 0.02/L reaches ~1e-5 at all three rates, the
# slowest (rate 4, fewest computations) by 40% of the run.
STEP_SIZE_TIMES_L = 0.02


def main(argv=None) -> int:
    """Runs the command line on ``argv`` (``sys.argv[1:]`` by default); returns the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error argparse has already reported
        return exit_.code if isinstance(exit_.code, int) else 2
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return args.run(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxgossip",
        description="Simulate asynchronous decentralized optimization with JAX.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="run the built-in experiment: gossip SGD at three communication rates",
        description=(
            "Logistic regression (32 nodes, d=20, 50 samples per node) on a ring of 32 "
            "nodes, asynchronous gossip SGD with compute rate 1 per node and communication "
            f"rates {', '.join(map(str, COMM_RATES))} per edge, several seeds, all in one "
            f"vmapped call. Prints a summary and writes {FIGURE} and {TRACES} into --out."
        ),
    )
    demo.add_argument(
        "--out", default=DEFAULT_OUT, help=f"output folder (default: ./{DEFAULT_OUT})"
    )
    demo.add_argument(
        "--overwrite", action="store_true", help="replace output files that already exist"
    )
    demo.add_argument(
        "--num-events",
        type=_positive_int,
        default=200_000,
        help="events per run, a multiple of --num-records (default: 200000)",
    )
    demo.add_argument(
        "--num-records",
        type=_positive_int,
        default=100,
        help="metric records per run (default: 100)",
    )
    demo.add_argument("--seeds", type=_positive_int, default=4, help="runs per rate (default: 4)")
    demo.set_defaults(run=_demo)
    _add_run(commands)
    _add_plot(commands)
    _add_theory(commands)
    _add_compare(commands)
    _add_tradeoff(commands)
    return parser


def _add_tradeoff(commands) -> None:
    from jaxgossip.cli import tradeoff as tradeoff_cli

    parser = commands.add_parser(
        "tradeoff",
        help="computations vs communications to reach eps across rate ratios, from a TOML file",
        description=tradeoff_cli.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tradeoff_cli.add_arguments(parser)
    parser.set_defaults(run=tradeoff_cli.run_cli)


def _add_compare(commands) -> None:
    from jaxgossip.study import compare

    parser = commands.add_parser(
        "compare",
        help="every registered algorithm on one quadratic and graph: cost to reach eps",
        description=compare.__doc__,
    )
    compare.add_arguments(parser)
    parser.set_defaults(run=compare.run_cli)


def _add_run(commands) -> None:
    run = commands.add_parser(
        "run",
        help="run an experiment file: sweeps over graphs, algorithms and hyperparameters",
        description=(
            "Runs every graph x algorithm sweep of an experiment TOML file (the schema is "
            "documented in jaxgossip/experiment.py and the README), saves each as "
            "<graph>__<algorithm>.npz with a figure per graph and summary.txt, and prints "
            "the summary table. Nothing is overwritten without --overwrite."
        ),
    )
    run.add_argument("experiment", metavar="EXPERIMENT.toml", help="the experiment file")
    run.add_argument(
        "--out", default=None, help="output folder (default: [output] dir of the file)"
    )
    run.add_argument(
        "--overwrite", action="store_true", help="replace output files that already exist"
    )
    run.set_defaults(run=_run)


def _add_plot(commands) -> None:
    from jaxgossip.plot import Y_LABELS

    plot = commands.add_parser(
        "plot",
        help="draw a saved sweep (jaxgossip run) or traces file (jaxgossip demo)",
        description=(
            "Draws the metric against simulated time, computations and communications: "
            "for a sweep, the median and 10-90% band over seeds of each grid point (of the "
            f"best point when the grid has more than {MAX_PLOTTED_POINTS}); for a traces "
            "file, each label."
        ),
    )
    plot.add_argument("results", metavar="RESULTS.npz", help="a sweep or traces file")
    plot.add_argument("--out", default=None, help="the PNG to write (default: RESULTS.png)")
    plot.add_argument(
        "--metric",
        default="suboptimality",
        choices=sorted(Y_LABELS),
        help="the metric on the y axis (default: suboptimality)",
    )
    plot.add_argument("--overwrite", action="store_true", help="replace an existing figure")
    plot.set_defaults(run=_plot)


def _add_theory(commands) -> None:
    from jaxgossip.study.experiment import GRAPH_KINDS

    theory = commands.add_parser(
        "theory",
        help="print a graph's spectral constants (lambda_2, chi1, chi2, gossip rate)",
        description=(
            "Prints lambda_2 and lambda_max of the Laplacian weighted by the edge rates, "
            "the spectral gap, chi1, chi2 and the contraction rate of randomized gossip "
            "(see jaxgossip.theory.graph_constants)."
        ),
    )
    theory.add_argument(
        "--graph",
        required=True,
        choices=GRAPH_KINDS,
        metavar="KIND",
        help=f"the topology: {', '.join(GRAPH_KINDS)}",
    )
    theory.add_argument(
        "--nodes",
        type=_positive_int,
        default=None,
        help="number of nodes (the n of ring, complete, ...; sizes grid, torus, hypercube)",
    )
    theory.add_argument(
        "--comm-rate", type=_rate, default=1.0, help="Poisson rate of every edge (default: 1)"
    )
    theory.add_argument(
        "--graph-arg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        type=_graph_arg,
        help="another argument of the generator, e.g. p=0.3 or rows=4 (repeatable)",
    )
    theory.add_argument("--seed", type=int, default=0, help="key of random graphs (default: 0)")
    theory.add_argument(
        "--kappa",
        type=float,
        default=None,
        help="condition number L/mu: also print the predicted complexities and lower bounds",
    )
    theory.add_argument(
        "--eps", type=float, default=1e-6, help="relative precision of the predictions (1e-6)"
    )
    theory.add_argument(
        "--samples", type=_positive_int, default=1, help="m samples per node (finite sums; 1)"
    )
    theory.add_argument(
        "--compute-rate", type=_rate, default=1.0, help="gradient rate of every node (default: 1)"
    )
    theory.set_defaults(run=_theory)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite rate > 0, got {text}")
    return value


def _graph_arg(text: str) -> tuple[str, int | float]:
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    for kind in (int, float):
        try:
            return name.strip(), kind(value)
        except ValueError:
            pass
    raise argparse.ArgumentTypeError(f"expected a number after {name}=, got {value!r}")


def _error(message: str, command: str = "demo") -> int:
    print(f"jaxgossip {command}: error: {message}", file=sys.stderr)
    return 2


def _demo(args) -> int:
    from jaxgossip.io import atomic_write, save_traces
    from jaxgossip.plot import plot_convergence

    if args.num_events % args.num_records:
        return _error(
            f"--num-events {args.num_events} is not a multiple of --num-records {args.num_records}."
        )
    out = args.out
    if os.path.exists(out) and not os.path.isdir(out):
        return _error(f"--out {out!r} exists and is not a folder.")
    # Checked before the run, so that a refusal costs nothing; the writes check again.
    existing = [name for name in (FIGURE, TRACES) if os.path.exists(os.path.join(out, name))]
    if existing and not args.overwrite:
        return _error(
            f"{out!r} already holds {' and '.join(existing)}; pass --overwrite to replace "
            "them, or choose another --out."
        )

    print(
        f"jaxgossip demo: {len(COMM_RATES)} communication rates x {args.seeds} seeds x "
        f"{args.num_events:,} events, one vmapped call (compiling first) ...",
        flush=True,
    )
    start = time.perf_counter()
    traces, config = run_demo(
        num_events=args.num_events, num_seeds=args.seeds, num_records=args.num_records
    )
    elapsed = time.perf_counter() - start
    print(f"ran in {elapsed:.1f} s on {config['backend']}\n")
    print(summary_table(traces, config["comm_rates"]))

    os.makedirs(out, exist_ok=True)
    figure = plot_convergence(traces, metric=("suboptimality", "mean_suboptimality"))
    atomic_write(
        os.path.join(out, FIGURE),
        lambda f: figure.savefig(f, format="png", dpi=120),
        overwrite=args.overwrite,
    )
    save_traces(os.path.join(out, TRACES), traces, config=config, overwrite=args.overwrite)
    print(f"\nwrote {os.path.join(out, FIGURE)} and {os.path.join(out, TRACES)}")
    print(f"output folder: {os.path.abspath(out)}")
    return 0


def _run(args) -> int:
    import dataclasses

    from jaxgossip.study.experiment import (
        ExperimentError,
        load_experiment,
        output_paths,
        run_experiment,
        summary_table,
    )

    try:
        experiment = load_experiment(args.experiment)
    except ExperimentError as error:
        return _error(str(error), "run")
    except OSError as error:
        return _error(f"cannot read {args.experiment!r}: {error.strerror or error}", "run")
    if args.out is not None:
        experiment = dataclasses.replace(experiment, output_dir=args.out)
    out = experiment.output_dir
    if os.path.exists(out) and not os.path.isdir(out):
        return _error(f"the output folder {out!r} exists and is not a folder.", "run")
    existing = [path for path in output_paths(experiment) if os.path.exists(path)]
    if existing and not args.overwrite:
        shown = ", ".join(os.path.basename(p) for p in existing[:6])
        more = f" and {len(existing) - 6} more" if len(existing) > 6 else ""
        return _error(
            f"{out!r} already holds {shown}{more}; pass --overwrite to replace them, or "
            "choose another --out.",
            "run",
        )
    print(f"jaxgossip run: {experiment.name} (compiling each sweep first) ...", flush=True)
    try:
        results = run_experiment(
            experiment,
            overwrite=args.overwrite,
            progress=lambda line: print(line, flush=True),
        )
    except ExperimentError as error:
        return _error(str(error), "run")
    except FileExistsError as error:  # written by someone else since the check above
        return _error(str(error), "run")
    print()
    print(summary_table(results, experiment.eps))
    print(f"\nresults saved in {os.path.abspath(out)}:")
    for path in output_paths(experiment):
        print(f"  {os.path.basename(path)}")
    return 0


MAX_PLOTTED_POINTS = 8  # grid points drawn by `plot` before it keeps only the best


def _plot(args) -> int:
    from jaxgossip.io import atomic_write

    path = args.results
    try:
        figure, note = _results_figure(path, args.metric)
    except (OSError, ValueError) as error:
        return _error(str(error), "plot")
    out = args.out or os.path.splitext(path)[0] + ".png"
    if os.path.exists(out) and not args.overwrite:
        return _error(f"{out!r} exists; pass --overwrite to replace it, or choose --out.", "plot")
    atomic_write(out, lambda f: figure.savefig(f, format="png", dpi=120), overwrite=args.overwrite)
    if note:
        print(note)
    print(f"wrote {out}")
    return 0


def _results_figure(path: str, metric: str):
    """``(figure, note)`` for a sweep file or a traces file."""
    import json

    from jaxgossip.io import load_traces
    from jaxgossip.plot import plot_convergence

    with np.load(path, allow_pickle=False) as data:
        if "__metadata__" not in data.files:
            raise ValueError(f"{path!r} is neither a jaxgossip sweep nor a traces file.")
        kind = json.loads(data["__metadata__"].tobytes().decode("utf-8")).get("format")
    if kind == "jaxgossip.traces":
        traces, _ = load_traces(path)
        return plot_convergence(traces, metric=metric), ""
    if kind != "jaxgossip.sweep":
        raise ValueError(f"{path!r} is neither a jaxgossip sweep nor a traces file.")
    from jaxgossip.study.experiment import format_point, point_trace
    from jaxgossip.study.sweep import load_sweep

    ds = load_sweep(path)
    dims = [d for d in ds["diverged"].dims if d not in ("seed", "record")]
    points = [dict(zip(dims, values)) for values in _product([ds[d].values for d in dims])]
    note = ""
    if len(points) > MAX_PLOTTED_POINTS:
        chosen = _best_point(ds, dims)
        note = (
            f"the grid has {len(points)} points, more than {MAX_PLOTTED_POINTS}: "
            f"drew the best, {format_point(chosen)}"
        )
        points = [chosen]
    traces = {format_point(p) if dims else "all seeds": point_trace(ds, p) for p in points}
    figure = plot_convergence(traces, metric=metric)
    title = " x ".join(filter(None, (ds.attrs.get("graph"), ds.attrs.get("algorithm"))))
    if title:
        subtitle = figure.get_suptitle()
        figure.suptitle(f"{title}\n{subtitle}" if subtitle else title, fontsize="medium")
    return figure, note


def _best_point(ds, dims) -> dict:
    """The best grid point: by the experiment's eps when the file has one, else by final value."""
    from jaxgossip.study.experiment import choose_best
    from jaxgossip.study.sweep import best

    if "eps" in ds.attrs:
        chosen = choose_best(ds, float(ds.attrs["eps"]))
        if chosen is not None:
            return chosen[0]
    try:
        choice = best(ds, criterion="final")
    except ValueError:  # every configuration diverged
        return {d: ds[d].values[0].item() for d in dims}
    return {d: choice[d] for d in dims}


def _product(axes):
    import itertools

    return itertools.product(*(a.tolist() for a in axes))


def _theory(args) -> int:
    import jax

    from jaxgossip.network.clocks import Clocks
    from jaxgossip.study.experiment import make_graph
    from jaxgossip.theory import format_report, format_table, graph_constants, predictions

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
    except ValueError as error:
        return _error(str(error), "theory")
    described = ", ".join(f"{k}={v}" for k, v in graph_args.items())
    print(
        f"{args.graph}{f' ({described})' if described else ''}: {graph.num_nodes} nodes, "
        f"{graph.num_edges} edges, communication rate {args.comm_rate:g} per edge\n"
    )
    print(format_table(constants))
    if rows is not None:
        print(
            f"\nTo reach relative precision eps = {args.eps:g} with kappa = {args.kappa:g}, "
            f"m = {args.samples}, gradient rate {args.compute_rate:g} per node "
            "(totals over the network; see jaxgossip.theory):\n"
        )
        print(format_report(rows))
    return 0


def run_demo(*, num_events: int, num_seeds: int, num_records: int):
    """Runs the demo experiment; returns ``(traces, config)``.

    ``traces`` maps ``"comm rate r"`` to a ``Trace`` batched over seeds
    (fields (num_seeds, num_records + 1)); every rate reuses the same seeds.
    """
    import jax
    import jax.numpy as jnp

    import jaxgossip as jg

    num_nodes, dim, samples, reg = 32, 20, 50, 1e-2
    problem = jg.problems.logistic_regression(
        jax.random.key(0), num_nodes=num_nodes, dim=dim, samples_per_node=samples, reg=reg
    )
    graph = jg.graphs.ring(num_nodes)
    step_size = STEP_SIZE_TIMES_L / float(problem.L)
    algorithm = jg.algorithms.AsyncGossipSGD(step_size=step_size)

    def run(comm_rate, key):
        clocks = jg.Clocks(graph, compute_rate=1.0, comm_rate=comm_rate)
        return jg.simulate(
            key, algorithm, problem, clocks, num_events=num_events, num_records=num_records
        )

    # One call over the (rate, seed) grid, flattened: compiled once, batched throughout.
    rates = jnp.repeat(jnp.asarray(COMM_RATES), num_seeds)
    keys = jnp.tile(jax.random.split(jax.random.key(1), num_seeds), len(COMM_RATES))
    grid = jax.block_until_ready(jax.jit(jax.vmap(run))(rates, keys))
    grid = jax.tree.map(lambda a: a.reshape(len(COMM_RATES), num_seeds, *a.shape[1:]), grid)
    traces = {
        f"comm rate {rate:g}": jax.tree.map(lambda a, r=r: a[r], grid)
        for r, rate in enumerate(COMM_RATES)
    }
    config = {
        "experiment": "jaxgossip demo",
        "problem": {
            "name": "logistic_regression",
            "key": 0,
            "num_nodes": num_nodes,
            "dim": dim,
            "samples_per_node": samples,
            "reg": reg,
            "L": float(problem.L),
            "mu": float(problem.mu),
            "f_star": float(problem.f_star),
        },
        "graph": {"name": "ring", "num_nodes": num_nodes},
        "algorithm": {"name": "async_gossip_sgd", "step_size": step_size},
        "step_size_times_L": STEP_SIZE_TIMES_L,
        "compute_rate": 1.0,
        "comm_rates": list(COMM_RATES),
        "seeds_key": 1,
        "num_seeds": num_seeds,
        "num_events": num_events,
        "num_records": num_records,
        "dtype": str(problem.x_star.dtype),
        "jax_version": jax.__version__,
        "backend": jax.default_backend(),
    }
    return traces, config


def summary_table(traces, comm_rates) -> str:
    """One row per label: medians over seeds of the last record."""
    header = (
        "comm rate",
        "computations",
        "communications",
        "f(x̄) − f*",
        "mean f(xᵢ) − f*",
        "consensus",
        "simulated time",
    )
    rows = []
    for rate, trace in zip(comm_rates, traces.values()):

        def last(values):
            return float(np.median(np.asarray(values)[..., -1]))

        rows.append(
            (
                f"{rate:g}",
                f"{last(trace.num_computations):,.0f}",
                f"{last(trace.num_communications):,.0f}",
                f"{last(trace.suboptimality):.2e}",
                f"{last(trace.mean_suboptimality):.2e}",
                f"{last(trace.consensus):.2e}",
                f"{last(trace.time):,.1f}",
            )
        )
    widths = [max(_width(h), *(_width(row[c]) for row in rows)) for c, h in enumerate(header)]
    lines = [
        "  ".join(_rjust(h, w) for h, w in zip(header, widths)),
        "  ".join("-" * w for w in widths),
        *("  ".join(_rjust(v, w) for v, w in zip(row, widths)) for row in rows),
    ]
    times = np.asarray(next(iter(traces.values())).time)
    return "\n".join([*lines, f"(last record; medians over {times.size // times.shape[-1]} seeds)"])


def _width(text: str) -> int:
    """Printed width: the macron of x̄ is a combining character, drawn over the x."""
    return sum(not unicodedata.combining(c) for c in text)


def _rjust(text: str, width: int) -> str:
    return " " * (width - _width(text)) + text


if __name__ == "__main__":
    raise SystemExit(main())
