"""Communication graphs: topologies, validation and spectral constants.

A `Graph` is an undirected simple graph stored, as in jraph, by its edge
endpoints: `senders[e] < receivers[e]`, edges sorted lexicographically. It is a
pytree whose only leaves are those two int32 arrays, so it can be passed into
`jax.jit`; `num_nodes` is static. Build one with `from_edges`, `from_networkx`
or a generator; they validate, `Graph(...)` itself does not (it must accept
tracers).

Spectral tools (`laplacian`, `algebraic_connectivity`, ...) are set-up time
NumPy float64 computations on concrete graphs, never traced; the dense ones
cost O(n^3) (``jaxgossip.network.spectral`` has the closed forms and sparse
solvers for large graphs). `recognize` names the family of a graph built by
one of the generators, in O(E log E).
"""

from __future__ import annotations

import operator
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph
import scipy.spatial


class Graph(eqx.Module):
    """Undirected simple graph on `num_nodes` nodes.

    Attributes:
        num_nodes: number of nodes n (static).
        senders: (num_edges,) int32, `senders[e] < receivers[e]`.
        receivers: (num_edges,) int32.
    """

    num_nodes: int = eqx.field(static=True)
    senders: jax.Array  # (E,) int32
    receivers: jax.Array  # (E,) int32

    @property
    def num_edges(self) -> int:
        """Number of undirected edges E (static, from the array shape)."""
        return self.senders.shape[0]

    def edges(self) -> np.ndarray:
        """(E, 2) int32 NumPy copy of the edges, rows (sender, receiver)."""
        return np.stack([np.asarray(self.senders), np.asarray(self.receivers)], axis=1)

    def degrees(self) -> np.ndarray:
        """(n,) int64 node degrees."""
        e = self.edges()
        return np.bincount(e.ravel(), minlength=self.num_nodes)

    def is_connected(self) -> bool:
        return num_components(self.num_nodes, self.edges()) == 1

    def to_networkx(self) -> nx.Graph:
        g = nx.Graph()
        g.add_nodes_from(range(self.num_nodes))
        g.add_edges_from(self.edges().tolist())
        return g


def num_components(num_nodes: int, edges: np.ndarray) -> int:
    """Number of connected components of the graph on ``num_nodes`` nodes with (E, 2) ``edges``."""
    adj = sp.coo_matrix(
        (np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(num_nodes, num_nodes)
    )
    return int(csgraph.connected_components(adj, directed=False, return_labels=False))


def checked_count(value, name: str, minimum: int) -> int:
    try:
        value = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def from_edges(num_nodes: int, edges, *, require_connected: bool = True) -> Graph:
    """Validated graph from a list of undirected edges.

    Args:
        num_nodes: n >= 2.
        edges: (E, 2) integer array-like or list of pairs (i, j), 0 <= i, j < n.
            Orientation does not matter; (i, j) and (j, i) are the same edge.
        require_connected: raise if the graph has more than one component.

    Returns:
        A `Graph` with edges canonicalized to (min, max) and sorted.

    Raises:
        ValueError: on self-loops, duplicate edges, out-of-range node ids, a
            malformed edge array, no edges, or (if required) disconnection.
    """
    n = checked_count(num_nodes, "num_nodes", 2)
    if n >= 2**31:
        raise ValueError(f"num_nodes must fit in int32, got {n}")
    e = np.asarray(edges)
    if e.size == 0:
        raise ValueError("graph has no edges")
    if e.ndim != 2 or e.shape[1] != 2:
        raise ValueError(f"edges must have shape (E, 2), got {e.shape}")
    if not np.issubdtype(e.dtype, np.integer):
        raise ValueError(f"edges must be integers, got dtype {e.dtype}")
    bad = (e < 0) | (e >= n)
    if bad.any():
        raise ValueError(
            f"node id {e[bad][0]} out of range [0, {n}) in edge {tuple(e[bad.any(1)][0].tolist())}"
        )
    loops = e[:, 0] == e[:, 1]
    if loops.any():
        raise ValueError(f"self-loop at node {e[loops][0, 0]}")
    e = np.sort(e.astype(np.int64), axis=1)
    e = e[np.lexsort((e[:, 1], e[:, 0]))]
    dup = np.all(e[1:] == e[:-1], axis=1)
    if dup.any():
        raise ValueError(f"duplicate edge {tuple(e[1:][dup][0].tolist())}")
    if require_connected:
        c = num_components(n, e)
        if c > 1:
            raise ValueError(
                f"graph is disconnected ({c} connected components); "
                "pass require_connected=False to allow it"
            )
    return Graph(
        num_nodes=n,
        senders=jnp.asarray(e[:, 0], dtype=jnp.int32),
        receivers=jnp.asarray(e[:, 1], dtype=jnp.int32),
    )


def union(graphs) -> tuple[Graph, list[np.ndarray]]:
    """The union of graphs on the same nodes, and where each one's edges sit in it.

    Args:
      graphs: a non-empty sequence of ``Graph`` with the same ``num_nodes``.

    Returns:
      (union, positions): the union graph (edges sorted) and, per input graph,
      the (E_k,) int array of the union's edge indices of its edges, in its order.

    Raises:
      ValueError: no graph, or graphs of different sizes.
    """
    graphs = list(graphs)
    if not graphs:
        raise ValueError("union: no graph given.")
    sizes = sorted({g.num_nodes for g in graphs})
    if len(sizes) > 1:
        raise ValueError(f"union: the graphs have different numbers of nodes {sizes}.")
    edges = np.unique(np.concatenate([g.edges() for g in graphs]), axis=0)
    index = {tuple(edge): e for e, edge in enumerate(edges.tolist())}
    positions = [np.array([index[tuple(e)] for e in g.edges().tolist()], int) for g in graphs]
    merged = Graph(
        num_nodes=sizes[0],
        senders=jnp.asarray(edges[:, 0], jnp.int32),
        receivers=jnp.asarray(edges[:, 1], jnp.int32),
    )
    return merged, positions


def from_networkx(g: nx.Graph, *, require_connected: bool = True) -> Graph:
    """Graph from an undirected networkx graph.

    Nodes are relabelled 0..n-1 in sorted order when the labels are sortable,
    otherwise in iteration order.
    """
    if g.is_directed():
        raise ValueError("directed networkx graphs are not supported; use g.to_undirected()")
    nodes = list(g.nodes())
    try:
        nodes = sorted(nodes)
    except TypeError:
        pass
    index = {v: i for i, v in enumerate(nodes)}
    edges = np.array([(index[u], index[v]) for u, v in g.edges()], dtype=np.int64)
    return from_edges(len(nodes), edges.reshape(-1, 2), require_connected=require_connected)


# Topologies.


def ring(n: int) -> Graph:
    """Cycle on n >= 3 nodes: i -- (i + 1) mod n."""
    n = checked_count(n, "n", 3)
    i = np.arange(n)
    return from_edges(n, np.stack([i, (i + 1) % n], axis=1))


def path(n: int) -> Graph:
    """Path on n >= 2 nodes: i -- i + 1."""
    n = checked_count(n, "n", 2)
    i = np.arange(n - 1)
    return from_edges(n, np.stack([i, i + 1], axis=1))


def star(n: int) -> Graph:
    """Star on n >= 2 nodes with centre 0."""
    n = checked_count(n, "n", 2)
    i = np.arange(1, n)
    return from_edges(n, np.stack([np.zeros_like(i), i], axis=1))


def complete(n: int) -> Graph:
    """Complete graph on n >= 2 nodes, n(n-1)/2 edges."""
    n = checked_count(n, "n", 2)
    return from_edges(n, np.stack(np.triu_indices(n, k=1), axis=1))


def _grid_edges(rows: int, cols: int, wrap: bool) -> np.ndarray:
    ids = np.arange(rows * cols).reshape(rows, cols)
    right = np.roll(ids, -1, axis=1)
    down = np.roll(ids, -1, axis=0)
    if wrap:
        return np.concatenate(
            [np.stack([ids.ravel(), right.ravel()], 1), np.stack([ids.ravel(), down.ravel()], 1)]
        )
    return np.concatenate(
        [
            np.stack([ids[:, :-1].ravel(), right[:, :-1].ravel()], 1),
            np.stack([ids[:-1].ravel(), down[:-1].ravel()], 1),
        ]
    )


def grid(rows: int, cols: int) -> Graph:
    """2-D grid, node (r, c) has id r * cols + c; (rows-1)*cols + rows*(cols-1) edges."""
    rows, cols = checked_count(rows, "rows", 1), checked_count(cols, "cols", 1)
    return from_edges(rows * cols, _grid_edges(rows, cols, wrap=False))


def torus(rows: int, cols: int) -> Graph:
    """2-D grid with wrap-around, 4-regular, 2 * rows * cols edges; rows, cols >= 3."""
    rows, cols = checked_count(rows, "rows", 3), checked_count(cols, "cols", 3)
    return from_edges(rows * cols, _grid_edges(rows, cols, wrap=True))


def hypercube(dim: int) -> Graph:
    """Hypercube on 2**dim nodes: i -- j when they differ in one bit; dim >= 1."""
    dim = checked_count(dim, "dim", 1)
    return from_edges(2**dim, _hypercube_edges(dim))


def _hypercube_edges(dim: int) -> np.ndarray:
    i = np.arange(2**dim)
    return np.concatenate([np.stack([i, i ^ (1 << k)], 1)[(i >> k) & 1 == 0] for k in range(dim)])


def exponential(n: int) -> Graph:
    """Exponential graph: i -- (i ± 2**k) mod n for k = 0..floor(log2(n-1)); n >= 2."""
    n = checked_count(n, "n", 2)
    # i -- i + c and i -- i + (n - c) are the same edges: one offset per pair, each edge once.
    offsets = sorted({min(2**k, n - 2**k) for k in range((n - 1).bit_length())})
    return from_edges(n, _circulant_edges(n, offsets))


def barbell(clique_size: int, path_length: int = 0) -> Graph:
    """Two cliques joined by a path, numbered as networkx.barbell_graph.

    Nodes 0..m-1 form the left clique, m..m+p-1 the path, m+p..2m+p-1 the right
    clique; 2m + p nodes. clique_size m >= 2, path_length p >= 0.
    """
    m = checked_count(clique_size, "clique_size", 2)
    p = checked_count(path_length, "path_length", 0)
    clique = np.stack(np.triu_indices(m, k=1), axis=1)
    chain = np.arange(m - 1, m + p + 1)
    bridge = np.stack([chain[:-1], chain[1:]], axis=1)
    return from_edges(2 * m + p, np.concatenate([clique, bridge, clique + m + p]))


def _as_key(key) -> jax.Array:
    if not jnp.issubdtype(jnp.asarray(key).dtype, jax.dtypes.prng_key):
        key = jax.random.wrap_key_data(jnp.asarray(key, dtype=jnp.uint32))
    if key.shape != ():
        raise ValueError(f"expected a single PRNG key, got key array of shape {key.shape}")
    return key


def _sample_connected(key, n: int, sample_edges, max_tries: int, hint: str) -> Graph:
    # Rejection sampling: try t uses fold_in(key, t), so the result depends only on key.
    key = _as_key(key)
    for t in range(checked_count(max_tries, "max_tries", 1)):
        e = sample_edges(jax.random.fold_in(key, t))
        if len(e) and num_components(n, e) == 1:
            return from_edges(n, e)
    raise ValueError(f"no connected sample in {max_tries} tries; {hint}")


def erdos_renyi(key, n: int, p: float, *, max_tries: int = 100) -> Graph:
    """Connected Erdos-Renyi G(n, p) graph, resampled until connected.

    Args:
        key: a `jax.random.key` (legacy uint32 keys accepted).
        n: number of nodes, >= 2.
        p: probability of each of the n(n-1)/2 edges, in (0, 1].
    """
    n = checked_count(n, "n", 2)
    if not 0 < p <= 1:
        raise ValueError(f"p must be in (0, 1], got {p}")
    pairs = np.stack(np.triu_indices(n, k=1), axis=1)

    def sample(k):
        return pairs[np.asarray(jax.random.uniform(k, (len(pairs),)) < p)]

    hint = f"try a larger p (connectivity threshold is about log(n)/n = {np.log(n) / n:.3g})"
    return _sample_connected(key, n, sample, max_tries, hint)


def random_geometric(key, n: int, radius: float, *, max_tries: int = 100) -> Graph:
    """Connected random geometric graph, resampled until connected.

    n points uniform in the unit square; i -- j when their Euclidean distance
    is <= radius. Pairs come from a k-d tree (``scipy.spatial.cKDTree``), so
    set-up is O(n log n + |E|) rather than over all n^2 / 2 pairs; edges are
    listed as (i < j) in lexicographic order.
    """
    n = checked_count(n, "n", 2)
    if not radius > 0:
        raise ValueError(f"radius must be > 0, got {radius}")

    def sample(k):
        x = np.asarray(jax.random.uniform(k, (n, 2)), dtype=np.float64)
        # A slightly larger query radius, then the exact test: the same edges as
        # comparing every pair, also for points at distance ~radius.
        pairs = scipy.spatial.cKDTree(x).query_pairs(radius * (1 + 1e-9), output_type="ndarray")
        i, j = np.sort(pairs, axis=1).T if len(pairs) else (np.zeros(0, int),) * 2
        close = np.sum((x[i] - x[j]) ** 2, axis=1) <= radius**2
        edges = np.stack([i[close], j[close]], axis=1)
        return edges[np.lexsort((edges[:, 1], edges[:, 0]))]

    hint = (
        f"try a larger radius (about sqrt(log(n)/(pi n)) = {np.sqrt(np.log(n) / (np.pi * n)):.3g})"
    )
    return _sample_connected(key, n, sample, max_tries, hint)


# Spectral tools (NumPy float64, set-up time).


def edge_weights(graph: Graph, weights) -> np.ndarray:
    if weights is None:
        return np.ones(graph.num_edges)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (graph.num_edges,):
        raise ValueError(f"weights must have shape ({graph.num_edges},), got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"weights must be finite and nonnegative, got min {w.min()}")
    return w


def laplacian(graph: Graph, weights=None) -> np.ndarray:
    """(n, n) float64 weighted Laplacian L = sum_e w_e (e_i - e_j)(e_i - e_j)^T.

    Args:
        graph: the graph.
        weights: optional (E,) nonnegative edge weights (e.g. communication
            rates), aligned with `graph.senders`; default ones.
    """
    w = edge_weights(graph, weights)
    e = graph.edges()
    s, r = e[:, 0], e[:, 1]
    lap = np.zeros((graph.num_nodes, graph.num_nodes))
    np.add.at(lap, (s, r), -w)
    np.add.at(lap, (r, s), -w)
    np.add.at(lap, (s, s), w)
    np.add.at(lap, (r, r), w)
    return lap


def sparse_laplacian(graph: Graph, weights=None) -> sp.csr_matrix:
    """The weighted Laplacian of ``laplacian`` as a (n, n) float64 SciPy CSR matrix, O(n + E)."""
    w = edge_weights(graph, weights)
    e = graph.edges().astype(np.int64)
    n = graph.num_nodes
    degree = np.bincount(e[:, 0], w, n) + np.bincount(e[:, 1], w, n)
    rows = np.concatenate([e[:, 0], e[:, 1], np.arange(n)])
    cols = np.concatenate([e[:, 1], e[:, 0], np.arange(n)])
    values = np.concatenate([-w, -w, degree])
    return sp.csr_matrix((values, (rows, cols)), shape=(n, n))


def laplacian_spectrum(graph: Graph, weights=None) -> np.ndarray:
    """(n,) ascending eigenvalues of the weighted Laplacian (dense: O(n^3) time, O(n^2) memory)."""
    return np.linalg.eigvalsh(laplacian(graph, weights))


def algebraic_connectivity(graph: Graph, weights=None) -> float:
    """lambda_2, the second-smallest Laplacian eigenvalue (the spectral gap); dense, O(n^3).

    ``jaxgossip.network.spectral.laplacian_extremes`` gives it in closed form or
    with a sparse solver on large graphs.
    """
    return float(laplacian_spectrum(graph, weights)[1])


def effective_resistances(graph: Graph, weights=None) -> np.ndarray:
    """(E,) effective resistance r_e = (e_i - e_j)^T L^+ (e_i - e_j) of each edge.

    With weights as conductances, Foster's theorem gives sum_e w_e r_e = n - 1.
    Dense: one (n, n) inverse, O(n^3) time and O(n^2) memory.
    """
    w = edge_weights(graph, weights)
    e = graph.edges()
    if num_components(graph.num_nodes, e[w > 0]) > 1:
        raise ValueError("edges with positive weight must connect the graph")
    # L^+ = (L + 11^T/n)^{-1} - 11^T/n on a connected graph: exact, where a cut-off
    # pseudo-inverse may keep the round-off null eigenvalue and be off by percents.
    average = np.full((graph.num_nodes, graph.num_nodes), 1.0 / graph.num_nodes)
    lp = np.linalg.inv(laplacian(graph, w) + average) - average
    s, r = e[:, 0], e[:, 1]
    return lp[s, s] + lp[r, r] - 2 * lp[s, r]


# Families (for closed-form spectral constants).


class Topology(NamedTuple):
    """The family of a graph and the generator's arguments that rebuild it.

    ``kind`` is one of "complete", "ring", "path", "star", "hypercube" (params
    ``(dim,)``), "torus" and "grid" (``(rows, cols)``), or "circulant"
    (``(n, offsets)``: i -- i + c mod n for c in offsets, e.g. ``exponential``);
    the others have ``(n,)``.
    """

    kind: str
    params: tuple


def _canonical_keys(num_nodes: int, edges: np.ndarray) -> np.ndarray:
    """Sorted int64 keys min * n + max of the undirected edges."""
    e = np.asarray(edges, np.int64)
    keys = np.minimum(e[:, 0], e[:, 1]) * num_nodes + np.maximum(e[:, 0], e[:, 1])
    return np.sort(keys)


def _circulant_edges(n: int, offsets) -> np.ndarray:
    """Edges i -- i + c mod n for offsets 0 < c <= n / 2, each once."""
    pieces = []
    for c in offsets:
        i = np.arange(n // 2 if 2 * c == n else n)  # i + n/2 and i - n/2 coincide
        pieces.append(np.stack([i, (i + c) % n], 1))
    return np.concatenate(pieces)


def recognize(graph: Graph) -> Topology | None:
    """The family of ``graph`` when it is, edge for edge, what a generator builds; else None.

    Compares the edge set with that of the one candidate its size and the
    neighbours of node 0 allow: O(E log E) time, no spectral computation. A
    relabelled copy of a family is not recognized (None), nor is a concrete
    graph with tracers for edges. A hypercube of dimension 1 is reported as
    "complete", a 1-row grid as "path", and a circulant that is a ring or a
    complete graph by those names.
    """
    n, num_edges = graph.num_nodes, graph.num_edges
    if isinstance(graph.senders, jax.core.Tracer) or num_edges == 0:
        return None
    e = graph.edges().astype(np.int64)
    keys = _canonical_keys(n, e)
    if np.any(keys[1:] == keys[:-1]):
        return None  # not a simple graph

    def same(edges) -> bool:
        return len(edges) == num_edges and np.array_equal(_canonical_keys(n, edges), keys)

    if num_edges == n * (n - 1) // 2:  # a simple graph with every pair
        return Topology("complete", (n,))
    neighbours = np.sort(np.concatenate([e[e[:, 0] == 0, 1], e[e[:, 1] == 0, 0]]))
    degree = len(neighbours)
    if num_edges == n - 1:
        if degree == n - 1:
            return Topology("star", (n,))
        if same(np.stack([np.arange(n - 1), np.arange(1, n)], 1)):
            return Topology("path", (n,))
        return None
    if n >= 3 and num_edges == n and same(np.stack([np.arange(n), (np.arange(n) + 1) % n], 1)):
        return Topology("ring", (n,))
    dim = n.bit_length() - 1
    if n == 1 << dim and num_edges == dim * n // 2 and degree == dim:
        if same(_hypercube_edges(dim)):
            return Topology("hypercube", (dim,))
    # Node 0 of a torus neighbours 1, cols - 1, cols and n - cols; of a grid 1 and cols.
    for kind, wrap, position, count in (("torus", True, 2, 4), ("grid", False, 1, 2)):
        if degree != count:
            continue
        cols = int(neighbours[position])
        rows = n // cols
        low = 3 if wrap else 2
        if rows * cols == n and min(rows, cols) >= low and same(_grid_edges(rows, cols, wrap)):
            return Topology(kind, (rows, cols))
    # A circulant: every node has node 0's neighbourhood shifted (e.g. exponential graphs).
    if 0 < degree <= 256 and num_edges * 2 == n * degree:
        # Offsets from both sides: a relabelled graph may have every neighbour above n/2.
        offsets = tuple(sorted({min(int(c), n - int(c)) for c in neighbours}))
        if same(_circulant_edges(n, offsets)):
            return Topology("circulant", (n, offsets))
    return None
