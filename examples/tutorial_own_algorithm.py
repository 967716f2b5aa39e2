"""Write your own asynchronous algorithm: relaxed gossip SGD in thirty lines.

An event-driven algorithm is a subclass of ``jaxgossip.algorithms.base.Algorithm``
written on one node's local view: ``on_compute`` sees one node's state and its
gradient oracle, ``on_communicate`` the two states of an edge's ends; the engine
gathers those rows, calls the hook and scatters the result, and owns clocks,
counters and metrics. This script writes RelaxedGossipSGD, gossip SGD whose
communication moves each end a fraction ``mixing`` of the way to the other
(``mixing = 1/2`` is AsyncGossipSGD), checks it against AsyncGossipSGD, and
sweeps ``mixing``, an array leaf, in one compiled call.

    python examples/tutorial_own_algorithm.py [--quick] [--out DIR]
"""

from __future__ import annotations

import argparse
import os

import equinox as eqx
import jax
import numpy as np

import jaxgossip as jg
from jaxgossip.algorithms.base import Algorithm, hyperparameter


class RelaxedGossipSGD(Algorithm):
    """Gossip SGD with relaxed averaging.

    A compute event at node i takes x_i <- x_i - step_size * g_i(x_i); a
    communication on (i, j) takes x_i <- (1 - mixing) x_i + mixing x_j and
    x_j <- mixing x_i + (1 - mixing) x_j, which keeps x_i + x_j (so the
    network average) and contracts x_i - x_j by |1 - 2 mixing|.

    Args:
      step_size: the gradient step, an array leaf (vmap sweeps it).
      mixing: the averaging weight in [0, 1]; 1/2 averages exactly.
    """

    step_size: jax.Array = eqx.field(converter=hyperparameter)
    mixing: jax.Array = eqx.field(converter=hyperparameter, default=0.5)

    @classmethod
    def from_theory(cls, problem, clocks) -> RelaxedGossipSGD:
        """step_size = 1 / (2 L) as AsyncGossipSGD's; exact averaging."""
        del clocks
        return cls(step_size=0.5 / problem.L)

    # The node state is the default one: x_i itself, shape (dim,) (init, params).

    def on_compute(self, node, t, grad):
        del t
        return node - self.step_size * grad(node)

    def on_communicate(self, node_i, node_j, t, edge):
        del t, edge
        keep = 1 - self.mixing
        return keep * node_i + self.mixing * node_j, self.mixing * node_i + keep * node_j


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer events and seeds")
    parser.add_argument("--out", default=".", help="folder of the figure")
    args = parser.parse_args(argv)
    num_events, seeds = (20_000, 3) if args.quick else (100_000, 8)
    os.makedirs(args.out, exist_ok=True)

    key = jax.random.key(0)
    problem = jg.problems.logistic_regression(
        key, num_nodes=16, dim=10, samples_per_node=32, reg=1e-2, heterogeneity=0.5
    )
    clocks = jg.Clocks(jg.graphs.ring(16), compute_rate=1.0, comm_rate=2.0)

    # At mixing = 1/2 it is AsyncGossipSGD: the same events give the same run.
    mine = jg.simulate(
        key, RelaxedGossipSGD.from_theory(problem, clocks), problem, clocks,
        num_events=num_events, num_records=50,
    )  # fmt: skip
    reference = jg.simulate(
        key, jg.algorithms.AsyncGossipSGD.from_theory(problem, clocks), problem, clocks,
        num_events=num_events, num_records=50,
    )  # fmt: skip
    np.testing.assert_allclose(mine.suboptimality, reference.suboptimality, rtol=1e-4, atol=1e-9)
    print("mixing = 1/2 matches AsyncGossipSGD")

    # The contract the library's own methods are held to, run on this one: jit and
    # vmap, no recompilation, stable state, local hooks (waves), the mean kept by
    # communications, convergence in float64 (about 6 s on 2 CPU cores).
    report = jg.testing.check_algorithm(RelaxedGossipSGD, preserves_mean=True)
    print(report)
    report.raise_if_failed()

    # mixing is an array leaf: a sweep over it is one compiled, vmapped call.
    step_size = 0.5 / float(problem.L)
    ds = jg.sweep(
        lambda mixing: RelaxedGossipSGD(step_size=step_size, mixing=mixing),
        problem,
        clocks,
        num_events=num_events,
        num_records=50,
        grid={"mixing": [0.1, 0.25, 0.5]},
        seeds=seeds,
    )
    final = jg.over_seeds(ds.consensus.isel(record=-1)).sel(quantile=0.5)
    for mixing, value in zip(ds.mixing.values, final.values):
        print(f"mixing {mixing:<5g} median final consensus {value:.3e}")

    # The sweep's Dataset is labelled by mixing: the median over seeds, per value.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.2), layout="constrained")
    axes = fig.subplots(1, 2, sharex=True)
    # Record 0 is the common start x0 = 0, of consensus 0: drawn from record 1 on a log axis.
    median = ds[["time", "suboptimality", "consensus"]].median("seed").isel(record=slice(1, None))
    for mixing in ds.mixing.values:
        run = median.sel(mixing=mixing)
        for ax, name in zip(axes, ("suboptimality", "consensus")):
            ax.plot(run.time, run[name], label=f"mixing {mixing:g}")
    axes[0].set(yscale="log", xlabel="simulated time", ylabel="f(x̄) − f*")
    axes[1].set(yscale="log", xlabel="simulated time", ylabel="(1/n) Σ ‖xᵢ − x̄‖²")
    axes[0].legend()
    figure = os.path.join(args.out, "own_algorithm.png")
    fig.savefig(figure, dpi=100)
    print(f"figure: {figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
