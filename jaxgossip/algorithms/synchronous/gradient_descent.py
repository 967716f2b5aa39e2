"""Centralized gradient descent, the unaccelerated reference.

One worker holds all n local functions and runs full-gradient descent on
f = (1/n) sum_i f_i with the constant step 1/L (Y. Nesterov, "Introductory
Lectures on Convex Optimization: A Basic Course", Kluwer, 2004, Section 2.1.5,
the gradient method; its Theorem 2.1.15 gives, for an L-smooth, mu-strongly
convex f and a step 0 < h <= 2 / (mu + L), ||x_k - x*||^2 <=
(1 - 2 h mu L / (mu + L))^k ||x_0 - x*||^2, so 1 - 2 mu / (L + mu) per step at
h = 1/L):

    x_{k+1} = x_k - (1/L) grad f(x_k).

A round is one step; its full gradient is n component gradients, so n
computations, and no communication. Gradient descent needs O(kappa log(1/eps))
rounds, kappa = L / mu: the yardstick for acceleration.

L here is the smoothness of the average f, computed exactly when the problem
carries its Hessian (``centralized.average_constants``), else the problem's
``L = max_i L_i``, which bounds it (L_f <= max_i L_i) and gives a smaller,
still convergent, step.
"""

from __future__ import annotations

import equinox as eqx
import jax

from jaxgossip.algorithms.base import hyperparameter, round_cost
from jaxgossip.algorithms.synchronous import centralized


class GradientDescentState(eqx.Module):
    """The worker's state."""

    x: jax.Array  # (d,) the iterate
    num_nodes: int = eqx.field(static=True)  # n, for the broadcast of ``params``


class GradientDescent(centralized.CentralizedAlgorithm):
    """Full-gradient descent on f by one worker holding every f_i.

    Args:
      step_size: the step h (an array leaf, so it can be vmapped); 1/L_f by theory.
    """

    step_size: jax.Array = eqx.field(converter=hyperparameter)

    @classmethod
    def from_constants(cls, problem, smoothness, strong_convexity) -> GradientDescent:
        """step_size = 1 / L_f."""
        del problem, strong_convexity
        return cls(step_size=1.0 / smoothness)

    def init(self, xs0, oracle, mixing) -> GradientDescentState:
        del oracle, mixing
        return GradientDescentState(x=centralized.start_point(xs0), num_nodes=xs0.shape[0])

    def round(self, state: GradientDescentState, oracle, mixing):
        del mixing
        x = state.x - self.step_size * oracle.full_grad(state.x)
        cost = round_cost(state.num_nodes, 0)
        return GradientDescentState(x=x, num_nodes=state.num_nodes), cost
