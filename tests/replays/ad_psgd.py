"""NumPy replay of AD-PSGD (Lian, Zhang, Zhang, Liu, ICML 2018, Algorithm 1).

Worker i holds its model x_i and the snapshot x_hat_i it read when its current
gradient computation started. When the computation ends (a compute event) the
gradient of x_hat_i is applied to the current x_i and the worker reads x_i
again; a communication on (i, j) averages x_i and x_j.
"""

import numpy as np

from jaxgossip.algorithms.asynchronous.ad_psgd import ADPSGDState
from tests import reference

COMPUTE = 0
PROBLEMS = ("quadratic", "logistic")


def replay(events, problem, algorithm, x0):
    """Applies ``events`` one by one; returns the final ADPSGDState, leaves (n, dim)."""
    gradient = reference.gradient_of(problem)
    gamma = float(algorithm.step_size)
    n, dim = problem.num_nodes, problem.dim
    x = np.array(np.broadcast_to(np.asarray(x0, np.float64), (n, dim)))
    x_hat = x.copy()  # every worker starts computing at time 0, at x0
    for kind, i, j in zip(*(np.asarray(a) for a in (events.kind, events.i, events.j))):
        if kind == COMPUTE:
            x[i] = x[i] - gamma * gradient(i, x_hat[i])
            x_hat[i] = x[i]
        else:
            x[i] = x[j] = 0.5 * (x[i] + x[j])
    return ADPSGDState(x=x, x_read=x_hat)
