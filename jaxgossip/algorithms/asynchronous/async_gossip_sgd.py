"""Asynchronous gossip SGD: local gradient steps interleaved with pairwise averaging.

The asynchronous decentralized SGD baseline: X. Lian, W. Zhang, C. Zhang,
J. Liu, "Asynchronous Decentralized Parallel Stochastic Gradient Descent",
ICML 2018 (AD-PSGD), with the gradient applied at the moment it is computed
(no staleness; the stale variant is a separate algorithm). A compute event at
node i takes x_i <- x_i - step_size * g_i(x_i); a communication event on
(i, j) sets x_i, x_j <- (x_i + x_j) / 2.

With ``optimizer`` (an optax transformation: momentum, Adam, weight decay,
schedules) the compute event takes that optimizer's step instead, its state
(e.g. the momentum buffer) kept at the node; a communication averages the
models only and leaves each node's optimizer state as it is, as AD-PSGD
averages only models (each worker's optimizer is local).

With a constant step size it converges to a neighbourhood of x* whose size
shrinks with the step size and grows with the heterogeneity of the f_i.
"""

from __future__ import annotations

import equinox as eqx
import jax

from jaxgossip.algorithms.base import Algorithm, optional_hyperparameter
from jaxgossip.algorithms.local_optimizer import (
    LocalOptimizer,
    OptimizerState,
    as_local_optimizer,
    check_step,
)
from jaxgossip.algorithms.ops import pairwise_average


class AsyncGossipSGD(Algorithm):
    """Asynchronous D-SGD / AD-PSGD without staleness.

    Args:
      step_size: the gradient step gamma (an array leaf, so it can be vmapped).
      optimizer: instead of ``step_size``, an optax ``GradientTransformation``
        or ``jaxgossip.algorithms.optimizer(...)`` (sweepable) as the local step;
        the node state is then an ``OptimizerState``.
    """

    step_size: jax.Array | None = eqx.field(converter=optional_hyperparameter, default=None)
    optimizer: LocalOptimizer | None = eqx.field(converter=as_local_optimizer, default=None)

    def __check_init__(self):
        check_step("AsyncGossipSGD", self.step_size, self.optimizer)

    @classmethod
    def from_theory(cls, problem, clocks) -> AsyncGossipSGD:
        """step_size = 1 / (2 L): a documented default inside the stable range
        (step_size < 2 / L keeps each local step a contraction); the error floor
        shrinks with the step size, so smaller steps trade speed for accuracy."""
        del clocks
        return cls(step_size=0.5 / problem.L)

    def init(self, x0, problem):
        del problem
        if self.optimizer is None:
            return x0
        return OptimizerState(x=x0, opt_state=self.optimizer.init(x0))

    def params(self, node):
        return node if self.optimizer is None else node.x

    def on_compute(self, node, t, grad):
        del t
        if self.optimizer is None:
            return node - self.step_size * grad(node)
        x, opt_state = self.optimizer.step(node.x, grad(node.x), node.opt_state)
        return OptimizerState(x=x, opt_state=opt_state)

    def on_communicate(self, node_i, node_j, t, edge):
        del t, edge
        if self.optimizer is None:
            return pairwise_average(node_i, node_j)
        x_i, x_j = pairwise_average(node_i.x, node_j.x)
        return node_i._replace(x=x_i), node_j._replace(x=x_j)
