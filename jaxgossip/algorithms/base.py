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

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxgossip.network.mixing import Mixing
from jaxgossip.problems.base import Problem

NodeState = Any  # a pytree of one node's variables, e.g. an array of shape (dim,)
GradientOracle = Callable[[jax.Array], jax.Array]  # x (dim,) -> local (stochastic) gradient (dim,)


def hyperparameter(value) -> jax.Array:
    """Converts a hyperparameter to an array leaf in the default float dtype.

    Array leaves are what lets ``jax.vmap`` sweep a value and lets a new value
    reuse the compiled run; a Python float would be a static constant.
    Strings and booleans are refused (``True`` would silently become 1.0).
    """
    if isinstance(value, (str, bytes, bool, np.bool_)) or (
        isinstance(value, np.ndarray) and value.dtype.kind not in "iuf"
    ):
        raise TypeError(f"a hyperparameter must be a real number or array, got {value!r}.")
    return jnp.asarray(value, dtype=jnp.result_type(float))


def optional_hyperparameter(value) -> jax.Array | None:
    """``hyperparameter``, letting None through (a field that an alternative replaces)."""
    return None if value is None else hyperparameter(value)


# Hyperparameters that are step sizes or rates under every method's theory: a
# negative value is a typo, not an experiment, and is refused when concrete.
NONNEGATIVE = frozenset(
    {"step_size", "dual_step", "momentum_step", "eta", "eta_tilde", "gamma", "gamma_tilde"}
    | {"activation_prob", "smoothness", "nu"}
)


class TheoryConditionWarning(UserWarning):
    """A method configured (``from_theory``) where its theory's conditions fail:
    its guarantee does not apply, and the run may diverge."""


def check_problem_setting(algorithm, problem, caller: str) -> None:
    """ValueError naming ``caller`` when ``algorithm`` cannot honour ``problem``'s setting.

    Today's one case: a minibatch problem (``batch_size`` below its samples per
    node) given to a method that never samples gradients
    (``honours_batch_size = False``, e.g. the conjugate-gradient methods),
    which would silently run on exact local functions instead.
    """
    batch = getattr(problem, "batch_size", None)
    if algorithm.honours_batch_size or batch is None or batch == problem.num_samples:
        return
    raise ValueError(
        f"{caller}: {type(algorithm).__name__} uses exact local functions and cannot honour "
        f"the problem's batch_size={batch}; pass problem.with_batch_size(None) (full local "
        "gradients) or choose a method that samples gradients."
    )


def refuse_learning_problem(cls, problem) -> None:
    """ValueError when ``cls.from_theory`` is given a learning problem: it has no L, mu
    or x* to configure from. The message names the hyperparameters to give instead."""
    if getattr(problem, "convex", True):
        return
    names = [
        f.name
        for f in dataclasses.fields(cls)
        if not f.metadata.get("static", False) and f.name not in ("optimizer",)
    ]
    given = f"{cls.__name__}({', '.join(f'{name}=...' for name in names)})"
    if any(f.name == "optimizer" for f in dataclasses.fields(cls)):
        given += f" or {cls.__name__}(optimizer=optax.sgd(...))"
    raise ValueError(
        f"{cls.__name__}.from_theory configures the method from the smoothness L, the strong "
        f"convexity mu or the minimizer x* of a convex problem, which the learning problem "
        f"{type(problem).__name__} does not have. Give its hyperparameters yourself: "
        f"{given}."
    )


def refuse_degenerate_constants(cls, problem) -> None:
    """ValueError when a convex problem's concrete L or mu cannot configure a method.

    Every ``from_theory`` divides by mu or L (step sizes 1/L, condition numbers
    L/mu, accelerated rates sqrt(mu/L)); a problem with mu = 0 (a user's merely
    convex problem), mu > L or a non-finite constant would give inf or NaN
    hyperparameters, and a run that silently diverges.
    """
    L, mu = (getattr(problem, name, None) for name in ("L", "mu"))
    if L is None or mu is None or isinstance(L, jax.core.Tracer) or isinstance(mu, jax.core.Tracer):
        return  # traced under jit or vmap: left to the caller
    L, mu = float(np.asarray(L)), float(np.asarray(mu))
    if np.isfinite(L) and np.isfinite(mu) and 0.0 < mu <= L:
        return
    raise ValueError(
        f"{cls.__name__}.from_theory needs a problem with finite constants 0 < mu <= L, got "
        f"L={L!r}, mu={mu!r} (mu > 0: strongly convex). Give its hyperparameters yourself."
    )


def _guard_from_theory(cls) -> None:
    """Wraps a class's own ``from_theory`` so that it refuses learning problems and
    degenerate constants (mu <= 0, mu > L, non-finite) first."""
    method = cls.__dict__.get("from_theory")
    if not isinstance(method, classmethod):
        return
    function = method.__func__

    @functools.wraps(function)
    def from_theory(klass, problem, *args, **kwargs):
        refuse_learning_problem(klass, problem)
        refuse_degenerate_constants(klass, problem)
        return function(klass, problem, *args, **kwargs)

    cls.from_theory = classmethod(from_theory)


def check_hyperparameters(module: eqx.Module) -> None:
    """ValueError naming the field: a concrete hyperparameter that is NaN or
    infinite, or negative when its name is in ``NONNEGATIVE``.

    Traced values (an algorithm built inside ``jax.vmap`` or ``jax.jit``) cannot
    be inspected and are left to the caller.
    """
    for field in dataclasses.fields(module):
        value = getattr(module, field.name, None)
        if not isinstance(value, jax.Array) or isinstance(value, jax.core.Tracer):
            continue
        if not jnp.issubdtype(value.dtype, jnp.floating):
            continue
        array = np.asarray(value)
        name = type(module).__name__
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name}: {field.name} must be finite, got {array}.")
        if field.name in NONNEGATIVE and np.any(array < 0):
            raise ValueError(f"{name}: {field.name} must be >= 0, got {array}.")


class Algorithm(eqx.Module):
    """Base class of event-driven decentralized algorithms.

    Subclasses hold their numeric hyperparameters as array fields (use
    ``eqx.field(converter=hyperparameter)``) and override the hooks. Each
    provides ``from_theory(problem, clocks)``, its paper's (or a documented)
    default configuration for a setting.
    """

    # True when the method converges to x* exactly with constant parameters.
    exact: ClassVar[bool] = False
    # True when a node's state stores the time of its last event (methods that
    # integrate an ODE lazily over t - t_i). The engine then hands the hooks
    # times relative to a per-chunk origin and moves the stored times with
    # ``shift_time``, so that t - t_i stays exact in float32 however long the
    # run; other methods see absolute times.
    stores_time: ClassVar[bool] = False
    # False when the method never calls the gradient oracle (it uses exact
    # conjugates): the engines refuse minibatch problems for it.
    honours_batch_size: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _guard_from_theory(cls)

    def __check_init__(self):
        check_hyperparameters(self)

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

    def shift_time(self, node: NodeState, shift: jax.Array) -> NodeState:
        """The node's state with its stored event times moved back by ``shift``.

        Only called when ``stores_time``; the default handles a NamedTuple
        state with one ``time`` field.
        """
        return node._replace(time=node.time - jnp.asarray(shift, node.time.dtype))


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
    # As for ``Algorithm``: False refuses minibatch problems.
    honours_batch_size: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _guard_from_theory(cls)

    def __check_init__(self):
        check_hyperparameters(self)

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
