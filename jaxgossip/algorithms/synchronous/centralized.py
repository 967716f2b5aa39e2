"""What the centralized references share: one worker holding all n functions.

A centralized method keeps a single iterate x (d,) of f = (1/n) sum_i f_i, with
no network: it never communicates, and each component gradient grad f_i it
evaluates counts as one computation (a full gradient counts n). Its ``params``
broadcasts x to every node, (n, d), so that the engine's metrics apply
unchanged: f(x_bar) - f* is f(x) - f*, and consensus is 0.
"""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxgossip.algorithms.base import SyncAlgorithm


def average_constants(problem) -> tuple[float, float]:
    """(L_f, mu_f): smoothness and strong convexity of the average f = (1/n) sum_i f_i.

    ``problem.L`` and ``problem.mu`` are max_i L_i and min_i mu_i, the constants
    of the local functions; they bound those of f (L_f <= L, mu_f >= mu) but
    can be far from them. A problem that carries the Hessian H of f
    (quadratics, least squares) gives them exactly, the extreme eigenvalues of
    H; any other problem falls back to the bounds (L, mu), with which every
    method below still provably converges. Set-up computation in float64 NumPy
    (not traceable).
    """
    hessian = getattr(problem, "H", None)
    if hessian is None:
        return float(problem.L), float(problem.mu)
    eigs = np.linalg.eigvalsh(np.asarray(hessian, np.float64))
    return float(eigs[-1]), float(eigs[0])


def start_point(xs0: jax.Array) -> jax.Array:
    """The worker's starting point from the nodes' initial points: (n, d) -> (d,), their mean."""
    return jnp.mean(xs0, axis=0)


def broadcast(x: jax.Array, num_nodes: int) -> jax.Array:
    """x (d,) at every node: (n, d)."""
    return jnp.broadcast_to(x, (num_nodes, x.shape[-1]))


def epoch_length(value) -> jax.Array:
    """An epoch length m >= 1 as an int32 array leaf (integer, so float sweeps leave it alone)."""
    return jnp.asarray(value, jnp.int32)


def draw_index(key: jax.Array, num_nodes: int) -> jax.Array:
    """The component i_t a round samples: uniform in {0, ..., n - 1} from the round's key."""
    return jax.random.randint(key, (), 0, num_nodes)


class CentralizedAlgorithm(SyncAlgorithm):
    """Base of the centralized references: one worker, no network.

    Subclasses define ``from_constants`` (their configuration from the
    average's L_f and mu_f), ``init`` and ``round``; their state has a static
    ``num_nodes`` and the iterate ``iterate(state)`` (``state.x`` by default)
    is what every node reports.
    """

    exact: ClassVar[bool] = True
    time_varying: ClassVar[bool] = True  # the network is unused

    @classmethod
    def from_theory(cls, problem, mixing=None):
        """``from_constants`` at the average's (L_f, mu_f) (``mixing`` is unused)."""
        del mixing
        smoothness, strong_convexity = average_constants(problem)
        return cls.from_constants(problem, smoothness, strong_convexity)

    @classmethod
    def from_constants(cls, problem, smoothness: float, strong_convexity: float):
        """The method configured from L_f and mu_f of the average f."""
        raise NotImplementedError(f"{cls.__name__} does not define from_constants.")

    def iterate(self, state) -> jax.Array:
        """The worker's iterate (d,) on which metrics are computed."""
        return state.x

    def params(self, state) -> jax.Array:
        return broadcast(self.iterate(state), state.num_nodes)

    def message_floats(self, dim: int) -> int:
        del dim
        return 0  # never communicates
