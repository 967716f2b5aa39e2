"""Quadratic local functions f_i(x) = 1/2 x^T A_i x - b_i^T x + c_i."""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxgossip.problems.base import (
    Problem,
    as_float64,
    check_positive_int,
    numpy_rng,
    quadratic_gap,
    quadratic_value,
    to_jax,
)


class Quadratic(Problem):
    """f_i(x) = 1/2 x^T A_i x - b_i^T x + c_i with A_i symmetric positive definite.

    Attributes (besides x_star, f_star, L, mu):
      A: (n, d, d) local Hessians.
      b: (n, d) linear terms.
      c: (n,) constants.
      H: (d, d) mean_i A_i, the Hessian of f, so ``value``/``values`` cost O(d^2)
        per point instead of O(n d^2).
      A_inv: (n, d, d) the inverses A_i^{-1} (float64 NumPy, then cast), so that
        ``local_conjugate_grad`` costs O(d^2); None falls back to a solve.
    """

    A: jax.Array  # (n, d, d)
    b: jax.Array  # (n, d)
    c: jax.Array  # (n,)
    H: jax.Array  # (d, d)
    A_inv: jax.Array | None = None  # (n, d, d)

    @property
    def num_nodes(self) -> int:
        return self.A.shape[0]

    @staticmethod
    def from_arrays(A, b, c=None) -> Quadratic:
        """Alias of ``quadratic_from_arrays``."""
        return quadratic_from_arrays(A, b, c)

    def local_value(self, x: jax.Array, node: jax.Array) -> jax.Array:
        """f_node(x): x (d,) -> ()."""
        return 0.5 * x @ (self.A[node] @ x) - self.b[node] @ x + self.c[node]

    def local_grad(self, key: jax.Array, x: jax.Array, node: jax.Array) -> jax.Array:
        """A_node x - b_node: x (d,) -> (d,). Deterministic; ``key`` is ignored."""
        del key
        return self.A[node] @ x - self.b[node]

    def local_conjugate_grad(self, y: jax.Array, node: jax.Array) -> jax.Array:
        """Gradient of the conjugate f_node^*: y (d,) -> argmax_x <y, x> - f_node(x) (d,).

        For f_i(x) = 1/2 x^T A_i x - b_i^T x + c_i it is A_i^{-1} (y + b_i).
        """
        if self.A_inv is None:
            return jnp.linalg.solve(self.A[node], y + self.b[node])
        return self.A_inv[node] @ (y + self.b[node])

    def value(self, x: jax.Array) -> jax.Array:
        """f(x): (d,) -> (), in O(d^2) through the aggregated Hessian."""
        return quadratic_value(x, self.x_star, self.f_star, self.H)

    exact_suboptimality: ClassVar[bool] = True

    def hessian_at_optimum(self) -> np.ndarray:
        """(d, d) the constant Hessian H of f."""
        return np.asarray(self.H, np.float64)

    def suboptimality(self, x: jax.Array) -> jax.Array:
        """f(x) - f* = 1/2 (x - x*)^T H (x - x*): (d,) -> (), free of cancellation."""
        return quadratic_gap(x, self.x_star, self.H)


def quadratic_from_arrays(A, b, c=None) -> Quadratic:
    """Build a ``Quadratic`` from stacked local terms.

    Args:
      A: (n, d, d) symmetric positive definite local Hessians.
      b: (n, d) linear terms.
      c: (n,) constants, zeros when None.
    """
    A = as_float64("A", A, 3)
    n, d, d2 = A.shape
    if d != d2:
        raise ValueError(f"A must have shape (n, d, d), got {A.shape}")
    b = as_float64("b", b, 2)
    if b.shape != (n, d):
        raise ValueError(f"b must have shape (n, d) = {(n, d)}, got {b.shape}")
    c = np.zeros(n) if c is None else as_float64("c", c, 1)
    if c.shape != (n,):
        raise ValueError(f"c must have shape (n,) = {(n,)}, got {c.shape}")
    scale = max(np.abs(A).max(), np.finfo(np.float64).tiny)
    if not np.allclose(A, np.swapaxes(A, 1, 2), rtol=0.0, atol=1e-10 * scale):
        raise ValueError("A must be symmetric: every A_i must equal its transpose")
    A = 0.5 * (A + np.swapaxes(A, 1, 2))  # remove round-off asymmetry
    eigs = np.linalg.eigvalsh(A)  # (n, d), ascending
    if eigs[:, 0].min() <= 0.0:
        raise ValueError(
            "A must be positive definite (each f_i strongly convex); "
            f"smallest eigenvalue is {eigs[:, 0].min():.3g}"
        )

    return _assemble(A, b, c, L=eigs[:, -1].max(), mu=eigs[:, 0].min(), A_inv=np.linalg.inv(A))


def _assemble(A, b, c, *, L, mu, A_inv) -> Quadratic:
    """The ``Quadratic`` of checked float64 terms whose constants and inverses are known."""
    H = A.mean(axis=0)
    x_star = np.linalg.solve(H, b.mean(axis=0))
    local = 0.5 * np.einsum("d,nde,e->n", x_star, A, x_star) - b @ x_star + c
    return Quadratic(
        x_star=to_jax(x_star),
        f_star=to_jax(local.mean()),
        L=to_jax(L),
        mu=to_jax(mu),
        A=to_jax(A),
        b=to_jax(b),
        c=to_jax(c),
        H=to_jax(H),
        A_inv=to_jax(A_inv),
    )


# Nodes per block when drawing rotations: bounds the QR's (block, d, d) temporaries
# at 10^6 nodes. Blocks draw the generator's numbers in the same order as one call.
_BLOCK = 1 << 15


def _random_orthogonal(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """(n, d, d) Haar-distributed orthogonal matrices (QR with sign fix), in node blocks."""
    q = np.empty((n, d, d))
    for start in range(0, n, _BLOCK):
        block, r = np.linalg.qr(rng.standard_normal((min(_BLOCK, n - start), d, d)))
        block *= np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]
        q[start : start + len(block)] = block
    return q


def _from_spectra(q: np.ndarray, eigs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A_i = Q_i diag(s_i) Q_i^T and A_i^{-1} = Q_i diag(1 / s_i) Q_i^T, symmetric, in node blocks.

    The spectra are known, so no eigen-decomposition or inverse is needed.
    """
    A, A_inv = np.empty(q.shape), np.empty(q.shape)  # C order even when q is broadcast
    for start in range(0, len(q), _BLOCK):
        nodes = slice(start, start + _BLOCK)
        for out, s in ((A, eigs[nodes]), (A_inv, 1.0 / eigs[nodes])):
            m = (q[nodes] * s[:, None, :]) @ np.swapaxes(q[nodes], 1, 2)
            out[nodes] = 0.5 * (m + np.swapaxes(m, 1, 2))  # exactly symmetric
    return A, A_inv


def quadratic(
    key: jax.Array,
    num_nodes: int,
    dim: int,
    *,
    kappa: float = 10.0,
    mu: float = 1.0,
    heterogeneity: float = 1.0,
    shared_basis: bool = False,
) -> Quadratic:
    """Random quadratics f_i(x) = 1/2 (x - z_i)^T A_i (x - z_i), so f_i >= 0.

    A_i = Q_i diag(s_i) Q_i^T with Q_i random orthogonal and s_i in
    [mu, kappa * mu]. When dim >= 2 every s_i contains both endpoints, so each
    node, and the problem, has L = kappa * mu and mu exactly; when dim == 1 the
    node eigenvalues are spread over [mu, kappa * mu] across nodes instead.
    Local minimizers are z_i = z + heterogeneity * xi_i with z, xi_i standard
    normal, so heterogeneity = 0 gives identical minimizers.

    With independent Q_i the average Hessian is far better conditioned than
    kappa (about 3 to 4 for kappa in 10..1000 at d = 4), so the rates of f do not
    depend on kappa. ``shared_basis=True`` uses one Q for every node: the
    average then has condition number exactly kappa (when dim >= 2), the family
    on which acceleration in kappa shows.

    Args:
      key: a JAX PRNG key (seeds the float64 NumPy generator).
      num_nodes: n >= 1.
      dim: d >= 1.
      kappa: condition number >= 1.
      mu: strong convexity > 0.
      heterogeneity: >= 0, spread of the local minimizers.
      shared_basis: one eigenbasis for all nodes (same draws otherwise).

    Returns:
      A ``Quadratic`` with A (n, d, d), b (n, d), c (n,).
    """
    n = check_positive_int("num_nodes", num_nodes)
    d = check_positive_int("dim", dim)
    if not np.isfinite(kappa) or kappa < 1.0:
        raise ValueError(f"kappa must be a finite number >= 1, got {kappa!r}")
    if not np.isfinite(mu) or mu <= 0.0:
        raise ValueError(f"mu must be a finite number > 0, got {mu!r}")
    if not np.isfinite(heterogeneity) or heterogeneity < 0.0:
        raise ValueError(f"heterogeneity must be a finite number >= 0, got {heterogeneity!r}")
    if d == 1 and n == 1 and kappa != 1.0:
        raise ValueError("a single node in dimension 1 has condition number 1: set kappa=1")

    rng = numpy_rng(key)
    lo, hi = mu, kappa * mu
    if d == 1:
        eigs = np.linspace(lo, hi, n)[:, None]
    else:
        # Pin both endpoints in every node so the condition number is exactly kappa.
        eigs = rng.uniform(lo, hi, size=(n, d))
        eigs[:, 0], eigs[:, 1] = lo, hi
    q = _random_orthogonal(rng, n, d)
    if shared_basis:
        q = np.broadcast_to(q[:1], q.shape)
    A, A_inv = _from_spectra(q, eigs)
    centers = rng.standard_normal(d) + heterogeneity * rng.standard_normal((n, d))
    b = np.einsum("nij,nj->ni", A, centers)
    c = 0.5 * np.einsum("ni,ni->n", centers, b)
    # The constants exactly as built (an eigen-decomposition would add ~1e-15 round-off).
    return _assemble(A, b, c, L=eigs.max(), mu=eigs.min(), A_inv=A_inv)
