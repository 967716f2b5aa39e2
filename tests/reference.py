"""Plain NumPy replays of event traces, written independently of the engine.

Each function loops over events one by one in float64, exactly as the papers
state the updates; tests compare the jitted engine against them.
"""

import numpy as np

COMPUTE = 0


def quadratic_gradient(problem):
    A, b = np.asarray(problem.A, np.float64), np.asarray(problem.b, np.float64)
    return lambda i, x: A[i] @ x - b[i]


def logistic_gradient(problem):
    a = np.asarray(problem.features, np.float64)  # (n, m, d)
    y = np.asarray(problem.labels, np.float64)  # (n, m)
    reg = float(problem.reg)

    def gradient(i, x):
        margins = y[i] * (a[i] @ x)
        weights = -y[i] / (1.0 + np.exp(margins))  # d/dz log(1 + exp(-z)) = -1/(1+e^z)
        return a[i].T @ weights / a.shape[1] + reg * x

    return gradient


def replay_async_gossip_sgd(events, x0, gradient, step_size):
    """AsyncGossipSGD (step_size > 0) or Gossip (gradient None) on an event trace."""
    x = np.array(x0, np.float64)
    kinds, senders, receivers = (np.asarray(a) for a in (events.kind, events.i, events.j))
    for kind, i, j in zip(kinds, senders, receivers):
        if kind == COMPUTE:
            if gradient is not None:
                x[i] = x[i] - step_size * gradient(i, x[i])
        else:
            x[i] = x[j] = (x[i] + x[j]) / 2.0
    return x


def gradient_of(problem):
    """The NumPy local gradient (i, x) -> grad f_i(x) of a quadratic or logistic problem."""
    if hasattr(problem, "features"):
        return logistic_gradient(problem)
    return quadratic_gradient(problem)
