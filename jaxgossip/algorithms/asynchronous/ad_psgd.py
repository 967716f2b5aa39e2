"""AD-PSGD: asynchronous decentralized SGD whose gradients are stale.

X. Lian, W. Zhang, C. Zhang, J. Liu, "Asynchronous Decentralized Parallel
Stochastic Gradient Descent", ICML 2018, Algorithm 1. A worker reads its local
model x_i into a snapshot, computes a stochastic gradient at the snapshot while
its neighbours may average with it, then applies that gradient to its *current*
(possibly averaged) model; averaging with a neighbour is x_i, x_j <- (x_i + x_j) / 2.

On the event engine, node i's compute event is the moment one gradient
computation ends and the next begins:

    x_i      <- x_i - step_size * g_i(x_read_i)   # the gradient of the snapshot
    x_read_i <- x_i                               # the next computation reads here

and a communication on (i, j) averages x_i and x_j only (snapshots stay: a
gradient in flight is not restarted). In Algorithm 1 a worker averages with a
random neighbour once per iteration; here averaging runs on the edges' own
Poisson clocks, independently of computations, as in the rest of the library.

The gradient of a computation is evaluated when it is applied, at the
snapshot it was started from: the same value as evaluating it at the start and
carrying g_pending = g_i(x_read_i) in the state (with a stochastic oracle, the
same law), without the engine's ``init`` having to call an oracle it is not
given. So at time 0 every worker starts computing at x0 and its first compute
event applies g_i(x0), as in the paper. Between two compute events of a node
that no averaging touches, x_read_i == x_i and the step is AsyncGossipSGD's;
staleness enters only through averaging, which is what distinguishes the two
algorithms on one trace.

With ``optimizer`` (an optax transformation) the stale gradient drives that
optimizer's step, x_i, s_i <- step(x_i, g_i(x_read_i), s_i), its state s_i kept
at the node; averaging touches the models only (each worker's optimizer is
local in Algorithm 1).

Inexact: with a constant step size it stalls at a floor that shrinks with the
step size and grows with the heterogeneity of the f_i.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import equinox as eqx
import jax

from jaxgossip.algorithms.base import Algorithm, optional_hyperparameter
from jaxgossip.algorithms.local_optimizer import LocalOptimizer, as_local_optimizer, check_step


class ADPSGDState(NamedTuple):
    """One node's state; the engine stacks it to leaves (n, dim)."""

    x: jax.Array  # (dim,) local model
    x_read: jax.Array  # (dim,) snapshot the gradient in flight is computed at
    opt_state: Any = None  # the optimizer's state, with ``optimizer``


class ADPSGD(Algorithm):
    """AD-PSGD with stale gradients (Lian et al., ICML 2018, Algorithm 1).

    Args:
      step_size: the gradient step gamma (an array leaf, so it can be vmapped).
      optimizer: instead of ``step_size``, an optax ``GradientTransformation``
        or ``jaxgossip.algorithms.optimizer(...)`` as the local step.
    """

    step_size: jax.Array | None = eqx.field(converter=optional_hyperparameter, default=None)
    optimizer: LocalOptimizer | None = eqx.field(converter=as_local_optimizer, default=None)
    exact: ClassVar[bool] = False

    def __check_init__(self):
        check_step("ADPSGD", self.step_size, self.optimizer)

    @classmethod
    def from_theory(cls, problem, clocks) -> ADPSGD:
        """A documented default, step_size = 1 / (2 L); not the paper's constant.

        The paper's step size (from its convergence theorem) is tuned to a fixed
        run length K and to bounds on the gradient noise and on the
        heterogeneity of the f_i, none of which a problem carries. Staleness
        halves the stable range of a gradient step: the delayed step
        x_{k+1} = x_k - gamma grad f(x_{k-1}) is stable only for gamma L < 1,
        against gamma L < 2 undelayed. On a ring of 8 (heterogeneous
        quadratics, kappa 10) AD-PSGD was stable at 1 / L and diverged at
        1.5 / L, where AsyncGossipSGD was not; 1 / (2 L) keeps a factor 2 margin.
        """
        del clocks
        return cls(step_size=0.5 / problem.L)

    def init(self, x0, problem) -> ADPSGDState:
        del problem
        opt_state = None if self.optimizer is None else self.optimizer.init(x0)
        return ADPSGDState(x=x0, x_read=x0, opt_state=opt_state)

    def params(self, node: ADPSGDState) -> jax.Array:
        return node.x

    def on_compute(self, node: ADPSGDState, t, grad) -> ADPSGDState:
        del t
        if self.optimizer is None:
            x, opt_state = node.x - self.step_size * grad(node.x_read), None
        else:
            x, opt_state = self.optimizer.step(node.x, grad(node.x_read), node.opt_state)
        return ADPSGDState(x=x, x_read=x, opt_state=opt_state)

    def on_communicate(self, node_i: ADPSGDState, node_j: ADPSGDState, t, edge):
        del t, edge
        average = 0.5 * (node_i.x + node_j.x)
        return node_i._replace(x=average), node_j._replace(x=average)
