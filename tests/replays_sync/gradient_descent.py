"""NumPy replay of centralized gradient descent (Nesterov 2004, Section 2.1.5).

One worker holding every f_i, from x_0 = mean of the nodes' initial points:
x <- x - h (1/n) sum_i grad f_i(x). There is no network: ``mixing`` is unused.
"""

import numpy as np

from jaxgossip.algorithms.synchronous.gradient_descent import GradientDescentState
from tests import reference


def replay(problem, mixing, algorithm, x0, num_rounds, rng_draws=None):
    """Runs ``num_rounds`` steps in float64; returns the final state (NumPy leaves)."""
    del mixing, rng_draws
    gradient = reference.gradient_of(problem)
    n = problem.num_nodes
    h = float(algorithm.step_size)
    x = np.asarray(x0, np.float64).mean(axis=0)
    for _ in range(num_rounds):
        x = x - h * np.mean([gradient(i, x) for i in range(n)], axis=0)
    return GradientDescentState(x=x, num_nodes=n)
