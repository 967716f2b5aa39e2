"""Split one dataset into equal per-node shards, i.i.d. or by label."""

from __future__ import annotations

import jax
import numpy as np

from jaxgossip.problems.base import check_positive_int, numpy_rng


def partition(
    key: jax.Array, features, labels, num_nodes: int, *, iid: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Split (N, d) features and (N,) labels into ``num_nodes`` equal shards.

    Each node gets m = N // num_nodes samples; the N mod num_nodes left over are
    dropped. With ``iid=True`` samples are shuffled uniformly at random; with
    ``iid=False`` they are sorted by label (ties in random order) and cut into
    contiguous chunks, so each node sees mostly one label: the standard non-i.i.d.
    split of decentralized learning.

    Args:
      key: a JAX PRNG key.
      features: (N, d) array.
      labels: (N,) array.
      num_nodes: n, 1 <= n <= N.
      iid: random shuffle (True) or split by label (False).

    Returns:
      NumPy arrays features (n, m, d) and labels (n, m), dtypes preserved, ready
      for ``logistic_regression_from_data`` or ``least_squares``.
    """
    n = check_positive_int("num_nodes", num_nodes)
    features, labels = np.asarray(features), np.asarray(labels)
    if features.ndim != 2:
        raise ValueError(f"features must have shape (N, d), got {features.shape}")
    if labels.shape != (features.shape[0],):
        raise ValueError(
            f"labels must have shape (N,) = {(features.shape[0],)} to match features, "
            f"got {labels.shape}"
        )
    total = features.shape[0]
    if total < n:
        raise ValueError(f"cannot split N={total} samples over num_nodes={n} nodes")
    m = total // n

    order = numpy_rng(key).permutation(total)
    if not iid:
        # A stable sort after the shuffle groups labels yet keeps ties random.
        order = order[np.argsort(labels[order], kind="stable")]
    order = order[: n * m]
    return features[order].reshape(n, m, -1), labels[order].reshape(n, m)
