"""optax transformations as the local step of gradient methods, sweepable by vmap.

A method whose local step is a gradient step (AsyncGossipSGD, AD-PSGD, D-SGD,
all-reduce SGD) takes ``optimizer=``: either a ready optax
``GradientTransformation`` (``optax.sgd(0.05, momentum=0.9)``; its constants
are then compiled in), or ``optimizer(optax.sgd, learning_rate=0.05,
momentum=0.9)``, whose numeric hyperparameters are array leaves of the
algorithm, so that ``jax.vmap`` sweeps a learning rate and a new value reuses
the compiled run. The optimizer's state (momentum, Adam's moments, a step
count) lives in each node's state, leaves (n, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import numpy as np
import optax

from jaxgossip.algorithms.base import hyperparameter


class LocalOptimizer(eqx.Module):
    """An optax transformation rebuilt, inside the run, from array-leaf hyperparameters.

    Attributes:
      build: static optax constructor, e.g. ``optax.sgd``, or None for ``fixed``.
      hyperparams: name -> array leaf, its numeric keyword arguments.
      options: static (name, value) pairs of its other keyword arguments
        (booleans, schedules).
      fixed: static ready transformation, when one was given.
    """

    build: Callable | None = eqx.field(static=True)
    hyperparams: dict[str, jax.Array]
    options: tuple = eqx.field(static=True, default=())
    fixed: Any = eqx.field(static=True, default=None)

    def __check_init__(self):
        for name, value in self.hyperparams.items():
            if isinstance(value, jax.core.Tracer):
                continue
            if not np.all(np.isfinite(np.asarray(value))):
                raise ValueError(f"optimizer: {name} must be finite, got {value}.")

    def transformation(self) -> optax.GradientTransformation:
        if self.fixed is not None:
            return self.fixed
        return self.build(**self.hyperparams, **dict(self.options))

    def init(self, x: jax.Array):
        return self.transformation().init(x)

    def step(self, x: jax.Array, g: jax.Array, state) -> tuple[jax.Array, Any]:
        """(x after the step, the new optimizer state) from the gradient g at x's node."""
        updates, state = self.transformation().update(g, state, x)
        return optax.apply_updates(x, updates), state


def optimizer(build: Callable, **kwargs) -> LocalOptimizer:
    """``build(**kwargs)`` with every numeric keyword argument an array leaf.

    E.g. ``optimizer(optax.sgd, learning_rate=0.05, momentum=0.9)`` or
    ``optimizer(optax.adamw, learning_rate=1e-3, weight_decay=1e-4)``. Booleans,
    strings, None and callables (schedules) stay static options.
    """
    if not callable(build):
        raise TypeError(f"optimizer: build must be an optax constructor; got {build!r}.")
    numeric = {
        k: v
        for k, v in kwargs.items()
        if not isinstance(v, (bool, str, type(None))) and not callable(v)
    }
    options = tuple(sorted((k, v) for k, v in kwargs.items() if k not in numeric))
    return LocalOptimizer(
        build=build, hyperparams={k: hyperparameter(v) for k, v in numeric.items()}, options=options
    )


def as_local_optimizer(value) -> LocalOptimizer | None:
    """A ``LocalOptimizer`` from one, from an optax ``GradientTransformation``, or None."""
    if value is None or isinstance(value, LocalOptimizer):
        return value
    if isinstance(value, optax.GradientTransformation):
        return LocalOptimizer(build=None, hyperparams={}, fixed=value)
    raise TypeError(
        "optimizer must be an optax GradientTransformation or "
        f"jaxgossip.algorithms.optimizer(...); got {type(value).__name__}."
    )


class OptimizerState(NamedTuple):
    """One node's model and its optimizer's state."""

    x: jax.Array  # (d,)
    opt_state: Any  # the optax state pytree


def check_step(owner: str, step_size, optimizer) -> None:
    """Exactly one of a plain step size and an optimizer."""
    if (step_size is None) == (optimizer is None):
        raise ValueError(
            f"{owner}: give step_size (plain gradient steps) or optimizer (an optax "
            "transformation), exactly one."
        )
