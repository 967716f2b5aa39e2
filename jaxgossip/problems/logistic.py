"""Regularized logistic regression: one labelled dataset shard per node.

f_i(x) = (1/m) sum_k log(1 + exp(-y_k a_k^T x)) + reg/2 ||x||^2, labels y in {-1, +1}.

The conjugate gradient grad f_i^*(v), which the dual methods (MSDA, the
continuized dual gossip) need, has no closed form: ``local_conjugate_grad``
solves grad f_i(x) = v by safeguarded Newton iterations (``_conjugate_newton``).
"""

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

    def local_conjugate_grad(self, y: jax.Array, node: jax.Array) -> jax.Array:
        """Gradient of the conjugate f_node^*: y (d,) -> argmax_x <y, x> - f_node(x) (d,).

        The x solving grad f_node(x) = y (grad f_node is onto R^d since reg > 0),
        by the damped Newton method of ``_conjugate_newton``. Cost: iterations x
        O(m d^2 + d^3) (the Hessian, its Cholesky solve, and O(m d) per line-search
        trial, usually one). Measured: 3-5 iterations from a cold start when
        kappa_i <= ~100, 1-2 near x* (where dual methods converge), up to ~60 for
        kappa_i ~ 1e6; |grad f_node(x) - y| reaches round-off (<= 1e-14 |y| in
        float64 for moderate kappa_i, ~1e-6 in float32). Always the full local
        function, whatever ``batch_size``; jit- and vmap-friendly (a vmap runs
        until its slowest element has converged). Not meant to be differentiated.
        """
        return _conjugate_newton(self.features[node], self.labels[node], self.reg, y, self.x_star)

    def value(self, x: jax.Array) -> jax.Array:
        """f(x): (d,) -> (), over all n * m samples (equal m makes it the mean)."""
        a = self.features.reshape(-1, self.dim)
        return _value(a, self.labels.reshape(-1), self.reg, x)

    exact_suboptimality: ClassVar[bool] = True

    def suboptimality(self, x: jax.Array) -> jax.Array:
        """f(x) - f*: (d,) -> (), as the Bregman divergence of f from x*.

        With z*_k = y_k a_k^T x*, dz_k = y_k a_k^T (x - x*) and e = x - x*,
        f(x) - f* = mean_k [l(z*_k + dz_k) - l(z*_k) - l'(z*_k) dz_k] + reg/2 |e|^2
        (the first-order terms sum to grad f(x*)^T e = 0). Every term is >= 0
        and computed without cancellation (``_loss_change``), so small gaps stay
        accurate in float32 where f(x) - f* rounds to 0 or 6e-8.
        """
        a, y, z_star, s_star = self._margins_at_optimum()
        e = x - self.x_star
        loss_change = _mean_loss_change(z_star, s_star, y * (a @ e))
        return loss_change + 0.5 * self.reg * (e @ e)

    def suboptimalities(self, xs: jax.Array) -> jax.Array:
        """f - f* at each row of xs: (k, d) -> (k,), as ``suboptimality`` (to round-off).

        One matrix product for all rows, and one test for the far branch of the
        loss change (``_mean_loss_change``), which a vmap would turn into a select:
        at n = 256, m = 20, d = 16 a per-node record took 3.2 ms, 12.2 ms vmapped.
        """
        a, y, z_star, s_star = self._margins_at_optimum()
        e = xs - self.x_star  # (k, d)
        loss_change = _mean_loss_change(z_star, s_star, y * (e @ a.T))
        return loss_change + 0.5 * self.reg * jnp.sum(e * e, axis=-1)

    def _margins_at_optimum(self):
        """All samples' rows a (N, d) and labels y (N,), their margins z* = y a^T x*
        and sigmoid(-z*) (N,): what both suboptimality forms start from."""
        a, y = self.features.reshape(-1, self.dim), self.labels.reshape(-1)
        z_star = y * (a @ self.x_star)
        return a, y, z_star, jax.nn.sigmoid(-z_star)


def _value(a: jax.Array, y: jax.Array, reg: jax.Array, x: jax.Array) -> jax.Array:
    """Mean logistic loss of rows a (k, d), labels y (k,), plus the l2 term."""
    return jnp.mean(jnp.logaddexp(0.0, -y * (a @ x))) + 0.5 * reg * (x @ x)


# Backtracking of _conjugate_newton: t = 4^-k down to 4^-11, which covers local
# condition numbers up to ~4e6 (the Armijo test passes for t <= 1 / kappa_i, below).
_MIN_STEP = 0.25**11
_MAX_NEWTON_ITERATIONS = 100


def _conjugate_newton(
    a: jax.Array, y: jax.Array, reg: jax.Array, v: jax.Array, guess: jax.Array
) -> jax.Array:
    """argmin_x phi(x) = f(x) - <v, x> for f the l2-logistic loss of a (m, d), y (m,): (d,).

    Damped Newton. phi is reg-strongly convex, (Lambda + reg)-smooth (Lambda =
    |a|_2^2 / (4m)) with a Lipschitz Hessian, so Newton's method with a backtracking
    line search on phi converges from any start, linearly at first and
    quadratically near the solution (Boyd & Vandenberghe, Convex Optimization,
    9.5.3). Along the Newton step p, phi(x - t p) <= phi(x) - t lambda^2 +
    t^2 kappa_i lambda^2 / 2 (lambda^2 = g^T p >= reg |p|^2, kappa_i = (Lambda +
    reg) / reg), so the Armijo test phi(x - t p) <= phi(x) - t lambda^2 / 4 holds
    for all t <= 1 / kappa_i and backtracking from t = 1 by 4 stops at some
    t >= 1 / (4 kappa_i): phi falls at every step (no divergence, the iterates
    stay in phi's level set of the start), and near the solution the full step
    t = 1 passes. phi's change is evaluated in a cancellation-free
    form (``_loss_change``) that resolves decreases far below the round-off of
    phi itself, so the quadratic phase runs until grad phi reaches its own.

    Start: of 0, (v - grad loss(0)) / reg (the solution when every sample is
    saturated: large |v|) and ``guess`` (d,) (the problem's x*, the solution at
    v = grad f_i(x*), which the dual methods approach), the one of least |grad phi|.
    Stop: |grad phi| <= eps s, s = |v| + mean_k |a_k| + (reg + mean_k
    l''_k |a_k|^2) |x| the size of grad phi's round-off (its terms, and the
    gradient's change over one ulp of x); no step decreases phi; once
    |grad phi| <= eps^(3/4) s, deep in the quadratic phase, a step that fails to
    decrease |grad phi| (round-off reached); or ``_MAX_NEWTON_ITERATIONS``.
    """
    m, d = a.shape
    dtype = jnp.result_type(a, v)
    eps = jnp.finfo(dtype).eps
    row_norms2 = jnp.sum(a * a, axis=1)  # (m,)
    base_scale = jnp.linalg.norm(v) + jnp.mean(jnp.sqrt(row_norms2))  # |v| + max |grad loss|

    def grad_phi(xs):  # xs (k, d) -> grad phi (k, d), margins z (k, m), sigmoid(-z) (k, m)
        z = (xs @ a.T) * y
        s = jax.nn.sigmoid(-z)  # -l'(z)
        return (-y * s) @ a / m + reg * xs - v, z, s

    def scale(x, s):  # the size of grad phi's round-off at x
        curvature = jnp.mean(s * (1.0 - s) * row_norms2)  # trace of the loss's Hessian
        return base_scale + (reg + curvature) * jnp.linalg.norm(x)

    def newton_step(carry):
        x, g, z, s, iteration, _ = carry
        hessian = (a.T * (s * (1.0 - s))) @ a / m + reg * jnp.eye(d, dtype=dtype)
        p = jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(hessian), g)
        decrement, dz = g @ p, -y * (a @ p)  # lambda^2, margin change per unit step (m,)

        def change(t):  # phi(x - t p) - phi(x): first-order term, then the exact rest
            return (
                -t * decrement + 0.5 * reg * t * t * (p @ p) + jnp.mean(_loss_change(z, s, t * dz))
            )

        def armijo_fails(c):
            t, delta = c
            return (delta > -0.25 * t * decrement) & (t > _MIN_STEP)

        def backtrack(c):  # t = 4 stands for "not tried yet": the first trial is t = 1
            return 0.25 * c[0], change(0.25 * c[0])

        start = (jnp.asarray(4.0, dtype), jnp.asarray(jnp.inf, dtype))
        t, delta = jax.lax.while_loop(armijo_fails, backtrack, start)
        (g_new,), (z_new,), (s_new,) = grad_phi((x - t * p)[None])
        tail = jnp.linalg.norm(g) <= eps**0.75 * scale(x, s)
        moved = (delta < 0.0) & (~tail | (g_new @ g_new < g @ g))
        new = (x - t * p, g_new, z_new, s_new)
        x, g, z, s = (jnp.where(moved, n, o) for n, o in zip(new, (x, g, z, s)))
        done = ~moved | (jnp.linalg.norm(g) <= eps * scale(x, s))
        return x, g, z, s, iteration + 1, done

    g0, _, _ = grad_phi(jnp.zeros((1, d), dtype))
    starts = jnp.stack([jnp.zeros(d, dtype), -g0[0] / reg, guess.astype(dtype)])  # (3, d)
    gs, zs, ss = grad_phi(starts)
    k = jnp.argmin(jnp.sum(gs * gs, axis=1))
    done = jnp.linalg.norm(gs[k]) <= eps * scale(starts[k], ss[k])
    carry = (starts[k], gs[k], zs[k], ss[k], 0, done)
    not_done = lambda c: (c[4] < _MAX_NEWTON_ITERATIONS) & ~c[5]  # noqa: E731
    return jax.lax.while_loop(not_done, newton_step, carry)[0]


def _loss_change(z: jax.Array, s: jax.Array, dz: jax.Array) -> jax.Array:
    """l(z + dz) - l(z) - l'(z) dz for l(z) = log(1 + e^-z), s = sigmoid(-z): all (m,).

    For |dz| <= 1, l(z + dz) - l(z) = log1p(s expm1(-dz)) has no cancellation;
    beyond, the plain difference is as accurate as the change itself.
    """
    far = jnp.logaddexp(0.0, -(z + dz)) - jnp.logaddexp(0.0, -z)
    return jnp.where(jnp.abs(dz) <= 1.0, _near_loss_change(s, dz), far) + s * dz


def _near_loss_change(s: jax.Array, dz: jax.Array) -> jax.Array:
    """l(z + dz) - l(z) = log1p(s expm1(-dz)), exact for |dz| <= 1 (dz clipped there)."""
    return jnp.log1p(s * jnp.expm1(-jnp.clip(dz, -1.0, 1.0)))


def _mean_loss_change(z: jax.Array, s: jax.Array, dz: jax.Array) -> jax.Array:
    """The mean of ``_loss_change`` over dz's last axis, skipping its far branch
    when no |dz| exceeds 1.

    The far branch's two softplus are most of its cost (n = 256, m = 20, d = 16:
    a record took 33 us with it, 14 us without), and near convergence, where
    runs record most, no sample needs it. Under vmap both branches run (a select).
    """

    def near(z, s, dz):
        return jnp.mean(_near_loss_change(s, dz) + s * dz, axis=-1)

    def near_or_far(z, s, dz):
        return jnp.mean(_loss_change(z, s, dz), axis=-1)

    return jax.lax.cond(jnp.all(jnp.abs(dz) <= 1.0), near, near_or_far, z, s, dz)


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
