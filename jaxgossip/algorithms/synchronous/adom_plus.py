"""ADOM+: optimal primal decentralized method for (time-varying) networks.

D. Kovalev, E. Gasanov, A. Gasnikov, P. Richtarik, "Lower Bounds and Optimal
Algorithms for Smooth and Strongly Convex Decentralized Optimization Over
Time-Varying Networks", NeurIPS 2021, Algorithm 2 (ADOM+) and its
multi-consensus variant; it builds on ADOM (D. Kovalev, E. Shulgin,
P. Richtarik, A. Rogozin, A. Gasnikov, "ADOM: Accelerated Decentralized
Optimization Method for Time-Varying Networks", ICML 2021), replacing ADOM's
dual gradients by primal ones. It solves the saddle-point reformulation

    min_x max_{y, z in L^perp} F(x) - nu/2 |x|^2 - <y, x> - 1/(2 nu) |y + z|^2,

(F(x) = sum_i f_i(x_i), L^perp the vectors whose rows sum to zero) by an
accelerated forward-backward method in (x, y), and treats the communication
W (y + z) on z as a contractive compression with error feedback m. With
x_f = x^0, y = y_f = 0, z = z_f = 0, m = 0 and G the gossip operator, iteration k is

    x_g     = tau1 x + (1 - tau1) x_f,   y_g = sigma1 y + (1 - sigma1) y_f,
    z_g     = sigma1 z + (1 - sigma1) z_f
    x^{k+1} = x + eta alpha (x_g - x^{k+1}) - eta (grad F(x_g) - nu x_g - y^{k+1})
    y^{k+1} = y + theta beta (grad F(x_g) - nu x_g - y^{k+1})
              - theta ((y_g + z_g) / nu + x^{k+1})
    x_f     <- x_g + tau2 (x^{k+1} - x),   y_f <- y_g + sigma2 (y^{k+1} - y)
    u       = gamma / nu (y_g + z_g) + m
    z^{k+1} = z + gamma delta (z_g - z) - G u,   m^{k+1} = u - G u
    z_f     <- z_g - zeta G (y_g + z_g).

The two implicit lines are a 2x2 linear system per coordinate, solved in closed
form in ``round``. The constants are those of the paper's ADOM+ theorem:
tau2 = sqrt(mu / L), tau1 = 1 / (1 / tau2 + 1/2), eta = 1 / (L tau2),
alpha = nu = mu / 2, sigma2 = sqrt(mu / L) / (16 chi), sigma1 = 1 / (1 / sigma2 + 1/2),
beta = 1 / (2 L), gamma = nu / (14 sigma2 chi^2), delta = 1 / (17 L),
theta = nu / (4 sigma2), zeta = 1/2, where chi bounds the condition number of G,
whose spectrum must lie in [1 / chi, 1] on L^perp (so |G x - x|^2 <= (1 - 1/chi) |x|^2
there, the contraction the analysis uses). It then needs
O(chi sqrt(L / mu) log(1 / eps)) rounds. We could not open the paper's text
while writing this: the iteration and constants were recalled and checked
against an independent public implementation (not copied); the tests check
exact linear convergence and the sqrt(kappa) scaling. The consensus component
of m (which G ignores) drifts linearly, as in the paper's iteration; it never
affects the other variables.

The gossip operator, from the mixing W with W_p = I - W (spectrum
[lambda_2, lambda_max] on L^perp), K = ``num_gossip_steps`` gossip steps:

- plain (``chebyshev=False``), the paper's multi-consensus:
  G = I - (I - W_p / lambda_max)^K, chi = 1 / (1 - (1 - lambda_2 / lambda_max)^K);
  K = 1 is ADOM+ itself (G = W_p / lambda_max, chi = lambda_max / lambda_2), and
  K = ceil(chi_1) makes chi <= e / (e - 1), the optimal multi-consensus variant;
- Chebyshev (``chebyshev=True``, for a fixed network): G = P / lambda_max(P),
  P the accelerated gossip of Scaman et al. (2017) (``msda.chebyshev_gossip``),
  chi = ((1 + c1^K) / (1 - c1^K))^2, K = floor(sqrt(chi_1)) by default.

``ADOMPlusMultiConsensus`` is ADOM+ with Chebyshev multi-consensus by default.

Nodes report x^k. Exact: converges linearly to x*. Cost of a round: n gradient
computations (at x_g), K |E| communications; G acts on u and y_g + z_g
together, two d-vectors both ways per edge: message_floats = 4 d.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxgossip.algorithms.base import Oracle, SyncAlgorithm, hyperparameter, round_cost
from jaxgossip.algorithms.ops import chebyshev_constants, chebyshev_gossip
from jaxgossip.network.mixing import Mixing, TimeVaryingMixing


class ADOMPlusState(NamedTuple):
    """The network state after round k."""

    x: jax.Array  # (n, d) x^{k+1}, the reported iterate
    x_f: jax.Array  # (n, d)
    y: jax.Array  # (n, d) dual of the consensus constraint
    y_f: jax.Array  # (n, d)
    z: jax.Array  # (n, d) in L^perp (rows sum to zero)
    z_f: jax.Array  # (n, d) in L^perp
    m: jax.Array  # (n, d) error-feedback memory


def gossip_operator_constants(
    mixing: Mixing, num_gossip_steps: int | None, chebyshev: bool
) -> tuple[int, float]:
    """(K, chi) of ADOM+'s gossip operator G (module docstring), NumPy set-up."""
    if chebyshev:
        cheb = chebyshev_constants(mixing, num_gossip_steps)
        return cheb.num_steps, cheb.lambda_max / cheb.lambda_min
    steps = 1 if num_gossip_steps is None else num_gossip_steps
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"num_gossip_steps must be an int >= 1, got {steps!r}")
    ratio = float(mixing.lambda_2) / float(mixing.lambda_max)
    return int(steps), float(1.0 / -np.expm1(steps * np.log1p(-ratio)))


class ADOMPlus(SyncAlgorithm):
    """ADOM+ (Kovalev, Gasanov, Gasnikov, Richtarik, 2021) on a fixed network.

    Args:
      tau1, tau2, sigma1, sigma2, eta, theta, alpha, beta, gamma, delta, nu, zeta:
        the paper's parameters (array leaves).
      num_gossip_steps: K, gossip steps per round (static).
      chebyshev: Chebyshev instead of repeated gossip steps (static).

    G is normalized from the mixing's eigenvalue leaves at run time (a property
    of the gossip matrix, like the Chebyshev constants), not stored here.
    """

    tau1: jax.Array = eqx.field(converter=hyperparameter)
    tau2: jax.Array = eqx.field(converter=hyperparameter)
    sigma1: jax.Array = eqx.field(converter=hyperparameter)
    sigma2: jax.Array = eqx.field(converter=hyperparameter)
    eta: jax.Array = eqx.field(converter=hyperparameter)
    theta: jax.Array = eqx.field(converter=hyperparameter)
    alpha: jax.Array = eqx.field(converter=hyperparameter)
    beta: jax.Array = eqx.field(converter=hyperparameter)
    gamma: jax.Array = eqx.field(converter=hyperparameter)
    delta: jax.Array = eqx.field(converter=hyperparameter)
    nu: jax.Array = eqx.field(converter=hyperparameter)
    zeta: jax.Array = eqx.field(converter=hyperparameter)
    num_gossip_steps: int = eqx.field(static=True, default=1)
    chebyshev: bool = eqx.field(static=True, default=False)

    exact: ClassVar[bool] = True
    time_varying: ClassVar[bool] = True

    @classmethod
    def from_theory(
        cls,
        problem,
        mixing: Mixing | TimeVaryingMixing,
        num_gossip_steps: int | None = None,
        chebyshev: bool | None = None,
    ) -> ADOMPlus:
        """The paper's constants for the gossip operator chosen (module docstring).

        Args:
          problem: gives L and mu.
          mixing: the gossip matrix, or a ``TimeVaryingMixing`` (its worst-case
            eigenvalues give chi; then chebyshev must stay False).
          num_gossip_steps: K; None gives 1 (plain) or floor(sqrt(chi_1)) (Chebyshev).
          chebyshev: use Chebyshev-accelerated multi-consensus (None: the
            class's default, ``gossip_defaults``).
        """
        num_gossip_steps, chebyshev = cls.gossip_defaults(mixing, num_gossip_steps, chebyshev)
        steps, chi = gossip_operator_constants(mixing, num_gossip_steps, chebyshev)
        smoothness, mu = float(problem.L), float(problem.mu)
        tau2 = np.sqrt(mu / smoothness)
        sigma2 = tau2 / (16.0 * chi)
        nu = mu / 2.0
        return cls(
            tau1=1.0 / (1.0 / tau2 + 0.5),
            tau2=tau2,
            sigma1=1.0 / (1.0 / sigma2 + 0.5),
            sigma2=sigma2,
            eta=1.0 / (smoothness * tau2),
            theta=nu / (4.0 * sigma2),
            alpha=mu / 2.0,
            beta=1.0 / (2.0 * smoothness),
            gamma=nu / (14.0 * sigma2 * chi**2),
            delta=1.0 / (17.0 * smoothness),
            nu=nu,
            zeta=0.5,
            num_gossip_steps=steps,
            chebyshev=bool(chebyshev),
        )

    @classmethod
    def gossip_defaults(cls, mixing, num_gossip_steps, chebyshev) -> tuple[int | None, bool]:
        """(K, chebyshev) that ``from_theory`` uses: plain gossip unless asked."""
        chebyshev = bool(chebyshev)
        if chebyshev and isinstance(mixing, TimeVaryingMixing):
            raise ValueError(
                "ADOM+: Chebyshev gossip needs a fixed network, not a TimeVaryingMixing."
            )
        return num_gossip_steps, chebyshev

    def gossip(self, mixing: Mixing, xs: jax.Array) -> jax.Array:
        """G @ xs: (n, k) -> (n, k), K gossip steps; G vanishes on consensus."""
        if self.chebyshev:
            # Divide by the upper bound (1 + c1^K)^2 / (1 + c1^{2K}) of P's spectrum.
            root = jnp.sqrt(mixing.lambda_2 / mixing.lambda_max)
            ck = ((1.0 - root) / (1.0 + root)) ** self.num_gossip_steps
            scale = (1.0 + ck**2) / (1.0 + ck) ** 2
            return scale * chebyshev_gossip(mixing, xs, self.num_gossip_steps)

        # G xs = xs - (I - W_p / lambda_max)^K xs, accumulated from W_p terms only.
        def step(_, carry):
            rest, total = carry
            delta = mixing.laplacian_apply(rest) / mixing.lambda_max
            return rest - delta, total + delta

        _, total = jax.lax.fori_loop(0, self.num_gossip_steps, step, (xs, jnp.zeros_like(xs)))
        return total

    def init(self, xs0, oracle: Oracle, mixing: Mixing) -> ADOMPlusState:
        del oracle, mixing
        zeros = jnp.zeros_like(xs0)
        return ADOMPlusState(x=xs0, x_f=xs0, y=zeros, y_f=zeros, z=zeros, z_f=zeros, m=zeros)

    def params(self, state: ADOMPlusState) -> jax.Array:
        return state.x

    def round(self, state: ADOMPlusState, oracle: Oracle, mixing: Mixing):
        s = state
        eta, alpha, theta, beta, nu = self.eta, self.alpha, self.theta, self.beta, self.nu
        x_g = self.tau1 * s.x + (1.0 - self.tau1) * s.x_f
        y_g = self.sigma1 * s.y + (1.0 - self.sigma1) * s.y_f
        z_g = self.sigma1 * s.z + (1.0 - self.sigma1) * s.z_f
        forward = oracle.grads(x_g) - nu * x_g  # (n, d) grad F(x_g) - nu x_g
        # x^{k+1} = c (b + eta y^{k+1}); substituting it in the y line leaves one
        # linear equation in y^{k+1}.
        c = 1.0 / (1.0 + eta * alpha)
        b = s.x + eta * alpha * x_g - eta * forward
        y_new = (s.y + theta * beta * forward - (theta / nu) * (y_g + z_g) - theta * c * b) / (
            1.0 + theta * beta + theta * eta * c
        )
        x_new = c * (b + eta * y_new)
        dim = s.x.shape[-1]
        u = (self.gamma / nu) * (y_g + z_g) + s.m
        gossiped = self.gossip(mixing, jnp.concatenate([u, y_g + z_g], axis=-1))  # (n, 2d)
        g_u, g_v = gossiped[:, :dim], gossiped[:, dim:]
        new = ADOMPlusState(
            x=x_new,
            x_f=x_g + self.tau2 * (x_new - s.x),
            y=y_new,
            y_f=y_g + self.sigma2 * (y_new - s.y),
            z=s.z + self.gamma * self.delta * (z_g - s.z) - g_u,
            z_f=z_g - self.zeta * g_v,
            m=u - g_u,
        )
        cost = round_cost(mixing.num_nodes, self.num_gossip_steps * mixing.num_links)
        return new, cost

    def message_floats(self, dim: int) -> int:
        return 4 * dim


class ADOMPlusMultiConsensus(ADOMPlus):
    """ADOM+ with multi-consensus: Chebyshev-accelerated by default."""

    @classmethod
    def gossip_defaults(cls, mixing, num_gossip_steps, chebyshev) -> tuple[int | None, bool]:
        """Chebyshev multi-consensus by default; plain multi-consensus (chebyshev=False)
        defaults to the paper's K = ceil(lambda_max / lambda_2) steps. ``chebyshev``
        defaults to True on a fixed network and False on a ``TimeVaryingMixing``, where
        Chebyshev acceleration does not apply (the matrix changes between rounds; all K
        steps of round r use ``mixing.at(r)``)."""
        varying = isinstance(mixing, TimeVaryingMixing)
        if chebyshev is None:
            chebyshev = not varying
        if chebyshev and varying:
            raise ValueError(
                "ADOMPlusMultiConsensus: Chebyshev multi-consensus needs a fixed network; "
                "pass chebyshev=False for a TimeVaryingMixing."
            )
        if not chebyshev and num_gossip_steps is None:
            num_gossip_steps = int(np.ceil(float(mixing.lambda_max) / float(mixing.lambda_2)))
        return num_gossip_steps, chebyshev
