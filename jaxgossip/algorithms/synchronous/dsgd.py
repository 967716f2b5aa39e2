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

Inexact: with a constant step, heterogeneous local functions leave the nodes
in a neighbourhood of x* whose size shrinks with gamma.

Cost of a round: n gradient computations and |E| communications (one gossip
step, each edge exchanging x both ways: message_floats = 2 d).
"""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax

from jaxgossip.algorithms.base import Oracle, RoundCost, SyncAlgorithm, hyperparameter, round_cost
from jaxgossip.network.mixing import Mixing


class DSGD(SyncAlgorithm):
    """D-PSGD: x <- W x - step_size * grad F(x).

    Args:
      step_size: gamma (an array leaf).

    State: the models x, (n, d).
    """

    step_size: jax.Array = eqx.field(converter=hyperparameter)
    exact: ClassVar[bool] = False
    time_varying: ClassVar[bool] = True

    @classmethod
    def from_theory(cls, problem, mixing: Mixing) -> DSGD:
        """gamma = 1 / (2 L): Corollary 2 of Lian et al. (2017),
        gamma = 1 / (2 L + sigma sqrt(K / n)), with exact gradients (sigma = 0).
        """
        del mixing
        return cls(step_size=0.5 / problem.L)

    def init(self, xs0, oracle: Oracle, mixing: Mixing) -> jax.Array:
        del oracle, mixing
        return xs0

    def params(self, state: jax.Array) -> jax.Array:
        return state

    def round(self, state, oracle: Oracle, mixing: Mixing) -> tuple[jax.Array, RoundCost]:
        x_new = mixing.apply(state) - self.step_size * oracle.grads(state)
        return x_new, round_cost(mixing.num_nodes, mixing.num_links)
