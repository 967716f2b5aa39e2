import pathlib
import sys

import numpy as np
import pytest

from jaxgossip.problems.datasets import load_libsvm, load_sklearn, to_binary_labels

SMALL = pathlib.Path(__file__).parents[1] / "data" / "small.libsvm"
# tests/data/small.libsvm, densely (checked against scikit-learn's load_svmlight_file).
SMALL_FEATURES = np.array(
    [
        [0.5, -1.25, 0.0, 2.0],
        [0.0, 1.0, 0.75, 0.0],
        [1.5, 0.0, 0.0, -0.5],
        [0.25, 0.0, -2.0, 0.0],
        [0.0, 0.5, 1.5, 0.0],
        [-1.0, -0.5, 0.25, 1.0],
        [0.0, 0.0, 0.0, 3.0],
        [-0.75, 0.0, 1.0, 0.0],
        [2.0, 2.0, 2.0, 2.0],
        [0.0, -1.5, 0.0, 0.0],
        [0.125, 0.0, -0.5, 0.0],
        [-2.0, 0.0, 0.0, -1.0],
    ]
)


def test_load_libsvm_reads_the_fixture():
    features, labels = load_libsvm(SMALL)
    assert features.dtype == np.float64 and labels.dtype == np.float64
    np.testing.assert_array_equal(features, SMALL_FEATURES)
    np.testing.assert_array_equal(labels, np.tile([1.0, -1.0], 6))


def test_load_libsvm_dim_pads_and_bounds(tmp_path):
    features, _ = load_libsvm(SMALL, dim=6)
    assert features.shape == (12, 6)
    np.testing.assert_array_equal(features[:, :4], SMALL_FEATURES)
    np.testing.assert_array_equal(features[:, 4:], 0.0)
    with pytest.raises(ValueError, match=r"small\.libsvm:3: feature index 4 exceeds dim=3"):
        load_libsvm(SMALL, dim=3)


def test_load_libsvm_accepts_unsorted_indices_and_zero_features(tmp_path):
    path = tmp_path / "unsorted.txt"
    path.write_text("2 3:1 1:-1\n0\n")
    features, labels = load_libsvm(path)
    np.testing.assert_array_equal(features, [[-1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(labels, [2.0, 0.0])


@pytest.mark.parametrize(
    "line, message",
    [
        ("1 3:abc", "'3:abc' is not 'index:value'"),
        ("1 12", "'12' is not 'index:value'"),
        ("1 1.5:2", "'1.5:2' is not 'index:value'"),
        ("x 1:2", "the label 'x' is not a finite number"),
        ("1,2 1:2", "the label '1,2' is not a finite number"),
        ("1 0:1", "feature index 0 < 1; indices are 1-based"),
        ("1 2:1 2:3", "feature index 2 appears twice"),
        ("1 1:nan", "the value of feature 1 is nan"),
    ],
)
def test_load_libsvm_names_the_malformed_line(tmp_path, line, message):
    path = tmp_path / "bad.libsvm"
    path.write_text(f"# header\n+1 1:1\n\n{line}\n-1 2:1\n")
    with pytest.raises(ValueError) as error:
        load_libsvm(path)
    assert str(error.value).startswith(f"{path}:4: ")
    assert message in str(error.value)


def test_load_libsvm_rejects_a_file_without_samples(tmp_path):
    path = tmp_path / "empty.libsvm"
    path.write_text("# only a comment\n\n")
    with pytest.raises(ValueError, match="no samples"):
        load_libsvm(path)
    with pytest.raises(ValueError, match="dim must be"):
        load_libsvm(SMALL, dim=0)


def test_to_binary_labels():
    np.testing.assert_array_equal(to_binary_labels([0, 1, 1, 0]), [-1.0, 1.0, 1.0, -1.0])
    np.testing.assert_array_equal(to_binary_labels([7.0, 3.0, 7.0]), [1.0, -1.0, 1.0])
    np.testing.assert_array_equal(to_binary_labels([-1, 1]), [-1.0, 1.0])
    np.testing.assert_array_equal(to_binary_labels([0, 1, 2, 1], positive=1), [-1, 1, -1, 1])
    with pytest.raises(ValueError, match="expected 2 classes, got 3"):
        to_binary_labels([0, 1, 2])
    with pytest.raises(ValueError, match="expected 2 classes, got 1"):
        to_binary_labels([1, 1])
    with pytest.raises(ValueError, match="no sample is labelled 5"):
        to_binary_labels([0, 1], positive=5)


def test_load_sklearn_unknown_name_suggests():
    with pytest.raises(ValueError, match="did you mean 'breast_cancer'"):
        load_sklearn("breast_cancr")


def test_load_sklearn_without_scikit_learn(monkeypatch):
    # None in sys.modules makes the import fail, as if scikit-learn were not installed.
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="needs scikit-learn.*pip install scikit-learn"):
        load_sklearn("breast_cancer")


def test_load_sklearn_breast_cancer():
    pytest.importorskip("sklearn")
    features, labels = load_sklearn("breast_cancer")
    assert features.shape == (569, 30) and features.dtype == np.float64
    assert set(np.unique(to_binary_labels(labels))) == {-1.0, 1.0}
