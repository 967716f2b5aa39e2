"""NumPy replay of the continuized accelerated dual gossip (Even et al., NeurIPS 2021).

Node i holds the dual variable y_i, its companion v_i (both start at 0), its
primal point x_i and the time t_i of its last event. When edge (i, j) rings
at time t, both nodes first follow the mixing ODE d(y, v)/dt = M (y, v),
M = [[-eta, eta], [eta, -eta]], from their last event time (the 2x2 flow
exp(M (t - t_i)) through a numerical eigendecomposition of M); then with
g = grad f_i*(y_i) - grad f_j*(y_j), the conjugate gradients solved from
the problem's data by ``np.linalg.solve`` (quadratics, least squares) or by
``scipy.optimize.root`` (logistic regression, ``reference.logistic_conjugate_gradient``),
  y_i -= gamma g,  y_j += gamma g,  v_i -= gamma' g,  v_j += gamma' g,
and x_i = grad f_i*(y_i), x_j = grad f_j*(y_j). Compute events do nothing.
"""

import numpy as np

from jaxgossip.algorithms.asynchronous.continuized_dual import DualState
from tests import reference

COMPUTE = 0
PROBLEMS = ("quadratic", "least_squares", "logistic")


def replay(events, problem, algorithm, x0):
    conjugate = reference.conjugate_gradient_of(problem)
    gamma, gamma_v, eta = (
        float(a) for a in (algorithm.step_size, algorithm.momentum_step, algorithm.eta)
    )
    eigenvalues, eigenvectors = np.linalg.eigh(np.array([[-eta, eta], [eta, -eta]]))
    x = np.array(x0, np.float64)
    y, v = np.zeros_like(x), np.zeros_like(x)
    last = np.zeros(x.shape[0])

    def mix(i, t):
        flow = eigenvectors @ np.diag(np.exp(eigenvalues * (t - last[i]))) @ eigenvectors.T
        y[i], v[i] = flow[0, 0] * y[i] + flow[0, 1] * v[i], flow[1, 0] * y[i] + flow[1, 1] * v[i]
        last[i] = t

    times, kinds, first, second = (
        np.asarray(a) for a in (events.time, events.kind, events.i, events.j)
    )
    for t, kind, i, j in zip(times.astype(np.float64), kinds, first, second):
        if kind == COMPUTE:
            continue
        mix(i, t)
        mix(j, t)
        g = conjugate(i, y[i]) - conjugate(j, y[j])
        y[i], y[j] = y[i] - gamma * g, y[j] + gamma * g
        v[i], v[j] = v[i] - gamma_v * g, v[j] + gamma_v * g
        x[i], x[j] = conjugate(i, y[i]), conjugate(j, y[j])
    return DualState(y=y, v=v, x=x, time=last)
