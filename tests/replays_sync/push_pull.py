"""NumPy replay of Push-Pull (Pu, Shi, Xu, Nedić, IEEE TAC 2021, Algorithm 1).

x^{k+1} = R (x^k - alpha y^k);  y^{k+1} = C y^k + grad f(x^{k+1}) - grad f(x^k);  y^0 = grad f(x^0).

Undirected (``algorithm.digraph`` None): R_ij = 1 / (1 + deg_i) and C_ij = 1 / (1 + deg_j) on
i, j equal or adjacent; the graph is read from the support of the dense gossip matrix (its
off-diagonal nonzeros). Directed: R_ij = 1 / (1 + indeg_i) and C_ij = 1 / (1 + outdeg_j) on
i = j or arc j -> i, built entry by entry from the list of arcs (the gossip matrix is unused).
After K rounds the engine holds (x^K, y^{K-1}, grad f(x^{K-1})).
"""

import numpy as np

from jaxgossip.algorithms.synchronous.push_pull import PushPullState
from tests import reference


def pull_push_matrices(mixing_dense_W):
    """(R, C) from the support of W: row-normalized and column-normalized I + A."""
    W = np.asarray(mixing_dense_W, np.float64)
    support = (W != 0.0) | np.eye(len(W), dtype=bool)
    support = support.astype(np.float64)
    R = support / support.sum(axis=1, keepdims=True)
    C = support / support.sum(axis=0, keepdims=True)
    return R, C


def directed_pull_push_matrices(num_nodes, arcs):
    """(R, C) of a digraph given as (source, target) pairs, entry by entry."""
    indeg, outdeg = [0] * num_nodes, [0] * num_nodes
    for j, i in arcs:
        outdeg[int(j)] += 1
        indeg[int(i)] += 1
    R, C = np.zeros((num_nodes, num_nodes)), np.zeros((num_nodes, num_nodes))
    for i in range(num_nodes):
        R[i, i] = 1.0 / (1 + indeg[i])  # i keeps a share of its own x
        C[i, i] = 1.0 / (1 + outdeg[i])  # and of its own y
    for j, i in arcs:  # over arc j -> i, i pulls x_j and j pushes a share of y_j to i
        R[int(i), int(j)] = 1.0 / (1 + indeg[int(i)])
        C[int(i), int(j)] = 1.0 / (1 + outdeg[int(j)])
    return R, C


def replay(problem, mixing_dense_W, algorithm, x0, num_rounds, rng_draws=None):
    del rng_draws  # deterministic
    digraph = getattr(algorithm, "digraph", None)
    if digraph is None:
        R, C = pull_push_matrices(mixing_dense_W)
    else:
        R, C = directed_pull_push_matrices(digraph.num_nodes, digraph.arcs().tolist())
    n, dim = problem.num_nodes, problem.dim
    alpha = float(algorithm.step_size)
    gradient = reference.gradient_of(problem)

    def grad(x):
        return np.stack([gradient(i, x[i]) for i in range(n)])

    x = np.array(np.broadcast_to(np.asarray(x0, np.float64), (n, dim)))
    g = grad(x)
    y = g.copy()
    for k in range(num_rounds):
        x_new = R @ (x - alpha * y)
        if k == num_rounds - 1:
            return PushPullState(x=x_new, y=y, g_prev=g)
        g_new = grad(x_new)
        y = C @ y + g_new - g
        x, g = x_new, g_new
    raise ValueError("num_rounds must be >= 1")
