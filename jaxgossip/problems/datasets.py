"""Real data sets for the problems: LIBSVM files, scikit-learn's bundled sets, binary labels.

Every loader returns ``(features, labels)``: features (N, d) float64 and labels
(N,) float64, one row per sample, ready for ``jaxgossip.problems.partition``.
Nothing is downloaded: LIBSVM files are read from disk, and only the data sets
that scikit-learn ships inside its package are offered.
"""

from __future__ import annotations

import difflib
import os

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
