"""NumPy replay of Nesterov's constant step scheme (2.2.19) (Nesterov 2004).

From y_0 = x_0 (the mean of the nodes' initial points):
x_{k+1} = y_k - h grad f(y_k), y_{k+1} = x_{k+1} + beta (x_{k+1} - x_k).
"""

import numpy as np

from jaxgossip.algorithms.synchronous.nesterov import NesterovState
from tests import reference


def replay(problem, mixing, algorithm, x0, num_rounds, rng_draws=None):
    """Runs ``num_rounds`` steps in float64; returns the final state (NumPy leaves)."""
    del mixing, rng_draws
    gradient = reference.gradient_of(problem)
    n = problem.num_nodes
    h, beta = float(algorithm.step_size), float(algorithm.momentum)
    x_prev = x = np.asarray(x0, np.float64).mean(axis=0)
    y = x
    for _ in range(num_rounds):
        x_prev, x = x, y - h * np.mean([gradient(i, y) for i in range(n)], axis=0)
        y = x + beta * (x - x_prev)
    return NesterovState(x=x, x_prev=x_prev, num_nodes=n)
