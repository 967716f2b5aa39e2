"""MSDA: the multi-step dual accelerated method, with Chebyshev-accelerated gossip.

K. Scaman, F. Bach, S. Bubeck, Y. T. Lee, L. Massoulie, "Optimal algorithms for
smooth and strongly convex distributed optimization in networks", ICML 2017,
Algorithm 2 (MSDA) and its ACCELERATED_GOSSIP procedure. The paper's gossip
matrix is a Laplacian-like W_p (symmetric, positive semidefinite, kernel the
constant vectors); here W_p = I - W for the engine's doubly stochastic mixing W,
so lambda_1(W_p) = ``mixing.lambda_max`` and the eigengap is
gamma = lambda_2 / lambda_max. With K = floor(1 / sqrt(gamma)),
c1 = (1 - sqrt(gamma)) / (1 + sqrt(gamma)), c2 = (1 + gamma) / (1 - gamma),
c3 = 2 / ((1 + gamma) lambda_1) and x_0 = y_0 = 0, iteration t is

    theta_t   = grad f_i^*(x_{i,t})                       (one dual gradient per node)
    y_{t+1}   = x_t - eta * ACCELERATED_GOSSIP(theta_t)
    x_{t+1}   = (1 + mu) y_{t+1} - mu y_t,

ACCELERATED_GOSSIP(theta) = theta - T_K(c2 (I - c3 W_p)) theta / T_K(c2), T_K the
Chebyshev polynomial (K gossip steps), with step and momentum

    eta = alpha (1 + c1^{2K}) / (1 + c1^K)^2,
    mu  = ((1 + c1^K) sqrt(kappa_l) - 1 + c1^K) / ((1 + c1^K) sqrt(kappa_l) + 1 - c1^K),

alpha the local strong convexity (``problem.mu``), kappa_l = L / alpha: Nesterov's
method on the dual problem, whose gossip operator has condition number
((1 + c1^K) / (1 - c1^K))^2 < 4 (c1^K < 1/3) instead of 1 / gamma. The time to reach
precision eps is O(sqrt(kappa_l) (1 + tau / sqrt(gamma)) log(1 / eps)) (the paper's
MSDA theorem, tau the time of one gossip step): O(sqrt(kappa_l) log(1/eps)) rounds,
each of K ~ 1 / sqrt(gamma) gossip steps. We could not open the paper's text while
writing this: the algorithm and constants were recalled and checked against an
independent public implementation (not copied); the tests check exact linear
convergence and the sqrt(kappa_l), 1 / sqrt(gamma) scalings.

The Chebyshev recursion is evaluated in an algebraically identical residual form
(``chebyshev_gossip``), so that its output, which vanishes on consensus, stays
accurate when theta is near consensus. The node's estimate is the paper's output
theta_t = grad f_i^*(x_{i,t}), the primal point of the round's dual gradient;
``x0`` is only the estimate reported before the first round (the dual starts at 0).

It needs the conjugate gradients grad f_i^*: the problem must provide
``local_conjugate_grad(y, node)`` (``Quadratic``, ``LeastSquares``,
``LogisticRegression``); a problem without it is rejected.

Exact: converges linearly to x*. Cost of a round: n dual gradient computations,
K |E| communications (one d-vector both ways per edge and gossip step:
message_floats = 2 d).
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxgossip.algorithms.base import Oracle, SyncAlgorithm, hyperparameter, round_cost
from jaxgossip.network.mixing import Mixing


class ChebyshevConstants(NamedTuple):
    """The constants of Chebyshev-accelerated gossip for a mixing (NumPy floats)."""

    num_steps: int  # K, gossip steps per application
    c1: float  # (1 - sqrt(gamma)) / (1 + sqrt(gamma))
    c2: float  # (1 + gamma) / (1 - gamma)
    c3: float  # 2 / ((1 + gamma) lambda_max)
    lambda_min: float  # lower bound of the nonzero spectrum of the accelerated operator
    lambda_max: float  # upper bound of its spectrum


def chebyshev_constants(mixing: Mixing, num_steps: int | None = None) -> ChebyshevConstants:
    """Scaman et al. (2017)'s constants for W_p = I - W (set-up, NumPy float64).

    Args:
      mixing: the gossip matrix W (its eigenvalues lambda_2, lambda_max of I - W).
      num_steps: K; None gives the paper's floor(1 / sqrt(gamma)).

    The accelerated operator I - T_K(c2 (I - c3 W_p)) / T_K(c2) has its nonzero
    eigenvalues in [(1 - c1^K)^2, (1 + c1^K)^2] / (1 + c1^{2K}).
    """
    lambda_2, lambda_max = float(mixing.lambda_2), float(mixing.lambda_max)
    gamma = lambda_2 / lambda_max
    if num_steps is None:
        num_steps = max(1, int(np.floor(1.0 / np.sqrt(gamma))))
    if isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer)):
        raise TypeError(f"num_gossip_steps must be an int >= 1, got {num_steps!r}")
    if num_steps < 1:
        raise ValueError(f"num_gossip_steps must be >= 1, got {num_steps}")
    c1 = (1.0 - np.sqrt(gamma)) / (1.0 + np.sqrt(gamma))
    # gamma = 1 (a complete graph) makes c2 infinite; any large c2 gives the same operator.
    c2 = (1.0 + gamma) / max(1.0 - gamma, 1e-12)
    c3 = 2.0 / ((1.0 + gamma) * lambda_max)
    ck = c1**num_steps
    return ChebyshevConstants(
        num_steps=int(num_steps),
        c1=float(c1),
        c2=float(c2),
        c3=float(c3),
        lambda_min=float((1.0 - ck) ** 2 / (1.0 + ck**2)),
        lambda_max=float((1.0 + ck) ** 2 / (1.0 + ck**2)),
    )


def chebyshev_coefficients(mixing: Mixing) -> tuple[jax.Array, jax.Array]:
    """(c2, c3) for W_p = I - W, from the mixing's eigenvalue leaves (traceable).

    Computed from ``mixing`` at run time, not stored in the algorithm: they are
    properties of the gossip matrix, so a run on another mixing (or a vmap over
    mixings of one graph) uses its own, and scaling an algorithm's
    hyperparameters never distorts the polynomial.
    """
    gamma = mixing.lambda_2 / mixing.lambda_max
    # gamma = 1 (a complete graph) makes c2 infinite; any large c2 gives the same operator.
    c2 = (1.0 + gamma) / jnp.maximum(1.0 - gamma, 1e-12)
    c3 = 2.0 / ((1.0 + gamma) * mixing.lambda_max)
    return c2, c3


def chebyshev_gossip(mixing: Mixing, xs: jax.Array, num_steps: int) -> jax.Array:
    """(I - T_K(c2 (I - c3 W_p)) / T_K(c2)) @ xs with W_p = I - W: (n, d) -> (n, d).

    K = ``num_steps`` (static) applications of W_p, i.e. K gossip steps; c2, c3
    from ``chebyshev_coefficients(mixing)``. The paper's recursion
    a_{k+1} = 2 c2 a_k - a_{k-1}, x_{k+1} = 2 c2 (I - c3 W_p) x_k - x_{k-1}
    (a_0 = 1, a_1 = c2, x_0 = xs, x_1 = c2 (I - c3 W_p) xs), output xs - x_K / a_K,
    is run on u_k = (x_k - a_k xs) / a_k, which is built from W_p xs alone and so
    is exact on consensus; b_k = a_k / a_{k+1} keeps every quantity O(|xs|)
    whatever K.
    """
    c2, c3 = chebyshev_coefficients(mixing)
    lap_x = mixing.laplacian_apply(xs)  # W_p xs
    u_prev = jnp.zeros_like(xs)  # u_0
    u = -c3 * lap_x  # u_1 = (x_1 - a_1 xs) / a_1
    b_prev = (1.0 / c2).astype(xs.dtype)  # b_0 = a_0 / a_1

    def step(_, carry):
        u_prev, u, b_prev = carry
        b = 1.0 / (2.0 * c2 - b_prev)  # a_k / a_{k+1}
        u_next = 2.0 * c2 * b * (u - c3 * (mixing.laplacian_apply(u) + lap_x)) - (
            b_prev * b * u_prev
        )
        return u, u_next, b

    _, u, _ = jax.lax.fori_loop(1, num_steps, step, (u_prev, u, b_prev))
    return -u


def check_conjugate(problem, name: str) -> None:
    """Raise unless ``problem`` provides ``local_conjugate_grad(y, node)``."""
    if not callable(getattr(problem, "local_conjugate_grad", None)):
        raise TypeError(
            f"{name} needs the conjugate gradients grad f_i^* of the local functions, but "
            f"{type(problem).__name__} has no `local_conjugate_grad(y, node)`. Use a "
            "Quadratic, LeastSquares or LogisticRegression problem, or a primal method "
            "(OPAPC, ADOM+)."
        )


class MSDAState(NamedTuple):
    """The network state after round t."""

    x: jax.Array  # (n, d) dual iterate x_{t+1}, rows sum to zero
    y: jax.Array  # (n, d) dual iterate y_{t+1}
    theta: jax.Array  # (n, d) primal estimate theta_t = grad f^*(x_t) (x0 before round 1)


class MSDA(SyncAlgorithm):
    """Multi-step dual accelerated method (Scaman et al., 2017, Algorithm 2).

    Args:
      step_size: eta, the dual gradient step.
      momentum: mu, Nesterov's momentum on the dual.
      num_gossip_steps: K, gossip steps per round (static); the Chebyshev
        constants c2, c3 come from the mixing (``chebyshev_coefficients``).
    """

    step_size: jax.Array = eqx.field(converter=hyperparameter)
    momentum: jax.Array = eqx.field(converter=hyperparameter)
    num_gossip_steps: int = eqx.field(static=True, default=1)

    exact: ClassVar[bool] = True

    @classmethod
    def from_theory(cls, problem, mixing: Mixing, num_gossip_steps: int | None = None) -> MSDA:
        """The paper's eta, mu, c2, c3 and K (module docstring).

        Args:
          problem: provides L, mu and ``local_conjugate_grad``.
          mixing: the gossip matrix.
          num_gossip_steps: K; None gives floor(1 / sqrt(gamma)) (K = 1 is SSDA's
            single gossip step with the same constants).
        """
        check_conjugate(problem, cls.__name__)
        cheb = chebyshev_constants(mixing, num_gossip_steps)
        alpha, kappa = float(problem.mu), float(problem.L) / float(problem.mu)
        ck = cheb.c1**cheb.num_steps
        sqrt_kappa = np.sqrt(kappa)
        return cls(
            step_size=alpha * (1.0 + ck**2) / (1.0 + ck) ** 2,
            momentum=((1.0 + ck) * sqrt_kappa - 1.0 + ck) / ((1.0 + ck) * sqrt_kappa + 1.0 - ck),
            num_gossip_steps=cheb.num_steps,
        )

    def init(self, xs0, oracle: Oracle, mixing: Mixing) -> MSDAState:
        del mixing
        check_conjugate(oracle.problem, type(self).__name__)
        zeros = jnp.zeros_like(xs0)
        return MSDAState(x=zeros, y=zeros, theta=xs0)

    def params(self, state: MSDAState) -> jax.Array:
        return state.theta

    def round(self, state: MSDAState, oracle: Oracle, mixing: Mixing):
        problem = oracle.problem
        nodes = jnp.arange(mixing.num_nodes)
        theta = jax.vmap(problem.local_conjugate_grad)(state.x, nodes)  # (n, d)
        gossip = chebyshev_gossip(mixing, theta, self.num_gossip_steps)
        y_new = state.x - self.step_size * gossip
        x_new = (1.0 + self.momentum) * y_new - self.momentum * state.y
        cost = round_cost(mixing.num_nodes, self.num_gossip_steps * mixing.num_links)
        return MSDAState(x=x_new, y=y_new, theta=theta), cost
