"""Centralized Nesterov accelerated gradient, the accelerated full-gradient reference.

Y. Nesterov, "Introductory Lectures on Convex Optimization: A Basic Course",
Kluwer, 2004, constant step scheme III for strongly convex functions, (2.2.19):
from y_0 = x_0,

    x_{k+1} = y_k - (1/L) grad f(y_k),
    y_{k+1} = x_{k+1} + beta (x_{k+1} - x_k),    beta = (sqrt(L) - sqrt(mu)) / (sqrt(L) + sqrt(mu)),

which reaches f(x_k) - f* <= eps in O(sqrt(kappa) log(1/eps)) steps, kappa = L / mu
(the rate 1 - sqrt(mu / L) of Section 2.2.1): optimal among first-order
methods. We carry (x_k, x_{k-1}) and form y_k = x_k + beta (x_k - x_{k-1}) at
the start of each round, which is the same sequence (x_{-1} = x_0 gives y_0 = x_0).

A round is one step: one full gradient, n computations, no communication.
L and mu are those of the average f (``centralized.average_constants``): exact
for problems that carry their Hessian, else the bounds max_i L_i and min_i mu_i,
with which the scheme still converges (its analysis only needs f to be
L-smooth and mu-strongly convex).
"""

from __future__ import annotations

import equinox as eqx
import jax
import numpy as np

from jaxgossip.algorithms.base import hyperparameter, round_cost
from jaxgossip.algorithms.synchronous import centralized


class NesterovState(eqx.Module):
    """The worker's state."""

    x: jax.Array  # (d,) x_k, the iterate metrics are computed on
    x_prev: jax.Array  # (d,) x_{k-1} (x_0 at the start)
    num_nodes: int = eqx.field(static=True)  # n, for the broadcast of ``params``


class Nesterov(centralized.CentralizedAlgorithm):
    """Nesterov's constant-step accelerated gradient on f by one worker holding every f_i.

    Args:
      step_size: the step 1/L (array leaf).
      momentum: beta = (sqrt(kappa) - 1) / (sqrt(kappa) + 1) (array leaf).
    """

    step_size: jax.Array = eqx.field(converter=hyperparameter)
    momentum: jax.Array = eqx.field(converter=hyperparameter)

    @classmethod
    def from_constants(cls, problem, smoothness, strong_convexity) -> Nesterov:
        """step_size = 1 / L_f, momentum = (sqrt(kappa_f) - 1) / (sqrt(kappa_f) + 1)."""
        del problem
        root = np.sqrt(smoothness / strong_convexity)
        return cls(step_size=1.0 / smoothness, momentum=(root - 1.0) / (root + 1.0))

    def init(self, xs0, oracle, mixing) -> NesterovState:
        del oracle, mixing
        x0 = centralized.start_point(xs0)
        return NesterovState(x=x0, x_prev=x0, num_nodes=xs0.shape[0])

    def round(self, state: NesterovState, oracle, mixing):
        del mixing
        y = state.x + self.momentum * (state.x - state.x_prev)
        x = y - self.step_size * oracle.full_grad(y)
        cost = round_cost(state.num_nodes, 0)
        return NesterovState(x=x, x_prev=state.x, num_nodes=state.num_nodes), cost
