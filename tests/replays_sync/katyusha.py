"""NumPy replay of Katyusha (Allen-Zhu, JMLR 2018, Algorithm 1, no proximal term).

Written as the paper's two nested loops, with the snapshot average computed
from its explicit weights (1 + alpha sigma)^j: for each epoch, mu = grad f(x~);
for j = 0 .. m-1 with i = rng_draws[k] (k the inner step overall):
x = tau1 z + tau2 x~ + (1 - tau1 - tau2) y, g = mu + grad f_i(x) - grad f_i(x~),
z <- z - alpha g, y <- x - g / (3 L); then
x~ <- sum_j (1 + alpha sigma)^j y_{j+1} / sum_j (1 + alpha sigma)^j.
"""

import numpy as np

from jaxgossip.algorithms.synchronous.katyusha import KatyushaState
from tests import reference
from tests.replays_sync import svrg

rng_draws = svrg.rng_draws  # the engine's draws: one component a round, as for SVRG


def replay(problem, mixing, algorithm, x0, num_rounds, rng_draws=None):
    """Runs ``num_rounds`` inner steps in float64; returns the final state (NumPy leaves)."""
    del mixing
    gradient = reference.gradient_of(problem)
    n = problem.num_nodes
    tau1, tau2 = float(algorithm.tau1), float(algorithm.tau2)
    alpha, big_l, sigma = (
        float(algorithm.alpha),
        float(algorithm.smoothness),
        float(algorithm.sigma),
    )
    m = int(algorithm.epoch_length)
    draws = np.asarray(rng_draws)
    snapshot = y = z = np.asarray(x0, np.float64).mean(axis=0)
    mu = np.zeros_like(snapshot)
    ys, weights = [], []
    k = 0
    while k < num_rounds:
        mu = np.mean([gradient(i, snapshot) for i in range(n)], axis=0)
        ys, weights = [], []
        for j in range(m):
            i = draws[k]
            x = tau1 * z + tau2 * snapshot + (1.0 - tau1 - tau2) * y
            g = mu + gradient(i, x) - gradient(i, snapshot)
            z = z - alpha * g
            y = x - g / (3.0 * big_l)
            ys.append(y)
            weights.append((1.0 + alpha * sigma) ** j)
            k += 1
            if k == num_rounds:
                break
        if len(ys) == m:
            w = np.asarray(weights)
            snapshot = w @ np.asarray(ys) / w.sum()
    step = len(ys) % m
    if step:  # mid-epoch: the running average so far and its weight, as the engine keeps them
        w = np.asarray(weights)
        average = w @ np.asarray(ys) / w.sum()
        weight = w.sum() / (1.0 + alpha * sigma) ** step
    else:
        average, weight = snapshot, 0.0
    return KatyushaState(
        snapshot=snapshot,
        snapshot_grad=mu,
        y=y,
        z=z,
        average=average,
        weight=np.float64(weight),
        step=np.int32(step),
        num_nodes=n,
    )
