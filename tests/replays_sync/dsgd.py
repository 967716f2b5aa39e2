"""NumPy replay of D-PSGD (Lian et al., NeurIPS 2017, Algorithm 1): X <- W X - gamma dF(X).

``rng_draws`` (num_rounds, n, b) int, optional: the minibatch indices of node i
in round r (logistic problems with ``batch_size``); None means full gradients.
"""

import numpy as np

from tests import reference


def minibatch_logistic_gradient(problem):
    """(i, x, idx) -> gradient of f_i over the samples idx (with repetitions)."""
    a = np.asarray(problem.features, np.float64)
    y = np.asarray(problem.labels, np.float64)
    reg = float(problem.reg)

    def gradient(i, x, idx):
        rows, labels = a[i, idx], y[i, idx]
        weights = -labels / (1.0 + np.exp(labels * (rows @ x)))
        return rows.T @ weights / len(idx) + reg * x

    return gradient


def replay(problem, mixing_dense_W, algorithm, x0, num_rounds, rng_draws=None):
    W = np.asarray(mixing_dense_W, np.float64)
    gamma = float(algorithm.step_size)
    n, dim = problem.num_nodes, problem.dim
    x = np.array(np.broadcast_to(np.asarray(x0, np.float64), (n, dim)))
    full = reference.gradient_of(problem)
    sampled = None if rng_draws is None else minibatch_logistic_gradient(problem)
    for r in range(num_rounds):
        if sampled is None:
            g = np.stack([full(i, x[i]) for i in range(n)])
        else:
            g = np.stack([sampled(i, x[i], rng_draws[r, i]) for i in range(n)])
        x = W @ x - gamma * g  # gradient at the pre-mixing models
    return x
