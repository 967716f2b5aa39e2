"""A2CiD2: asynchronous gossip SGD with a continuous local momentum.

A. Nabli, E. Belilovsky, E. Oyallon, "A2CiD2: Accelerating Asynchronous
Communication in Decentralized Deep Learning", NeurIPS 2023 (arXiv:2306.08289).

Each node i holds a pair (x_i, x~_i), a heavy-ball buffer m_i and the time t_i
of its last event. Between events the pair follows the linear "mixing" ODE

    dx_i = eta (x~_i - x_i) dt,    dx~_i = eta (x_i - x~_i) dt,

which keeps x_i + x~_i and damps x_i - x~_i by exp(-2 eta dt). The state keeps
the pair as of t_i; the flow Mix(t - t_i) is applied exactly, lazily, when the
node is next touched. The static field ``reading`` says which values an event
at time t uses:

``"event_time"`` (default), the continuous-time dynamics of the paper's
analysis as we read it (its text was not re-checked here): every touched node
is first mixed up to t, and the event reads those values.

- compute: m_i <- momentum m_i + g_i(x_i), then x_i <- x_i - gamma m_i and
  x~_i <- x~_i - gamma m_i;
- communicate (i, j): x_i <- x_i - alpha (x_i - x_j) and
  x~_i <- x~_i - alpha~ (x_i - x_j), symmetrically for j. A communication
  conserves x_i + x_j, and with the ODE the network sum of x + x~.

``"authors"``, the authors' trainer (github.com/AdelNabli/ACiD, commit
89393fd), where a worker's parameters are the values stored at its last event:

- compute: the gradient is taken at the stored x_i (the trainer's forward and
  backward pass run before ``ADP.step`` mixes), then (x_i, x~_i) is mixed up
  to t, then the step above uses that gradient;
- communicate (i, j): each side sends its stored, un-mixed x, then mixes
  itself up to t and moves towards the value it received, s_j:
  x~_i <- x~_i + alpha~ (s_j - x_i), x_i <- x_i + alpha (s_j - x_i), and
  symmetrically for j. Neither x_i + x_j nor the network sum of x + x~ is
  conserved when the nodes had time to mix since their last events.

The two readings coincide when no time has passed since the nodes' last events
(or eta = 0). Both are checked against NumPy replays of the same event trace
(``tests/replays/a2cid2.py``); "event_time" also against the invariants above,
and "authors" against the trainer's source (``main.py`` training loop,
``adp.py: ADP.step, ADP.init_acid``, ``p2p_averaging.py: do_send, do_recv``,
``utils/acid_utils.py: acid_ode, init_momentum_var``), which it reproduces in
these respects: the buffer is torch SGD's (no dampening, no Nesterov; its
first step sets m = g), the same m steps x and x~, mixing precedes the step,
and at a communication x~ and x move by the gap measured before x moves.
``authors_start`` builds the trainer's initial state. Not reproduced: weight
decay, which torch adds at the mixed x (here any regularization is part of
f_i, at the stored x); gradient clipping and learning-rate schedules; the
trainer's overlap of a gradient computation with communications (events are
instantaneous here); and momentum = 0, which the trainer does not support
(its x~ step would reuse the first gradient).
The trainer fixes alpha = 1/2 (``from_theory``'s value).

Time: the trainer integrates the ODE in units of the worker's gradient time
(elapsed wall time over a running average of its gradient duration) and takes
eta and alpha~ from the Laplacian rate_com (I - A / degree), rate_com
communications per gradient at every node (its graphs are regular). Here t is
simulated time: with all compute rates c and edge rates c rate_com / degree,
``from_theory``'s eta (per unit of simulated time) is c times the trainer's,
which is the same flow, and alpha~ is the same. With unequal compute rates the trainer rescales
each worker's clock by its own gradient time; one eta cannot.

Theory constants (``from_theory``): with Lambda = sum_e lambda_e (e_i - e_j)
(e_i - e_j)^T the Laplacian weighted by the communication rates,
chi1 = 1 / lambda_2(Lambda) and chi2 = max_e (1/2) (e_i - e_j)^T Lambda^+
(e_i - e_j) (half the largest effective resistance of an edge):
eta = 1 / (2 sqrt(chi1 chi2)), alpha = 1/2, alpha~ = (1/2) sqrt(chi1 / chi2),
as the trainer's ``compute_acid_constants`` sets them; the default step size
is not from that code.

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

READINGS = ("event_time", "authors")


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
      reading: "event_time" (events read values mixed up to the event time) or
        "authors" (gradients and messages read the values stored at the node's
        last event, as the authors' trainer does); see the module docstring.
        Static: it selects code, so it is no leaf and a new value recompiles.
    """

    step_size: jax.Array = eqx.field(converter=hyperparameter)
    eta: jax.Array = eqx.field(converter=hyperparameter)
    alpha: jax.Array = eqx.field(converter=hyperparameter, default=0.5)
    alpha_tilde: jax.Array = eqx.field(converter=hyperparameter, default=0.5)
    momentum: jax.Array = eqx.field(converter=hyperparameter, default=0.0)
    reading: str = eqx.field(static=True, default="event_time")

    exact: ClassVar[bool] = False
    stores_time: ClassVar[bool] = True

    def __check_init__(self):
        if self.reading not in READINGS:
            raise ValueError(f"A2CiD2: reading must be one of {READINGS}, got {self.reading!r}.")

    @classmethod
    def from_theory(
        cls, problem, clocks, step_size=None, momentum=0.0, reading="event_time"
    ) -> A2CiD2:
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
            reading=reading,
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
        if self.reading == "authors":
            g = grad(node.x)  # at the stored x, before mixing
            node = self._mix(node, t)
        else:
            node = self._mix(node, t)
            g = grad(node.x)
        buffer = self.momentum * node.buffer + g
        return A2CiD2State(
            x=node.x - self.step_size * buffer,
            x_tilde=node.x_tilde - self.step_size * buffer,
            buffer=buffer,
            time=jnp.asarray(t, node.time.dtype),
        )

    def on_communicate(self, node_i, node_j, t, edge):
        del edge
        sent_i, sent_j = node_i.x, node_j.x  # the stored values, before mixing
        node_i, node_j = self._mix(node_i, t), self._mix(node_j, t)
        if self.reading == "event_time":
            sent_i, sent_j = node_i.x, node_j.x
        t = jnp.asarray(t, node_i.time.dtype)
        return self._move(node_i, sent_j, t), self._move(node_j, sent_i, t)

    def _move(self, node: A2CiD2State, received: jax.Array, t) -> A2CiD2State:
        """One side of a communication: (x, x~) of a mixed node towards the value received."""
        gap = received - node.x  # (d,)
        return A2CiD2State(
            x=node.x + self.alpha * gap,
            x_tilde=node.x_tilde + self.alpha_tilde * gap,
            buffer=node.buffer,
            time=t,
        )


def authors_start(key, algorithm: A2CiD2, problem, xs0) -> A2CiD2State:
    """The network state the authors' trainer starts from, for ``simulate(initial_state=...)``.

    Before training, every worker takes one SGD step from its own x0_i (torch
    allocates the momentum buffer then: m_i = g_i(x0_i)), the workers average
    their parameters, and x~ is set to that average:
    x_i = x~_i = mean_k (x0_k - gamma g_k(x0_k)), m_i = g_i(x0_i), t_i = 0.

    Args:
      key: the key of the warm-up gradients (node k uses ``fold_in(key, k)``).
      algorithm: gives gamma (``step_size``).
      problem: gives the local gradients.
      xs0: (n, d) the workers' own initial points.

    Returns:
      An ``A2CiD2State`` with leaves (n, d), time (n,).
    """
    n = xs0.shape[0]
    nodes = jnp.arange(n)
    grads = jax.vmap(lambda x, k: problem.local_grad(jax.random.fold_in(key, k), x, k))(
        xs0, nodes
    )  # (n, d)
    start = jnp.mean(xs0 - algorithm.step_size * grads, axis=0)
    x = jnp.broadcast_to(start, xs0.shape)
    return A2CiD2State(x=x, x_tilde=x, buffer=grads, time=jnp.zeros((n,), xs0.dtype))
