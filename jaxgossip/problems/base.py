"""The abstract decentralized problem: f(x) = (1/n) sum_i f_i(x), one f_i per node.

Every problem carries its minimizer, optimal value and the constants that theory
needs (L, mu) as array leaves, and its data as leaves with a leading node axis
(n, ...). The engine only ever asks a problem for one node's value or gradient,
so ``local_value`` / ``local_grad`` gather that node's rows and nothing else:
their cost does not grow with n.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np


class Problem(eqx.Module):
    """An n-sum of L-smooth, mu-strongly convex local functions.

    Attributes:
      x_star: (d,) minimizer of f = mean_i f_i (solved in float64 NumPy, then cast).
      f_star: () f(x_star).
      L: () smoothness constant, max_i of the local L_i.
      mu: () strong-convexity constant, min_i of the local mu_i.
    """

    x_star: jax.Array  # (d,)
    f_star: jax.Array  # ()
    L: jax.Array  # ()
    mu: jax.Array  # ()

    # True when ``suboptimality`` computes f(x) - f* without subtracting f*
    # (see ``suboptimality_floor``); a subclass that overrides it so sets it.
    exact_suboptimality: ClassVar[bool] = False
    # A convex problem carries x*, f*, L and mu; a learning problem
    # (``jaxgossip.problems.supervised``) does not, and says so here.
    convex: ClassVar[bool] = True
    # What ``record`` returns, and whether lower ("min") or higher ("max") is better.
    metric_goals: ClassVar[dict[str, str]] = {
        "suboptimality": "min",
        "mean_suboptimality": "min",
    }
    # The metrics that ``record(xs, per_node=False)`` leaves NaN (they cost n evaluations).
    per_node_metrics: ClassVar[tuple[str, ...]] = ("mean_suboptimality",)

    @property
    @abc.abstractmethod
    def num_nodes(self) -> int:
        """n, the number of local functions (static, read from shapes)."""

    @property
    def dim(self) -> int:
        """d, the dimension of x (static, read from shapes)."""
        return self.x_star.shape[-1]

    @property
    def dtype(self) -> np.dtype:
        """The float dtype of the problem's data and of the iterates run on it."""
        return self.x_star.dtype

    def start_points(self) -> jax.Array:
        """(n, d) the initial points of a run not given x0: zeros."""
        return jnp.zeros((self.num_nodes, self.dim), self.dtype)

    def record(self, xs: jax.Array, per_node: bool = True) -> dict[str, jax.Array]:
        """One record's metrics of the iterates xs (n, d), named as in ``metric_goals``.

        f(x_bar) - f* at the network average, and the mean over nodes of
        f(x_i) - f* (NaN when ``per_node`` is False: it costs n evaluations of f).
        """
        x_bar = jnp.mean(xs, axis=0)
        if per_node:
            mean_suboptimality = jnp.mean(self.suboptimalities(xs))
        else:
            mean_suboptimality = jnp.full((), jnp.nan, x_bar.dtype)
        return dict(suboptimality=self.suboptimality(x_bar), mean_suboptimality=mean_suboptimality)

    @property
    def kappa(self) -> jax.Array:
        """() the local condition number L / mu = max_i L_i / min_i mu_i.

        This is what decentralized theory's rates use (each node sees its own
        f_i). It bounds, but can be far above, ``condition_number()``, that of
        the average f: random per-node eigenbases average out.
        """
        return self.L / self.mu

    def hessian_at_optimum(self) -> np.ndarray:
        """(d, d) float64 Hessian of f at x* (by automatic differentiation here;
        problems with a closed form override it). O(d) gradient evaluations."""
        return np.asarray(jax.hessian(self.value)(self.x_star), np.float64)

    def condition_number(self) -> float:
        """The condition number of the average f at x*: lambda_max / lambda_min
        of its Hessian there (for quadratics, of f everywhere). Compare ``kappa``."""
        eigenvalues = np.linalg.eigvalsh(self.hessian_at_optimum())
        return float(eigenvalues[-1] / eigenvalues[0])

    @abc.abstractmethod
    def local_value(self, x: jax.Array, node: jax.Array) -> jax.Array:
        """f_node(x): x (d,), node an int32 scalar (may be traced) -> ()."""

    @abc.abstractmethod
    def local_grad(self, key: jax.Array, x: jax.Array, node: jax.Array) -> jax.Array:
        """Gradient of f_node at x (d,) -> (d,); stochastic if the problem samples."""

    def value(self, x: jax.Array) -> jax.Array:
        """f(x) = mean_i f_i(x): x (d,) -> ()."""
        nodes = jnp.arange(self.num_nodes)
        return jnp.mean(jax.vmap(self.local_value, in_axes=(None, 0))(x, nodes))

    def values(self, xs: jax.Array) -> jax.Array:
        """f at each row of xs: (k, d) -> (k,)."""
        return jax.vmap(self.value)(xs)

    def grad(self, x: jax.Array) -> jax.Array:
        """Exact gradient of the global f: x (d,) -> (d,)."""
        return jax.grad(self.value)(x)

    def suboptimality(self, x: jax.Array) -> jax.Array:
        """f(x) - f*: (d,) -> (), what the engines record.

        This default subtracts f* from f(x) and so cannot resolve gaps below the
        float resolution of f* (about 1e-7 |f*| in float32). The bundled problems
        override it with a form free of that cancellation (a Bregman divergence
        from x*), accurate until x is within rounding of x* itself.
        """
        return self.value(x) - self.f_star

    def suboptimality_floor(self) -> float:
        """The smallest f - f* that ``suboptimality`` resolves in this problem's dtype.

        Where ``suboptimality`` is the default f(x) - f*, that is the float
        spacing at f*, eps_machine |f*|. A problem whose ``suboptimality`` is
        free of that cancellation (``exact_suboptimality``) resolves gaps down to
        those of points one rounding away from x*, about
        L (eps_machine max(|x*|, 1))^2. Targets at or below the floor cannot be
        told apart from 0 (``jaxgossip.study.analysis.check_precision``).
        """
        eps = float(np.finfo(self.x_star.dtype).eps)
        if not self.exact_suboptimality:
            return eps * max(abs(float(self.f_star)), float(np.finfo(self.x_star.dtype).tiny))
        scale = max(float(np.linalg.norm(np.asarray(self.x_star, np.float64))), 1.0)
        return float(self.L) * (eps * scale) ** 2

    def suboptimalities(self, xs: jax.Array) -> jax.Array:
        """f - f* at each row of xs: (k, d) -> (k,)."""
        return jax.vmap(self.suboptimality)(xs)


class SampledProblem(Problem):
    """A problem whose local functions are averages over m samples per node.

    Subclasses set ``batch_size``: None for the full local gradient, or b in
    [1, m] for a minibatch gradient over b indices drawn uniformly *with*
    replacement (``jax.random.randint``: O(b) per draw, where sampling without
    replacement would permute all m indices on every event). The estimator is
    unbiased; b == m is special-cased to the exact full gradient so that
    full-batch runs carry no sampling noise.
    """

    @property
    @abc.abstractmethod
    def num_samples(self) -> int:
        """m, the number of samples held by each node."""

    def with_batch_size(self, batch_size: int | None):
        """A copy using minibatches of ``batch_size`` (None: full local gradients)."""
        check_batch_size(batch_size, self.num_samples)
        return dataclasses.replace(self, batch_size=batch_size)

    def _sample(self, key: jax.Array) -> jax.Array | None:
        """(b,) int32 sample indices, or None when the full gradient is used."""
        b = self.batch_size  # pyright: ignore[reportAttributeAccessIssue]
        if b is None or b == self.num_samples:
            return None
        return jax.random.randint(key, (b,), 0, self.num_samples)


# --- helpers shared by the constructors -------------------------------------------


def float_dtype() -> np.dtype:
    """float32 by default, float64 when jax_enable_x64 is on."""
    return jax.dtypes.canonicalize_dtype(np.float64)


def to_jax(x) -> jax.Array:
    """Cast float64 NumPy data to a JAX array of the default float dtype."""
    return jnp.asarray(np.asarray(x, dtype=np.float64), dtype=float_dtype())


def numpy_rng(key: jax.Array) -> np.random.Generator:
    """A NumPy generator seeded from a JAX key.

    Data are drawn in float64 NumPy so an instance is identical whether or not
    x64 is enabled, and x_star is exact for it; the key keeps it reproducible.
    """
    return np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel())


def check_positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def check_batch_size(batch_size, num_samples: int) -> None:
    if batch_size is None:
        return
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or not 1 <= batch_size <= num_samples
    ):
        raise ValueError(
            f"batch_size must be None or an integer in [1, {num_samples}] "
            f"(samples per node), got {batch_size!r}"
        )


def as_float64(name: str, x, ndim: int) -> np.ndarray:
    """Validate rank and finiteness, return a float64 NumPy copy."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must be non-empty, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values")
    return arr


def quadratic_gap(x: jax.Array, x_star, hessian) -> jax.Array:
    """f(x) - f* = 1/2 (x - x*)^T H (x - x*) for a quadratic f: (d,) -> (), O(d^2).

    Computed without f*, so it stays accurate in float32 far below |f*| * 1e-7.
    """
    e = x - x_star
    return 0.5 * e @ (hessian @ e)


def quadratic_value(x: jax.Array, x_star, f_star, hessian) -> jax.Array:
    """f(x) = f* + 1/2 (x - x*)^T H (x - x*) for a quadratic f: (d,) -> (), O(d^2).

    Exact for quadratics and, unlike 1/2 x^T H x - g^T x + c, free of
    cancellation near x*: suboptimality stays >= 0 and accurate in float32.
    """
    e = x - x_star
    return f_star + 0.5 * e @ (hessian @ e)
