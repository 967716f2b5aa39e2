"""What the centralized references share: one worker holding all n functions.

A centralized method keeps a single iterate x (d,) of f = (1/n) sum_i f_i, with
no network: it never communicates, and each component gradient grad f_i it
evaluates counts as one computation (a full gradient counts n). Its ``params``
broadcasts x to every node, (n, d), so that the engine's metrics apply
unchanged: f(x_bar) - f* is f(x) - f*, and consensus is 0.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def average_constants(problem) -> tuple[float, float]:
    """(L_f, mu_f): smoothness and strong convexity of the average f = (1/n) sum_i f_i.

    ``problem.L`` and ``problem.mu`` are max_i L_i and min_i mu_i, the constants
    of the local functions; they bound those of f (L_f <= L, mu_f >= mu) but
    can be far from them. A problem that carries the Hessian H of f
    (quadratics, least squares) gives them exactly, the extreme eigenvalues of
    H; any other problem falls back to the bounds (L, mu), with which every
    method below still provably converges. Set-up computation in float64 NumPy
    (not traceable).
    """
    hessian = getattr(problem, "H", None)
    if hessian is None:
        return float(problem.L), float(problem.mu)
    eigs = np.linalg.eigvalsh(np.asarray(hessian, np.float64))
    return float(eigs[-1]), float(eigs[0])


def start_point(xs0: jax.Array) -> jax.Array:
    """The worker's starting point from the nodes' initial points: (n, d) -> (d,), their mean."""
    return jnp.mean(xs0, axis=0)


def broadcast(x: jax.Array, num_nodes: int) -> jax.Array:
    """x (d,) at every node: (n, d)."""
    return jnp.broadcast_to(x, (num_nodes, x.shape[-1]))
