"""Decentralized (parallel) stochastic gradient descent, D-SGD / D-PSGD.

X. Lian, C. Zhang, H. Zhang, C.-J. Hsieh, W. Zhang, J. Liu, "Can Decentralized
Algorithms Outperform Centralized Algorithms? A Case Study for Decentralized
Parallel Stochastic Gradient Descent", NeurIPS 2017, Algorithm 1 (D-PSGD).
In one iteration every worker i samples a stochastic gradient of f_i at its
*current* local model, averages its neighbours' models with the weights of
W, and applies the gradient to the average:

    x_i^{k+1} = sum_j W_ij x_j^k - gamma grad F_i(x_i^k; xi_i^k),

i.e. X^{k+1} = W X^k - gamma dF(X^k) (the gradient is taken before mixing, at
the pre-communication model). Any symmetric doubly stochastic W applies
(Metropolis or uniform weights: pass the matching ``Mixing``).

With ``optimizer`` (an optax transformation) the gradient drives each node's
own optimizer instead: x_i^{k+1} = sum_j W_ij x_j^k + u_i^k, u_i^k the
optimizer's update (-gamma g for plain SGD) from its state s_i, which stays
local (the models are mixed, the momentum buffers are not, as in D-SGD with
local momentum).

Inexact: with a constant step, heterogeneous local functions leave the nodes
in a neighbourhood of x* whose size shrinks with gamma.

Cost of a round: n gradient computations and |E| communications (one gossip
step, each edge exchanging x both ways: message_floats = 2 d).
"""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import optax

from jaxgossip.algorithms.base import (
    Oracle,
    RoundCost,
    SyncAlgorithm,
    optional_hyperparameter,
    round_cost,
)
from jaxgossip.algorithms.local_optimizer import (
    LocalOptimizer,
    OptimizerState,
    as_local_optimizer,
    check_step,
)
from jaxgossip.network.mixing import Mixing


class DSGD(SyncAlgorithm):
    """D-PSGD: x <- W x - step_size * grad F(x).

    Args:
      step_size: gamma (an array leaf).
      optimizer: instead of ``step_size``, an optax ``GradientTransformation``
        or ``jaxgossip.algorithms.optimizer(...)`` applied at every node.

    State: the models x, (n, d); with ``optimizer``, an ``OptimizerState``.
    """

    step_size: jax.Array | None = eqx.field(converter=optional_hyperparameter, default=None)
    optimizer: LocalOptimizer | None = eqx.field(converter=as_local_optimizer, default=None)
    exact: ClassVar[bool] = False
    time_varying: ClassVar[bool] = True

    def __check_init__(self):
        check_step("DSGD", self.step_size, self.optimizer)

    @classmethod
    def from_theory(cls, problem, mixing: Mixing) -> DSGD:
        """gamma = 1 / (2 L): Corollary 2 of Lian et al. (2017),
        gamma = 1 / (2 L + sigma sqrt(K / n)), with exact gradients (sigma = 0).
        """
        del mixing
        return cls(step_size=0.5 / problem.L)

    def init(self, xs0, oracle: Oracle, mixing: Mixing):
        del oracle, mixing
        if self.optimizer is None:
            return xs0
        return OptimizerState(x=xs0, opt_state=jax.vmap(self.optimizer.init)(xs0))

    def params(self, state) -> jax.Array:
        return state if self.optimizer is None else state.x

    def round(self, state, oracle: Oracle, mixing: Mixing) -> tuple[jax.Array, RoundCost]:
        cost = round_cost(mixing.num_nodes, mixing.num_links)
        if self.optimizer is None:
            return mixing.apply(state) - self.step_size * oracle.grads(state), cost
        transformation = self.optimizer.transformation()
        updates, opt_state = jax.vmap(transformation.update)(
            oracle.grads(state.x), state.opt_state, state.x
        )
        x = optax.apply_updates(mixing.apply(state.x), updates)
        return OptimizerState(x=x, opt_state=opt_state), cost
