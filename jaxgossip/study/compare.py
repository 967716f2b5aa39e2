"""Every registered algorithm on one problem and graph, on equal footing.

Each algorithm runs with its ``from_theory`` configuration over the same
seeds (one vmapped call per algorithm); the table reports the computations and
communications each needs until the median over seeds of f(x̄) − f* reaches eps.
Asynchronous methods count events; synchronous ones count per round as
``COUNTING`` states (their own papers' conventions).
"""

from __future__ import annotations

import argparse
import math

import jax
import numpy as np

from jaxgossip.algorithms.registry import CENTRALIZED, COUNTING, DEVICE_SAMPLING, REGISTRY
from jaxgossip.algorithms.synchronous import SYNC_REGISTRY
from jaxgossip.engine.events import simulate
from jaxgossip.engine.rounds import simulate_rounds
from jaxgossip.engine.trace import Trace
from jaxgossip.network.mixing import metropolis_mixing


def run_all(
    problem,
    clocks,
    *,
    names=None,
    num_events: int,
    num_records: int,
    num_seeds: int = 4,
    x0=None,
) -> tuple[dict[str, Trace], dict[str, str]]:
    """Runs each named algorithm's ``from_theory`` configuration over seeds 0..S-1.

    Args:
      problem, clocks: the setting shared by every algorithm.
      names: registry names; all but ``gossip`` (which does not optimize) by default.
      num_events, num_records, x0: as for ``simulate``.
      num_seeds: seeds per algorithm, vmapped.

    Returns:
      (traces, skipped): label -> batched ``Trace`` (leading seed axis), and
      name -> reason for algorithms that cannot run on this problem (e.g. the
      dual method needs conjugate gradients).
    """
    names = [n for n in REGISTRY if n != "gossip"] if names is None else list(names)

    def run(key, algorithm):
        return simulate(
            key, algorithm, problem, clocks, num_events=num_events, num_records=num_records, x0=x0
        )

    return _run_registered(REGISTRY, names, (problem, clocks), run, num_seeds)


def run_all_rounds(
    problem, graph, *, names=None, num_rounds: int, num_records: int, num_seeds: int = 4, x0=None
) -> tuple[dict[str, Trace], dict[str, str]]:
    """Runs each synchronous method's ``from_theory`` configuration (Metropolis gossip).

    Same returns as ``run_all``; labels are the ``SYNC_REGISTRY`` names.
    """
    names = list(SYNC_REGISTRY) if names is None else list(names)
    mixing = metropolis_mixing(graph)

    def run(key, algorithm):
        return simulate_rounds(
            key, algorithm, problem, mixing, num_rounds=num_rounds, num_records=num_records, x0=x0
        )

    return _run_registered(SYNC_REGISTRY, names, (problem, mixing), run, num_seeds)


def _run_registered(registry, names, setting, run, num_seeds):
    """``from_theory(*setting)`` of each name, run over seeds 0..S-1 in one vmapped call."""
    keys = jax.random.split(jax.random.key(0), num_seeds)
    traces, skipped = {}, {}
    for name in names:
        try:
            algorithm = registry[name].from_theory(*setting)
        except (TypeError, ValueError) as error:
            skipped[name] = str(error)
            continue
        traces[name] = jax.jit(jax.vmap(lambda k, algorithm=algorithm: run(k, algorithm)))(keys)
    return traces, skipped


def to_reach_table(traces: dict[str, Trace], eps: float) -> list[dict]:
    """Per algorithm: computations, communications and time until median f(x̄) − f* <= eps.

    Counts are read at the first record where the median over seeds of the
    suboptimality is <= eps (None when never reached), with the medians of the
    counts at that record.
    """
    rows = []
    for name, trace in traces.items():
        records = trace.time.shape[-1]
        suboptimality = np.asarray(trace.suboptimality).reshape(-1, records)
        # A diverged run (non-finite values) counts as +inf: it pushes the median up.
        median = np.median(np.where(np.isfinite(suboptimality), suboptimality, np.inf), 0)
        reached = np.flatnonzero(median <= eps)
        diverged = np.asarray(trace.diverged).reshape(-1, records)[:, -1]
        row = dict(
            algorithm=name,
            final=float(median[-1]),
            diverged=int(diverged.sum()),
            runs=diverged.size,
        )
        for field in ("num_computations", "num_communications", "time"):
            values = np.asarray(getattr(trace, field)).reshape(-1, trace.time.shape[-1])
            row[field] = float(np.median(values[:, reached[0]])) if reached.size else None
        rows.append(row)
    return rows


def format_rows(rows: list[dict], eps: float, *, time_label: str = "time") -> str:
    """A plain-text table of ``to_reach_table``'s rows (``time_label``: "rounds" for rounds)."""
    header = ("algorithm", "computations", "communications", time_label, "final f(x̄) − f*")
    body = []
    for row in rows:

        def count(field, row=row):
            value = row[field]
            return "not reached" if value is None else f"{value:,.0f}"

        body.append(
            (
                row["algorithm"],
                count("num_computations"),
                count("num_communications"),
                "not reached" if row["time"] is None else f"{row['time']:,.1f}",
                f"diverged ({row['diverged']}/{row['runs']})"
                if row["diverged"]
                else f"{row['final']:.2e}",
            )
        )
    widths = [max(len(h), *(len(r[c]) for r in body)) for c, h in enumerate(header)]
    lines = [
        f"to reach f(x̄) − f* <= {eps:g} (medians over seeds)",
        "  ".join(h.rjust(w) for h, w in zip(header, widths)),
        "  ".join("-" * w for w in widths),
        *("  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in body),
    ]
    return "\n".join(lines)


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


def run_cli(args) -> int:
    """Runs the comparison on a quadratic in float64, prints tables, saves the figure."""
    # The exact methods go below float32's resolution.
    with jax.enable_x64(True):
        from jaxgossip import problems
        from jaxgossip.network import graphs
        from jaxgossip.network.clocks import Clocks
        from jaxgossip.plot import plot_convergence

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
        groups = {
            "asynchronous": traces,
            "decentralized rounds": {
                k: v for k, v in rounds.items() if k not in CENTRALIZED + DEVICE_SAMPLING
            },
            "device sampling": {k: v for k, v in rounds.items() if k in DEVICE_SAMPLING},
            "centralized": {k: v for k, v in rounds.items() if k in CENTRALIZED},
        }
        for eps in args.eps:
            for group, group_traces in groups.items():
                if not group_traces:
                    continue
                print(f"[{group}] counting: {COUNTING[group]}")
                time_label = "simulated time" if group == "asynchronous" else "rounds"
                table = format_rows(to_reach_table(group_traces, eps), eps, time_label=time_label)
                print(table, end="\n\n")
        for name, reason in skipped.items():
            print(f"skipped {name}: {reason}")
        traces = {**traces, **rounds}
        plot_convergence(traces, path=args.out, x_axes=("num_computations", "num_communications"))
    print(f"figure: {args.out}")
    return 0


def main(argv=None) -> int:
    """``examples/compare_algorithms.py``: every asynchronous method on one setting."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run_cli(parser.parse_args(argv))
