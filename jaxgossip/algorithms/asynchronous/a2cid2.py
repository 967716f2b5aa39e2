"""A2CiD2: asynchronous gossip SGD with a continuous local momentum.

A. Nabli, E. Belilovsky, E. Oyallon, "A2CiD2: Accelerating Asynchronous
Communication in Decentralized Deep Learning", NeurIPS 2023 (Algorithm 1 and
the theoretical constants of its Section 3). The updates and the constants
eta, alpha, alpha~, chi1, chi2 were checked against the authors' public
implementation (github.com/AdelNabli/ACiD: ``compute_acid_constants``,
``acid_ode`` and the p2p averaging step); the default step size is not.

Each node i holds a pair (x_i, x~_i) and the time t_i of its last event.
Between events the pair follows the linear "mixing" ODE

    dx_i = eta (x~_i - x_i) dt,    dx~_i = eta (x_i - x~_i) dt,

which keeps x_i + x~_i and damps x_i - x~_i by exp(-2 eta dt); it is
integrated exactly, lazily, when the node is next touched (``Mix`` of
Algorithm 1). At the events of the node's clocks:

- compute: x_i <- x_i - gamma m_i and x~_i <- x~_i - gamma m_i, where
  m_i <- momentum * m_i + g_i(x_i) is the usual local heavy-ball buffer
  (momentum = 0 gives m_i = g_i(x_i), plain SGD, as in the paper's analysis);
- communicate on (i, j): x_i <- x_i - alpha (x_i - x_j) and
  x~_i <- x~_i - alpha~ (x_i - x_j), symmetrically for j, both computed from
  the values mixed up to the event time.

Theory constants (``from_theory``): with Lambda = sum_e lambda_e (e_i - e_j)
(e_i - e_j)^T the Laplacian weighted by the communication rates,
chi1 = 1 / lambda_2(Lambda) and chi2 = max_e (1/2) (e_i - e_j)^T Lambda^+
(e_i - e_j) (half the largest effective resistance of an edge):
eta = 1 / (2 sqrt(chi1 chi2)), alpha = 1/2, alpha~ = (1/2) sqrt(chi1 / chi2).

With a constant step size the method converges to a neighbourhood of x* (it
is inexact, like AsyncGossipSGD); the momentum shrinks the consensus error,
whose dependence on the graph goes from chi1 to sqrt(chi1 chi2).
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxgossip.algorithms.base import Algorithm, hyperparameter
from jaxgossip.algorithms.ops import mix_pair
from jaxgossip.network.spectral import chi_constants


class A2CiD2State(NamedTuple):
    """One node's variables."""

    x: jax.Array  # (d,) the parameters on which gradients are computed
    x_tilde: jax.Array  # (d,) the continuous-momentum companion of x
    buffer: jax.Array  # (d,) local heavy-ball buffer m_i (zeros when momentum == 0)
    time: jax.Array  # () simulated time of the node's last event


def graph_constants(clocks) -> tuple[float, float]:
    """(chi1, chi2) of the communication-rate-weighted Laplacian (NumPy float64).

    chi1 = 1 / lambda_2 and chi2 = max over edges of half the effective resistance
    (``jaxgossip.network.spectral``).
    """
    return chi_constants(clocks.graph, clocks.comm_rate, caller="A2CiD2.from_theory")


class A2CiD2(Algorithm):
    """Asynchronous gossip SGD with the A2CiD2 continuous momentum.

    Args:
      step_size: gamma, the gradient step.
      eta: rate of the mixing ODE between x and x~ (per unit of simulated time).
      alpha: weight of the gossip step on x (1/2: pairwise averaging).
      alpha_tilde: weight of the gossip step on x~.
      momentum: local heavy-ball coefficient in [0, 1) (0: plain SGD).
    """

    step_size: jax.Array = eqx.field(converter=hyperparameter)
    eta: jax.Array = eqx.field(converter=hyperparameter)
    alpha: jax.Array = eqx.field(converter=hyperparameter, default=0.5)
    alpha_tilde: jax.Array = eqx.field(converter=hyperparameter, default=0.5)
    momentum: jax.Array = eqx.field(converter=hyperparameter, default=0.0)

    exact: ClassVar[bool] = False

    @classmethod
    def from_theory(cls, problem, clocks, step_size=None, momentum=0.0) -> A2CiD2:
        """The paper's eta, alpha, alpha~ for these clocks; a conservative default step.

        eta = 1 / (2 sqrt(chi1 chi2)), alpha = 1/2, alpha~ = sqrt(chi1 / chi2) / 2.
        Without ``step_size``, gamma = 1 / (16 L (1 + c sqrt(chi1 chi2))) with c
        the mean compute rate (the chi's then count time in gradient computations
        per node, the paper's unit). This is the form of the paper's step-size
        condition as we recall it, not checked against its text; it is
        conservative (about 1/12 of the step at which the ring-64 test shows the
        paper's claim), so pass ``step_size`` to tune it.
        """
        chi1, chi2 = graph_constants(clocks)
        if step_size is None:
            compute_rate = float(np.mean(np.asarray(clocks.compute_rate, np.float64)))
            scale = 1.0 + compute_rate * np.sqrt(chi1 * chi2)
            step_size = 1.0 / (16.0 * float(problem.L) * scale)
        return cls(
            step_size=step_size,
            eta=0.5 / np.sqrt(chi1 * chi2),
            alpha=0.5,
            alpha_tilde=0.5 * np.sqrt(chi1 / chi2),
            momentum=momentum,
        )

    def init(self, x0, problem) -> A2CiD2State:
        del problem
        zero = jnp.zeros((), x0.dtype)
        return A2CiD2State(x=x0, x_tilde=x0, buffer=jnp.zeros_like(x0), time=zero)

    def params(self, node: A2CiD2State) -> jax.Array:
        return node.x

    def _mix(self, node: A2CiD2State, t) -> A2CiD2State:
        """Integrates the mixing ODE exactly from the node's last event time to t."""
        x, x_tilde = mix_pair(node.x, node.x_tilde, self.eta, t - node.time)
        return node._replace(x=x, x_tilde=x_tilde)

    def on_compute(self, node, t, grad):
        node = self._mix(node, t)
        buffer = self.momentum * node.buffer + grad(node.x)
        return A2CiD2State(
            x=node.x - self.step_size * buffer,
            x_tilde=node.x_tilde - self.step_size * buffer,
            buffer=buffer,
            time=jnp.asarray(t, node.time.dtype),
        )

    def on_communicate(self, node_i, node_j, t, edge):
        del edge
        node_i, node_j = self._mix(node_i, t), self._mix(node_j, t)
        diff = node_i.x - node_j.x  # (d,)
        t = jnp.asarray(t, node_i.time.dtype)
        new_i = A2CiD2State(
            x=node_i.x - self.alpha * diff,
            x_tilde=node_i.x_tilde - self.alpha_tilde * diff,
            buffer=node_i.buffer,
            time=t,
        )
        new_j = A2CiD2State(
            x=node_j.x + self.alpha * diff,
            x_tilde=node_j.x_tilde + self.alpha_tilde * diff,
            buffer=node_j.buffer,
            time=t,
        )
        return new_i, new_j
