"""Regularized logistic regression: one labelled dataset shard per node.

f_i(x) = (1/m) sum_k log(1 + exp(-y_k a_k^T x)) + reg/2 ||x||^2, labels y in {-1, +1}.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxgossip.problems.base import (
    SampledProblem,
    as_float64,
    check_batch_size,
    check_positive_int,
    numpy_rng,
    to_jax,
)


class LogisticRegression(SampledProblem):
    """Binary logistic regression with an l2 term, m samples per node.

    Attributes (besides x_star, f_star, L, mu):
      features: (n, m, d) a_k per node.
      labels: (n, m) y_k in {-1, +1}, stored as floats.
      reg: () l2 coefficient, equal to mu.
      batch_size: None for full local gradients, else the minibatch size b
        (indices drawn with replacement; b == m gives the exact gradient).
    """

    features: jax.Array  # (n, m, d)
    labels: jax.Array  # (n, m)
    reg: jax.Array  # ()
    batch_size: int | None = eqx.field(static=True, default=None)

    @property
    def num_nodes(self) -> int:
        return self.features.shape[0]

    @property
    def num_samples(self) -> int:
        return self.features.shape[1]

    def local_value(self, x: jax.Array, node: jax.Array) -> jax.Array:
        """f_node(x): x (d,) -> ()."""
        return _value(self.features[node], self.labels[node], self.reg, x)

    def local_grad(self, key: jax.Array, x: jax.Array, node: jax.Array) -> jax.Array:
        """Full or minibatch gradient of f_node at x (d,) -> (d,)."""
        idx = self._sample(key)
        if idx is None:
            a, y = self.features[node], self.labels[node]  # (m, d), (m,)
        else:
            # Gather only the b sampled rows, never the node's whole (m, d) block.
            a, y = self.features[node, idx], self.labels[node, idx]  # (b, d), (b,)
        # d/dz log(1 + e^{-yz}) = -y sigmoid(-yz)
        weights = -y * jax.nn.sigmoid(-y * (a @ x))  # (b,)
        return a.T @ weights / a.shape[0] + self.reg * x

    def value(self, x: jax.Array) -> jax.Array:
        """f(x): (d,) -> (), over all n * m samples (equal m makes it the mean)."""
        a = self.features.reshape(-1, self.dim)
        return _value(a, self.labels.reshape(-1), self.reg, x)


def _value(a: jax.Array, y: jax.Array, reg: jax.Array, x: jax.Array) -> jax.Array:
    """Mean logistic loss of rows a (k, d), labels y (k,), plus the l2 term."""
    return jnp.mean(jnp.logaddexp(0.0, -y * (a @ x))) + 0.5 * reg * (x @ x)


def _np_sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free


def _np_value(a: np.ndarray, y: np.ndarray, reg: float, x: np.ndarray) -> float:
    return float(np.mean(np.logaddexp(0.0, -y * (a @ x))) + 0.5 * reg * (x @ x))


def _newton(a: np.ndarray, y: np.ndarray, reg: float, max_iter: int = 100) -> np.ndarray:
    """argmin of the global f in float64 by damped Newton: a (N, d), y (N,) -> (d,)."""
    num, d = a.shape
    x = np.zeros(d)
    full_steps = 0
    for _ in range(max_iter):
        z = y * (a @ x)
        g = a.T @ (-y * _np_sigmoid(-z)) / num + reg * x
        s = _np_sigmoid(z)
        h = (a.T * (s * (1.0 - s))) @ a / num + reg * np.eye(d)
        step = np.linalg.solve(h, g)
        decrement = g @ step  # squared Newton decrement: an affine-invariant error estimate
        if decrement < 1e-30 or full_steps >= 4:
            break
        if decrement < 1e-6:
            # Quadratic convergence region: full steps reach round-off in ~3 steps,
            # where a line search could no longer resolve the decrease in f.
            x = x - step
            full_steps += 1
            continue
        # Backtracking keeps Newton globally convergent when reg is small.
        t, f0 = 1.0, _np_value(a, y, reg, x)
        while _np_value(a, y, reg, x - t * step) > f0 - 0.25 * t * decrement and t > 1e-10:
            t *= 0.5
        x = x - t * step
    return x


def logistic_regression_from_data(
    features, labels, *, reg: float = 1e-2, batch_size: int | None = None
) -> LogisticRegression:
    """Build a ``LogisticRegression`` problem from per-node data.

    Args:
      features: (n, m, d) samples, m per node (see ``partition`` to split one dataset).
      labels: (n, m) in {-1, +1}; {0, 1} labels are mapped to {-1, +1}.
      reg: l2 coefficient > 0; it is the strong convexity mu.
      batch_size: None, or minibatch size in [1, m] for stochastic gradients.
    """
    a = as_float64("features", features, 3)
    n, m, d = a.shape
    y = as_float64("labels", labels, 2)
    if y.shape != (n, m):
        raise ValueError(
            f"labels must have shape (n, m) = {(n, m)} to match features, got {y.shape}"
        )
    values = set(np.unique(y).tolist())
    if values <= {-1.0, 1.0}:
        pass
    elif values <= {0.0, 1.0}:
        y = 2.0 * y - 1.0
    else:
        raise ValueError(f"labels must be in {{-1, +1}} or {{0, 1}}, got values {sorted(values)}")
    if not np.isfinite(reg) or reg <= 0.0:
        raise ValueError(
            f"reg must be > 0 for logistic regression to be strongly convex, got {reg!r}"
        )
    check_batch_size(batch_size, m)

    # Hessian of the loss is bounded by A_i^T A_i / (4m): sigmoid' <= 1/4.
    gram_max = np.linalg.eigvalsh(np.einsum("nmi,nmj->nij", a, a))[:, -1]  # (n,)
    x_star = _newton(a.reshape(-1, d), y.reshape(-1), reg)
    f_star = _np_value(a.reshape(-1, d), y.reshape(-1), reg, x_star)
    return LogisticRegression(
        x_star=to_jax(x_star),
        f_star=to_jax(f_star),
        L=to_jax(gram_max.max() / (4.0 * m) + reg),
        mu=to_jax(reg),
        features=to_jax(a),
        labels=to_jax(y),
        reg=to_jax(reg),
        batch_size=None if batch_size is None else int(batch_size),
    )


def logistic_regression(
    key: jax.Array,
    num_nodes: int,
    dim: int,
    samples_per_node: int,
    *,
    reg: float = 1e-2,
    heterogeneity: float = 0.0,
    batch_size: int | None = None,
) -> LogisticRegression:
    """Synthetic logistic regression from a noisy linear model.

    Node i draws features a ~ N(heterogeneity * s_i, I / d) and labels
    y = +1 with probability sigmoid(a^T w_i), else -1, where
    w_i = w + heterogeneity * v_i and w, s_i, v_i ~ N(0, I_d) (scaled so a^T w is
    O(1)). heterogeneity = 0 makes all shards i.i.d.; larger values move both
    each node's feature distribution and its true weights, so local minimizers differ.

    Args:
      key: a JAX PRNG key (seeds the float64 NumPy generator).
      num_nodes, dim, samples_per_node: n, d, m >= 1.
      reg: l2 coefficient > 0.
      heterogeneity: >= 0.
      batch_size: None, or minibatch size in [1, m].
    """
    n = check_positive_int("num_nodes", num_nodes)
    d = check_positive_int("dim", dim)
    m = check_positive_int("samples_per_node", samples_per_node)
    if not np.isfinite(heterogeneity) or heterogeneity < 0.0:
        raise ValueError(f"heterogeneity must be a finite number >= 0, got {heterogeneity!r}")
    rng = numpy_rng(key)
    w = rng.standard_normal(d) * 2.0  # (d,); |a^T w| ~ 2 leaves labels informative but noisy
    w_i = w + heterogeneity * rng.standard_normal((n, d))  # (n, d)
    shift = heterogeneity * rng.standard_normal((n, 1, d))  # (n, 1, d)
    a = shift + rng.standard_normal((n, m, d)) / np.sqrt(d)  # (n, m, d)
    p = _np_sigmoid(np.einsum("nmd,nd->nm", a, w_i))
    y = np.where(rng.uniform(size=(n, m)) < p, 1.0, -1.0)
    return logistic_regression_from_data(a, y, reg=reg, batch_size=batch_size)
