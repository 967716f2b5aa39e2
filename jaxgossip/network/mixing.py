"""Gossip matrices: a symmetric doubly stochastic W stored as edge weights.

A ``Mixing`` is applied in O(E d) with ``jax.ops.segment_sum``, never as a dense
(n, n) matrix; its eigenvalue leaves (lambda_2, lambda_max) are what the
synchronous methods' theory reads. A ``TimeVaryingMixing`` cycles K gossip
matrices on their union graph.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxgossip.network.graphs import Graph, edge_weights, laplacian, union


def neighbor_sum(graph: Graph, xs: jax.Array, weights: jax.Array | None = None) -> jax.Array:
    """(A @ xs) for the (weighted) adjacency A of ``graph``: xs (n, d) -> (n, d), O(E d).

    ``weights`` (E,) gives A_ij = A_ji = weights[e] on edge e = (i, j); ones when None.
    """
    n = graph.num_nodes
    from_receivers, from_senders = xs[graph.receivers], xs[graph.senders]  # (E, d)
    if weights is not None:
        from_receivers = weights[:, None] * from_receivers
        from_senders = weights[:, None] * from_senders
    return jax.ops.segment_sum(from_receivers, graph.senders, num_segments=n) + (
        jax.ops.segment_sum(from_senders, graph.receivers, num_segments=n)
    )


class Mixing(eqx.Module):
    """A symmetric gossip matrix W on ``graph``, applied in O(E d).

    W_ij = W_ji = weights[e] on edge e = (i, j), W_ii = self_weights[i], zero
    elsewhere. The constructors below make W doubly stochastic; its spectrum is
    summarized by the eigenvalues of I - W (computed in NumPy float64 at
    construction): 0 once (connected graph), then lambda_2 <= ... <= lambda_max.

    Attributes:
      graph: the communication graph.
      weights: (E,) off-diagonal weights w_ij = w_ji, aligned with graph.senders.
      self_weights: (n,) diagonal w_ii.
      lambda_2: () smallest nonzero eigenvalue of I - W (the spectral gap).
      lambda_max: () largest eigenvalue of I - W (< 2 for a convergent W).
    """

    graph: Graph
    weights: jax.Array  # (E,)
    self_weights: jax.Array  # (n,)
    lambda_2: jax.Array  # ()
    lambda_max: jax.Array  # ()
    # Edges of nonzero weight, when some of the graph's are off (a round of a
    # time-varying network on the union graph); None: all of them.
    active_edges: jax.Array | None = None

    @property
    def num_nodes(self) -> int:
        return self.graph.num_nodes

    @property
    def num_links(self):
        """Edges one gossip step uses: communications per step (an int, or traced)."""
        return self.graph.num_edges if self.active_edges is None else self.active_edges

    @property
    def eigenvalues(self) -> tuple[jax.Array, jax.Array]:
        """(lambda_2, lambda_max) of I - W."""
        return self.lambda_2, self.lambda_max

    def apply(self, xs: jax.Array) -> jax.Array:
        """W @ xs: (n, d) -> (n, d)."""
        return self.self_weights[:, None] * xs + neighbor_sum(self.graph, xs, self.weights)

    def laplacian_apply(self, xs: jax.Array) -> jax.Array:
        """(I - W) @ xs = sum_j w_ij (x_i - x_j): (n, d) -> (n, d).

        Computed from edge differences (for a stochastic W), not as xs - W xs,
        so it stays accurate near consensus.
        """
        n = self.graph.num_nodes
        diff = self.weights[:, None] * (xs[self.graph.senders] - xs[self.graph.receivers])
        return jax.ops.segment_sum(diff, self.graph.senders, num_segments=n) - (
            jax.ops.segment_sum(diff, self.graph.receivers, num_segments=n)
        )

    def to_dense(self) -> np.ndarray:
        """(n, n) float64 NumPy copy of W (for tests and set-up computations)."""
        return _dense(self.graph, np.asarray(self.weights), np.asarray(self.self_weights))


def _dense(graph: Graph, weights: np.ndarray, self_weights: np.ndarray) -> np.ndarray:
    e = graph.edges()
    w = np.diag(np.asarray(self_weights, np.float64))
    w[e[:, 0], e[:, 1]] = weights
    w[e[:, 1], e[:, 0]] = weights
    return w


def mixing_from_weights(graph: Graph, weights, self_weights) -> Mixing:
    """A ``Mixing`` from edge weights (E,) and self weights (n,) (NumPy set-up).

    The eigenvalues of I - W are computed here; W is not checked to be
    stochastic.
    """
    weights = np.asarray(weights, np.float64)
    self_weights = np.asarray(self_weights, np.float64)
    spectrum = np.linalg.eigvalsh(np.eye(graph.num_nodes) - _dense(graph, weights, self_weights))
    dtype = jnp.result_type(float)
    return Mixing(
        graph=graph,
        weights=jnp.asarray(weights, dtype),
        self_weights=jnp.asarray(self_weights, dtype),
        lambda_2=jnp.asarray(spectrum[1], dtype),
        lambda_max=jnp.asarray(spectrum[-1], dtype),
    )


def metropolis_mixing(graph: Graph) -> Mixing:
    """Metropolis–Hastings weights w_ij = 1 / (1 + max(deg_i, deg_j)), w_ii = 1 - sum_j w_ij.

    Symmetric and doubly stochastic with positive diagonal, so its eigenvalues
    lie in (-1, 1] (L. Xiao, S. Boyd, "Fast linear iterations for distributed
    averaging", Systems & Control Letters 53, 2004).
    """
    deg = graph.degrees()
    e = graph.edges()
    w = 1.0 / (1.0 + np.maximum(deg[e[:, 0]], deg[e[:, 1]]))
    row = np.zeros(graph.num_nodes)
    np.add.at(row, e[:, 0], w)
    np.add.at(row, e[:, 1], w)
    return mixing_from_weights(graph, w, 1.0 - row)


def laplacian_mixing(graph: Graph, weights=None) -> Mixing:
    """W = I - L / lambda_max(L) for the (optionally weighted) Laplacian L.

    Then I - W = L / lambda_max(L) has eigenvalues in (0, 1] besides the zero
    one, and W is symmetric, doubly stochastic and positive semidefinite.

    Args:
      graph: the graph.
      weights: optional (E,) nonnegative edge weights of L; ones when None.
    """
    w = edge_weights(graph, weights)
    scale = np.linalg.eigvalsh(laplacian(graph, w))[-1]
    e = graph.edges()
    degree = np.zeros(graph.num_nodes)
    np.add.at(degree, e[:, 0], w)
    np.add.at(degree, e[:, 1], w)
    return mixing_from_weights(graph, w / scale, 1.0 - degree / scale)


class TimeVaryingMixing(eqx.Module):
    """A network that changes every round: W(r) = W_{r mod K} for K gossip matrices.

    All K matrices live on one union graph (an edge absent from a round has
    weight 0 there, and is not counted as a communication). ``at(r)`` is the
    ``Mixing`` of round r; its eigenvalue leaves are the worst case over the
    sequence, lambda_2 = min_k lambda_2(W_k) and lambda_max = max_k
    lambda_max(W_k), the bounds that theory for time-varying networks assumes
    (e.g. chi = lambda_max / lambda_2 in Kovalev et al., NeurIPS 2021), so an
    algorithm configured from them (``from_theory``) is valid at every round.
    Build it with ``time_varying_mixing``; ``simulate_rounds`` accepts it for
    algorithms whose ``time_varying`` is True.
    """

    graph: Graph  # the union graph
    weights: jax.Array  # (K, E)
    self_weights: jax.Array  # (K, n)
    active_edges: jax.Array  # (K,) int32, edges of nonzero weight per matrix
    lambda_2: jax.Array  # () min over the sequence
    lambda_max: jax.Array  # () max over the sequence

    @property
    def num_nodes(self) -> int:
        return self.graph.num_nodes

    @property
    def num_matrices(self) -> int:
        return self.weights.shape[0]

    @property
    def eigenvalues(self) -> tuple[jax.Array, jax.Array]:
        return self.lambda_2, self.lambda_max

    def at(self, r) -> Mixing:
        """The ``Mixing`` of round r (traceable r), with the worst-case eigenvalues."""
        k = jnp.asarray(r) % self.num_matrices
        return Mixing(
            graph=self.graph,
            weights=self.weights[k],
            self_weights=self.self_weights[k],
            lambda_2=self.lambda_2,
            lambda_max=self.lambda_max,
            active_edges=self.active_edges[k],
        )


def time_varying_mixing(mixings) -> TimeVaryingMixing:
    """The ``TimeVaryingMixing`` cycling through ``mixings`` (a sequence of ``Mixing``).

    Their graphs must have the same nodes; each need not be the same graph, but
    each must be connected (their own constructors check it).

    Raises:
      ValueError: no matrix, or matrices of different sizes.
    """
    mixings = list(mixings)
    if not mixings or not all(isinstance(m, Mixing) for m in mixings):
        raise ValueError("time_varying_mixing: give a non-empty sequence of Mixing objects.")
    graph, positions = union([m.graph for m in mixings])
    weights = np.zeros((len(mixings), graph.num_edges))
    for k, (m, where) in enumerate(zip(mixings, positions)):
        weights[k, where] = np.asarray(m.weights, np.float64)
    dtype = jnp.result_type(float)
    return TimeVaryingMixing(
        graph=graph,
        weights=jnp.asarray(weights, dtype),
        self_weights=jnp.stack([jnp.asarray(m.self_weights, dtype) for m in mixings]),
        active_edges=jnp.asarray((weights != 0).sum(axis=1), jnp.int32),
        lambda_2=jnp.asarray(min(float(m.lambda_2) for m in mixings), dtype),
        lambda_max=jnp.asarray(max(float(m.lambda_max) for m in mixings), dtype),
    )
