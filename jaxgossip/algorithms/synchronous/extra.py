"""EXTRA: an exact first-order algorithm for decentralized consensus optimization.

W. Shi, Q. Ling, G. Wu, W. Yin, "EXTRA: An Exact First-Order Algorithm for
Decentralized Consensus Optimization", SIAM J. Optim. 25(2), 2015, eq. (2.13)
(the EXTRA iteration) with the choice W~ = (I + W) / 2 of Section 2.4:

    x^1     = W x^0 - alpha grad f(x^0),
    x^{k+2} = (I + W) x^{k+1} - W~ x^k - alpha (grad f(x^{k+1}) - grad f(x^k)).

The engine runs it with one gradient and one gossip step per round: the state
keeps x^{k+1}, W~ x^k and grad f(x^k) (W~ x^k = (x^k + W x^k) / 2 reuses the
gossip of the previous round). Starting from W~ x^{-1} := x^0 and
grad f(x^{-1}) := 0 makes the first round exactly x^1 = W x^0 - alpha grad f(x^0),
so no computation or communication is hidden in ``init``.

Exact: with a constant step every node converges to x* (linearly for strongly
convex f).

Cost of a round: n gradient computations, |E| communications (x both ways:
message_floats = 2 d).
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxgossip.algorithms.base import Oracle, RoundCost, SyncAlgorithm, hyperparameter, round_cost
from jaxgossip.network.mixing import Mixing

#: from_theory's fraction of the admissible step 2 lambda_min(W~) / L.
STEP_FRACTION = 0.5


class EXTRAState(NamedTuple):
    """The network state after round k (x^{k+1} is the current iterate)."""

    x: jax.Array  # (n, d) x^{k+1}
    wt_prev: jax.Array  # (n, d) W~ x^k = (x^k + W x^k) / 2
    g_prev: jax.Array  # (n, d) grad f(x^k)


class EXTRA(SyncAlgorithm):
    """EXTRA with W~ = (I + W) / 2.

    Args:
      step_size: alpha (an array leaf).
    """

    step_size: jax.Array = eqx.field(converter=hyperparameter)
    exact: ClassVar[bool] = True

    @classmethod
    def from_theory(cls, problem, mixing: Mixing) -> EXTRA:
        """alpha = lambda_min(W~) / L, half the bound 0 < alpha < 2 lambda_min(W~) / L
        of Shi et al. (2015), Theorem 3.3.

        lambda_min(W~) = (1 + lambda_min(W)) / 2 = 1 - lambda_max(I - W) / 2.
        """
        lambda_min_wt = 1.0 - 0.5 * float(mixing.lambda_max)
        return cls(step_size=STEP_FRACTION * 2.0 * lambda_min_wt / problem.L)

    def init(self, xs0, oracle: Oracle, mixing: Mixing) -> EXTRAState:
        del oracle, mixing
        return EXTRAState(x=xs0, wt_prev=xs0, g_prev=jnp.zeros_like(xs0))

    def params(self, state: EXTRAState) -> jax.Array:
        return state.x

    def round(
        self, state: EXTRAState, oracle: Oracle, mixing: Mixing
    ) -> tuple[EXTRAState, RoundCost]:
        g = oracle.grads(state.x)
        wx = mixing.apply(state.x)
        x_new = state.x + wx - state.wt_prev - self.step_size * (g - state.g_prev)
        new = EXTRAState(x=x_new, wt_prev=0.5 * (state.x + wx), g_prev=g)
        return new, round_cost(mixing.num_nodes, mixing.num_links)
