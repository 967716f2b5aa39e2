"""The contract between an algorithm and the engine.

An algorithm is written on one node's local view, the way a worker runs it.
The engine gathers the rows of the nodes an event names, calls a hook, and
scatters the result back; it owns clocks, counters and metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp

NodeState = Any  # a pytree of one node's variables, e.g. an array of shape (dim,)
GradientOracle = Callable[[jax.Array], jax.Array]  # x (dim,) -> local (stochastic) gradient (dim,)


def hyperparameter(value) -> jax.Array:
    """Converts a hyperparameter to an array leaf in the default float dtype.

    Array leaves are what lets ``jax.vmap`` sweep a value and lets a new value
    reuse the compiled run; a Python float would be a static constant.
    """
    return jnp.asarray(value, dtype=jnp.result_type(float))


class Algorithm(eqx.Module):
    """Base class of event-driven decentralized algorithms.

    Subclasses hold their numeric hyperparameters as array fields (use
    ``eqx.field(converter=hyperparameter)``) and override the hooks. Each
    provides ``from_theory(problem, clocks)``, its paper's (or a documented)
    default configuration for a setting.
    """

    # True when the method converges to x* exactly with constant parameters.
    exact: ClassVar[bool] = False

    @classmethod
    def from_theory(cls, problem, clocks) -> Algorithm:
        """The algorithm configured for ``problem`` on ``clocks``."""
        raise NotImplementedError(f"{cls.__name__} does not define from_theory.")

    def init(self, x0: jax.Array, problem) -> NodeState:
        """One node's initial state from its initial point x0 (dim,)."""
        del problem
        return x0

    def params(self, node: NodeState) -> jax.Array:
        """The node's current estimate x_i (dim,), on which metrics are computed."""
        return node

    def on_compute(self, node: NodeState, t: jax.Array, grad: GradientOracle) -> NodeState:
        """A compute event at simulated time t; ``grad`` is the node's local oracle."""
        del t, grad
        return node

    def on_communicate(
        self, node_i: NodeState, node_j: NodeState, t: jax.Array, edge: jax.Array
    ) -> tuple[NodeState, NodeState]:
        """A communication event along ``edge`` between nodes i and j at time t."""
        del t, edge
        return node_i, node_j

    def message_floats(self, dim: int) -> int:
        """Floats exchanged by one communication event (both directions together)."""
        return 2 * dim
