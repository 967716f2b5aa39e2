"""Directed communication graphs: one-way links, for methods such as Push-Pull.

A `Digraph` stores its arcs source -> target, as jraph stores edges, in two
int32 arrays sorted lexicographically by (source, target). Information flows
along an arc: over arc j -> i, node j sends and node i receives. It is a
pytree whose only leaves are those two arrays, so it can be passed into
`jax.jit`; `num_nodes` is static. Build one with `digraph` (which validates),
`directed_ring` or `from_graph`; `Digraph(...)` itself does not validate (it
must accept tracers).

The constructors require strong connectivity (every node reaches every other
along arcs): that is what lets information from any node reach all the
others, the condition under which row- and column-stochastic methods on the
digraph (Push-Pull) converge.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph

from jaxgossip.network.graphs import Graph, checked_count


class Digraph(eqx.Module):
    """Directed simple graph on `num_nodes` nodes (no self-loops, no repeated arcs).

    Attributes:
        num_nodes: number of nodes n (static).
        sources: (num_arcs,) int32, the sending end of each arc.
        targets: (num_arcs,) int32, the receiving end of each arc.
    """

    num_nodes: int = eqx.field(static=True)
    sources: jax.Array  # (A,) int32
    targets: jax.Array  # (A,) int32

    @property
    def num_arcs(self) -> int:
        """Number of arcs A (static, from the array shape)."""
        return self.sources.shape[0]

    def arcs(self) -> np.ndarray:
        """(A, 2) int32 NumPy copy of the arcs, rows (source, target)."""
        return np.stack([np.asarray(self.sources), np.asarray(self.targets)], axis=1)

    def in_degrees(self) -> np.ndarray:
        """(n,) int64 number of arcs into each node."""
        return np.bincount(np.asarray(self.targets), minlength=self.num_nodes)

    def out_degrees(self) -> np.ndarray:
        """(n,) int64 number of arcs out of each node."""
        return np.bincount(np.asarray(self.sources), minlength=self.num_nodes)

    def is_strongly_connected(self) -> bool:
        return _unreachable(self.num_nodes, self.arcs()) is None


def _unreachable(num_nodes: int, arcs: np.ndarray) -> str | None:
    """None when strongly connected, else a sentence naming a pair that is not."""
    adj = sp.csr_matrix(
        (np.ones(len(arcs)), (arcs[:, 0], arcs[:, 1])), shape=(num_nodes, num_nodes)
    )
    # Strongly connected iff node 0 reaches every node along the arcs and
    # every node reaches node 0 (node 0 reaches all along the reversed arcs).
    for matrix, template in (
        (adj, "node {j} is not reachable from node 0"),
        (adj.T.tocsr(), "node 0 is not reachable from node {j}"),
    ):
        reached = np.zeros(num_nodes, bool)
        reached[
            csgraph.breadth_first_order(matrix, 0, directed=True, return_predecessors=False)
        ] = True
        if not reached.all():
            return template.format(j=int(np.argmin(reached)))
    return None


def digraph(num_nodes: int, arcs) -> Digraph:
    """Validated digraph from a list of arcs.

    Args:
        num_nodes: n >= 2.
        arcs: (A, 2) integer array-like or list of pairs (source, target),
            0 <= source, target < n; (i, j) and (j, i) are two different arcs.

    Returns:
        A `Digraph` with its arcs sorted by (source, target).

    Raises:
        ValueError: on self-loops, duplicate arcs, out-of-range node ids, a
            malformed arc array, no arcs, or a digraph that is not strongly
            connected (the message names a node that another cannot reach).
    """
    n = checked_count(num_nodes, "num_nodes", 2)
    if n >= 2**31:
        raise ValueError(f"num_nodes must fit in int32, got {n}")
    a = np.asarray(arcs)
    if a.size == 0:
        raise ValueError("digraph has no arcs")
    if a.ndim != 2 or a.shape[1] != 2:
        raise ValueError(f"arcs must have shape (A, 2), got {a.shape}")
    if not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"arcs must be integers, got dtype {a.dtype}")
    bad = (a < 0) | (a >= n)
    if bad.any():
        raise ValueError(
            f"node id {a[bad][0]} out of range [0, {n}) in arc {tuple(a[bad.any(1)][0].tolist())}"
        )
    loops = a[:, 0] == a[:, 1]
    if loops.any():
        raise ValueError(f"self-loop at node {a[loops][0, 0]}")
    a = a.astype(np.int64)
    a = a[np.lexsort((a[:, 1], a[:, 0]))]
    dup = np.all(a[1:] == a[:-1], axis=1)
    if dup.any():
        raise ValueError(f"duplicate arc {tuple(a[1:][dup][0].tolist())}")
    problem = _unreachable(n, a)
    if problem is not None:
        raise ValueError(f"digraph is not strongly connected: {problem}")
    return Digraph(
        num_nodes=n,
        sources=jnp.asarray(a[:, 0], dtype=jnp.int32),
        targets=jnp.asarray(a[:, 1], dtype=jnp.int32),
    )


def directed_ring(n: int) -> Digraph:
    """Directed cycle on n >= 2 nodes: i -> (i + 1) mod n, n arcs."""
    n = checked_count(n, "n", 2)
    i = np.arange(n)
    return digraph(n, np.stack([i, (i + 1) % n], axis=1))


def from_graph(graph: Graph) -> Digraph:
    """Both directions of each undirected edge of a connected ``graph``: 2 E arcs."""
    e = graph.edges()
    return digraph(graph.num_nodes, np.concatenate([e, e[:, ::-1]]))
