"""All-reduce (data-parallel) minibatch SGD: the centralized baseline of decentralized training.

Every round each of the n workers computes a stochastic gradient of its own
f_i at the one shared model, the gradients are averaged by an all-reduce, and
every worker takes the same step (P. Goyal et al., "Accurate, Large Minibatch
SGD: Training ImageNet in 1 Hour", 2017, the synchronous data-parallel SGD that
decentralized methods are measured against):

    x^{k+1} = x^k - gamma (1/n) sum_i grad F_i(x^k; xi_i^k),

or, with ``optimizer``, that optimizer's step on the averaged gradient (one
optimizer state, identical at every worker).

Cost of a round: n gradient computations and n communications, each worker
sending its gradient and receiving the average (message_floats = 2 d; a ring
all-reduce moves 2 (n - 1) / n d floats in and out of each worker, about the
same). No gossip matrix enters: the ``Mixing`` is only the network's size.
"""

from __future__ import annotations

from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxgossip.algorithms.base import (
    Oracle,
    SyncAlgorithm,
    optional_hyperparameter,
    round_cost,
)
from jaxgossip.algorithms.local_optimizer import LocalOptimizer, as_local_optimizer, check_step
from jaxgossip.algorithms.synchronous import centralized


class AllReduceSGDState(eqx.Module):
    """The shared model and the optimizer's state (None for plain SGD)."""

    x: jax.Array  # (d,)
    opt_state: Any
    num_nodes: int = eqx.field(static=True)


class AllReduceSGD(SyncAlgorithm):
    """Synchronous minibatch SGD over n workers with an exact all-reduce of gradients.

    Args:
      step_size: gamma (an array leaf).
      optimizer: instead, an optax ``GradientTransformation`` or
        ``jaxgossip.algorithms.optimizer(...)``.
    """

    step_size: jax.Array | None = eqx.field(converter=optional_hyperparameter, default=None)
    optimizer: LocalOptimizer | None = eqx.field(converter=as_local_optimizer, default=None)
    # With full local gradients a round is a gradient step on f: linear convergence to x*.
    exact: ClassVar[bool] = True
    time_varying: ClassVar[bool] = True  # the network is unused

    def __check_init__(self):
        check_step("AllReduceSGD", self.step_size, self.optimizer)

    @classmethod
    def from_theory(cls, problem, mixing=None) -> AllReduceSGD:
        """step_size = 1 / L: the gradient method's step on the average (L bounds L_f)."""
        del mixing
        return cls(step_size=1.0 / problem.L)

    def init(self, xs0, oracle: Oracle, mixing) -> AllReduceSGDState:
        del oracle, mixing
        x = centralized.start_point(xs0)
        opt_state = None if self.optimizer is None else self.optimizer.init(x)
        return AllReduceSGDState(x=x, opt_state=opt_state, num_nodes=xs0.shape[0])

    def params(self, state: AllReduceSGDState) -> jax.Array:
        return centralized.broadcast(state.x, state.num_nodes)

    def round(self, state: AllReduceSGDState, oracle: Oracle, mixing):
        del mixing
        n = state.num_nodes
        xs = centralized.broadcast(state.x, n)
        g = jnp.mean(oracle.grads(xs), axis=0)  # the all-reduce
        if self.optimizer is None:
            x, opt_state = state.x - self.step_size * g, None
        else:
            x, opt_state = self.optimizer.step(state.x, g, state.opt_state)
        return AllReduceSGDState(x=x, opt_state=opt_state, num_nodes=n), round_cost(n, n)
