"""Real data sets for the problems: LIBSVM files, scikit-learn's bundled sets, binary labels.

``load_libsvm`` and ``load_sklearn`` return ``(features, labels)``: features
(N, d) float64 and labels (N,) float64, one row per sample, ready for
``jaxgossip.problems.partition``. For classification, ``digits``,
``classification``, ``from_arrays`` and ``load_npz`` return a ``LabelledData``:
a stratified train/test split with labels mapped to class indices 0..C-1, ready
for ``jaxgossip.problems.split``.
Nothing is downloaded: LIBSVM and .npz files are read from disk, and only the
data sets that scikit-learn ships inside its package are offered.
"""

from __future__ import annotations

import difflib
import os
from typing import NamedTuple

import numpy as np

# The data sets scikit-learn ships in its wheel (its fetch_* functions download).
SKLEARN_DATASETS = {
    "breast_cancer": "load_breast_cancer",  # 569 x 30, 2 classes
    "diabetes": "load_diabetes",  # 442 x 10, regression
    "digits": "load_digits",  # 1797 x 64, 10 classes
    "iris": "load_iris",  # 150 x 4, 3 classes
    "wine": "load_wine",  # 178 x 13, 3 classes
}


def load_libsvm(path, *, dim: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Reads a file in the LIBSVM / svmlight text format.

    One sample per line, ``label index:value index:value ...`` with 1-based
    feature indices; features not listed are 0. Text after ``#`` is a comment;
    blank lines are skipped; svmlight's ``qid:k`` tokens are ignored. Indices
    need not be sorted but may not repeat within a line.

    Args:
      path: the file.
      dim: the number of features d; by default the largest index in the file.
        Give it when a file (a test split, say) may not mention the last features.

    Returns:
      ``(features, labels)``: (N, d) and (N,) float64 arrays.

    Raises:
      ValueError: a malformed line (the message names the file and line number),
        an index above ``dim``, or a file without samples.
    """
    path = os.fspath(path)
    if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int) or dim < 1):
        raise ValueError(f"load_libsvm: dim must be an integer >= 1 or None; got {dim!r}.")
    labels, rows, cols, values = [], [], [], []
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            tokens = line.partition("#")[0].split()
            if not tokens:
                continue
            where = f"{path}:{number}"
            try:
                labels.append(float(tokens[0]))
                if not np.isfinite(labels[-1]):
                    raise ValueError
            except ValueError:
                raise ValueError(
                    f"{where}: the label {tokens[0]!r} is not a finite number "
                    "(expected 'label index:value ...'; multi-label files are not supported)."
                ) from None
            seen = set()
            for token in tokens[1:]:
                index, colon, value = token.partition(":")
                if index == "qid":
                    continue
                try:
                    index, value = int(index), float(value)
                except ValueError:
                    index = None
                if not colon or index is None:
                    raise ValueError(
                        f"{where}: {token!r} is not 'index:value' with an integer index "
                        "and a numeric value."
                    )
                if not np.isfinite(value):
                    raise ValueError(f"{where}: the value of feature {index} is {value}.")
                if index < 1:
                    raise ValueError(f"{where}: feature index {index} < 1; indices are 1-based.")
                if dim is not None and index > dim:
                    raise ValueError(f"{where}: feature index {index} exceeds dim={dim}.")
                if index in seen:
                    raise ValueError(f"{where}: feature index {index} appears twice.")
                seen.add(index)
                rows.append(len(labels) - 1)
                cols.append(index - 1)
                values.append(value)
    if not labels:
        raise ValueError(f"{path}: no samples (the file is empty or all comments).")
    num_features = dim if dim is not None else max(cols, default=-1) + 1
    features = np.zeros((len(labels), max(num_features, 1)))
    features[rows, cols] = values
    return features, np.asarray(labels, dtype=np.float64)


def load_sklearn(name: str) -> tuple[np.ndarray, np.ndarray]:
    """One of the small data sets bundled with scikit-learn, without downloading.

    Args:
      name: ``breast_cancer``, ``diabetes`` (regression targets), ``digits``,
        ``iris`` or ``wine``.

    Returns:
      ``(features, labels)``: (N, d) and (N,) float64 arrays, labels as given
      by scikit-learn (class indices, or targets for ``diabetes``).

    Raises:
      ValueError: an unknown name.
      ImportError: scikit-learn is not installed.
    """
    if name not in SKLEARN_DATASETS:
        close = difflib.get_close_matches(str(name), SKLEARN_DATASETS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"load_sklearn: unknown data set {name!r}{hint} "
            f"(bundled with scikit-learn: {', '.join(SKLEARN_DATASETS)})."
        )
    try:
        import sklearn.datasets
    except ImportError as error:
        raise ImportError(
            f"the data set 'sklearn:{name}' needs scikit-learn, which is not installed; "
            "install it with `pip install scikit-learn`, or use a LIBSVM file instead."
        ) from error
    bunch = getattr(sklearn.datasets, SKLEARN_DATASETS[name])()
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.float64)


def to_binary_labels(labels, *, positive=None) -> np.ndarray:
    """Maps labels of two classes to -1 and +1 (float64).

    Args:
      labels: (N,) labels of exactly two distinct values; the smaller becomes
        -1 and the larger +1.
      positive: if given, samples labelled ``positive`` become +1 and all
        others -1 (one class against the rest), whatever the number of classes.

    Raises:
      ValueError: not exactly two classes (and no ``positive``), or ``positive``
        labels no sample.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"to_binary_labels: labels must have shape (N,); got {labels.shape}.")
    classes = np.unique(labels)
    if positive is not None:
        if not np.any(labels == positive):
            raise ValueError(
                f"to_binary_labels: no sample is labelled {positive!r}; "
                f"the labels are {_describe(classes)}."
            )
        return np.where(labels == positive, 1.0, -1.0)
    if classes.size != 2:
        raise ValueError(
            f"to_binary_labels: expected 2 classes, got {classes.size} "
            f"({_describe(classes)}); choose one class against the rest with `positive`."
        )
    return np.where(labels == classes[1], 1.0, -1.0)


def _describe(classes: np.ndarray) -> str:
    shown = ", ".join(f"{c:g}" if isinstance(c, float) else str(c) for c in classes[:10].tolist())
    return shown + (", ..." if classes.size > 10 else "")


# Classification: labelled samples split into train and test.

# The bundled sets with class labels (``diabetes`` has regression targets).
CLASSIFICATION_DATASETS = tuple(name for name in SKLEARN_DATASETS if name != "diabetes")


class Samples(NamedTuple):
    """Labelled samples, one row each."""

    features: np.ndarray  # (N, ...) float64
    labels: np.ndarray  # (N,) int64 class indices 0..C-1


class LabelledData(NamedTuple):
    """A classification data set: train and test samples over the same classes."""

    train: Samples
    test: Samples
    num_classes: int  # C; labels in both splits lie in 0..C-1
    name: str


def digits(*, test_fraction: float = 0.2, seed: int = 0) -> LabelledData:
    """scikit-learn's bundled 8x8 handwritten digits: 1797 x 64, 10 classes.

    Pixel intensities 0..16 are divided by 16, so features lie in [0, 1]; the
    train/test split is stratified and depends only on ``seed``. The same as
    ``classification("digits", ...)``.
    """
    return classification("digits", test_fraction=test_fraction, seed=seed)


def classification(
    name: str, *, test_fraction: float = 0.2, seed: int = 0, standardize: bool = True
) -> LabelledData:
    """One of scikit-learn's bundled classification sets, split into train and test.

    Args:
      name: ``breast_cancer``, ``digits``, ``iris`` or ``wine``.
      test_fraction: the share of samples held out for testing, in (0, 1); the
        split is stratified (each class in about this proportion).
      seed: seeds the split.
      standardize: scale the features. Each feature is centred and divided by its
        standard deviation, both measured on the train split only, so nothing of
        the test split leaks into training. ``digits`` is divided by 16 instead:
        its pixels share one scale, and border pixels that are (nearly) always 0
        would be blown up by their tiny deviation.

    Raises:
      ValueError: an unknown name, or ``diabetes`` (a regression set).
      ImportError: scikit-learn is not installed.
    """
    if name not in CLASSIFICATION_DATASETS:
        if name in SKLEARN_DATASETS:
            problem = f"{name!r} is a regression set (real targets, not classes)"
        else:
            close = difflib.get_close_matches(str(name), CLASSIFICATION_DATASETS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problem = f"unknown data set {name!r}{hint}"
        choices = ", ".join(CLASSIFICATION_DATASETS)
        raise ValueError(
            f"classification: {problem} (classification sets bundled with scikit-learn: {choices})."
        )
    features, labels = load_sklearn(name)
    data = from_arrays(features, labels, test_fraction=test_fraction, seed=seed, name=name)
    if not standardize:
        return data
    if name == "digits":
        return data._replace(
            train=data.train._replace(features=data.train.features / 16.0),
            test=data.test._replace(features=data.test.features / 16.0),
        )
    mean = data.train.features.mean(axis=0)
    std = data.train.features.std(axis=0)
    std = np.where(std > 0, std, 1.0)  # a constant feature stays 0 rather than NaN
    return data._replace(
        train=data.train._replace(features=(data.train.features - mean) / std),
        test=data.test._replace(features=(data.test.features - mean) / std),
    )


def from_arrays(
    features,
    labels,
    *,
    test=None,
    test_fraction: float = 0.2,
    seed: int = 0,
    name: str = "arrays",
) -> LabelledData:
    """A classification data set from the user's arrays.

    Args:
      features: (N, ...) numbers, finite; one sample per row (images may keep
        their shape, e.g. (N, 28, 28)).
      labels: (N,) class labels of any sortable values (ints, strings, ...);
        they become indices 0..C-1 in the order of ``np.unique``.
      test: an optional ``(features, labels)`` pair of test samples, with the
        train features' trailing shape; the classes are those of both splits.
        Without it, a stratified share ``test_fraction`` of the samples is held out.
      test_fraction: in (0, 1), used only when ``test`` is None.
      seed: seeds the split (and the order of the rows of each split).
      name: recorded in the result.

    Raises:
      ValueError: empty, non-numeric or non-finite features, mismatched lengths
        or shapes, fewer than two classes, or a ``test_fraction`` that leaves
        either split empty.
    """
    features, labels = _check_arrays("from_arrays", features, labels)
    if test is not None:
        if not isinstance(test, (tuple, list)) or len(test) != 2:
            raise ValueError("from_arrays: test must be a (features, labels) pair.")
        test_features, test_labels = _check_arrays("from_arrays: test", *test)
        if test_features.shape[1:] != features.shape[1:]:
            raise ValueError(
                f"from_arrays: test features have shape {test_features.shape} but train "
                f"features {features.shape}; the trailing shapes must match."
            )
        classes, indices = _class_indices("from_arrays", np.concatenate([labels, test_labels]))
        train_labels, test_labels = indices[: labels.size], indices[labels.size :]
        return LabelledData(
            train=Samples(features, train_labels),
            test=Samples(test_features, test_labels),
            num_classes=classes.size,
            name=str(name),
        )
    classes, indices = _class_indices("from_arrays", labels)
    train, held_out = _stratified_split(indices, test_fraction, np.random.default_rng(seed))
    return LabelledData(
        train=Samples(features[train], indices[train]),
        test=Samples(features[held_out], indices[held_out]),
        num_classes=classes.size,
        name=str(name),
    )


def load_npz(path, *, test_fraction: float = 0.2, seed: int = 0) -> LabelledData:
    """A classification data set saved with ``np.savez``.

    The file holds ``x_train`` and ``y_train``, and optionally ``x_test`` and
    ``y_test``; or ``features`` and ``labels``. Without test arrays a stratified
    share ``test_fraction`` is held out (seeded by ``seed``). Labels may be of any
    sortable type that loads without pickle (ints, floats, strings). The data
    set is named after the file.

    Raises:
      ValueError: the file lacks the keys (the message lists those it has), or
        its arrays fail ``from_arrays``'s checks.
    """
    path = os.fspath(path)
    name = os.path.splitext(os.path.basename(path))[0]
    file = np.load(path, allow_pickle=False)
    if not isinstance(file, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: not an .npz archive (np.load read a single array).")
    with file:
        keys = set(file.files)
        has = f"the file has {', '.join(sorted(keys)) or 'no arrays'}"
        if {"x_train", "y_train"} <= keys:
            test_keys = {"x_test", "y_test"} & keys
            if len(test_keys) == 1:
                raise ValueError(
                    f"{path}: {test_keys.pop()!r} without its partner; give both "
                    f"'x_test' and 'y_test', or neither ({has})."
                )
            test = (file["x_test"], file["y_test"]) if test_keys else None
            return from_arrays(
                file["x_train"],
                file["y_train"],
                test=test,
                test_fraction=test_fraction,
                seed=seed,
                name=name,
            )
        if {"features", "labels"} <= keys:
            return from_arrays(
                file["features"], file["labels"], test_fraction=test_fraction, seed=seed, name=name
            )
    raise ValueError(
        f"{path}: expected arrays 'x_train' and 'y_train' (optionally 'x_test' and "
        f"'y_test'), or 'features' and 'labels'; {has}."
    )


def _check_arrays(where: str, features, labels) -> tuple[np.ndarray, np.ndarray]:
    """(N, ...) float64 features and (N,) labels, or a ValueError saying what is wrong."""
    try:
        features = np.asarray(features, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: features must be numeric.") from None
    labels = np.asarray(labels)
    if features.ndim < 2:
        raise ValueError(
            f"{where}: features must have shape (N, ...) with a feature axis; got "
            f"{features.shape} (a single feature is features[:, None])."
        )
    if labels.ndim != 1:
        raise ValueError(f"{where}: labels must have shape (N,); got {labels.shape}.")
    if labels.size != features.shape[0]:
        raise ValueError(f"{where}: {features.shape[0]} rows of features but {labels.size} labels.")
    if labels.size == 0:
        raise ValueError(f"{where}: no samples.")
    if not np.all(np.isfinite(features)):
        bad = int(np.sum(~np.all(np.isfinite(features.reshape(labels.size, -1)), axis=1)))
        raise ValueError(f"{where}: {bad} samples have NaN or infinite features.")
    if labels.dtype.kind == "f" and not np.all(np.isfinite(labels)):
        raise ValueError(f"{where}: some labels are NaN or infinite.")
    return features, labels


def _class_indices(where: str, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct labels and each label's index among them (int64)."""
    try:
        classes, indices = np.unique(labels, return_inverse=True)
    except TypeError:
        raise ValueError(f"{where}: labels must be mutually sortable (not mixed types).") from None
    if classes.size < 2:
        only = classes.tolist()[0]
        raise ValueError(f"{where}: at least 2 classes are needed; all labels are {only!r}.")
    return classes, indices.reshape(-1).astype(np.int64)


def _stratified_split(
    labels: np.ndarray, test_fraction, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, test), each in random order, with every class split in
    proportion: round(N * test_fraction) test rows, apportioned to the classes by
    largest remainder (ties broken at random)."""
    number = isinstance(test_fraction, (int, float, np.number))
    if isinstance(test_fraction, bool) or not number or not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1); got {test_fraction!r}.")
    total = labels.size
    num_test = round(total * float(test_fraction))
    if not 1 <= num_test <= total - 1:
        raise ValueError(
            f"test_fraction={test_fraction} of {total} samples leaves the train or the "
            "test split empty."
        )
    order = rng.permutation(total)
    # A stable sort after the shuffle groups the classes, each in random order.
    order = order[np.argsort(labels[order], kind="stable")]
    _, starts, sizes = np.unique(labels[order], return_index=True, return_counts=True)
    share = sizes * float(test_fraction)
    quota = np.floor(share).astype(np.int64)
    extra = np.lexsort((rng.random(sizes.size), quota - share))[: num_test - quota.sum()]
    quota[extra] += 1
    rank = np.arange(total) - np.repeat(starts, sizes)  # position within its class
    is_test = rank < np.repeat(quota, sizes)
    return rng.permutation(order[~is_test]), rng.permutation(order[is_test])
