"""NumPy replay of EXTRA (Shi, Ling, Wu, Yin, SIAM J. Optim. 2015, eq. (2.13)), W~ = (I + W) / 2.

x^1 = W x^0 - alpha grad f(x^0);
x^{k+2} = (I + W) x^{k+1} - W~ x^k - alpha (grad f(x^{k+1}) - grad f(x^k)).
Round k of the engine produces x^{k+1}; its state is (x^{k+1}, W~ x^k, grad f(x^k)).
"""

import numpy as np

from jaxgossip.algorithms.synchronous.extra import EXTRAState
from tests import reference


def replay(problem, mixing_dense_W, algorithm, x0, num_rounds, rng_draws=None):
    del rng_draws  # deterministic
    W = np.asarray(mixing_dense_W, np.float64)
    n, dim = problem.num_nodes, problem.dim
    eye = np.eye(n)
    W_tilde = 0.5 * (eye + W)
    alpha = float(algorithm.step_size)
    gradient = reference.gradient_of(problem)

    def grad(x):
        return np.stack([gradient(i, x[i]) for i in range(n)])

    xs = [np.array(np.broadcast_to(np.asarray(x0, np.float64), (n, dim)))]
    grads = [grad(xs[0])]
    xs.append(W @ xs[0] - alpha * grads[0])
    for _ in range(num_rounds - 1):
        grads.append(grad(xs[-1]))
        xs.append((eye + W) @ xs[-1] - W_tilde @ xs[-2] - alpha * (grads[-1] - grads[-2]))
    return EXTRAState(x=xs[num_rounds], wt_prev=W_tilde @ xs[num_rounds - 1], g_prev=grads[-1])
