"""NumPy replay of A2CiD2 (Nabli, Belilovsky, Oyallon, NeurIPS 2023, Algorithm 1).

Each node holds (x_i, x~_i), a heavy-ball buffer m_i and the time t_i of its
last event. Before any update a touched node applies Mix(t - t_i): the flow
of the ODE d(x, x~)/dt = M (x, x~) with M = [[-eta, eta], [eta, -eta]],
computed here as the 2x2 matrix exponential exp(M (t - t_i)) through a
numerical eigendecomposition of M (independently of the closed form the
engine uses). Then
  compute at i:     m_i <- momentum m_i + grad f_i(x_i);
                    x_i <- x_i - gamma m_i;  x~_i <- x~_i - gamma m_i
  communicate i-j:  x_i <- x_i - alpha (x_i - x_j);  x~_i <- x~_i - alpha~ (x_i - x_j)
                    (and symmetrically for j, from the mixed pre-event values).
"""

import numpy as np

from jaxgossip.algorithms.asynchronous.a2cid2 import A2CiD2State
from tests.reference import gradient_of

COMPUTE = 0
PROBLEMS = ("quadratic", "logistic")


def replay(events, problem, algorithm, x0):
    gradient = gradient_of(problem)
    gamma, eta, alpha, alpha_tilde, momentum = (
        float(v)
        for v in (
            algorithm.step_size,
            algorithm.eta,
            algorithm.alpha,
            algorithm.alpha_tilde,
            algorithm.momentum,
        )
    )
    eigenvalues, eigenvectors = np.linalg.eigh(np.array([[-eta, eta], [eta, -eta]]))
    x = np.array(x0, np.float64)
    x_tilde = x.copy()
    buffer = np.zeros_like(x)
    last = np.zeros(x.shape[0])

    def mix(i, t):
        flow = eigenvectors @ np.diag(np.exp(eigenvalues * (t - last[i]))) @ eigenvectors.T
        (a, b), (c, d) = flow
        x[i], x_tilde[i] = a * x[i] + b * x_tilde[i], c * x[i] + d * x_tilde[i]
        last[i] = t

    times, kinds, first, second = (
        np.asarray(a) for a in (events.time, events.kind, events.i, events.j)
    )
    for t, kind, i, j in zip(times.astype(np.float64), kinds, first, second):
        if kind == COMPUTE:
            mix(i, t)
            buffer[i] = momentum * buffer[i] + gradient(i, x[i])
            x[i] -= gamma * buffer[i]
            x_tilde[i] -= gamma * buffer[i]
        else:
            mix(i, t)
            mix(j, t)
            diff = x[i] - x[j]
            x[i], x[j] = x[i] - alpha * diff, x[j] + alpha * diff
            x_tilde[i], x_tilde[j] = (
                x_tilde[i] - alpha_tilde * diff,
                x_tilde[j] + alpha_tilde * diff,
            )
    return A2CiD2State(x=x, x_tilde=x_tilde, buffer=buffer, time=last)
