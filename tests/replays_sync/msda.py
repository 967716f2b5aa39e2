"""NumPy replay of MSDA (Scaman et al., ICML 2017, Algorithm 2).

W_p = I - W (dense); gamma = lambda_2 / lambda_max, c2 = (1 + gamma) / (1 - gamma)
and c3 = 2 / ((1 + gamma) lambda_max) from its spectrum (np.linalg.eigvalsh);
x_0 = y_0 = 0, theta reported before round 1 is x0.
Each round: theta = grad f^*(x) per node (solved from the problem's data by
``np.linalg.solve``, or for logistic regression by ``scipy.optimize.root``,
``reference.logistic_conjugate_gradient``), the paper's ACCELERATED_GOSSIP recursion as written
(a_0 = 1, a_1 = c2, x_1 = c2 (I - c3 W_p) theta, x_{k+1} = 2 c2 (I - c3 W_p) x_k
- x_{k-1}, a_{k+1} = 2 c2 a_k - a_{k-1}, output theta - x_K / a_K), then
y+ = x - eta gossip, x+ = (1 + mu) y+ - mu y.
"""

import numpy as np

from jaxgossip.algorithms.synchronous.msda import MSDAState
from tests import reference


def chebyshev_coefficients(lap):
    """(gamma, lambda_max, c2, c3) of W_p = lap (n, n)."""
    spectrum = np.linalg.eigvalsh(lap)
    gamma = spectrum[1] / spectrum[-1]
    c2 = (1.0 + gamma) / max(1.0 - gamma, 1e-12)
    return gamma, spectrum[-1], c2, 2.0 / ((1.0 + gamma) * spectrum[-1])


def accelerated_gossip(lap, theta, num_steps):
    """Scaman et al.'s ACCELERATED_GOSSIP(theta, W_p, K), rows as nodes."""
    _, _, c2, c3 = chebyshev_coefficients(lap)
    step = np.eye(lap.shape[0]) - c3 * lap
    a_prev, a = 1.0, c2
    x_prev, x = theta, c2 * (step @ theta)
    for _ in range(1, num_steps):
        a_prev, a = a, 2.0 * c2 * a - a_prev
        x_prev, x = x, 2.0 * c2 * (step @ x) - x_prev
    return theta - x / a


def replay(problem, mixing, algorithm, x0, num_rounds, rng_draws=None):
    """Runs ``num_rounds`` rounds in float64; ``mixing`` is the dense W (n, n)."""
    del rng_draws
    conjugate = reference.conjugate_gradient_of(problem)
    lap = np.eye(mixing.shape[0]) - np.asarray(mixing, np.float64)
    eta, mu = float(algorithm.step_size), float(algorithm.momentum)
    theta = np.array(x0, np.float64)
    x, y = np.zeros_like(theta), np.zeros_like(theta)
    for _ in range(num_rounds):
        theta = np.stack([conjugate(i, x[i]) for i in range(theta.shape[0])])
        y_new = x - eta * accelerated_gossip(lap, theta, algorithm.num_gossip_steps)
        x, y = (1.0 + mu) * y_new - mu * y, y_new
    return MSDAState(x=x, y=y, theta=theta)
