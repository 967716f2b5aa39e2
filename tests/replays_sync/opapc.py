"""NumPy replay of OPAPC (Kovalev, Salim, Richtarik, NeurIPS 2020, Algorithms 1-2).

With P the accelerated gossip of Scaman et al. (the paper's recursion, as in
``tests.replays_sync.msda.accelerated_gossip``) on W_p = I - W, from
x_f = x = x0 and y = 0, each round:
x_g = tau x + (1 - tau) x_f; g = grad F(x_g);
x_half = (x - eta (g - alpha x_g + y)) / (1 + eta alpha); y += theta P x_half;
x+ = (x - eta (g - alpha x_g + y)) / (1 + eta alpha); x_f = x_g + 2 tau / (2 - tau) (x+ - x).
"""

import numpy as np

from jaxgossip.algorithms.synchronous.opapc import OPAPCState
from tests import reference
from tests.replays_sync.msda import accelerated_gossip


def replay(problem, mixing, algorithm, x0, num_rounds, rng_draws=None):
    """Runs ``num_rounds`` rounds in float64; ``mixing`` is the dense W (n, n)."""
    del rng_draws
    gradient = reference.gradient_of(problem)
    lap = np.eye(mixing.shape[0]) - np.asarray(mixing, np.float64)
    tau, eta, theta, alpha = (
        float(v) for v in (algorithm.tau, algorithm.step_size, algorithm.dual_step, algorithm.alpha)
    )
    steps = algorithm.num_gossip_steps
    x = np.array(x0, np.float64)
    x_f, y = x.copy(), np.zeros_like(x)
    for _ in range(num_rounds):
        x_g = tau * x + (1.0 - tau) * x_f
        g = np.stack([gradient(i, x_g[i]) for i in range(x.shape[0])])
        x_half = (x - eta * (g - alpha * x_g + y)) / (1.0 + eta * alpha)
        y = y + theta * accelerated_gossip(lap, x_half, steps)
        x_new = (x - eta * (g - alpha * x_g + y)) / (1.0 + eta * alpha)
        x_f = x_g + 2.0 * tau / (2.0 - tau) * (x_new - x)
        x = x_new
    return OPAPCState(x=x, x_f=x_f, y=y)
