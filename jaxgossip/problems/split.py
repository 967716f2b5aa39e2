"""Deal labelled samples out to nodes: i.i.d., by label shards, or by Dirichlet skew.

The three are the usual splits of decentralized and federated learning papers.
Nodes may receive different numbers of samples, so the shards are padded to
the largest one and carry their counts; every sample goes to exactly one node.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

from jaxgossip.problems.base import check_positive_int, numpy_rng
from jaxgossip.problems.datasets import LabelledData, Samples

SPLITS = ("iid", "label", "dirichlet")
# A Dirichlet draw that leaves a node empty is redrawn at most this often (at
# alpha = 0.1, 10 nodes and 10 balanced classes, about 3% of draws are).
DIRICHLET_ATTEMPTS = 100


class Shards(NamedTuple):
    """Per-node samples, padded to the largest shard m = max(counts).

    Row j of node i is a sample for j < counts[i] and zero padding after it.
    """

    features: np.ndarray  # (n, m, ...) float64
    labels: np.ndarray  # (n, m) int64, padding 0
    counts: np.ndarray  # (n,) int64, each >= 1
    num_classes: int  # C

    def mask(self) -> np.ndarray:
        """(n, m) bool: True where a row is a sample, False where it is padding."""
        return np.arange(self.labels.shape[1]) < self.counts[:, None]

    def label_histogram(self) -> np.ndarray:
        """(n, C) int64: how many samples of each class each node holds (padding excluded)."""
        n, classes = self.labels.shape[0], self.num_classes
        node = np.broadcast_to(np.arange(n)[:, None], self.labels.shape)
        mask = self.mask()
        flat = node[mask] * classes + self.labels[mask]
        return np.bincount(flat, minlength=n * classes).reshape(n, classes).astype(np.int64)


def split(
    samples,
    num_nodes: int,
    *,
    by: str = "iid",
    alpha: float | None = None,
    classes_per_node: int = 2,
    key: jax.Array | None = None,
    seed: int = 0,
) -> Shards:
    """Deal ``samples`` out to ``num_nodes`` nodes.

    ``by="iid"``: a uniform random permutation cut into n parts whose sizes
    differ by at most 1; every node sees the label distribution of the whole.

    ``by="label"``: the pathological split of McMahan et al. (2017, FedAvg):
    samples sorted by label are cut into n * classes_per_node shards of (nearly)
    equal size, and each node gets classes_per_node shards at random, so it sees
    at most classes_per_node classes. Cuts fall on class boundaries (each class
    gets a number of shards in proportion to its size, at least one), which is
    McMahan's split when the classes are balanced and C divides the number of
    shards, and otherwise keeps the bound on classes a node sees.

    ``by="dirichlet"``: the protocol of Hsu et al. (2019): for each class c,
    proportions p_c ~ Dirichlet(alpha * ones(n)) share that class's samples among
    the nodes. Small alpha (0.1) gives each node a few dominant classes, large
    alpha (100) is close to i.i.d.; node sizes vary too. A draw that leaves a node
    without samples is redrawn.

    Within each node the rows are in random order.

    Args:
      samples: a ``Samples`` (features (N, ...), labels (N,) in 0..C-1), or a
        ``LabelledData``, whose train split is dealt out.
      num_nodes: n, 1 <= n <= N.
      by: ``"iid"``, ``"label"`` or ``"dirichlet"``.
      alpha: the Dirichlet concentration, > 0; required by ``"dirichlet"`` only.
      classes_per_node: the shards, hence at most the classes, per node for
        ``"label"``; needs C <= n * classes_per_node <= N.
      key: a JAX PRNG key; the draws are made in NumPy from it.
      seed: seeds NumPy's generator when ``key`` is None.

    Returns:
      ``Shards``; the same inputs (and key or seed) give the same shards.

    Raises:
      ValueError: bad arguments, or a Dirichlet split that leaves a node empty
        after repeated draws.
    """
    features, labels, num_classes = _check_samples(samples)
    n = check_positive_int("num_nodes", num_nodes)
    if n > labels.size:
        raise ValueError(f"cannot split N={labels.size} samples over num_nodes={n} nodes")
    if by not in SPLITS:
        raise ValueError(f"by must be one of {', '.join(map(repr, SPLITS))}; got {by!r}")
    if by == "dirichlet":
        if alpha is None:
            raise ValueError("by='dirichlet' needs alpha > 0 (e.g. 0.1 skewed, 100 near i.i.d.)")
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.number)):
            raise ValueError(f"alpha must be a number > 0; got {alpha!r}")
        if not np.isfinite(alpha) or alpha <= 0:
            raise ValueError(f"alpha must be a finite number > 0; got {alpha!r}")
    elif alpha is not None:
        raise ValueError(f"alpha applies to by='dirichlet' only; got {alpha!r} with by={by!r}")
    rng = numpy_rng(key) if key is not None else np.random.default_rng(seed)

    if by == "iid":
        parts = np.array_split(rng.permutation(labels.size), n)
    elif by == "label":
        parts = _label_shards(labels, n, classes_per_node, num_classes, rng)
    else:
        parts = _dirichlet(labels, n, float(alpha), num_classes, rng)
    return _pad([rng.permutation(part) for part in parts], features, labels, num_classes)


def _check_samples(samples) -> tuple[np.ndarray, np.ndarray, int]:
    if isinstance(samples, LabelledData):
        num_classes = samples.num_classes
        samples = samples.train
    elif isinstance(samples, tuple) and len(samples) == 2:
        samples = Samples(*samples)
        num_classes = None
    else:
        raise TypeError(
            "samples must be a Samples, a LabelledData or a (features, labels) pair; "
            f"got {type(samples).__name__}"
        )
    features = np.asarray(samples.features, dtype=np.float64)
    labels = np.asarray(samples.labels)
    if labels.ndim != 1 or features.ndim < 1 or features.shape[0] != labels.size:
        raise ValueError(
            f"samples need features (N, ...) and labels (N,); got {features.shape} "
            f"and {labels.shape}"
        )
    if labels.size == 0:
        raise ValueError("samples are empty")
    if labels.dtype.kind not in "iu" or labels.min() < 0:
        raise ValueError(
            "labels must be class indices 0..C-1 (integers); map other labels with "
            "jaxgossip.problems.datasets.from_arrays"
        )
    largest = int(labels.max()) + 1
    if num_classes is not None and largest > num_classes:
        raise ValueError(f"labels reach {largest - 1} but num_classes is {num_classes}")
    return features, labels.astype(np.int64), num_classes or largest


def _label_shards(labels, n, classes_per_node, num_classes, rng) -> list[np.ndarray]:
    per_node = check_positive_int("classes_per_node", classes_per_node)
    num_shards = n * per_node
    present = np.unique(labels)
    if not present.size <= num_shards <= labels.size:
        raise ValueError(
            f"by='label' cuts num_nodes * classes_per_node = {num_shards} shards, which must "
            f"lie between the {present.size} classes present and the N={labels.size} samples; "
            "change classes_per_node or num_nodes, or use by='dirichlet'"
        )
    sizes = np.bincount(labels, minlength=num_classes)[present]
    # One shard per class, then each further shard to the class whose shards are
    # currently largest: shard sizes end up as equal as class boundaries allow.
    shards_per_class = np.ones(present.size, np.int64)
    for _ in range(num_shards - present.size):
        shards_per_class[np.argmax(sizes / shards_per_class)] += 1
    shards = []
    for c, count in zip(present, shards_per_class):
        shards += np.array_split(rng.permutation(np.flatnonzero(labels == c)), count)
    dealt = rng.permutation(num_shards).reshape(n, per_node)
    return [np.concatenate([shards[s] for s in row]) for row in dealt]


def _dirichlet(labels, n, alpha, num_classes, rng) -> list[np.ndarray]:
    members = [np.flatnonzero(labels == c) for c in range(num_classes)]
    for _ in range(DIRICHLET_ATTEMPTS):
        parts = [[] for _ in range(n)]
        for indices in members:
            if indices.size == 0:
                continue
            proportions = rng.dirichlet(np.full(n, alpha))
            cuts = np.floor(np.cumsum(proportions)[:-1] * indices.size).astype(np.int64)
            for node, piece in enumerate(np.split(rng.permutation(indices), cuts)):
                parts[node].append(piece)
        parts = [np.concatenate(pieces) for pieces in parts]
        if all(part.size for part in parts):
            return parts
    raise ValueError(
        f"by='dirichlet' with alpha={alpha} left a node without samples in "
        f"{DIRICHLET_ATTEMPTS} draws of {labels.size} samples over {n} nodes; "
        "use a larger alpha or fewer nodes"
    )


def _pad(parts, features, labels, num_classes) -> Shards:
    counts = np.array([part.size for part in parts], np.int64)
    m = int(counts.max())
    padded_features = np.zeros((len(parts), m, *features.shape[1:]), np.float64)
    padded_labels = np.zeros((len(parts), m), np.int64)
    for node, part in enumerate(parts):
        padded_features[node, : part.size] = features[part]
        padded_labels[node, : part.size] = labels[part]
    return Shards(padded_features, padded_labels, counts, num_classes)
