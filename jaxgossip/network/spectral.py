"""Spectral constants of a graph with Poisson edge clocks: the one chi1 and chi2.

Everything here describes the Laplacian weighted by the communication rates,
Lambda = sum_e rate_e (e_i - e_j)(e_i - e_j)^T, in NumPy float64 on a concrete
graph, so the constants carry the clocks' time unit (doubling every rate
doubles lambda_2 and halves chi1). DADAO, A2CiD2, the continuized dual method
and ``jaxgossip.theory`` all read them from here.

Three ways, chosen in this order (``method="auto"``):

- closed forms, exact in float64, when every rate is the same and
  ``graphs.recognize`` names the family (complete, ring, path, star,
  hypercube, torus, grid, circulant such as ``exponential``): O(n) to O(n log n)
  time, except the grid's resistances, O(n (rows + cols));
- dense, for n <= ``DENSE_MAX_NODES``: one eigen-decomposition and one inverse
  of Lambda, O(n^3) time and O(n^2) memory (about 1 s at n = 2048);
- sparse, above it: lambda_max by Lanczos on Lambda, lambda_2 by Lanczos on
  Lambda^+ applied through a sparse LU factorization of Lambda grounded at
  node 0 (relative accuracy about 1e-10). chi2 is then the largest exact edge
  resistance once cheap upper bounds certify that no other edge can exceed it;
  when ``RESISTANCE_SOLVES`` solves do not certify it, chi2 is an upper bound,
  flagged ``chi2_exact = False`` with a ``Chi2BoundWarning``. The factorization's
  fill decides the cost: a few seconds for a 2-D random geometric graph of
  65,536 nodes, impractical (time and memory) at 10^6.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla

from jaxgossip.network.graphs import (
    Graph,
    Topology,
    edge_weights,
    effective_resistances,
    laplacian,
    num_components,
    recognize,
    sparse_laplacian,
)

# Dense eigvalsh + inv of Lambda takes ~1 s at 2048 nodes and ~25 s at 4096 (2 cores).
DENSE_MAX_NODES = 2048
# Exact edge resistances the sparse path may solve for to certify chi2.
RESISTANCE_SOLVES = 512
# ARPACK's stopping rule: residual <= tol * |eigenvalue|.
_LANCZOS_TOL = 1e-12
METHODS = ("auto", "dense", "sparse")


class Chi2BoundWarning(UserWarning):
    """chi2 is a guaranteed upper bound, not the exact value (large generic graphs)."""


def _uniform_rate(weights: np.ndarray) -> float | None:
    """The common rate when every edge has the same positive rate, else None."""
    low, high = float(weights.min()), float(weights.max())
    return low if low == high and low > 0 else None


def _sin2(numerator, denominator) -> np.ndarray:
    """sin^2(pi k / m) with k mod m taken in integers, so large arguments stay exact."""
    k = np.asarray(numerator, np.int64) % denominator
    return np.sin(np.pi * k / denominator) ** 2


def _path_eigenvalues(m: int) -> np.ndarray:
    """(m,) Laplacian eigenvalues of the path P_m, 4 sin^2(pi k / (2m)), ascending."""
    return 4 * np.sin(np.pi * np.arange(m) / (2 * m)) ** 2


def _closed_lambdas(topology: Topology, rate: float) -> tuple[float, float]:
    """(lambda_2, lambda_max) of ``rate`` times the family's Laplacian."""
    kind, p = topology
    if kind == "complete":
        return p[0] * rate, p[0] * rate
    if kind == "ring":
        n = p[0]
        return 4 * rate * _sin2(1, n), 4 * rate * _sin2(n // 2, n)
    if kind == "path":
        spectrum = _path_eigenvalues(p[0])
        return rate * spectrum[1], rate * spectrum[-1]
    if kind == "star":
        n = p[0]
        return (rate if n > 2 else 2 * rate), n * rate
    if kind == "hypercube":
        return 2 * rate, 2 * rate * p[0]
    if kind == "torus":
        rows, cols = p
        low = 4 * _sin2(1, max(rows, cols))
        return rate * low, 4 * rate * (_sin2(rows // 2, rows) + _sin2(cols // 2, cols))
    if kind == "grid":
        rows, cols = p
        low = _path_eigenvalues(max(rows, cols))[1]
        return rate * low, rate * (_path_eigenvalues(rows)[-1] + _path_eigenvalues(cols)[-1])
    spectrum = _circulant_spectrum(*p)
    return rate * float(spectrum[1:].min()), rate * float(spectrum.max())


def _circulant_spectrum(n: int, offsets) -> np.ndarray:
    """(n,) eigenvalues sum over neighbours c of 0 of 2 sin^2(pi j c / n), j = 0..n-1."""
    j = np.arange(n)
    spectrum = np.zeros(n)
    for c in offsets:  # c and n - c are both neighbours unless c = n / 2
        spectrum += (2 if 2 * c == n else 4) * _sin2(j * c, n)
    return spectrum


def _closed_max_resistance(topology: Topology, rate: float, num_edges: int) -> float | None:
    """The largest edge effective resistance, or None when no closed form is cheap here."""
    kind, p = topology
    if kind in ("path", "star"):  # trees: every edge is a bridge
        return 1.0 / rate
    n = 1 << p[0] if kind == "hypercube" else p[0] * p[1] if kind == "torus" else p[0]
    if kind in ("complete", "ring", "hypercube") or (kind == "torus" and p[0] == p[1]):
        # Edge-transitive: Foster's sum_e R_e = (n - 1) / rate shared equally.
        return (n - 1) / (num_edges * rate)
    if kind == "torus":
        # Fourier: R of a step along cols = (1/n) sum' 4 sin^2(pi b / cols) / lambda_ab.
        rows, cols = p
        a, b = _sin2(np.arange(rows), rows)[:, None], _sin2(np.arange(cols), cols)[None, :]
        total = a + b
        total[0, 0] = np.inf
        return max(float(np.sum(b / total)), float(np.sum(a / total))) / (n * rate)
    if kind == "grid":
        return _grid_max_resistance(*p) / rate if sum(p) <= 4096 else None
    n, offsets = p
    spectrum = _circulant_spectrum(n, offsets)[1:]
    j = np.arange(1, n)
    return max(float(np.sum(4 * _sin2(j * c, n) / spectrum)) for c in offsets) / (n * rate)


def _grid_max_resistance(rows: int, cols: int) -> float:
    """Largest edge resistance of the unit-rate grid, from the product eigenbasis.

    Path P_m has eigenvectors psi_k(x) = c_k cos(pi k (x + 1/2) / m); a step
    (x, y) -- (x, y + 1) has R = sum_ab psi_a(x)^2 (psi_b(y) - psi_b(y + 1))^2 /
    (mu_a + nu_b): two matrix products, O(n (rows + cols)), every term >= 0.
    """

    def basis(m):
        k, x = np.arange(m)[None, :], np.arange(m)[:, None]
        psi = np.cos(np.pi * k * (x + 0.5) / m) * np.sqrt(2.0 / m)
        psi[:, 0] = np.sqrt(1.0 / m)
        return psi  # (x, k)

    psi_r, psi_c = basis(rows), basis(cols)
    inverse = _path_eigenvalues(rows)[:, None] + _path_eigenvalues(cols)[None, :]
    inverse[0, 0] = np.inf
    inverse = 1.0 / inverse  # (a, b)
    best = 0.0
    if cols > 1:  # steps along a row
        step = np.diff(psi_c, axis=0) ** 2  # (y, b)
        best = max(best, float(((psi_r**2) @ (inverse @ step.T)).max()))
    if rows > 1:  # steps along a column
        step = np.diff(psi_r, axis=0) ** 2  # (x, a)
        best = max(best, float(((psi_c**2) @ (inverse.T @ step.T)).max()))
    return best


class _GroundedSolver:
    """x with Lambda x = b, x_0 = 0, by a sparse LU of Lambda without node 0's row and column."""

    def __init__(self, lap: sp.csr_matrix):
        self.grounded = lap[1:, 1:].tocsc()
        self.lu = sla.splu(self.grounded)

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """(n, k) -> (n, k); rhs columns must sum to 0."""
        x = self.lu.solve(np.ascontiguousarray(rhs[1:]))
        return np.concatenate([np.zeros((1,) + x.shape[1:]), x])


def _start_vector(n: int) -> np.ndarray:
    v = np.random.default_rng(0).standard_normal(n)  # fixed: results are reproducible
    return v - v.mean()


def _sparse_lambdas(lap: sp.csr_matrix, solver: _GroundedSolver) -> tuple[float, float]:
    """(lambda_2, lambda_max): Lanczos on Lambda, and on Lambda^+ (1 / lambda_2 is its top)."""
    n = lap.shape[0]
    (lambda_max,) = sla.eigsh(
        lap, k=1, which="LA", tol=_LANCZOS_TOL, v0=_start_vector(n), return_eigenvectors=False
    )

    def pseudo_inverse(x):
        x = np.asarray(x, np.float64).reshape(n, -1)
        y = solver.solve(x - x.mean(axis=0))
        return y - y.mean(axis=0)

    operator = sla.LinearOperator((n, n), matvec=pseudo_inverse, dtype=np.float64)
    (top,) = sla.eigsh(
        operator, k=1, which="LA", tol=_LANCZOS_TOL, v0=_start_vector(n), return_eigenvectors=False
    )
    return 1.0 / float(top), float(lambda_max)


def resistance_upper_bounds(graph: Graph, weights) -> np.ndarray:
    """(E,) guaranteed upper bounds on the effective resistance of each edge, O(sum deg^2).

    Rayleigh's monotonicity: deleting edges never lowers a resistance, so R_ij
    is at most that of edge (i, j) in parallel with the two-edge paths through
    common neighbours k, 1 / (w_ij + sum_k h_k) with h_k = w_ik w_kj / (w_ik +
    w_kj), and by Cauchy-Schwarz sum_k h_k >= T^2 / S with T = sum_k w_ik w_kj
    and S = sum_k w_ik w_kj (w_ik + w_kj) (equality for equal rates). Edges of
    rate 0 get inf. Within a factor of about 1.5 of the truth on random
    geometric graphs; exactly 1 / w_ij on a bridge with no triangle.
    """
    w = edge_weights(graph, weights)
    n, e = graph.num_nodes, graph.edges().astype(np.int64)
    keep = w > 0
    s, r, wk = e[keep, 0], e[keep, 1], w[keep]
    adjacency = sp.csr_matrix((np.r_[wk, wk], (np.r_[s, r], np.r_[r, s])), shape=(n, n))
    squares = adjacency.multiply(adjacency).tocsr()
    t, u = np.zeros(len(s)), np.zeros(len(s))
    order = np.argsort(s, kind="stable")
    starts = np.searchsorted(s[order], np.arange(0, n + 1))
    degree = np.diff(adjacency.indptr)
    # Rows in blocks whose two-path products stay under ~2e7 entries.
    block_cost = np.cumsum(degree.astype(np.float64) ** 2)
    bounds = np.searchsorted(block_cost, np.arange(1, int(block_cost[-1] // 2e7) + 2) * 2e7)
    low = 0
    for high in np.unique(np.minimum(np.r_[bounds, n], n)):
        if high <= low:
            continue
        rows = slice(low, high)
        paths = adjacency[rows] @ adjacency
        weighted = squares[rows] @ adjacency + adjacency[rows] @ squares
        edges = order[starts[low] : starts[high]]
        local = s[edges] - low
        t[edges] = np.asarray(paths[local, r[edges]]).ravel()
        u[edges] = np.asarray(weighted[local, r[edges]]).ravel()
        low = high
    triangles = np.divide(t**2, u, out=np.zeros_like(t), where=u > 0)
    bounds_out = np.full(graph.num_edges, np.inf)
    # Round-off guard: the bound must stay above the true value.
    bounds_out[keep] = (1 + 1e-12) / (wk + triangles)
    return bounds_out


def _sparse_max_resistance(graph, w, solver, budget) -> tuple[float, float]:
    """(lower, upper) on the largest edge resistance; equal when certified exact.

    Exact resistances of edges in decreasing order of their upper bounds, in
    blocks, until the largest found is at least every remaining bound.
    """
    upper = resistance_upper_bounds(graph, w)
    candidates = np.argsort(-upper, kind="stable")
    candidates = candidates[np.isfinite(upper[candidates])]
    e = graph.edges().astype(np.int64)
    n, best, done = graph.num_nodes, 0.0, 0
    while done < len(candidates) and done < budget:
        block = candidates[done : min(done + 32, budget, len(candidates))]
        rhs = np.zeros((n, len(block)))
        columns = np.arange(len(block))
        rhs[e[block, 0], columns], rhs[e[block, 1], columns] = 1.0, -1.0
        x = solver.solve(rhs)
        best = max(best, float(np.max(x[e[block, 0], columns] - x[e[block, 1], columns])))
        done += len(block)
        if done == len(candidates) or upper[candidates[done]] <= best:
            return best, best
    return best, max(best, float(upper[candidates[done]]))


def _method(method: str, caller: str) -> str:
    if method not in METHODS:
        raise ValueError(f"{caller}: method must be one of {METHODS}, got {method!r}.")
    return method


def laplacian_extremes(graph: Graph, weights=None, *, method: str = "auto", caller="spectral"):
    """(lambda_2, lambda_max, how) of the weighted Laplacian, ``how`` naming the method used.

    Closed form for equal weights on a recognized family, else dense for
    n <= ``DENSE_MAX_NODES``, else sparse (module docstring); ``method``
    "dense" or "sparse" forces one (closed forms are skipped then).

    Raises:
      ValueError: bad weights, or the edges of positive weight do not connect the graph.
    """
    w = edge_weights(graph, weights)
    how = _choose(graph, w, _method(method, caller))
    if how.startswith("closed"):
        lambda_2, lambda_max = _closed_lambdas(recognize(graph), _uniform_rate(w))
    elif how == "dense":
        eigenvalues = np.linalg.eigvalsh(laplacian(graph, w))
        lambda_2, lambda_max = float(eigenvalues[1]), float(eigenvalues[-1])
    else:
        _check_connected(graph, w, caller)
        lap = sparse_laplacian(graph, w)
        lambda_2, lambda_max = _sparse_lambdas(lap, _GroundedSolver(lap))
    _check_gap(lambda_2, lambda_max, caller)
    return float(lambda_2), float(lambda_max), how


def _choose(graph: Graph, w: np.ndarray, method: str) -> str:
    if method == "auto":
        rate = _uniform_rate(w)
        topology = recognize(graph) if rate is not None else None
        if topology is not None:
            return f"closed form ({topology.kind})"
        return "dense" if graph.num_nodes <= DENSE_MAX_NODES else "sparse"
    return method


def _check_connected(graph: Graph, w: np.ndarray, caller: str) -> None:
    if num_components(graph.num_nodes, graph.edges()[w > 0]) > 1:
        _check_gap(0.0, 1.0, caller)


def _check_gap(lambda_2: float, lambda_max: float, caller: str) -> None:
    if not lambda_2 > 1e-12 * max(lambda_max, np.finfo(np.float64).tiny):
        raise ValueError(
            f"{caller}: the edges of positive communication rate do not connect the "
            "graph (lambda_2 of the rate-weighted Laplacian is 0)."
        )


def rate_laplacian_constants(
    graph: Graph, comm_rate=1.0, *, caller: str = "graph_constants", method: str = "auto"
):
    """lambda_2, lambda_max, chi1 and chi2 of the rate-weighted Laplacian, as a dict.

    chi1 = 1 / lambda_2 and chi2 = max over edges (i, j) of positive rate of
    (1/2) (e_i - e_j)^T Lambda^+ (e_i - e_j), half the largest effective
    resistance of an edge (A. Nabli, E. Oyallon, "DADAO", ICML 2023; A. Nabli,
    E. Belilovsky, E. Oyallon, "A2CiD2", NeurIPS 2023).

    Exact to about 1e-12 relative in closed form and dense, about 1e-10 sparse
    (module docstring), except chi2 on the sparse path when its certification
    runs out of solves: then chi2 is a guaranteed upper bound, ``chi2_exact``
    is False, ``chi2_lower`` the best exact resistance found (halved) and a
    ``Chi2BoundWarning`` says so. An upper bound on chi2 only makes the
    ``from_theory`` constants of DADAO, A2CiD2 and the continuized dual method
    more conservative (their analyses use chi2 as an upper bound).

    Args:
      graph: the graph.
      comm_rate: scalar or (num_edges,) nonnegative edge rates, aligned with
        ``graph.senders``.
      caller: named in the error.
      method: "auto" (closed form, else dense up to ``DENSE_MAX_NODES`` nodes,
        else sparse), "dense" or "sparse".

    Returns:
      {"lambda_2", "lambda_max", "chi1", "chi2": floats, "chi2_exact": bool,
      "chi2_lower": float (= chi2 when exact), "method": str}.

    Raises:
      ValueError: bad rates, or the edges of positive rate do not connect the graph.
    """
    rates = np.broadcast_to(np.asarray(comm_rate, dtype=np.float64), (graph.num_edges,))
    w = edge_weights(graph, rates)  # validates the rates
    how = _choose(graph, w, _method(method, caller))
    resistance = None
    if how.startswith("closed"):
        topology, rate = recognize(graph), _uniform_rate(w)
        lambda_2, lambda_max = _closed_lambdas(topology, rate)
        _check_gap(lambda_2, lambda_max, caller)  # a circulant may be disconnected
        resistance = _closed_max_resistance(topology, rate, graph.num_edges)
        if resistance is None:  # a long thin grid (rows + cols > 4096)
            how = f"{how}; chi2 sparse"
        lower = resistance
    if how == "dense":
        eigenvalues = np.linalg.eigvalsh(laplacian(graph, w))
        lambda_2, lambda_max = float(eigenvalues[1]), float(eigenvalues[-1])
        _check_gap(lambda_2, lambda_max, caller)
        resistance = lower = float(effective_resistances(graph, w)[w > 0].max())
    elif how == "sparse" or how.endswith("chi2 sparse"):
        _check_connected(graph, w, caller)
        lap = sparse_laplacian(graph, w)
        solver = _GroundedSolver(lap)
        if how == "sparse":
            lambda_2, lambda_max = _sparse_lambdas(lap, solver)
        lower, resistance = _sparse_max_resistance(graph, w, solver, RESISTANCE_SOLVES)
    _check_gap(lambda_2, lambda_max, caller)
    exact = lower == resistance
    if not exact:
        warnings.warn(
            f"{caller}: chi2 = {resistance / 2:.6g} is an upper bound (the true value is at "
            f"least {lower / 2:.6g}): {RESISTANCE_SOLVES} sparse solves did not certify the "
            "largest edge resistance of this graph; theory constants built on it are "
            "conservative.",
            Chi2BoundWarning,
            stacklevel=2,
        )
    return {
        "lambda_2": float(lambda_2),
        "lambda_max": float(lambda_max),
        "chi1": 1.0 / float(lambda_2),
        "chi2": 0.5 * float(resistance),
        "chi2_exact": exact,
        "chi2_lower": 0.5 * float(lower),
        "method": how,
    }


def chi_constants(graph: Graph, comm_rate=1.0, *, caller: str = "chi_constants"):
    """(chi1, chi2) of the rate-weighted Laplacian (see ``rate_laplacian_constants``)."""
    constants = rate_laplacian_constants(graph, comm_rate, caller=caller)
    return constants["chi1"], constants["chi2"]
