"""An MLP learns handwritten digits over a network: which method reaches the best test
accuracy per unit of time, per gradient and per message?

    python examples/decentralized_digits.py [--quick] [--out DIR] [--grads-per-node 300]
        [--nodes 16 64] [--graphs ring exponential] [--comm-rates 0.5 2]
        [--splits dirichlet iid] [--target 0.9]

scikit-learn's 8x8 digits (1,438 train, 359 test samples, pixels / 16) are dealt
to n nodes by a Dirichlet(alpha = 0.1) split over labels (Hsu et al., 2019; at
the median, 90% of a node's samples fall in 3 of the ten classes at n = 16 and
in 2 at n = 64, and shards hold 1 to 200 samples), and every node trains one MLP
64-64-64-10 (``eqx.nn.MLP(64, 10, width_size=64, depth=2)``, 8,970 parameters)
from one shared initialisation. The same hyperparameters serve every method: SGD
with learning rate 0.05 and heavy-ball momentum 0.9 on minibatches of 32 samples
of the node's own shard, momentum kept at the node (models are averaged, buffers
are not):

  * AsyncGossipSGD: a compute event takes an optax step, a communication averages
    the two models;
  * A2CiD2 (Nabli et al., 2023): the same step (its buffer is ``optax.sgd``'s
    trace) plus the continuous momentum, with the paper's constants for the
    clocks, eta = 1 / (2 sqrt(chi1 chi2)) and alpha~ = sqrt(chi1 / chi2) / 2
    (``from_theory`` would set these, but refuses a learning problem). With
    alpha~ = alpha it would be AsyncGossipSGD exactly: x~ would stay equal to x;
  * AD-PSGD: as AsyncGossipSGD, but each gradient is taken at the model as it
    was at the node's previous compute event;
  * D-SGD (rounds): every node takes a gradient at its model, the models are
    mixed once with Metropolis weights, the optax step is applied to the mix;
  * all-reduce SGD (rounds): the n gradients are averaged exactly, one model.

Clocks: every node computes at rate 1; edges communicate at rate r / degree, so
each node takes part in r communications per unit of time (r = --comm-rates,
relative to the compute rate). Every run does T gradient computations per
node (--grads-per-node): T rounds, or the events up to the record nearest n T
computations (all r run one number of events, so that they share a compiled
program; runs at lower r are cut earlier in their trace).

Counting communications (per node: the count over n): an event is one pairwise
exchange, n r / 2 of them per unit of time; a D-SGD round is one exchange per
edge, |E| = n on the ring and 3.5 n, 5.5 n on the exponential graphs of 16 and
64 nodes; an all-reduce round counts n (each worker sends its gradient and
receives the mean). So per gradient, the event methods at r = 2 send as many
messages as D-SGD on the ring and all-reduce, at r = 0.5 four times fewer.

Time: a round counts one unit of simulated time, the library's convention (one
gradient per node at rate 1), so the time and computation panels nearly
coincide. A real synchronous round waits for its slowest node: with
exponential gradient times H_n units (3.4 at n = 16, 4.7 at n = 64), a cost
the time panel does not charge the round methods.

Output: DIR/decentralized_digits.png (rows: n and graph; columns: test
accuracy of the averaged model against simulated time, gradients per node,
communications per node; line style: r; grey: AsyncGossipSGD on an i.i.d.
split) and a table: test accuracy at the end, at T/4 and T/2 gradients and at
T/4 communications per node, the budget to reach --target, the nodes' own mean
accuracy, consensus, seconds per run. About 5 minutes on 2 CPU cores, a
third of it compiling 13 programs; --quick (16 nodes, exponential graph,
T = 48) under a minute.
"""

from __future__ import annotations

import argparse
import os
import time

import equinox as eqx
import jax
import numpy as np
import optax

import jaxgossip as jg
from jaxgossip.network.spectral import chi_constants

EVENT_METHODS = ("AsyncGossipSGD", "A2CiD2", "AD-PSGD")
ROUND_METHODS = ("D-SGD", "all-reduce SGD")
METHODS = EVENT_METHODS + ROUND_METHODS
LEARNING_RATE, MOMENTUM, BATCH_SIZE = 0.05, 0.9, 32
DIRICHLET_ALPHA = 0.1
COLORS = dict(zip(METHODS, ("C0", "C1", "C2", "C3", "k")))
IID_COLOR = "0.6"
EVENT_STYLES = ("-", "--", ":")  # by comm rate, highest first
ROUND_STYLE = "-."
AXES = {
    "time": "simulated time",
    "computations": "gradient computations per node",
    "communications": "communications per node",
}


def make_problem(data, num_nodes: int, split: str, key) -> jg.problems.Supervised:
    """The digits problem over ``num_nodes`` nodes, split ``"dirichlet"`` or ``"iid"``."""
    alpha = DIRICHLET_ALPHA if split == "dirichlet" else None
    shards = jg.problems.split(data.train, num_nodes=num_nodes, by=split, alpha=alpha, key=key)
    model = eqx.nn.MLP(64, data.num_classes, width_size=64, depth=2, key=key)
    return jg.problems.supervised(
        model, "softmax_cross_entropy", shards, test=data.test, batch_size=BATCH_SIZE
    )


def edge_rates(graph: jg.Graph, kind: str, comm_rate: float) -> np.ndarray:
    """(E,) rates on an exponential graph giving every node ``comm_rate`` exchanges per unit.

    The ring is the graph's offset-1 edges with its chords at rate 0: one edge
    list for both topologies, so their runs share a compiled program (XLA takes
    5 to 10 s per program on CPU, longer than most runs here).
    """
    n = graph.num_nodes
    senders, receivers = np.asarray(graph.senders), np.asarray(graph.receivers)
    on_ring = ((receivers - senders) % n == 1) | ((senders - receivers) % n == 1)
    edges = on_ring if kind == "ring" else np.ones_like(on_ring)
    degree = np.bincount(np.concatenate([senders[edges], receivers[edges]]), minlength=n)
    assert np.all(degree == degree[0]), "edge_rates needs a regular topology"
    return np.where(edges, comm_rate / degree[0], 0.0)


def local_optimizer():
    # Array leaves, not optax.sgd's closures: every run of a method then shares one program.
    return jg.algorithms.optimizer(optax.sgd, learning_rate=LEARNING_RATE, momentum=MOMENTUM)


def event_algorithm(name: str, clocks: jg.Clocks):
    if name == "AsyncGossipSGD":
        return jg.algorithms.AsyncGossipSGD(optimizer=local_optimizer())
    if name == "AD-PSGD":
        return jg.algorithms.ADPSGD(optimizer=local_optimizer())
    chi1, chi2 = chi_constants(clocks.graph, clocks.comm_rate)
    return jg.algorithms.A2CiD2(
        step_size=LEARNING_RATE,
        eta=0.5 / np.sqrt(chi1 * chi2),
        alpha=0.5,
        alpha_tilde=0.5 * np.sqrt(chi1 / chi2),
        momentum=MOMENTUM,
    )


def round_algorithm(name: str):
    if name == "D-SGD":
        return jg.algorithms.synchronous.DSGD(optimizer=local_optimizer())
    return jg.algorithms.synchronous.AllReduceSGD(optimizer=local_optimizer())


class Programs:
    """Runs compiled ahead of time, once per (function, static arguments, shapes), so that
    compilation and execution are timed apart."""

    def __init__(self):
        self.compiled = {}
        self.compile_seconds = 0.0

    def run(self, fn, *args, **static):
        leaves = tuple((np.shape(leaf), leaf.dtype) for leaf in jax.tree.leaves(args))
        signature = (fn, tuple(sorted(static.items())), jax.tree.structure(args), leaves)
        if signature not in self.compiled:
            start = time.perf_counter()
            jitted = jax.jit(fn, static_argnames=tuple(static))
            self.compiled[signature] = jitted.lower(*args, **static).compile()
            self.compile_seconds += time.perf_counter() - start
        start = time.perf_counter()
        out = jax.block_until_ready(self.compiled[signature](*args))
        return out, time.perf_counter() - start


def simulate_events(key, algorithm, problem, clocks, *, num_events, num_records):
    # Sequential, not "auto"'s waves at n = 64: about 25% faster here, whose events
    # are dominated by one 8,970-parameter gradient each.
    return jg.simulate(
        key,
        algorithm,
        problem,
        clocks,
        num_events=num_events,
        num_records=num_records,
        schedule="sequential",
    )


def simulate_rounds(key, algorithm, problem, mixing, *, num_rounds, num_records):
    return jg.simulate_rounds(
        key, algorithm, problem, mixing, num_rounds=num_rounds, num_records=num_records
    )


def curves(trace, num_nodes: int, budget: int) -> dict[str, np.ndarray]:
    """A trace's records up to the one nearest ``budget`` computations per node, per node."""
    computations = np.asarray(trace.num_computations) / num_nodes
    end = int(np.argmin(np.abs(computations - budget))) + 1
    out = dict(
        time=trace.time,
        computations=trace.num_computations / num_nodes,
        communications=trace.num_communications / num_nodes,
        accuracy=trace.metrics["test_accuracy"],
        node_accuracy=trace.metrics["node_test_accuracy"],
        consensus=trace.consensus,
    )
    return {name: np.asarray(value, np.float64)[:end] for name, value in out.items()}


def run_all(args, data, key) -> tuple[list[dict], Programs]:
    """Every (split, n, graph, r, method) run, as rows of settings, curves and seconds."""
    programs = Programs()
    T = args.grads_per_node
    top_rate = max(args.comm_rates)
    rows = []
    for split in args.splits:
        methods = METHODS if split == "dirichlet" else ("AsyncGossipSGD",)
        for n in args.nodes:
            if split == "iid" and len(data.train.labels) // n < BATCH_SIZE:
                # supervised refuses a batch above the largest shard, though it draws with
                # replacement; a Dirichlet split passes thanks to its few large shards.
                print(f"  iid        n={n:<3} skipped: shards of fewer than {BATCH_SIZE} samples")
                continue
            problem = make_problem(data, n, split, key)
            graph = jg.graphs.exponential(n)
            # One event count for every r, so that all r share a program: runs at
            # lower r reach T computations per node early and are cut there.
            num_events = round(n * T * (1 + top_rate / 2) / args.records) * args.records
            for kind in args.graphs:
                setting = dict(split=split, nodes=n, graph=kind)
                for rate in args.comm_rates:
                    clocks = jg.Clocks(graph, 1.0, edge_rates(graph, kind, rate))
                    for name in (m for m in methods if m in EVENT_METHODS):
                        trace, seconds = programs.run(
                            simulate_events,
                            key,
                            event_algorithm(name, clocks),
                            problem,
                            clocks,
                            num_events=num_events,
                            num_records=args.records,
                        )
                        row = dict(setting, rate=rate, method=name, seconds=seconds)
                        rows.append(row | curves(trace, n, T))
                        report(rows[-1])
                mixing = jg.metropolis_mixing(getattr(jg.graphs, kind)(n))
                for name in (m for m in methods if m in ROUND_METHODS):
                    if name == "all-reduce SGD" and kind != args.graphs[0]:
                        continue  # no graph enters: one run per n
                    trace, seconds = programs.run(
                        simulate_rounds,
                        key,
                        round_algorithm(name),
                        problem,
                        mixing,
                        num_rounds=T,
                        num_records=args.records,
                    )
                    graph_name = kind if name == "D-SGD" else "-"
                    row = dict(setting, graph=graph_name, rate=None, method=name, seconds=seconds)
                    rows.append(row | curves(trace, n, T))
                    report(rows[-1])
    return rows, programs


def report(row: dict) -> None:
    rate = "-" if row["rate"] is None else f"{row['rate']:g}"
    print(
        f"  {row['split']:<9} n={row['nodes']:<3} {row['graph']:<11} r={rate:<4} "
        f"{row['method']:<15} test acc {row['accuracy'][-1]:.3f}  ({row['seconds']:.1f} s)",
        flush=True,
    )


def value_at(row: dict, by: str, budget: float) -> float:
    """Test accuracy at the last record within ``budget`` of ``by`` (per node)."""
    within = np.flatnonzero(row[by] <= budget)
    return float(row["accuracy"][within[-1]]) if within.size else float("nan")


def to_reach(row: dict, by: str, target: float) -> float:
    """``by`` (per node) at the first record whose test accuracy reaches ``target``."""
    reached = np.flatnonzero(row["accuracy"] >= target)
    return float(row[by][reached[0]]) if reached.size else float("nan")


def table(rows: list[dict], T: int, target: float) -> str:
    quarter, half = T // 4, T // 2
    target_label = f"{100 * target:g}%"
    header = (
        f"{'split':<9} {'n':>3} {'graph':<11} {'r':>4} {'method':<15} {'final':>6} "
        f"{f'@{quarter}g':>6} {f'@{half}g':>6} {f'@{quarter}c':>6} "
        f"{f'g→{target_label}':>7} {f'c→{target_label}':>7} {'nodes':>6} "
        f"{'consensus':>9} {'run s':>6}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        rate = "-" if row["rate"] is None else f"{row['rate']:g}"
        lines.append(
            f"{row['split']:<9} {row['nodes']:>3} {row['graph']:<11} {rate:>4} "
            f"{row['method']:<15} {row['accuracy'][-1]:>6.3f} "
            f"{value_at(row, 'computations', quarter):>6.3f} "
            f"{value_at(row, 'computations', half):>6.3f} "
            f"{value_at(row, 'communications', quarter):>6.3f} "
            f"{to_reach(row, 'computations', target):>7.0f} "
            f"{to_reach(row, 'communications', target):>7.0f} "
            f"{row['node_accuracy'][-1]:>6.3f} {row['consensus'][-1]:>9.3g} "
            f"{row['seconds']:>6.1f}"
        )
    legend = (
        f"final: test accuracy of the averaged model after {T} gradients per node; "
        f"@{quarter}g, @{half}g: after {quarter}, {half} gradients per node; "
        f"@{quarter}c: after {quarter} communications per node; "
        f"g→, c→: gradients, communications per node to first reach {target_label} "
        "(nan: never); nodes: the nodes' own mean test accuracy; "
        "consensus: (1/n) Σ‖xᵢ − x̄‖²; run s: execution, compilation excluded."
    )
    return "\n".join(lines) + "\n" + legend


def plot(rows: list[dict], rates, path: str) -> None:
    """One row of panels per (n, graph), columns ``AXES``; colour: method, style: r."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    panels = list(dict.fromkeys((row["nodes"], row["graph"]) for row in rows))
    panels = [(n, kind) for n, kind in panels if kind != "-"]  # all-reduce joins every row
    figure = Figure(figsize=(15, 3.4 * len(panels) + 0.8), layout="constrained")
    grid = figure.subplots(len(panels), len(AXES), squeeze=False, sharey=True)
    dashes = dict(zip(sorted(rates, reverse=True), EVENT_STYLES))
    # Zoomed on the end of training, unless some run (a short one) ends far below it.
    bottom = 0.5 if min(row["accuracy"][-1] for row in rows) > 0.6 else 0.0
    for (n, kind), axes in zip(panels, grid):
        for row in rows:
            if row["nodes"] != n or row["graph"] not in (kind, "-"):
                continue
            iid = row["split"] == "iid"
            style = dict(
                color=IID_COLOR if iid else COLORS[row["method"]],
                linestyle=ROUND_STYLE if row["rate"] is None else dashes[row["rate"]],
                linewidth=1.0 if iid else 1.6,
            )
            for ax, by in zip(axes, AXES):
                ax.plot(row[by], row["accuracy"], **style)
        for ax, (by, label) in zip(axes, AXES.items()):
            ax.set_xlabel(label)
            ax.set_ylim(bottom, 1.0)
            ax.grid(alpha=0.3)
            if by == "communications":  # D-SGD on exponential graphs sends 10x more
                ax.set_xscale("log")
        axes[0].set_ylabel(f"n = {n}, {kind}\ntest accuracy of x̄")
    shown = [m for m in METHODS if any(row["method"] == m for row in rows)]
    handles = [Line2D([], [], color=COLORS[m], label=m) for m in shown]
    handles += [Line2D([], [], color="0.3", linestyle=dashes[r], label=f"r = {r:g}") for r in rates]
    handles.append(Line2D([], [], color="0.3", linestyle=ROUND_STYLE, label="rounds"))
    if any(row["split"] == "iid" for row in rows):
        handles.append(Line2D([], [], color=IID_COLOR, label="AsyncGossipSGD, i.i.d. split"))
    figure.legend(handles=handles, loc="outside upper center", ncols=len(handles), frameon=False)
    figure.savefig(path, dpi=110)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="16 nodes, one graph, T = 48")
    parser.add_argument("--out", default=".", help="folder of the figure")
    parser.add_argument("--grads-per-node", type=int, default=300, help="T, a multiple of 4")
    parser.add_argument("--records", type=int, default=50, help="records per run; divides T")
    parser.add_argument("--nodes", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--graphs", nargs="+", default=["ring", "exponential"])
    parser.add_argument("--comm-rates", type=float, nargs="+", default=[0.5, 2.0])
    parser.add_argument("--splits", nargs="+", default=["dirichlet", "iid"])
    parser.add_argument("--target", type=float, default=0.9, help="test accuracy to reach")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.quick:
        args.nodes, args.graphs, args.splits = [16], ["exponential"], ["dirichlet"]
        args.grads_per_node, args.records = 48, 12
    if args.grads_per_node % args.records or args.grads_per_node % 4:
        parser.error("--grads-per-node must be a multiple of 4 and of --records.")
    for kind in args.graphs:
        if kind not in ("ring", "exponential"):
            parser.error(f"--graphs: ring or exponential, not {kind!r}.")
    if "dirichlet" not in args.splits or not set(args.splits) <= {"dirichlet", "iid"}:
        parser.error("--splits: dirichlet, optionally with iid.")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    data = jg.datasets.digits()
    print(
        f"digits, MLP 64-64-64-10, SGD lr {LEARNING_RATE} momentum {MOMENTUM}, batch "
        f"{BATCH_SIZE}, Dirichlet({DIRICHLET_ALPHA}) split; T = {args.grads_per_node} "
        f"gradients per node; backend {jax.default_backend()}"
    )
    rows, programs = run_all(args, data, jax.random.key(args.seed))
    print()
    print(table(rows, args.grads_per_node, args.target))
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "decentralized_digits.png")
    plot(rows, args.comm_rates, path)
    total = time.perf_counter() - start
    runs = sum(row["seconds"] for row in rows)
    print(
        f"\n{len(rows)} runs, {len(programs.compiled)} compiled programs: wall {total:.0f} s "
        f"(runs {runs:.0f} s, compilation {programs.compile_seconds:.0f} s); figure: {path}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
