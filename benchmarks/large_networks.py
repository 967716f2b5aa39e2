"""Set-up and first run of one large network, stage by stage (issue #11, item 4).

For each n it times, in one process: building the graph (ring, hypercube when
n is a power of two, random geometric up to ``--sparse-max``), the problem
(``problems.quadratic``, dim 16, a random rotation per node), the clocks,
``DADAO.from_theory`` and ``A2CiD2.from_theory`` (closed-form constants on the
ring and hypercube; the sparse path, a sparse LU of the Laplacian, on the random
geometric graph), drawing ``--events`` events, and one jitted AsyncGossipSGD
``simulate`` of those events (compile and run separately). Nothing here may be
O(n^3): the dense path is refused by raising from ``numpy.linalg.eigvalsh``,
``eigh``, ``inv`` and ``pinv`` for the whole script.

    python benchmarks/large_networks.py [--sizes 16384 131072 1000000] [--events N]
"""

from __future__ import annotations

import argparse
import time
import warnings

import jax
import numpy as np

import jaxgossip as jg
from jaxgossip.algorithms.base import TheoryConditionWarning

DIM = 16


def _refuse_dense(name):
    def refuse(*args, **kwargs):
        raise AssertionError(f"numpy.linalg.{name} called on a large network (O(n^3) path)")

    return refuse


def timed(fn):
    start = time.perf_counter()
    out = jax.block_until_ready(fn())
    return out, time.perf_counter() - start


def graphs_for(n, sparse_max):
    yield "ring", lambda: jg.graphs.ring(n)
    if n & (n - 1) == 0:
        yield "hypercube", lambda: jg.graphs.hypercube(n.bit_length() - 1)
    if n <= sparse_max:
        radius = float(np.sqrt(2.5 * np.log(n) / (np.pi * n)))  # a little above connectivity
        yield "random_geometric", lambda: jg.graphs.random_geometric(jax.random.key(7), n, radius)


def bench_graph(kind, build, problem, num_events):
    graph, t_graph = timed(build)
    clocks, t_clocks = timed(lambda: jg.Clocks(graph, 1.0, 1.0))
    _, t_dadao = timed(lambda: jg.algorithms.DADAO.from_theory(problem, clocks))
    _, t_a2cid2 = timed(lambda: jg.algorithms.A2CiD2.from_theory(problem, clocks))
    _, t_events = timed(lambda: jg.sample_events(jax.random.key(0), clocks, num_events))
    algorithm = jg.algorithms.AsyncGossipSGD(step_size=0.05)

    def run():
        trace = jg.simulate(
            jax.random.key(0),
            algorithm,
            problem,
            clocks,
            num_events=num_events,
            num_records=1,
            node_suboptimality=False,
        )
        return trace.final_state

    _, t_first = timed(run)
    _, t_second = timed(run)
    print(
        f"  {kind:<17} graph {t_graph:6.2f} s  clocks {t_clocks:5.2f} s  "
        f"DADAO.from_theory {t_dadao:6.2f} s  A2CiD2.from_theory {t_a2cid2:6.2f} s  "
        f"{num_events:,} events drawn (with compile) {t_events:5.2f} s  simulate: first call "
        f"{t_first:6.2f} s, second {t_second:5.2f} s ({num_events / t_second:,.0f} events/s)",
        flush=True,
    )


def bench(n, num_events, sparse_max):
    problem, t_problem = timed(lambda: jg.problems.quadratic(jax.random.key(1), n, DIM))
    print(f"n = {n:,}: problems.quadratic (dim {DIM}) {t_problem:.2f} s", flush=True)
    for kind, build in graphs_for(n, sparse_max):
        bench_graph(kind, build, problem, num_events)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16384, 131072, 1_000_000])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--sparse-max", type=int, default=1 << 17, help="largest random geometric graph"
    )
    args = parser.parse_args(argv)
    for name in ("eigvalsh", "eigh", "inv", "pinv"):
        setattr(np.linalg, name, _refuse_dense(name))
    # Unit edge rates are below DADAO's theory rate: its warning says so, not our concern here.
    warnings.simplefilter("ignore", TheoryConditionWarning)
    print(f"backend: {jax.default_backend()}, devices: {jax.devices()}\n")
    for n in args.sizes:
        bench(n, args.events, args.sparse_max)


if __name__ == "__main__":
    main()
