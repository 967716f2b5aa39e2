"""Push-Pull gradient method, on undirected graphs or on digraphs.

S. Pu, W. Shi, J. Xu, A. Nedić, "Push-Pull Gradient Methods for Distributed
Optimization in Networks", IEEE Trans. Automatic Control 66(1), 2021,
Algorithm 1 (eq. (3)):

    x^{k+1} = R (x^k - alpha y^k),
    y^{k+1} = C y^k + grad f(x^{k+1}) - grad f(x^k),      y^0 = grad f(x^0),

with R row-stochastic (each node *pulls* decision variables from its
in-neighbours) and C column-stochastic (each node *pushes* shares of its
gradient tracker to its out-neighbours). Both are built from degrees, not from
the ``Mixing`` weights, on one of two networks:

Undirected (``digraph=None``, the default): ``mixing.graph``, each edge read
as the two directed links,

    R_ij = 1 / (1 + deg_i)   for j = i or j ~ i     (node i averages what it pulls)
    C_ij = 1 / (1 + deg_j)   for i = j or i ~ j     (node j splits y_j evenly)

Neither is doubly stochastic unless the graph is regular (on a regular graph,
R = C = the uniform-weight W and Push-Pull is DIGing). Applied in O(E d)
through neighbour sums: R x = (x + A x) / (1 + deg), C y = (I + A)(y / (1 + deg)).

Directed (``digraph``, a strongly connected ``jaxgossip.network.digraphs.Digraph``;
``mixing`` then only fixes n): information flows along the arcs,

    R_ij = 1 / (1 + indeg_i)   for j = i or arc j -> i   (i pulls from its in-neighbours)
    C_ij = 1 / (1 + outdeg_j)  for i = j or arc j -> i   (j pushes to its out-neighbours)

Pu et al. let the pull graph G_R and the push graph G_C differ, asking that
G_R and G_C^T each contain a spanning tree, with a common root. We use the
digraph's arcs for both, so one message per arc carries both the pull and the
push; a strongly connected digraph satisfies both conditions for every root.
Applied in O(A d) with one ``segment_sum`` over the A arcs each:
R x = (x + S x) / (1 + indeg), C y = (I + S)(y / (1 + outdeg)), S_ij = 1 on arc j -> i.
``from_graph(graph)`` (both directions of every edge) gives the undirected
R and C again.

The engine's round k computes grad f(x^k) once per node and communicates the
x - alpha y that R pulls and the shares of y that C pushes: it keeps y^{k-1}
and grad f(x^{k-1}) (0 before the first round, so y^0 = grad f(x^0)) and forms
y^k = C y^{k-1} + grad f(x^k) - grad f(x^{k-1}), then x^{k+1} = R (x^k - alpha y^k).
C is column-stochastic, so sum_i y_i^k = sum_i grad f_i(x_i^k) at every k.

Exact: with a constant, small enough step every node converges to x*
(linearly for strongly convex f, Theorem 1 of the paper).

Cost of a round: n gradient computations and
  undirected: |E| communications, each edge's two-way exchange (message_floats = 4 d);
  directed: A communications, one per arc, carrying x - alpha y and a share of y
  one way (message_floats = 2 d).
On ``from_graph(graph)`` that is 2 |E| messages of 2 d floats: the same bytes.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxgossip.algorithms.base import Oracle, SyncAlgorithm, hyperparameter, round_cost
from jaxgossip.algorithms.ops import pull, push
from jaxgossip.network.digraphs import Digraph
from jaxgossip.network.graphs import Graph
from jaxgossip.network.mixing import Mixing

#: Tuned constants of from_theory: alpha = min(MAX_STEP, GAP_STEP * gap(R)) / (L u^T v).
MAX_STEP = 0.5
GAP_STEP = 2.0


def _self_adjacency(graph: Graph) -> np.ndarray:
    """(n, n) float64 I + A, A the adjacency of ``graph``."""
    e = graph.edges()
    matrix = np.eye(graph.num_nodes)
    matrix[e[:, 0], e[:, 1]] = matrix[e[:, 1], e[:, 0]] = 1.0
    return matrix


def _self_arcs(digraph: Digraph) -> np.ndarray:
    """(n, n) float64 I + S, S_ij = 1 on arc j -> i (row i: i and what it receives)."""
    a = digraph.arcs()
    matrix = np.eye(digraph.num_nodes)
    matrix[a[:, 1], a[:, 0]] = 1.0
    return matrix


def dense_pull_push(graph: Graph | Digraph) -> tuple[np.ndarray, np.ndarray]:
    """(R, C), the (n, n) float64 NumPy matrices of ``pull`` and ``push`` (tests, theory)."""
    if isinstance(graph, Digraph):
        matrix = _self_arcs(graph)
        # Row sums are 1 + indeg, column sums 1 + outdeg.
        return matrix / matrix.sum(axis=1, keepdims=True), matrix / matrix.sum(axis=0)
    matrix = _self_adjacency(graph)
    inv = 1.0 / matrix.sum(axis=1)  # 1 / (1 + deg)
    return inv[:, None] * matrix, matrix * inv[None, :]


def _perron_vector(matrix: np.ndarray) -> np.ndarray:
    """(n,) v with matrix @ v = v, sum(v) = 1, for an irreducible stochastic ``matrix``."""
    values, vectors = np.linalg.eig(matrix)
    v = np.real(vectors[:, np.argmin(np.abs(values - 1.0))])
    return v / v.sum()


def _directed_gap(matrix: np.ndarray) -> float:
    """min(1, min_lambda (1 - |lambda|)^2 / |1 - lambda|) over the non-Perron eigenvalues.

    Real eigenvalues lambda <= 0 are left out. See ``pull_gap``.
    """
    values = np.linalg.eigvals(matrix)
    values = np.delete(values, np.argmin(np.abs(values - 1.0)))
    # eigvals returns real eigenvalues with a zero imaginary part; the tolerance
    # keeps a nearly defective pair of real ones real.
    values = values[(values.real > 0) | (np.abs(values.imag) > 1e-9)]
    return float(np.min((1.0 - np.abs(values)) ** 2 / np.abs(1.0 - values), initial=1.0))


def pull_gap(graph: Graph | Digraph) -> float:
    """The spectral gap of the pull matrix R: 1 - lambda_2(R) on a ``Graph``.

    On a ``Graph``, R = D^-1 (I + A) with D = I + deg is similar to the
    symmetric D^-1/2 (I + A) D^-1/2, so its spectrum is real and lambda_2 is
    its second largest eigenvalue.

    On a ``Digraph`` the spectrum is complex in general, and a complex
    eigenvalue near the unit circle limits the step far more than a real one
    of the same modulus. On the model problem f_i = h/2 |x|^2 with C = R, the
    mode lambda of R becomes two modes of Push-Pull, lambda +- delta with
    delta^2 = alpha h lambda (1 - lambda) to first order in alpha (a real
    lambda <= 0 moves along the circle |mu| = |lambda|, harmlessly; a complex
    one partly outwards). |delta| <= sqrt(alpha h |1 - lambda|) stays below
    1 - |lambda| while alpha h <= (1 - |lambda|)^2 / |1 - lambda|, so the gap
    of a digraph is the smallest such bound,
    min(1, min_lambda (1 - |lambda|)^2 / |1 - lambda|), over the eigenvalues
    other than the Perron root 1 and the real ones <= 0 (dense NumPy
    ``eigvals``). On a real spectrum that is min(1, 1 - lambda_2), the
    ``Graph`` value: ``pull_gap(from_graph(graph)) == pull_gap(graph)`` up to
    rounding. On the directed ring of n nodes, R = (I + P) / 2, lambda_2 =
    cos(pi / n) exp(i pi / n) and the gap is (1 - cos(pi / n))^2 / sin(pi / n),
    about pi^3 / (4 n^3), where 1 - |lambda_2| is about pi^2 / (2 n^2) (on
    the ring of 8, ``from_theory`` does not converge with 1 - |lambda_2| or
    1 - Re lambda_2 in place of this gap).
    """
    if isinstance(graph, Digraph):
        return _directed_gap(dense_pull_push(graph)[0])
    matrix = _self_adjacency(graph)
    inv_sqrt = 1.0 / np.sqrt(matrix.sum(axis=1))
    return float(1.0 - np.linalg.eigvalsh(inv_sqrt[:, None] * matrix * inv_sqrt[None, :])[-2])


def push_gap(graph: Graph | Digraph) -> float:
    """``pull_gap``'s quantity for the push matrix C (the same as R's on a ``Graph``).

    On a ``Graph``, C = D R D^-1 has R's spectrum; on a ``Digraph`` it may not.
    """
    if isinstance(graph, Digraph):
        return _directed_gap(dense_pull_push(graph)[1])
    return pull_gap(graph)


def perron_gain(graph: Graph | Digraph) -> float:
    """u^T v, with u^T R = u^T, sum(u) = 1 and C v = v, sum(v) = n.

    The network average u^T x moves by -alpha u^T y per round, and y
    concentrates along v (sum(y) tracks sum of the gradients), so u^T v
    scales the step the average effectively takes: 1 on regular graphs and
    digraphs, up to about n / 4 on a star. On a ``Graph`` both u and v are
    proportional to 1 + deg; on a ``Digraph`` they are computed as Perron
    eigenvectors of the dense R^T and C (NumPy ``eig``).
    """
    if isinstance(graph, Digraph):
        R, C = dense_pull_push(graph)
        return float(graph.num_nodes * (_perron_vector(R.T) @ _perron_vector(C)))
    weight = _self_adjacency(graph).sum(axis=1)  # 1 + deg
    u = weight / weight.sum()
    v = graph.num_nodes * weight / weight.sum()
    return float(u @ v)


class PushPullState(NamedTuple):
    """The network state after round k."""

    x: jax.Array  # (n, d) x^{k+1}
    y: jax.Array  # (n, d) y^k, tracker of (a multiple of) the mean gradient
    g_prev: jax.Array  # (n, d) grad f(x^k)


class PushPull(SyncAlgorithm):
    """Push-Pull with degree-based R (row-stochastic) and C (column-stochastic).

    Ignores the ``Mixing`` weights: only ``mixing.graph`` is used, or, when
    ``digraph`` is set, only ``mixing.num_nodes`` (its graph is not used).

    Args:
      step_size: alpha, the same at every node (an array leaf).
      digraph: optional strongly connected ``Digraph`` (``jaxgossip.network.digraphs``)
        to pull and push along, instead of the undirected ``mixing.graph``.
    """

    step_size: jax.Array = eqx.field(converter=hyperparameter)
    digraph: Digraph | None = None
    exact: ClassVar[bool] = True

    @classmethod
    def from_theory(
        cls, problem, mixing: Mixing | None, digraph: Digraph | None = None
    ) -> PushPull:
        """A tuned step alpha = min(1/2, 2 gap) / (L u^T v), on ``digraph`` if given.

        On ``mixing.graph``, gap is ``pull_gap``; on ``digraph`` (``mixing``
        may then be None; otherwise it must have the digraph's number of
        nodes), R and C have different spectra and gap is the smaller of
        ``pull_gap`` and ``push_gap``. u^T v is ``perron_gain``, the factor by
        which the average's effective step exceeds alpha (the analysis of Pu
        et al. (2021) runs on the same product of the Perron vectors of R and C).
        Theorem 1 of Pu et al. (2021) bounds the admissible step by an
        expression in the contraction factors of R and C and their Perron
        vectors that is orders of magnitude below what converges in practice,
        so the constants were tuned on 8-node rings, paths, stars, 3-cubes and
        complete graphs, quadratics of condition number 10 and 100 and
        l2-logistic regression, then checked on 32 nodes: without the factor
        u^T v (4.2 on the 32-node star) the step diverges on the star; on the
        path 0.1 / L needs about half the rounds of 0.5 / L. The same
        constants, with the digraph gap, were checked on the directed ring of
        8 and on 9 random 8-node digraphs (a directed ring plus 2, 4 or 8
        random arcs), quadratic and logistic: the step converged linearly
        everywhere, within 1.3 times the rounds to 1e-10 of the fastest of
        1/4, 1/2, 1 and 2 times it, except on the logistic directed ring
        (520 rounds against 355 at twice the step, which diverges on the
        quadratic). NumPy set-up, not traceable.
        """
        if digraph is None:
            network = mixing.graph
        else:
            if mixing is not None:
                _check_sizes(digraph, mixing)
            network = digraph
        # On a digraph R and C have different spectra: the smaller gap binds.
        gap = pull_gap(network) if digraph is None else min(pull_gap(digraph), push_gap(digraph))
        return cls(
            step_size=min(MAX_STEP, GAP_STEP * gap) / (problem.L * perron_gain(network)),
            digraph=digraph,
        )

    @classmethod
    def on_digraph(cls, problem, digraph: Digraph) -> PushPull:
        """``from_theory(problem, None, digraph)``: pull and push both along ``digraph``'s arcs."""
        return cls.from_theory(problem, None, digraph=digraph)

    def _network(self, mixing: Mixing) -> Graph | Digraph:
        if self.digraph is None:
            return mixing.graph
        _check_sizes(self.digraph, mixing)
        return self.digraph

    def init(self, xs0, oracle: Oracle, mixing: Mixing) -> PushPullState:
        del oracle
        self._network(mixing)  # checks the sizes once, before tracing the rounds
        zeros = jnp.zeros_like(xs0)
        return PushPullState(x=xs0, y=zeros, g_prev=zeros)

    def params(self, state: PushPullState) -> jax.Array:
        return state.x

    def round(self, state: PushPullState, oracle: Oracle, mixing: Mixing):
        network = self._network(mixing)
        g = oracle.grads(state.x)
        y = push(network, state.y) + g - state.g_prev
        x_new = pull(network, state.x - self.step_size * y)
        links = network.num_arcs if isinstance(network, Digraph) else network.num_edges
        return PushPullState(x=x_new, y=y, g_prev=g), round_cost(network.num_nodes, links)

    def message_floats(self, dim: int) -> int:
        # A two-way edge exchange carries 2 d floats each way; an arc 2 d one way.
        return 4 * dim if self.digraph is None else 2 * dim


def _check_sizes(digraph: Digraph, mixing: Mixing) -> None:
    if digraph.num_nodes != mixing.num_nodes:
        raise ValueError(
            f"PushPull: the digraph has {digraph.num_nodes} nodes but the mixing (and so the "
            f"problem) has {mixing.num_nodes}; give a mixing on the same nodes."
        )
