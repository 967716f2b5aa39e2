"""Centralized SVRG, the variance-reduced stochastic reference.

R. Johnson, T. Zhang, "Accelerating Stochastic Gradient Descent using
Predictive Variance Reduction", NeurIPS 2013, Figure 1 (procedure SVRG): epochs
s = 1, 2, ... of m inner steps from a snapshot w~,

    mu~ = grad f(w~) = (1/n) sum_i grad f_i(w~)            (snapshot, once per epoch)
    w_t = w_{t-1} - eta (grad f_{i_t}(w_{t-1}) - grad f_{i_t}(w~) + mu~),   i_t uniform,

with Option I, w~ <- w_m: the next snapshot is the last inner iterate (the
option the paper runs in its experiments; its Theorem 1 is proved for Option
II, a uniformly random inner iterate; we check Option I's linear convergence
in the tests). The inner iterate runs on across epochs (w_0 = w~ = w_m).

One round is one inner step. It evaluates two component gradients, grad
f_{i_t}(w_{t-1}) and grad f_{i_t}(w~) (we store no table of the n snapshot
gradients), so 2 computations; a round that opens an epoch also computes the
snapshot's full gradient, n more. No communication. The index of a round is
``jax.random.randint(oracle.key, (), 0, n)``, so a replay can redraw it.

``from_theory`` takes the constants of the example after Theorem 1,
eta = 0.1 / L and m = 50 L / gamma, for which the theorem's per-epoch
contraction is 1/2 (L = max_i L_i the smoothness of the components, gamma the
strong convexity of f, exact when the problem carries its Hessian, else
min_i mu_i): O((n + kappa) log(1/eps)) computations in all. These constants
are conservative: m = 2n with eta = 1/(4L) reaches 1e-10 about five times
sooner on the tests' quadratic. (Source note: written from memory of the
paper; Theorem 1's rate 1/(gamma eta (1 - 2 L eta) m) + 2 L eta / (1 - 2 L eta)
gives 1/2 at these constants.)
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxgossip.algorithms.base import hyperparameter, round_cost
from jaxgossip.algorithms.synchronous import centralized

#: from_theory's constants (Johnson & Zhang 2013, after Theorem 1).
STEP = 0.1  # eta = STEP / L
EPOCH = 50.0  # m = ceil(EPOCH * L / gamma)


class SVRGState(eqx.Module):
    """The worker's state."""

    x: jax.Array  # (d,) the inner iterate w_t, on which metrics are computed
    snapshot: jax.Array  # (d,) w~ of the current epoch
    snapshot_grad: jax.Array  # (d,) mu~ = grad f(w~) (zeros before the first epoch)
    step: jax.Array  # () int32, inner steps done in the current epoch, in [0, m)
    num_nodes: int = eqx.field(static=True)  # n


class SVRG(centralized.CentralizedAlgorithm):
    """SVRG (Option I) by one worker holding every f_i.

    Args:
      step_size: eta (float array leaf).
      epoch_length: m, inner steps per epoch (int32 array leaf).
    """

    step_size: jax.Array = eqx.field(converter=hyperparameter)
    epoch_length: jax.Array = eqx.field(converter=centralized.epoch_length)

    @classmethod
    def from_constants(cls, problem, smoothness, strong_convexity) -> SVRG:
        """eta = 0.1 / L, m = ceil(50 L / gamma), L = max_i L_i and gamma = mu_f."""
        del smoothness  # L of the components, not of f: the inner steps use one f_i
        smoothness = float(problem.L)
        m = int(np.ceil(EPOCH * smoothness / strong_convexity))
        return cls(step_size=STEP / smoothness, epoch_length=m)

    def init(self, xs0, oracle, mixing) -> SVRGState:
        del oracle, mixing
        x0 = centralized.start_point(xs0)
        return SVRGState(
            x=x0,
            snapshot=x0,
            snapshot_grad=jnp.zeros_like(x0),
            step=jnp.zeros((), jnp.int32),
            num_nodes=xs0.shape[0],
        )

    def round(self, state: SVRGState, oracle, mixing):
        del mixing
        n = state.num_nodes
        opens_epoch = state.step == 0
        # Option I: the new snapshot is the current (last inner) iterate.
        snapshot, snapshot_grad = jax.lax.cond(
            opens_epoch,
            lambda: (state.x, oracle.full_grad(state.x)),
            lambda: (state.snapshot, state.snapshot_grad),
        )
        i = centralized.draw_index(oracle.key, n)
        g = oracle.grad(state.x, i) - oracle.grad(snapshot, i) + snapshot_grad
        step = state.step + 1
        new = SVRGState(
            x=state.x - self.step_size * g,
            snapshot=snapshot,
            snapshot_grad=snapshot_grad,
            step=jnp.where(step >= self.epoch_length, 0, step).astype(jnp.int32),
            num_nodes=n,
        )
        cost = round_cost(2 + jnp.where(opens_epoch, n, 0), 0)
        return new, cost
