"""Learning problems: a model, a per-sample loss and one data shard per node.

f_i(x) = mean over node i's samples of loss(model_x(a_k), y_k), x the model's
parameters flattened to one vector (``jax.flatten_util.ravel_pytree``'s order),
so that every algorithm, asynchronous or synchronous, runs on a network of
models unchanged: a node's state is a vector of d floats as for the convex
problems. f = (1/n) sum_i f_i, the objective decentralized methods minimise,
weighs nodes equally whatever their shard sizes.

Unlike the convex problems a learning problem has no x*, f*, L or mu: reading
them raises ``NotConvexError``, and every ``from_theory`` refuses it naming
the hyperparameters to give. It records its own metrics instead (``record``):
the loss and accuracy of the network-averaged model x_bar on a fixed
evaluation subset of the pooled training data and on the test set, and the
mean over nodes of each node's own test loss and accuracy.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxgossip.problems.base import check_batch_size, float_dtype, numpy_rng
from jaxgossip.problems.losses import CLASSIFICATION_LOSSES, LOSSES
from jaxgossip.problems.split import Shards

INITS = ("shared", "per_node")


class NotConvexError(ValueError):
    """A learning problem was asked for a constant of convex theory (x*, f*, L, mu)."""


class ModelApply(eqx.Module):
    """``apply(params, x)`` of an equinox model: its parameters recombined with its skeleton.

    The skeleton (the model with its arrays removed) is static and compares by
    value, so two problems built on models of one architecture share compiled runs.
    """

    skeleton: Any = eqx.field(static=True)

    def __call__(self, params, x):
        return eqx.combine(params, self.skeleton)(x)


class Supervised(eqx.Module):
    """A network of n nodes training one model, each on its own data shard.

    Attributes:
      features: (n, m, ...) each node's samples, zero-padded past ``counts``.
      labels: (n, m) int32 class labels (or (n, m, ...) float targets), padded.
      counts: (n,) int32 samples per node, each >= 1.
      start: (n, d) the nodes' initial parameters (identical rows for a shared
        initialisation); what a run starts from unless given x0.
      eval_features, eval_labels: a fixed subset of the pooled training data
        on which ``train_loss`` and ``train_accuracy`` are measured.
      test_features, test_labels: the test set.
      apply: static ``apply(params, x) -> prediction`` of one sample.
      loss: static ``loss(prediction, label) -> ()``.
      treedef, shapes: static layout of the parameter pytree in the flat vector.
      batch_size: static minibatch size (indices drawn uniformly with
        replacement among the node's own samples, so a node holding fewer than
        b samples still draws b); None: full local gradients.
      accuracy: static, True when predictions are logits over classes.
    """

    features: jax.Array
    labels: jax.Array
    counts: jax.Array
    start: jax.Array
    eval_features: jax.Array
    eval_labels: jax.Array
    test_features: jax.Array
    test_labels: jax.Array
    apply: Callable = eqx.field(static=True)
    loss: Callable = eqx.field(static=True)
    treedef: Any = eqx.field(static=True)
    shapes: tuple = eqx.field(static=True)
    batch_size: int | None = eqx.field(static=True, default=None)
    accuracy: bool = eqx.field(static=True, default=True)

    convex = False

    # --- what the engines read ---------------------------------------------------

    @property
    def num_nodes(self) -> int:
        return self.features.shape[0]

    @property
    def num_samples(self) -> int:
        """m, the largest shard (shards may differ: see ``counts``)."""
        return self.features.shape[1]

    @property
    def dim(self) -> int:
        """d, the number of model parameters."""
        return self.start.shape[-1]

    @property
    def dtype(self) -> np.dtype:
        return self.start.dtype

    def start_points(self) -> jax.Array:
        return self.start

    def unravel(self, x: jax.Array):
        """The parameter pytree of a flat vector x (d,)."""
        sizes = [math.prod(shape) for shape in self.shapes]
        pieces = jnp.split(x, np.cumsum(sizes)[:-1])
        leaves = [piece.reshape(shape) for piece, shape in zip(pieces, self.shapes)]
        return jax.tree.unflatten(self.treedef, leaves)

    def predict(self, x: jax.Array, features: jax.Array) -> jax.Array:
        """The model x's predictions on a batch of samples (b, ...) -> (b, ...)."""
        params = self.unravel(x)
        return jax.vmap(self.apply, in_axes=(None, 0))(params, features)

    def _mean_loss(self, x, features, labels, weights) -> jax.Array:
        losses = jax.vmap(self.loss)(self.predict(x, features), labels)
        return jnp.sum(weights * losses) / jnp.sum(weights)

    def local_value(self, x: jax.Array, node: jax.Array) -> jax.Array:
        """f_node(x): the mean loss over the node's own samples."""
        weights = (jnp.arange(self.num_samples) < self.counts[node]).astype(x.dtype)
        return self._mean_loss(x, self.features[node], self.labels[node], weights)

    def local_grad(self, key: jax.Array, x: jax.Array, node: jax.Array) -> jax.Array:
        """The gradient of f_node at x, on a minibatch drawn from ``key`` (or all samples)."""
        if self.batch_size is None:
            return jax.grad(self.local_value)(x, node)
        # With replacement, among the node's counts[node] samples: O(b) per draw.
        idx = jax.random.randint(key, (self.batch_size,), 0, self.counts[node])
        features, labels = self.features[node, idx], self.labels[node, idx]
        weights = jnp.ones((self.batch_size,), x.dtype)
        return jax.grad(self._mean_loss)(x, features, labels, weights)

    def value(self, x: jax.Array) -> jax.Array:
        """f(x) = (1/n) sum_i f_i(x)."""
        nodes = jnp.arange(self.num_nodes)
        return jnp.mean(jax.vmap(self.local_value, in_axes=(None, 0))(x, nodes))

    def values(self, xs: jax.Array) -> jax.Array:
        return jax.vmap(self.value)(xs)

    def grad(self, x: jax.Array) -> jax.Array:
        return jax.grad(self.value)(x)

    def with_batch_size(self, batch_size: int | None) -> Supervised:
        """A copy using minibatches of ``batch_size`` (None: full local gradients)."""
        check_batch_size(batch_size, self.num_samples)
        return dataclasses.replace(self, batch_size=batch_size)

    # --- metrics -------------------------------------------------------------------

    @property
    def metric_goals(self) -> dict[str, str]:
        names = ("train", "test", "node_test")
        goals = {f"{name}_loss": "min" for name in names}
        if self.accuracy:
            goals.update({f"{name}_accuracy": "max" for name in names})
        return dict(sorted(goals.items()))

    @property
    def per_node_metrics(self) -> tuple[str, ...]:
        return tuple(name for name in self.metric_goals if name.startswith("node_"))

    def _evaluate(self, x, features, labels) -> dict[str, jax.Array]:
        predictions = self.predict(x, features)
        out = {"loss": jnp.mean(jax.vmap(self.loss)(predictions, labels))}
        if self.accuracy:
            hits = jnp.argmax(predictions, axis=-1) == labels
            out["accuracy"] = jnp.mean(hits.astype(x.dtype))
        return out

    def record(self, xs: jax.Array, per_node: bool = True) -> dict[str, jax.Array]:
        """One record: the averaged model's train and test metrics, and the mean over
        nodes of their own test metrics (NaN when ``per_node`` is False: n evaluations)."""
        x_bar = jnp.mean(xs, axis=0)
        out = {}
        for prefix, features, labels in (
            ("train", self.eval_features, self.eval_labels),
            ("test", self.test_features, self.test_labels),
        ):
            for name, value in self._evaluate(x_bar, features, labels).items():
                out[f"{prefix}_{name}"] = value
        if per_node:
            each = jax.vmap(self._evaluate, in_axes=(0, None, None))(
                xs, self.test_features, self.test_labels
            )
            out.update({f"node_test_{name}": jnp.mean(value) for name, value in each.items()})
        else:
            for name in self.per_node_metrics:
                out[name] = jnp.full((), jnp.nan, x_bar.dtype)
        return out

    # --- what convex theory needs, and a learning problem lacks ------------------------

    def _not_convex(self, name: str):
        raise NotConvexError(
            f"a learning problem (Supervised) has no {name}: it is not convex. Configure "
            "the algorithm with explicit hyperparameters (e.g. AsyncGossipSGD(step_size=0.05)) "
            "instead of from_theory, and read its metrics (trace.metrics) instead of "
            "suboptimality."
        )

    @property
    def x_star(self):
        self._not_convex("minimizer x*")

    @property
    def f_star(self):
        self._not_convex("optimal value f*")

    @property
    def L(self):  # noqa: N802
        self._not_convex("smoothness constant L")

    @property
    def mu(self):
        self._not_convex("strong-convexity constant mu")


def supervised(
    model,
    loss,
    shards: Shards,
    *,
    test,
    batch_size: int | None = None,
    params=None,
    init: str = "shared",
    key: jax.Array | None = None,
    eval_size: int | None = 2048,
    accuracy: bool | None = None,
) -> Supervised:
    """A learning problem: ``model`` trained with ``loss`` on one shard per node.

    Args:
      model: an equinox model (called on one sample), or, with ``params``, a pure
        ``apply(params, x)``; with ``init="per_node"``, a function ``key -> model``.
      loss: ``loss(prediction, label) -> ()`` per sample (``jaxgossip.problems.losses``),
        or its name there.
      shards: the nodes' data (``jaxgossip.problems.split``).
      test: the test set: a ``Samples`` or a (features, labels) pair.
      batch_size: minibatch size of a compute event's gradient; None: full shards.
      params: the parameter pytree of a pure ``apply``.
      init: ``"shared"``, every node starts from the same parameters (the
        model's own, as real decentralized training does); ``"per_node"``,
        node i from ``model(fold_in(key, i))``'s.
      key: needed by ``init="per_node"``, or to draw a shared model from a
        function ``key -> model``; also draws the training evaluation subset.
      eval_size: samples of the pooled training data on which the train metrics
        are measured (a fixed random subset, so that recording stays cheap);
        None: all of them. The test metrics use the whole test set.
      accuracy: record accuracies (the predictions are logits over classes);
        by default, when ``loss`` is a classification loss.

    Raises:
      ValueError: shapes that do not match, an unknown init or loss name, a
        batch size above a node's samples.
    """
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"supervised: unknown loss {loss!r}; choose one of {sorted(LOSSES)}.")
        accuracy = loss in CLASSIFICATION_LOSSES if accuracy is None else accuracy
        loss = LOSSES[loss]
    if accuracy is None:
        accuracy = any(loss is LOSSES[name] for name in CLASSIFICATION_LOSSES)
    if init not in INITS:
        raise ValueError(f"supervised: init must be one of {INITS}; got {init!r}.")
    if not isinstance(shards, Shards):
        raise TypeError(
            f"supervised: shards must be a Shards (problems.split); got {type(shards)}."
        )
    n = shards.features.shape[0]
    dtype = float_dtype()

    if params is not None:  # a pure apply(params, x)
        if init == "per_node":
            raise ValueError('supervised: init="per_node" needs a function key -> model.')
        apply, trees = model, [params]
    else:
        if init == "per_node" or not isinstance(model, eqx.Module):
            if key is None:
                raise ValueError(
                    "supervised: drawing models from a function key -> model needs a key."
                )
            count = n if init == "per_node" else 1
            models = [model(jax.random.fold_in(key, i)) for i in range(count)]
        else:
            models = [model]
        splits = [eqx.partition(m, eqx.is_inexact_array) for m in models]
        skeleton = splits[0][1]
        if any(s != skeleton for _, s in splits):
            raise ValueError("supervised: the per-node models must share one architecture.")
        apply, trees = ModelApply(skeleton), [p for p, _ in splits]
    leaves, treedef = jax.tree.flatten(trees[0])
    shapes = tuple(tuple(np.shape(leaf)) for leaf in leaves)
    flat = [
        np.concatenate([np.ravel(np.asarray(leaf, np.float64)) for leaf in jax.tree.leaves(t)])
        for t in trees
    ]
    start = np.stack(flat) if init == "per_node" else np.broadcast_to(flat[0], (n, flat[0].size))

    test_features, test_labels = test
    test_features = np.asarray(test_features, np.float64)
    if test_features.shape[1:] != shards.features.shape[2:]:
        raise ValueError(
            f"supervised: test samples have shape {test_features.shape[1:]}, training samples "
            f"{shards.features.shape[2:]}."
        )
    pooled_features = shards.features[shards.mask()]
    pooled_labels = shards.labels[shards.mask()]
    chosen = np.arange(len(pooled_labels))
    if eval_size is not None and eval_size < len(chosen):
        rng = numpy_rng(jax.random.key(0) if key is None else jax.random.fold_in(key, n))
        chosen = np.sort(rng.choice(len(chosen), eval_size, replace=False))
    label_dtype = jnp.int32 if accuracy else dtype
    problem = Supervised(
        features=jnp.asarray(shards.features, dtype),
        labels=jnp.asarray(shards.labels, label_dtype),
        counts=jnp.asarray(shards.counts, jnp.int32),
        start=jnp.asarray(start, dtype),
        eval_features=jnp.asarray(pooled_features[chosen], dtype),
        eval_labels=jnp.asarray(pooled_labels[chosen], label_dtype),
        test_features=jnp.asarray(test_features, dtype),
        test_labels=jnp.asarray(np.asarray(test_labels), label_dtype),
        apply=apply,
        loss=loss,
        treedef=treedef,
        shapes=shapes,
        accuracy=bool(accuracy),
    )
    return problem if batch_size is None else problem.with_batch_size(batch_size)
