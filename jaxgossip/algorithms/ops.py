"""Kernels shared by several algorithms: pairwise averaging, Chebyshev gossip, push/pull.

Each is written once here and imported by the methods that use it, so that
no algorithm module reaches into a sibling's file for a building block.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxgossip.network.digraphs import Digraph
from jaxgossip.network.graphs import Graph
from jaxgossip.network.mixing import Mixing, neighbor_sum


def pairwise_average(x_i, x_j):
    """Both endpoints' new value, the average (x_i + x_j) / 2, twice."""
    average = 0.5 * (x_i + x_j)
    return average, average


class ChebyshevConstants(NamedTuple):
    """The constants of Chebyshev-accelerated gossip for a mixing (NumPy floats)."""

    num_steps: int  # K, gossip steps per application
    c1: float  # (1 - sqrt(gamma)) / (1 + sqrt(gamma))
    c2: float  # (1 + gamma) / (1 - gamma)
    c3: float  # 2 / ((1 + gamma) lambda_max)
    lambda_min: float  # lower bound of the nonzero spectrum of the accelerated operator
    lambda_max: float  # upper bound of its spectrum


def chebyshev_constants(mixing: Mixing, num_steps: int | None = None) -> ChebyshevConstants:
    """Scaman et al. (2017)'s constants for W_p = I - W (set-up, NumPy float64).

    Args:
      mixing: the gossip matrix W (its eigenvalues lambda_2, lambda_max of I - W).
      num_steps: K; None gives the paper's floor(1 / sqrt(gamma)).

    The accelerated operator I - T_K(c2 (I - c3 W_p)) / T_K(c2) has its nonzero
    eigenvalues in [(1 - c1^K)^2, (1 + c1^K)^2] / (1 + c1^{2K}).
    """
    lambda_2, lambda_max = float(mixing.lambda_2), float(mixing.lambda_max)
    gamma = lambda_2 / lambda_max
    if num_steps is None:
        num_steps = max(1, int(np.floor(1.0 / np.sqrt(gamma))))
    if isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer)):
        raise TypeError(f"num_gossip_steps must be an int >= 1, got {num_steps!r}")
    if num_steps < 1:
        raise ValueError(f"num_gossip_steps must be >= 1, got {num_steps}")
    c1 = (1.0 - np.sqrt(gamma)) / (1.0 + np.sqrt(gamma))
    # gamma = 1 (a complete graph) makes c2 infinite; any large c2 gives the same operator.
    c2 = (1.0 + gamma) / max(1.0 - gamma, 1e-12)
    c3 = 2.0 / ((1.0 + gamma) * lambda_max)
    ck = c1**num_steps
    return ChebyshevConstants(
        num_steps=int(num_steps),
        c1=float(c1),
        c2=float(c2),
        c3=float(c3),
        lambda_min=float((1.0 - ck) ** 2 / (1.0 + ck**2)),
        lambda_max=float((1.0 + ck) ** 2 / (1.0 + ck**2)),
    )


def chebyshev_coefficients(mixing: Mixing) -> tuple[jax.Array, jax.Array]:
    """(c2, c3) for W_p = I - W, from the mixing's eigenvalue leaves (traceable).

    Computed from ``mixing`` at run time, not stored in the algorithm: they are
    properties of the gossip matrix, so a run on another mixing (or a vmap over
    mixings of one graph) uses its own, and scaling an algorithm's
    hyperparameters never distorts the polynomial.
    """
    gamma = mixing.lambda_2 / mixing.lambda_max
    # gamma = 1 (a complete graph) makes c2 infinite; any large c2 gives the same operator.
    c2 = (1.0 + gamma) / jnp.maximum(1.0 - gamma, 1e-12)
    c3 = 2.0 / ((1.0 + gamma) * mixing.lambda_max)
    return c2, c3


def chebyshev_gossip(mixing: Mixing, xs: jax.Array, num_steps: int) -> jax.Array:
    """(I - T_K(c2 (I - c3 W_p)) / T_K(c2)) @ xs with W_p = I - W: (n, d) -> (n, d).

    K = ``num_steps`` (static) applications of W_p, i.e. K gossip steps; c2, c3
    from ``chebyshev_coefficients(mixing)``. The paper's recursion
    a_{k+1} = 2 c2 a_k - a_{k-1}, x_{k+1} = 2 c2 (I - c3 W_p) x_k - x_{k-1}
    (a_0 = 1, a_1 = c2, x_0 = xs, x_1 = c2 (I - c3 W_p) xs), output xs - x_K / a_K,
    is run on u_k = (x_k - a_k xs) / a_k, which is built from W_p xs alone and so
    is exact on consensus; b_k = a_k / a_{k+1} keeps every quantity O(|xs|)
    whatever K.
    """
    c2, c3 = chebyshev_coefficients(mixing)
    lap_x = mixing.laplacian_apply(xs)  # W_p xs
    u_prev = jnp.zeros_like(xs)  # u_0
    u = -c3 * lap_x  # u_1 = (x_1 - a_1 xs) / a_1
    b_prev = (1.0 / c2).astype(xs.dtype)  # b_0 = a_0 / a_1

    def step(_, carry):
        u_prev, u, b_prev = carry
        b = 1.0 / (2.0 * c2 - b_prev)  # a_k / a_{k+1}
        u_next = 2.0 * c2 * b * (u - c3 * (mixing.laplacian_apply(u) + lap_x)) - (
            b_prev * b * u_prev
        )
        return u, u_next, b

    _, u, _ = jax.lax.fori_loop(1, num_steps, step, (u_prev, u, b_prev))
    return -u


def _inverse_degrees(graph: Graph, dtype) -> jax.Array:
    """(n,) 1 / (1 + deg_i), computed with segment sums (O(E)) so no array leaf is needed."""
    ones = jnp.ones(graph.num_edges, dtype)
    deg = jax.ops.segment_sum(ones, graph.senders, num_segments=graph.num_nodes)
    deg = deg + jax.ops.segment_sum(ones, graph.receivers, num_segments=graph.num_nodes)
    return 1.0 / (1.0 + deg)


def _arc_sum(digraph: Digraph, xs: jax.Array) -> jax.Array:
    """(S @ xs)_i = sum of xs_j over arcs j -> i: (n, ...) -> (n, ...), O(A)."""
    return jax.ops.segment_sum(xs[digraph.sources], digraph.targets, num_segments=digraph.num_nodes)


def _inverse_arc_degrees(digraph: Digraph, dtype) -> tuple[jax.Array, jax.Array]:
    """(n,) 1 / (1 + indeg_i) and (n,) 1 / (1 + outdeg_i), from segment sums (O(A))."""
    ones = jnp.ones(digraph.num_arcs, dtype)
    n = digraph.num_nodes
    indeg = jax.ops.segment_sum(ones, digraph.targets, num_segments=n)
    outdeg = jax.ops.segment_sum(ones, digraph.sources, num_segments=n)
    return 1.0 / (1.0 + indeg), 1.0 / (1.0 + outdeg)


def pull(graph: Graph | Digraph, xs: jax.Array) -> jax.Array:
    """R @ xs: (n, d) -> (n, d).

    On a ``Graph``, R_ij = 1 / (1 + deg_i) on i and its neighbours; on a
    ``Digraph``, R_ij = 1 / (1 + indeg_i) on i and its in-neighbours j -> i.
    """
    if isinstance(graph, Digraph):
        inv_in, _ = _inverse_arc_degrees(graph, xs.dtype)
        return inv_in[:, None] * (xs + _arc_sum(graph, xs))
    return _inverse_degrees(graph, xs.dtype)[:, None] * (xs + neighbor_sum(graph, xs))


def push(graph: Graph | Digraph, ys: jax.Array) -> jax.Array:
    """C @ ys: (n, d) -> (n, d).

    On a ``Graph``, C_ij = 1 / (1 + deg_j) on j and its neighbours; on a
    ``Digraph``, C_ij = 1 / (1 + outdeg_j) on j and its out-neighbours j -> i.
    """
    if isinstance(graph, Digraph):
        _, inv_out = _inverse_arc_degrees(graph, ys.dtype)
        shares = inv_out[:, None] * ys
        return shares + _arc_sum(graph, shares)
    shares = _inverse_degrees(graph, ys.dtype)[:, None] * ys
    return shares + neighbor_sum(graph, shares)


def mix_pair(a: jax.Array, b: jax.Array, rate: jax.Array, elapsed: jax.Array):
    """Exact solution after ``elapsed`` of da/dt = rate (b - a), db/dt = rate (a - b).

    The continuous momentum of A2CiD2 and the continuized dual method: the mean
    (a + b) / 2 is kept, the gap a - b decays as exp(-2 rate elapsed).
    """
    decay = jnp.exp(-2.0 * rate * elapsed).astype(a.dtype)
    mean = 0.5 * (a + b)
    half_gap = 0.5 * decay * (a - b)
    return mean + half_gap, mean - half_gap
