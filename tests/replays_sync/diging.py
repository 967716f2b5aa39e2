"""NumPy replay of DIGing (Nedić, Olshevsky, Shi, SIAM J. Optim. 2017, eq. (3)), fixed W.

x^{k+1} = W x^k - alpha y^k;  y^{k+1} = W y^k + grad f(x^{k+1}) - grad f(x^k);  y^0 = grad f(x^0).
After K rounds the engine holds (x^K, y^{K-1}, grad f(x^{K-1})).
"""

import numpy as np

from jaxgossip.algorithms.synchronous.diging import DIGingState
from tests import reference


def replay(problem, mixing_dense_W, algorithm, x0, num_rounds, rng_draws=None):
    """``mixing_dense_W``: W (n, n), or (K, n, n) cycled per round (time-varying)."""
    del rng_draws  # deterministic
    W = np.asarray(mixing_dense_W, np.float64)
    matrices = W if W.ndim == 3 else W[None]

    def w_at(r):  # engine round r applies W_{r mod K} to both x and y
        return matrices[r % len(matrices)]

    n, dim = problem.num_nodes, problem.dim
    alpha = float(algorithm.step_size)
    gradient = reference.gradient_of(problem)

    def grad(x):
        return np.stack([gradient(i, x[i]) for i in range(n)])

    x = np.array(np.broadcast_to(np.asarray(x0, np.float64), (n, dim)))
    g = grad(x)
    y = g.copy()
    for k in range(num_rounds):
        x_new = w_at(k) @ x - alpha * y
        if k == num_rounds - 1:
            return DIGingState(x=x_new, y=y, g_prev=g)
        g_new = grad(x_new)
        y = w_at(k + 1) @ y + g_new - g
        x, g = x_new, g_new
    raise ValueError("num_rounds must be >= 1")
