"""How many communications per gradient computation should a network spend?

The computation/communication frontier of AsyncGossipSGD, DADAO and A2CiD2 on
a ring and on an exponential graph of 64 nodes, for regularized logistic
regression. For each rate ratio rho (communications per computation, 0.1 to
100), ``jaxgossip.study.tradeoff.explore`` runs every algorithm on uniform Poisson
clocks with that ratio, over several seeds (all runs of one algorithm in one
compiled, vmapped call per chunk of events), and records the computations,
communications and simulated time each run needed to reach f(x̄) − f* <= eps.

Choices (all printed with the results):

- problem: 64 nodes x 32 samples, dim 10, heterogeneity 0.5, reg 0.014, so that
  kappa = L / mu is about 100; x0 = 0.
- eps = 1e-3 (f(x0) − f*): 0.1% of the initial suboptimality, in absolute terms.
- algorithms: each one's ``from_theory``, except A2CiD2's step size. Its
  default step, 1 / (16 L (1 + sqrt(chi1 chi2))), is conservative by design:
  measured on these settings (2 seeds), it needed 113k to 980k computations
  where the others need about 14k (ratios 0.1 to 10 on the exponential graph,
  1 and 10 on the ring) and reached eps at no other ratio within the budget.
  A2CiD2 is gossip-SGD plus a continuous momentum, so it runs here with
  gossip-SGD's step 1 / (2 L), which isolates what the momentum buys.
- cost models, the price of one gradient against one communication:
  c_grad = 1 with c_comm = 0.1 (cheap links, e.g. a datacenter) and
  c_comm = 1 (messages as costly as gradients, e.g. small models on slow links).

What to expect: DADAO's theory needs chi1 chi2 <= 1/2, about rho >= 10.1 on the
ring and rho >= 1.2 on the exponential graph; below that it diverges, and the
table says so. AsyncGossipSGD and A2CiD2 are inexact: their error floor grows
as communication gets scarce, so at small rho they may never reach eps.

    python examples/tradeoff_frontier.py              # about 5 min on 2 CPU cores
    python examples/tradeoff_frontier.py --quick      # a smoke test, seconds
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import numpy as np

from jaxgossip import plot, problems
from jaxgossip.algorithms import DADAO, A2CiD2, AsyncGossipSGD
from jaxgossip.network import graphs
from jaxgossip.study import tradeoff
from jaxgossip.study.sweep import save_sweep

COSTS = ((1.0, 0.1), (1.0, 1.0))  # (c_grad, c_comm)
RELATIVE_EPS = 1e-3  # eps = RELATIVE_EPS * (f(x0) - f*)

FULL = dict(
    num_nodes=64,
    ratios=[0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0],
    events_per_chunk=50_000,
    records_per_chunk=100,
    max_chunks=50,
)
QUICK = dict(
    num_nodes=16,
    ratios=[0.3, 3.0, 30.0],
    events_per_chunk=10_000,
    records_per_chunk=50,
    max_chunks=20,
)


def a2cid2_at_gossip_sgd_step(problem, clocks) -> A2CiD2:
    """A2CiD2's theory constants for these clocks, with gossip-SGD's step 1 / (2 L)."""
    return A2CiD2.from_theory(problem, clocks, step_size=0.5 / float(problem.L))


ALGORITHMS = {
    "AsyncGossipSGD": AsyncGossipSGD.from_theory,
    "DADAO": DADAO.from_theory,
    "A2CiD2": a2cid2_at_gossip_sgd_step,
}


def table(ds) -> str:
    """Median computations, communications and time to reach eps, per algorithm and ratio."""
    m = tradeoff.medians(ds)
    header = (
        f"{'algorithm':<15}{'ratio':>7}{'computations':>14}{'communications':>16}"
        f"{'time':>10}{'reached':>9}{'diverged':>10}"
    )
    lines = [header, "-" * len(header)]
    for label in m["algorithm"].values:
        for ratio in m["ratio"].values:
            row = m.sel(algorithm=label, ratio=ratio)
            counts = [float(row[name]) for name in ("computations", "communications", "time")]
            text = ["-" if np.isnan(v) else f"{v:,.0f}" for v in counts[:2]]
            text.append("-" if np.isnan(counts[2]) else f"{counts[2]:.1f}")
            lines.append(
                f"{label:<15}{ratio:>7g}{text[0]:>14}{text[1]:>16}{text[2]:>10}"
                f"{float(row['reached_fraction']):>9.0%}{float(row['diverged_fraction']):>10.0%}"
            )
    for c_grad, c_comm in COSTS:
        best = tradeoff.best_ratios(ds, c_grad=c_grad, c_comm=c_comm)
        lines.append(f"best ratio, cost = {c_grad:g} * computations + {c_comm:g} * communications:")
        for label, (ratio, cost) in best.items():
            found = "never reaches eps" if np.isnan(ratio) else f"ratio {ratio:g}, cost {cost:,.0f}"
            lines.append(f"  {label:<15}{found}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default="results/tradeoff_frontier")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="tiny settings, for a smoke test")
    parser.add_argument("--no-figures", action="store_true", help="skip the figures")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    n = settings["num_nodes"]
    os.makedirs(args.out_dir, exist_ok=True)

    problem = problems.logistic_regression(
        jax.random.key(0), n, 10, 32, reg=0.014, heterogeneity=0.5
    )
    initial = float(problem.value(np.zeros(problem.dim)) - problem.f_star)
    eps = RELATIVE_EPS * initial
    print(
        f"logistic regression: n = {n}, dim = {problem.dim}, 32 samples per node, "
        f"kappa = {float(problem.L / problem.mu):.0f}; f(0) - f* = {initial:.4g}, eps = {eps:.3g}\n"
        f"ratios {settings['ratios']}, {args.seeds} seeds, at most "
        f"{settings['max_chunks']} x {settings['events_per_chunk']:,} events per run"
    )
    started = time.perf_counter()
    for name, build in (("ring", graphs.ring), ("exponential", graphs.exponential)):
        graph = build(n)
        label = f"{name}{n}"
        t = time.perf_counter()
        ds = tradeoff.explore(
            problem,
            graph,
            ALGORITHMS,
            ratios=settings["ratios"],
            eps=eps,
            seeds=args.seeds,
            events_per_chunk=settings["events_per_chunk"],
            records_per_chunk=settings["records_per_chunk"],
            max_chunks=settings["max_chunks"],
            graph_name=f"{name} graph",
        )
        elapsed = time.perf_counter() - t
        print(
            f"\n== {label}: {graph.num_edges} edges, {elapsed:.0f} s, "
            f"{ds.attrs['compilations']} compilations; lower bounds ({ds.attrs['bound_source']}): "
            f"{ds.attrs['lower_computations']:,.0f} computations, "
            f"{ds.attrs['lower_communications']:,.0f} communications =="
        )
        print(table(ds))
        save_sweep(os.path.join(args.out_dir, f"{label}.npz"), ds, overwrite=True)
        if not args.no_figures:
            plot.plot_frontier(ds, path=os.path.join(args.out_dir, f"{label}_frontier.png"))
            for c_grad, c_comm in COSTS:
                path = os.path.join(args.out_dir, f"{label}_cost_comm{c_comm:g}.png")
                plot.plot_cost(ds, c_grad=c_grad, c_comm=c_comm, path=path)
    print(f"\ntotal {time.perf_counter() - started:.0f} s; results in {args.out_dir}")


if __name__ == "__main__":
    main()
