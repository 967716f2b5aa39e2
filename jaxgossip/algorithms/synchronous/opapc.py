"""OPAPC: optimal accelerated proximal alternating predictor-corrector (primal).

D. Kovalev, A. Salim, P. Richtarik, "Optimal and Practical Algorithms for Smooth
and Strongly Convex Decentralized Optimization", NeurIPS 2020: Algorithm 1
(APAPC, an accelerated forward-backward method on the primal-dual optimality
conditions) run with the gossip matrix replaced by a Chebyshev polynomial of it
(Algorithm 2, OPAPC), which makes it optimal in both gradient computations,
O(sqrt(kappa) log(1/eps)), and communication rounds,
O(sqrt(kappa chi) log(1/eps)), chi = lambda_max / lambda_2 of the gossip matrix.
It only needs primal gradients.

The paper's gossip matrix is Laplacian-like (W_p = I - W for the engine's mixing
W); OPAPC uses P = I - T_K(c2 (I - c3 W_p)) / T_K(c2), the accelerated gossip of
Scaman et al. (2017) (``msda.chebyshev_gossip``; K = floor(sqrt(chi)) gossip
steps, c1, c2, c3 as there), whose spectrum on the non-consensus vectors lies in
[(1 - c1^K)^2, (1 + c1^K)^2] / (1 + c1^{2K}), so chi_P = ((1 + c1^K) / (1 - c1^K))^2.
With x_f^0 = x^0 and the dual y^0 = 0 (in the range of P), iteration k is

    x_g       = tau x^k + (1 - tau) x_f^k
    x^{k+1/2} = (x^k - eta (grad F(x_g) - alpha x_g + y^k)) / (1 + eta alpha)
    y^{k+1}   = y^k + theta P x^{k+1/2}
    x^{k+1}   = (x^k - eta (grad F(x_g) - alpha x_g + y^{k+1})) / (1 + eta alpha)
    x_f^{k+1} = x_g + 2 tau / (2 - tau) (x^{k+1} - x^k),

with the constants of the paper's main theorem: alpha = mu, tau =
min(1, sqrt(chi_P / kappa) / 2), eta = 1 / (4 tau L), theta = 1 / (eta lambda_max(P))
(the upper bound above for lambda_max(P)). We could not open the paper's text
while writing this; the iteration and constants were recalled and checked
against an independent public implementation (not copied), and the tests check
exact linear convergence and the sqrt(kappa), 1 / sqrt(gap) scalings.

Nodes report x^k. Exact: converges linearly to x*. Cost of a round: n gradient
computations (at x_g), K |E| communications (message_floats = 2 d).
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import equinox as eqx
import jax
import numpy as np

from jaxgossip.algorithms.base import Oracle, SyncAlgorithm, hyperparameter, round_cost
from jaxgossip.algorithms.ops import chebyshev_constants, chebyshev_gossip
from jaxgossip.network.mixing import Mixing


class OPAPCState(NamedTuple):
    """The network state after round k."""

    x: jax.Array  # (n, d) x^{k+1}, the reported iterate
    x_f: jax.Array  # (n, d) x_f^{k+1}
    y: jax.Array  # (n, d) dual y^{k+1}, in the range of P (rows sum to zero)


class OPAPC(SyncAlgorithm):
    """APAPC with Chebyshev-accelerated gossip (Kovalev, Salim, Richtarik, 2020).

    Args:
      tau: momentum coupling tau in (0, 1].
      step_size: eta, the primal step.
      dual_step: theta, the dual step.
      alpha: the strong convexity moved into the proximal step (mu).
      num_gossip_steps: K, gossip steps per round (static); K = 1 is APAPC
        with the gossip matrix c3 W_p. The Chebyshev constants c2, c3 come
        from the mixing (``msda.chebyshev_coefficients``).
    """

    tau: jax.Array = eqx.field(converter=hyperparameter)
    step_size: jax.Array = eqx.field(converter=hyperparameter)
    dual_step: jax.Array = eqx.field(converter=hyperparameter)
    alpha: jax.Array = eqx.field(converter=hyperparameter)
    num_gossip_steps: int = eqx.field(static=True, default=1)

    exact: ClassVar[bool] = True

    @classmethod
    def from_theory(cls, problem, mixing: Mixing, num_gossip_steps: int | None = None) -> OPAPC:
        """The paper's constants (module docstring).

        Args:
          problem: gives L and mu.
          mixing: the gossip matrix.
          num_gossip_steps: K; None gives floor(sqrt(chi)).
        """
        cheb = chebyshev_constants(mixing, num_gossip_steps)
        smoothness, mu = float(problem.L), float(problem.mu)
        chi = cheb.lambda_max / cheb.lambda_min
        tau = min(1.0, 0.5 * np.sqrt(chi * mu / smoothness))
        eta = 1.0 / (4.0 * tau * smoothness)
        return cls(
            tau=tau,
            step_size=eta,
            dual_step=1.0 / (eta * cheb.lambda_max),
            alpha=mu,
            num_gossip_steps=cheb.num_steps,
        )

    def init(self, xs0, oracle: Oracle, mixing: Mixing) -> OPAPCState:
        del oracle, mixing
        return OPAPCState(x=xs0, x_f=xs0, y=jax.numpy.zeros_like(xs0))

    def params(self, state: OPAPCState) -> jax.Array:
        return state.x

    def round(self, state: OPAPCState, oracle: Oracle, mixing: Mixing):
        tau, eta, alpha = self.tau, self.step_size, self.alpha
        x, x_f, y = state
        x_g = tau * x + (1.0 - tau) * x_f
        forward = oracle.grads(x_g) - alpha * x_g  # (n, d) grad F(x_g) - alpha x_g
        shrink = 1.0 / (1.0 + eta * alpha)
        x_half = shrink * (x - eta * (forward + y))
        y_new = y + self.dual_step * chebyshev_gossip(mixing, x_half, self.num_gossip_steps)
        x_new = shrink * (x - eta * (forward + y_new))
        x_f_new = x_g + (2.0 * tau / (2.0 - tau)) * (x_new - x)
        cost = round_cost(mixing.num_nodes, self.num_gossip_steps * mixing.num_links)
        return OPAPCState(x=x_new, x_f=x_f_new, y=y_new), cost
