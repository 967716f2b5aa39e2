"""Continuized accelerated dual gossip: asynchronous decentralized optimization with dual gradients.

M. Even, R. Berthier, F. Bach, N. Flammarion, P. Gaillard, H. Hendrikx,
L. Massoulie, A. Taylor, "A Continuized View on Nesterov Acceleration for
Stochastic Gradient Descent and Randomized Gossip", NeurIPS 2021: the
continuized Nesterov acceleration (two variables that mix by a linear ODE and
take gradient steps at Poisson times) applied, as in their accelerated
asynchronous gossip and in the continuously accelerated coordinate dual method
of Even, Hendrikx and Massoulie ("Asynchrony and Acceleration in Gossip
Algorithms", CACDM), to the dual of the consensus problem, one coordinate
(edge) per communication. We could not consult the paper's text while writing
this: the constants below are derived with its Lyapunov argument (sketched
under "Constants"), and the tests check the rate they guarantee.

The dual problem. min sum_i f_i(x_i) s.t. x_i = x_j on every edge has the
dual min_lambda F*(B lambda), F*(Y) = sum_i f_i*(y_i), B the (n, E) incidence
matrix, one dual variable lambda_e in R^d per edge. The algorithm runs in the
node variables y = B lambda (rows sum to zero), so each node only keeps
y_i, its companion v_i and the time of its last event:

- between events, (y_i, v_i) follow dy_i = eta (v_i - y_i) dt,
  dv_i = eta (y_i - v_i) dt, integrated exactly and lazily;
- when edge e = (i, j) rings, both nodes mix up to t, exchange their primal
  points x_i = grad f_i*(y_i) and x_j = grad f_j*(y_j), and with g = x_i - x_j
  (the partial gradient of the dual along lambda_e) take
  y_i -= gamma g, y_j += gamma g, v_i -= gamma' g, v_j += gamma' g;
- compute events do nothing (the dual gradients are the computations).

Counting: a ``Trace``'s ``num_computations`` counts compute events, as for
every asynchronous method, although here they are no-ops; the method's work is
two conjugate gradients per edge event (``num_communications``). Compare its
cost against others in edge events, or give it ``compute_rate=0``.

The node's estimate is its primal point x_i = grad f_i*(y_i), refreshed after
every event that touches it; y and v start at 0, so ``x0`` is only the
estimate reported until a node's first event.

Constants (``from_theory``), from the continuized Lyapunov function
F*(y) - F*(y*) + (a/2) ||v - y*||^2_{Lambda^+} with Lambda the Laplacian
weighted by the edge communication rates, chi1 = 1 / lambda_2(Lambda), chi2
half the largest edge effective resistance, L_e = 1/mu_i + 1/mu_j <= 2 / mu
the smoothness of the dual along one edge:
gamma = 1 / L_e = mu / 2, a = 1 / (L chi1), eta = sqrt(a / (L_e 2 chi2))
= sqrt(mu / L) / (2 sqrt(chi1 chi2)), gamma' = eta / a. The dual gap then
decreases as exp(-eta t): linear convergence to the exact optimum
(accelerated in sqrt(L / mu) and in the graph through sqrt(chi1 chi2)).

It needs the conjugate gradients: the problem must provide
``local_conjugate_grad(y, node)`` (quadratics, least squares, logistic regression).
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxgossip.algorithms.base import Algorithm, hyperparameter
from jaxgossip.algorithms.ops import mix_pair
from jaxgossip.network.graphs import Graph
from jaxgossip.network.spectral import chi_constants


class DualState(NamedTuple):
    """One node's variables."""

    y: jax.Array  # (d,) dual variable (B lambda)_i, where grad f_i* is evaluated
    v: jax.Array  # (d,) its continuized-momentum companion
    x: jax.Array  # (d,) primal estimate grad f_i*(y_i) after the node's last event
    time: jax.Array  # () simulated time of the node's last event


def _check_conjugate(problem) -> None:
    if not callable(getattr(problem, "local_conjugate_grad", None)):
        raise TypeError(
            f"ContinuizedDualGossip needs the conjugate gradients grad f_i^* of the local "
            f"functions, but {type(problem).__name__} has no `local_conjugate_grad(y, node)`. "
            "Use a Quadratic, LeastSquares or LogisticRegression problem, or a primal method."
        )


class ContinuizedDualGossip(Algorithm):
    """Continuized accelerated randomized coordinate descent on the dual, per edge.

    Args:
      problem: the problem; it provides ``local_conjugate_grad`` (kept as a field,
        since the hooks must evaluate grad f_i* at node i).
      graph: the communication graph (its senders/receivers name the endpoints
        of each edge index).
      step_size: gamma, the dual step on y along an edge (1 / L_e).
      momentum_step: gamma', the dual step on v.
      eta: rate of the mixing ODE between y and v.
    """

    problem: eqx.Module
    senders: jax.Array  # (E,) int32
    receivers: jax.Array  # (E,) int32
    step_size: jax.Array = eqx.field(converter=hyperparameter)
    momentum_step: jax.Array = eqx.field(converter=hyperparameter)
    eta: jax.Array = eqx.field(converter=hyperparameter)

    exact: ClassVar[bool] = True
    stores_time: ClassVar[bool] = True
    honours_batch_size: ClassVar[bool] = False  # it evaluates exact conjugate gradients

    def __init__(self, problem, graph: Graph, step_size, momentum_step, eta):
        _check_conjugate(problem)
        self.problem = problem
        self.senders = graph.senders
        self.receivers = graph.receivers
        self.step_size = step_size
        self.momentum_step = momentum_step
        self.eta = eta

    @classmethod
    def from_theory(cls, problem, clocks) -> ContinuizedDualGossip:
        """The constants of the continuized analysis for these clocks (module docstring)."""
        _check_conjugate(problem)
        chi1, chi2 = chi_constants(
            clocks.graph, clocks.comm_rate, caller="ContinuizedDualGossip.from_theory"
        )
        mu, smoothness = float(problem.mu), float(problem.L)
        edge_smoothness = 2.0 / mu  # L_e = 1/mu_i + 1/mu_j at worst
        a = 1.0 / (smoothness * chi1)
        eta = np.sqrt(a / (edge_smoothness * 2.0 * chi2))
        return cls(
            problem,
            clocks.graph,
            step_size=1.0 / edge_smoothness,
            momentum_step=eta / a,
            eta=eta,
        )

    def init(self, x0, problem) -> DualState:
        del problem
        zeros = jnp.zeros_like(x0)
        return DualState(y=zeros, v=zeros, x=x0, time=jnp.zeros((), x0.dtype))

    def params(self, node: DualState) -> jax.Array:
        return node.x

    def _mix(self, node: DualState, t) -> DualState:
        """Integrates the mixing ODE exactly from the node's last event time to t."""
        y, v = mix_pair(node.y, node.v, self.eta, t - node.time)
        return node._replace(y=y, v=v)

    def on_compute(self, node, t, grad):
        del t, grad
        return node

    def on_communicate(self, node_i, node_j, t, edge):
        # The engine's contract: node_i is senders[edge], node_j receivers[edge].
        i, j = self.senders[edge], self.receivers[edge]
        conjugate = self.problem.local_conjugate_grad
        node_i, node_j = self._mix(node_i, t), self._mix(node_j, t)
        g = conjugate(node_i.y, i) - conjugate(node_j.y, j)  # (d,) dual partial gradient
        y_i, y_j = node_i.y - self.step_size * g, node_j.y + self.step_size * g
        v_i, v_j = node_i.v - self.momentum_step * g, node_j.v + self.momentum_step * g
        t = jnp.asarray(t, node_i.time.dtype)
        return (
            DualState(y=y_i, v=v_i, x=conjugate(y_i, i), time=t),
            DualState(y=y_j, v=v_j, x=conjugate(y_j, j), time=t),
        )
