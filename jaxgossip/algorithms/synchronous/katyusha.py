"""Centralized Katyusha, the accelerated variance-reduced reference.

Z. Allen-Zhu, "Katyusha: The First Direct Acceleration of Stochastic Gradient
Methods", JMLR 18(221), 2018 (STOC 2017), Algorithm 1, the strongly convex
case, with its parameters m = 2n, tau_2 = 1/2, tau_1 = min(sqrt(m sigma / (3 L)), 1/2),
alpha = 1 / (3 tau_1 L). Epoch s from the snapshot x~^s:

    mu^s = grad f(x~^s)                                             (full gradient)
    for j = 0 .. m-1, k = s m + j:
      x_{k+1} = tau_1 z_k + tau_2 x~^s + (1 - tau_1 - tau_2) y_k
      g_{k+1} = mu^s + grad f_i(x_{k+1}) - grad f_i(x~^s),          i uniform
      z_{k+1} = z_k - alpha g_{k+1}
      y_{k+1} = x_{k+1} - g_{k+1} / (3 L)
    x~^{s+1} = sum_j (1 + alpha sigma)^j y_{sm+j+1} / sum_j (1 + alpha sigma)^j

from y_0 = z_0 = x~^0 = x_0. Without a proximal term the paper's Option I
(y_{k+1} = argmin_y 3L/2 ||y - x_{k+1}||^2 + <g_{k+1}, y>) and Option II
(y_{k+1} = x_{k+1} + tau_1 (z_{k+1} - z_k)) are the same step, the one above
(tau_1 alpha = 1 / (3 L)). Its Theorem 2.1 contracts E f(x~^S) - f* by a factor
(1 + Theta(sqrt(sigma / (L m))))^{-m} per epoch when m sigma / L <= 3/4, by a
constant factor otherwise: O((n + sqrt(n L / sigma)) log(1/eps)) component
gradients, optimal for finite sums.
L is the smoothness of the components (max_i L_i) and sigma the strong
convexity of f (exact when the problem carries its Hessian, else min_i mu_i),
used as the strong convexity of the objective; there is no proximal term.

The snapshot's weighted average is kept as a running mean, A <- (U A + y) / (U + 1),
U <- (U + 1) / (1 + alpha sigma), where U is the sum of the weights so far
divided by the next one: the same average without powers (1 + alpha sigma)^j
that could overflow for long epochs.

One round is one inner step: two component gradients, 2 computations, plus n
for the snapshot's full gradient in a round that opens an epoch; no
communication. Metrics are taken on the snapshot x~, the point the paper's
theorem bounds. The index of a round is ``jax.random.randint(oracle.key, (), 0, n)``.

Source note: the algorithm and its parameters were written from memory of
the paper's Algorithm 1 and checked against third-party implementations
(same tau_1, tau_2, alpha); the paper's text could not be retrieved to check
equation by equation.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxgossip.algorithms.base import hyperparameter, round_cost
from jaxgossip.algorithms.synchronous import centralized


class KatyushaState(eqx.Module):
    """The worker's state."""

    snapshot: jax.Array  # (d,) x~^s, on which metrics are computed
    snapshot_grad: jax.Array  # (d,) mu^s = grad f(x~^s) (zeros before the first epoch)
    y: jax.Array  # (d,) y_k, the gradient-step sequence
    z: jax.Array  # (d,) z_k, the mirror (momentum) sequence
    average: jax.Array  # (d,) weighted mean of this epoch's y_{sm+j+1} so far
    weight: jax.Array  # () sum of this epoch's weights so far over the next weight
    step: jax.Array  # () int32, inner steps done in the current epoch, in [0, m)
    num_nodes: int = eqx.field(static=True)  # n


class Katyusha(centralized.CentralizedAlgorithm):
    """Katyusha (Algorithm 1, strongly convex case) by one worker holding every f_i.

    Args (array leaves):
      tau1, tau2: the coupling weights of z and of the snapshot (Katyusha momentum).
      alpha: the step of the z sequence.
      smoothness: L, so that y steps by 1 / (3 L).
      sigma: the strong convexity used in the snapshot's weights (1 + alpha sigma)^j.
      epoch_length: m, inner steps per epoch (int32).
    """

    tau1: jax.Array = eqx.field(converter=hyperparameter)
    tau2: jax.Array = eqx.field(converter=hyperparameter)
    alpha: jax.Array = eqx.field(converter=hyperparameter)
    smoothness: jax.Array = eqx.field(converter=hyperparameter)
    sigma: jax.Array = eqx.field(converter=hyperparameter)
    epoch_length: jax.Array = eqx.field(converter=centralized.epoch_length)

    @classmethod
    def from_constants(cls, problem, smoothness, strong_convexity) -> Katyusha:
        """Algorithm 1's parameters: m = 2n, tau_2 = 1/2, tau_1, alpha from L and sigma.

        L = max_i L_i (the inner steps use one f_i) and sigma = mu_f.
        """
        del smoothness
        smoothness, sigma = float(problem.L), strong_convexity
        m = 2 * problem.num_nodes
        tau1 = min(np.sqrt(m * sigma / (3.0 * smoothness)), 0.5)
        return cls(
            tau1=tau1,
            tau2=0.5,
            alpha=1.0 / (3.0 * tau1 * smoothness),
            smoothness=smoothness,
            sigma=sigma,
            epoch_length=m,
        )

    def init(self, xs0, oracle, mixing) -> KatyushaState:
        del oracle, mixing
        x0 = centralized.start_point(xs0)
        return KatyushaState(
            snapshot=x0,
            snapshot_grad=jnp.zeros_like(x0),
            y=x0,
            z=x0,
            average=x0,
            weight=jnp.zeros((), x0.dtype),
            step=jnp.zeros((), jnp.int32),
            num_nodes=xs0.shape[0],
        )

    def iterate(self, state: KatyushaState) -> jax.Array:
        return state.snapshot

    def round(self, state: KatyushaState, oracle, mixing):
        del mixing
        n = state.num_nodes
        opens_epoch = state.step == 0
        snapshot_grad = jax.lax.cond(
            opens_epoch, lambda: oracle.full_grad(state.snapshot), lambda: state.snapshot_grad
        )
        x = (
            self.tau1 * state.z
            + self.tau2 * state.snapshot
            + (1.0 - self.tau1 - self.tau2) * state.y
        )
        i = centralized.draw_index(oracle.key, n)
        g = snapshot_grad + oracle.grad(x, i) - oracle.grad(state.snapshot, i)
        z = state.z - self.alpha * g
        y = x - g / (3.0 * self.smoothness)
        average = (state.weight * state.average + y) / (state.weight + 1.0)
        weight = (state.weight + 1.0) / (1.0 + self.alpha * self.sigma)
        step = state.step + 1
        closes_epoch = step >= self.epoch_length
        new = KatyushaState(
            snapshot=jnp.where(closes_epoch, average, state.snapshot),
            snapshot_grad=snapshot_grad,
            y=y,
            z=z,
            average=average,
            weight=jnp.where(closes_epoch, 0.0, weight).astype(weight.dtype),
            step=jnp.where(closes_epoch, 0, step).astype(jnp.int32),
            num_nodes=n,
        )
        cost = round_cost(2 + jnp.where(opens_epoch, n, 0), 0)
        return new, cost
