"""Least squares: f_i(x) = 1/(2m) ||A_i x - b_i||^2 + reg/2 ||x||^2."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxgossip.problems.base import (
    SampledProblem,
    as_float64,
    check_batch_size,
    quadratic_gap,
    quadratic_value,
    to_jax,
)


class LeastSquares(SampledProblem):
    """Regularized least squares over m samples per node.

    Attributes (besides x_star, f_star, L, mu):
      A: (n, m, d) design matrices.
      b: (n, m) targets.
      reg: () ridge coefficient.
      H: (d, d) Hessian of f, mean_i A_i^T A_i / m + reg I, so ``value`` and
        ``values`` cost O(d^2) per point instead of O(n m d).
      batch_size: None for full local gradients, else the minibatch size b
        (indices drawn with replacement; b == m gives the exact gradient).
      local_hessian_inv: (n, d, d) inverses of the local Hessians
        A_i^T A_i / m + reg I (float64 NumPy, then cast), so that
        ``local_conjugate_grad`` costs O(d^2 + m d); None falls back to a solve.
    """

    A: jax.Array  # (n, m, d)
    b: jax.Array  # (n, m)
    reg: jax.Array  # ()
    H: jax.Array  # (d, d)
    batch_size: int | None = eqx.field(static=True, default=None)
    local_hessian_inv: jax.Array | None = None  # (n, d, d)

    @property
    def num_nodes(self) -> int:
        return self.A.shape[0]

    @property
    def num_samples(self) -> int:
        return self.A.shape[1]

    def local_value(self, x: jax.Array, node: jax.Array) -> jax.Array:
        """f_node(x): x (d,) -> ()."""
        r = self.A[node] @ x - self.b[node]  # (m,)
        return 0.5 * jnp.mean(r * r) + 0.5 * self.reg * (x @ x)

    def local_grad(self, key: jax.Array, x: jax.Array, node: jax.Array) -> jax.Array:
        """Full or minibatch gradient of f_node at x (d,) -> (d,)."""
        idx = self._sample(key)
        if idx is None:
            a, y = self.A[node], self.b[node]  # (m, d), (m,)
        else:
            # Gather only the b sampled rows, never the node's whole (m, d) block.
            a, y = self.A[node, idx], self.b[node, idx]  # (b, d), (b,)
        return a.T @ (a @ x - y) / a.shape[0] + self.reg * x

    def local_conjugate_grad(self, y: jax.Array, node: jax.Array) -> jax.Array:
        """Gradient of the conjugate f_node^*: y (d,) -> argmax_x <y, x> - f_node(x) (d,).

        The x solving (A_i^T A_i / m + reg I) x = y + A_i^T b_i / m. Always the
        full local function, whatever ``batch_size``.
        """
        a = self.A[node]  # (m, d)
        rhs = y + a.T @ self.b[node] / self.num_samples
        if self.local_hessian_inv is None:
            hessian = a.T @ a / self.num_samples + self.reg * jnp.eye(self.dim, dtype=a.dtype)
            return jnp.linalg.solve(hessian, rhs)
        return self.local_hessian_inv[node] @ rhs

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


def least_squares(A, b, *, reg: float = 0.0, batch_size: int | None = None) -> LeastSquares:
    """Build a ``LeastSquares`` problem from per-node data.

    Args:
      A: (n, m, d) features, m samples per node.
      b: (n, m) targets.
      reg: ridge coefficient >= 0.
      batch_size: None, or minibatch size in [1, m] for stochastic gradients.

    Raises:
      ValueError: on bad shapes, or if some f_i is not strongly convex
        (A_i^T A_i singular and reg == 0).
    """
    A = as_float64("A", A, 3)
    n, m, d = A.shape
    b = as_float64("b", b, 2)
    if b.shape != (n, m):
        raise ValueError(f"b must have shape (n, m) = {(n, m)} to match A, got {b.shape}")
    if not np.isfinite(reg) or reg < 0.0:
        raise ValueError(f"reg must be a finite number >= 0, got {reg!r}")
    check_batch_size(batch_size, m)

    gram = np.einsum("nmi,nmj->nij", A, A) / m  # (n, d, d)
    eigs = np.linalg.eigvalsh(gram)  # (n, d), ascending
    # Relative threshold: a rank-deficient Gram matrix comes out at ~1e-16 * scale.
    tol = 1e-10 * max(eigs[:, -1].max(), np.finfo(np.float64).tiny)
    if reg == 0.0 and eigs[:, 0].min() <= tol:
        raise ValueError(
            "least squares is not strongly convex: some node's A_i^T A_i is singular "
            f"(smallest eigenvalue {eigs[:, 0].min():.3g}, m={m} samples, d={d}); "
            "use reg > 0"
        )

    H = gram.mean(axis=0) + reg * np.eye(d)
    x_star = np.linalg.solve(H, np.einsum("nmd,nm->d", A, b) / (n * m))
    r = A @ x_star - b  # (n, m)
    f_star = 0.5 * np.mean(r * r) + 0.5 * reg * (x_star @ x_star)
    return LeastSquares(
        x_star=to_jax(x_star),
        f_star=to_jax(f_star),
        L=to_jax(eigs[:, -1].max() + reg),
        mu=to_jax(eigs[:, 0].min() + reg),
        A=to_jax(A),
        b=to_jax(b),
        reg=to_jax(reg),
        H=to_jax(H),
        batch_size=None if batch_size is None else int(batch_size),
        # Singular (reg == 0 and rank-deficient A_i) was rejected above.
        local_hessian_inv=to_jax(np.linalg.inv(gram + reg * np.eye(d))),
    )
