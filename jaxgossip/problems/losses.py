"""Per-sample losses of learning problems: (prediction of one sample, its label) -> ().

A loss is any function of that signature; a ``supervised`` problem vmaps it
over a minibatch and averages. Classification losses take integer labels.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


def softmax_cross_entropy(logits: jax.Array, label: jax.Array) -> jax.Array:
    """-log softmax(logits)[label]: logits (C,), an integer label -> ()."""
    return optax.softmax_cross_entropy_with_integer_labels(logits, label)


def squared_error(prediction: jax.Array, target: jax.Array) -> jax.Array:
    """(1/2) ||prediction - target||^2 for regression: any shapes that broadcast -> ()."""
    return 0.5 * jnp.sum((prediction - target) ** 2)


# Losses by name, for experiment files; those whose labels are classes record accuracy.
LOSSES = {"softmax_cross_entropy": softmax_cross_entropy, "squared_error": squared_error}
CLASSIFICATION_LOSSES = frozenset({"softmax_cross_entropy"})
