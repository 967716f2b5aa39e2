"""The two contracts between an algorithm and an engine, side by side.

An event-driven ``Algorithm`` is written on one node's local view, the way a
worker runs it: the event engine gathers the rows of the nodes an event names,
calls a hook, and scatters the result back; it owns clocks, counters and
metrics. A round-based ``SyncAlgorithm`` is written on the whole network (one
round is matrix algebra: W @ X, every node's gradient) and reports what the
round cost. Both hold numeric hyperparameters as array leaves, say whether they
are ``exact``, offer ``from_theory``, and expose ``params`` and
``message_floats`` the same way, so sweeps and the trade-off explorer drive
either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxgossip.network.mixing import Mixing
from jaxgossip.problems.base import Problem

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


# The round contract.

State = Any  # a round-based algorithm's network state: a pytree, per-node leaves (n, ...)


class Oracle(NamedTuple):
    """Gradient access for one round. Node i's randomness is ``fold_in(key, i)``.

    Deterministic problems ignore the key; for minibatch problems, every call
    within a round with the same node draws the same minibatch.
    """

    problem: Problem
    key: jax.Array  # this round's key

    def grads(self, xs: jax.Array) -> jax.Array:
        """Every node's local gradient at its own row: xs (n, d) -> (n, d)."""
        nodes = jnp.arange(self.problem.num_nodes)
        return jax.vmap(self.grad)(xs, nodes)

    def grad(self, x: jax.Array, node) -> jax.Array:
        """The gradient of one component f_node at x: (d,), int node -> (d,)."""
        return self.problem.local_grad(jax.random.fold_in(self.key, node), x, node)

    def full_grad(self, x: jax.Array) -> jax.Array:
        """The gradient of f = mean_i f_i at x (n component gradients): (d,) -> (d,)."""
        nodes = jnp.arange(self.problem.num_nodes)
        return jnp.mean(jax.vmap(self.grad, in_axes=(None, 0))(x, nodes), axis=0)


class RoundCost(NamedTuple):
    """What one round cost."""

    computations: jax.Array  # int32 (): gradient computations (n per local gradient at every node)
    communications: jax.Array  # int32 (): messages, |E| per gossip step (each edge exchanges once)


def round_cost(computations, communications) -> RoundCost:
    """A ``RoundCost`` from (possibly Python) integers."""
    return RoundCost(
        computations=jnp.asarray(computations, jnp.int32),
        communications=jnp.asarray(communications, jnp.int32),
    )


class SyncAlgorithm(eqx.Module):
    """Base class of synchronous (round-based) algorithms.

    Subclasses hold numeric hyperparameters as array leaves
    (``eqx.field(converter=hyperparameter)``), and define ``init``, ``round``
    and usually ``params``; ``from_theory(problem, mixing)`` gives the paper's
    (or a documented) configuration.
    """

    # True when the method converges to x* exactly with constant parameters.
    exact: ClassVar[bool] = False
    # True when the method's theory covers networks that change every round
    # (TimeVaryingMixing); simulate_rounds refuses the others on such networks.
    time_varying: ClassVar[bool] = False

    @classmethod
    def from_theory(cls, problem: Problem, mixing: Mixing) -> SyncAlgorithm:
        """The algorithm configured from problem.L, problem.mu and the mixing eigenvalues."""
        raise NotImplementedError(f"{cls.__name__} does not define from_theory.")

    def init(self, xs0: jax.Array, oracle: Oracle, mixing: Mixing) -> State:
        """The network state from initial points xs0 (n, d)."""
        del oracle, mixing
        return xs0

    def params(self, state: State) -> jax.Array:
        """The iterates (n, d) metrics are computed on."""
        return state

    def round(self, state: State, oracle: Oracle, mixing: Mixing) -> tuple[State, RoundCost]:
        """One synchronous round: the new state and what it cost."""
        raise NotImplementedError(f"{type(self).__name__} does not define round.")

    def message_floats(self, dim: int) -> int:
        """Floats exchanged by one communication (both directions of an edge together)."""
        return 2 * dim
