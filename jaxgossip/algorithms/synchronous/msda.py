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
from jaxgossip.algorithms.ops import chebyshev_constants, chebyshev_gossip
from jaxgossip.network.mixing import Mixing


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
    honours_batch_size: ClassVar[bool] = False  # it evaluates exact conjugate gradients

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
