"""Push-Pull variants on one quadratic: rounds and gradients to f(x̄) − f* < 1e-10.

Push-Pull (Pu et al. 2021) on an undirected ring of 8 and on the directed ring
(i -> i+1), and Push-Pull with device sampling (Hsieh et al. 2023) with every
node active with probability p in {1, 0.5, 0.2}; float64, from_theory settings.

    python examples/push_pull_variants.py
"""

import jax
import numpy as np

import jaxgossip as jg
from jaxgossip.algorithms.synchronous import PushPull, PushPullDeviceSampling
from jaxgossip.engine.rounds import simulate_rounds
from jaxgossip.network.mixing import metropolis_mixing

NUM_ROUNDS = 3000


def to_reach(trace, eps=1e-10):
    """(rounds, gradient computations) at the first record below eps; None if never."""
    below = np.flatnonzero(np.asarray(trace.suboptimality) < eps)
    if not below.size:
        return None
    return int(trace.time[below[0]]), int(trace.num_computations[below[0]])


def main() -> None:
    key = jax.random.key(0)
    problem = jg.problems.quadratic(key, 8, 4, kappa=10.0)
    mixing = metropolis_mixing(jg.graphs.ring(8))
    runs = {
        "push_pull, undirected ring": PushPull.from_theory(problem, mixing),
        "push_pull, directed ring": PushPull.on_digraph(problem, jg.digraphs.directed_ring(8)),
    }
    for p in (1.0, 0.5, 0.2):
        runs[f"device sampling, p = {p:g}"] = PushPullDeviceSampling.from_theory(
            problem, mixing, activation_prob=p
        )
    print(f"{'method':<28} {'rounds':>7} {'computations':>13}")
    for label, algorithm in runs.items():
        trace = simulate_rounds(
            key, algorithm, problem, mixing, num_rounds=NUM_ROUNDS, num_records=NUM_ROUNDS,
            x0=np.ones(4),
        )  # fmt: skip
        reached = to_reach(trace)
        rounds, computations = reached if reached else ("-", "-")
        print(f"{label:<28} {rounds:>7} {computations:>13}")


if __name__ == "__main__":
    with jax.enable_x64(True):
        main()
