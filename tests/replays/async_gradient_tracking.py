"""NumPy replay of asynchronous gradient tracking (DIGing, Nedić, Olshevsky, Shi
2017, eq. (3)-(4), split into pairwise-gossip and local-compute events).

Compute at i: g = grad f_i(x_i); y_i += g - g_last_i; g_last_i = g; x_i -= alpha y_i.
Communication on (i, j): x_i, x_j and y_i, y_j are averaged. Start: y = g_last = 0.
"""

import numpy as np

from jaxgossip.algorithms.asynchronous.async_gradient_tracking import AsyncGradientTrackingState
from tests import reference

COMPUTE = 0
PROBLEMS = ("quadratic", "logistic")


def replay(events, problem, algorithm, x0):
    """Applies ``events`` one by one; returns the final state, leaves (n, dim)."""
    gradient = reference.gradient_of(problem)
    alpha = float(algorithm.step_size)
    n, dim = problem.num_nodes, problem.dim
    x = np.array(np.broadcast_to(np.asarray(x0, np.float64), (n, dim)))
    y = np.zeros((n, dim))
    g_last = np.zeros((n, dim))
    for kind, i, j in zip(*(np.asarray(a) for a in (events.kind, events.i, events.j))):
        if kind == COMPUTE:
            g = gradient(i, x[i])
            y[i] = y[i] + g - g_last[i]
            g_last[i] = g
            x[i] = x[i] - alpha * y[i]
        else:
            x[i] = x[j] = 0.5 * (x[i] + x[j])
            y[i] = y[j] = 0.5 * (y[i] + y[j])
    return AsyncGradientTrackingState(x=x, y=y, g_last=g_last)
