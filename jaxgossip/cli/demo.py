"""``jaxgossip demo``: the built-in experiment.

The demo asks the project's question on a small instance: how does the rate of
communication change asynchronous gossip SGD's convergence per unit of
simulated time, per gradient computation and per communication? It runs
logistic regression on a ring of 32 nodes at three communication rates, all
seeds and rates in one vmapped, compiled call, prints a summary table and
writes a figure and the traces.
"""

from __future__ import annotations

import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxgossip import problems
from jaxgossip.algorithms.asynchronous.async_gossip_sgd import AsyncGossipSGD
from jaxgossip.cli.common import add_float64_argument, add_output_arguments, error, positive_int
from jaxgossip.engine.events import BATCHED_SCHEDULE, simulate
from jaxgossip.io import atomic_write, save_traces
from jaxgossip.network import graphs
from jaxgossip.network.clocks import Clocks
from jaxgossip.plot import plot_convergence
from jaxgossip.study.table import format_table

DEFAULT_OUT = "jaxgossip-demo"
FIGURE, TRACES = "convergence.png", "traces.npz"
COMM_RATES = (0.25, 1.0, 4.0)  # per edge; each node computes at rate 1
# With a constant step, f(x̄) - f* settles at a noise floor proportional to the
# step (x̄ moves by step/n * g_i at a uniformly random node i: SGD over nodes).
# Measured over 200k events (float32, 4 seeds): 1/L stalls at ~3e-4 within 20%
# of the run, 0.1/L at ~5e-5; 0.02/L reaches ~1e-5 at all three rates, the
# slowest (rate 4, fewest computations) by 40% of the run.
STEP_SIZE_TIMES_L = 0.02


NAME = "demo"
HELP = "run the built-in experiment: gossip SGD at three communication rates"
DESCRIPTION = (
    "Logistic regression (32 nodes, d=20, 50 samples per node) on a ring of 32 "
    "nodes, asynchronous gossip SGD with compute rate 1 per node and communication "
    f"rates {', '.join(map(str, COMM_RATES))} per edge, several seeds, all in one "
    f"vmapped call. Prints a summary and writes {FIGURE} and {TRACES} into --out."
)


def add_arguments(parser) -> None:
    """``jaxgossip demo``'s arguments."""
    add_output_arguments(parser, default=DEFAULT_OUT, help="output folder")
    for flag, default, help in (
        ("--num-events", 200_000, "events per run, a multiple of --num-records"),
        ("--num-records", 100, "metric records per run"),
        ("--seeds", 4, "runs per rate"),
    ):
        parser.add_argument(flag, type=positive_int, default=default, help=help)
    add_float64_argument(parser)


def run_command(args) -> int:
    """Runs ``jaxgossip demo``; returns the exit code."""
    if args.num_events % args.num_records:
        return error(
            f"--num-events {args.num_events} is not a multiple of --num-records "
            f"{args.num_records}.",
            "demo",
        )
    out = args.out
    if os.path.exists(out) and not os.path.isdir(out):
        return error(f"--out {out!r} exists and is not a folder.", "demo")
    # Checked before the run, so that a refusal costs nothing; the writes check again.
    existing = [name for name in (FIGURE, TRACES) if os.path.exists(os.path.join(out, name))]
    if existing and not args.overwrite:
        return error(
            f"{out!r} already holds {' and '.join(existing)}; pass --overwrite to replace "
            "them, or choose another --out.",
            "demo",
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


def run_demo(*, num_events: int, num_seeds: int, num_records: int):
    """Runs the demo experiment; returns ``(traces, config)``.

    ``traces`` maps ``"comm rate r"`` to a ``Trace`` batched over seeds
    (fields (num_seeds, num_records + 1)); every rate reuses the same seeds.
    """
    num_nodes, dim, samples, reg = 32, 20, 50, 1e-2
    problem = problems.logistic_regression(
        jax.random.key(0), num_nodes=num_nodes, dim=dim, samples_per_node=samples, reg=reg
    )
    graph = graphs.ring(num_nodes)
    step_size = STEP_SIZE_TIMES_L / float(problem.L)
    algorithm = AsyncGossipSGD(step_size=step_size)

    def run(comm_rate, key):
        clocks = Clocks(graph, compute_rate=1.0, comm_rate=comm_rate)
        return simulate(
            key,
            algorithm,
            problem,
            clocks,
            num_events=num_events,
            num_records=num_records,
            schedule=BATCHED_SCHEDULE,  # vmapped over the grid below
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
        "dtype": str(problem.dtype),
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
    times = np.asarray(next(iter(traces.values())).time)
    footer = f"(last record; medians over {times.size // times.shape[-1]} seeds)"
    return format_table(header, rows, left=0) + "\n" + footer
