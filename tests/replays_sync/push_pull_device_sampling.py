"""NumPy replay of Push-Pull with device sampling (Hsieh, Laguel, Iutzeler, Malick, IEEE TAC 2023).

Our reading (see the algorithm's module): with m_i = 1 for the active nodes of round k,

    x_half = x^k - alpha m * y^k,  g^{k+1} = m * grad f(x_half) + (1 - m) * g^k,
    x^{k+1} = A_k x_half,          y^{k+1} = B_k (y^k + g^{k+1} - g^k),   y^0 = g^0 = grad f(x^0),

with A_k (row-stochastic) the average of a node with its active neighbours, and B_k
(column-stochastic) splitting each active node's tracker evenly among itself and its
neighbours. The graph is read from the support of the dense gossip matrix; A_k and B_k are
built densely, entry by entry, each round. The active sets are the event trace: ``rng_draws``
redraws them with the JAX call the engine documents.
"""

import jax
import jax.numpy as jnp
import numpy as np

from jaxgossip.algorithms.synchronous.push_pull_device_sampling import PushPullDeviceSamplingState
from jaxgossip.engine.rounds import round_key
from tests import reference


def rng_draws(key, num_rounds, num_nodes, activation_prob):
    """(num_rounds, n) bool NumPy: round r's active set in ``simulate_rounds(key, ...)``.

    Round r draws ``bernoulli(fold_in(round_key(key, r), n), p, (n,))``.
    """

    def draw(r):
        return jax.random.bernoulli(
            jax.random.fold_in(round_key(key, r), num_nodes), activation_prob, (num_nodes,)
        )

    return np.asarray(jax.vmap(draw)(jnp.arange(num_rounds)))


def broadcast_matrices(mixing_dense_W, active):
    """(A, B), (n, n) float64, for the active set ``active`` (n,) bool."""
    W = np.asarray(mixing_dense_W, np.float64)
    n = len(W)
    neighbours = [[j for j in range(n) if j != i and W[i, j] != 0.0] for i in range(n)]
    A = np.zeros((n, n))
    B = np.zeros((n, n))
    for j in range(n):
        sources = [j] + [i for i in neighbours[j] if active[i]]
        for i in sources:
            A[j, i] = 1.0 / len(sources)
    for i in range(n):
        if active[i]:
            for j in [i] + neighbours[i]:
                B[j, i] = 1.0 / (1 + len(neighbours[i]))
        else:
            B[i, i] = 1.0
    return A, B


def replay(problem, mixing_dense_W, algorithm, x0, num_rounds, rng_draws=None):
    """Runs ``num_rounds`` rounds in float64 on the active sets ``rng_draws`` (num_rounds, n)."""
    n, dim = problem.num_nodes, problem.dim
    alpha = float(algorithm.step_size)
    gradient = reference.gradient_of(problem)
    masks = np.asarray(rng_draws, bool)
    x = np.array(np.broadcast_to(np.asarray(x0, np.float64), (n, dim)))
    g = np.stack([gradient(i, x[i]) for i in range(n)])
    y = g.copy()
    for k in range(num_rounds):
        active = masks[k]
        A, B = broadcast_matrices(mixing_dense_W, active)
        x_half = x.copy()
        g_new = g.copy()
        for i in np.flatnonzero(active):
            x_half[i] = x[i] - alpha * y[i]
            g_new[i] = gradient(i, x_half[i])
        x = A @ x_half
        y = B @ (y + g_new - g)
        g = g_new
    return PushPullDeviceSamplingState(x=x, y=y, g=g)
