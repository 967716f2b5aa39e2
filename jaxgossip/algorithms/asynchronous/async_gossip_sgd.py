"""Asynchronous gossip SGD: local gradient steps interleaved with pairwise averaging.

The asynchronous decentralized SGD baseline: X. Lian, W. Zhang, C. Zhang,
J. Liu, "Asynchronous Decentralized Parallel Stochastic Gradient Descent",
ICML 2018 (AD-PSGD), with the gradient applied at the moment it is computed
(no staleness; the stale variant is a separate algorithm). A compute event at
node i takes x_i <- x_i - step_size * g_i(x_i); a communication event on
(i, j) sets x_i, x_j <- (x_i + x_j) / 2.

With a constant step size it converges to a neighbourhood of x* whose size
shrinks with the step size and grows with the heterogeneity of the f_i.
"""

from __future__ import annotations

import equinox as eqx
import jax

from jaxgossip.algorithms.base import Algorithm, hyperparameter
from jaxgossip.algorithms.ops import pairwise_average


class AsyncGossipSGD(Algorithm):
    """Asynchronous D-SGD / AD-PSGD without staleness.

    Args:
      step_size: the gradient step gamma (an array leaf, so it can be vmapped).
    """

    step_size: jax.Array = eqx.field(converter=hyperparameter)

    @classmethod
    def from_theory(cls, problem, clocks) -> AsyncGossipSGD:
        """step_size = 1 / (2 L): a documented default inside the stable range
        (step_size < 2 / L keeps each local step a contraction); the error floor
        shrinks with the step size, so smaller steps trade speed for accuracy."""
        del clocks
        return cls(step_size=0.5 / problem.L)

    def on_compute(self, node, t, grad):
        del t
        return node - self.step_size * grad(node)

    def on_communicate(self, node_i, node_j, t, edge):
        del t, edge
        return pairwise_average(node_i, node_j)
