"""Classification data sets: bundled digits and friends, user arrays, .npz files."""

import sys

import numpy as np
import pytest

import jaxgossip as jg
from jaxgossip.problems.datasets import (
    LabelledData,
    Samples,
    classification,
    digits,
    from_arrays,
    load_npz,
)


def _rows(num, width=3):
    """Features whose column 0 is the row number, so the split can be traced."""
    rng = np.random.default_rng(0)
    return np.column_stack([np.arange(num), rng.normal(size=(num, width - 1))])


def _assert_partition(data, num):
    """Train and test together hold each input row exactly once."""
    rows = np.concatenate([data.train.features[:, 0], data.test.features[:, 0]])
    np.testing.assert_array_equal(np.sort(rows), np.arange(num))


def test_digits_shapes_and_scale():
    pytest.importorskip("sklearn")
    data = jg.datasets.digits()
    assert isinstance(data, LabelledData) and isinstance(data.train, Samples)
    assert data.name == "digits" and data.num_classes == 10
    assert data.train.features.shape[0] + data.test.features.shape[0] == 1797
    assert data.train.features.shape[1:] == (64,) and data.test.features.shape[1:] == (64,)
    assert data.test.features.shape[0] == round(0.2 * 1797)
    for samples in data[:2]:
        assert samples.features.dtype == np.float64 and samples.labels.dtype == np.int64
        assert samples.features.min() == 0.0 and samples.features.max() == 1.0
        np.testing.assert_array_equal(np.unique(samples.labels), np.arange(10))
    # Stratified: each class is held out in proportion, up to rounding.
    sizes = np.bincount(data.train.labels) + np.bincount(data.test.labels)
    assert np.all(np.abs(np.bincount(data.test.labels) - 0.2 * sizes) < 1)


def test_digits_is_classification_digits_and_seeded():
    pytest.importorskip("sklearn")
    first, same = digits(seed=3), classification("digits", seed=3)
    for a, b in zip(first[:2], same[:2]):
        np.testing.assert_array_equal(a.features, b.features)
        np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(digits(seed=3).test.labels, first.test.labels)
    assert not np.array_equal(digits(seed=4).test.labels, first.test.labels)
    raw = classification("digits", seed=3, standardize=False)
    np.testing.assert_array_equal(raw.train.features / 16, first.train.features)


@pytest.mark.parametrize("name, shape, classes", [("iris", 4, 3), ("wine", 13, 3)])
def test_standardize_uses_the_train_statistics_only(name, shape, classes):
    pytest.importorskip("sklearn")
    raw = classification(name, seed=1, standardize=False)
    scaled = classification(name, seed=1)
    assert scaled.num_classes == classes and scaled.train.features.shape[1] == shape
    mean, std = raw.train.features.mean(axis=0), raw.train.features.std(axis=0)
    np.testing.assert_allclose(scaled.train.features.mean(axis=0), 0.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(scaled.train.features.std(axis=0), 1.0, rtol=1e-12, atol=0)
    np.testing.assert_allclose(
        scaled.test.features, (raw.test.features - mean) / std, rtol=1e-12, atol=1e-12
    )
    # The test split is not centred on its own statistics.
    assert np.abs(scaled.test.features.mean(axis=0)).max() > 1e-3


def test_classification_refuses_regression_and_unknown_names():
    with pytest.raises(ValueError, match="'diabetes' is a regression set.*breast_cancer, digits"):
        classification("diabetes")
    with pytest.raises(ValueError, match="unknown data set 'digit'; did you mean 'digits'"):
        classification("digit")
    with pytest.raises(ValueError, match="unknown data set 'mnist'.*iris, wine"):
        classification("mnist")


def test_classification_without_scikit_learn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="needs scikit-learn"):
        digits()


def test_from_arrays_maps_labels_in_sorted_order():
    names = np.array(["cat", "dog", "ant"] * 20)
    data = from_arrays(_rows(60), names, test_fraction=0.25, seed=2, name="pets")
    assert data.num_classes == 3 and data.name == "pets"
    _assert_partition(data, 60)
    assert data.test.features.shape == (15, 3) and data.train.features.shape == (45, 3)
    for samples in data[:2]:
        assert samples.labels.dtype == np.int64
        original = names[samples.features[:, 0].astype(int)]
        np.testing.assert_array_equal(np.array(["ant", "cat", "dog"])[samples.labels], original)
    np.testing.assert_array_equal(np.bincount(data.test.labels), [5, 5, 5])
    # The rows of each split come in random order, not grouped by class.
    assert not np.all(np.diff(data.train.labels) >= 0)


def test_from_arrays_stratifies_unbalanced_classes():
    labels = np.repeat([7, 3, 5], [50, 30, 7])
    data = from_arrays(_rows(87), labels, test_fraction=0.3, seed=0)
    _assert_partition(data, 87)
    assert data.test.labels.size == round(0.3 * 87)
    held_out = np.bincount(data.test.labels, minlength=3)
    assert np.all(np.abs(held_out - 0.3 * np.array([30, 7, 50])) < 1)


def test_from_arrays_keeps_image_shapes_and_a_given_test_split():
    images = np.arange(6 * 2 * 2, dtype=np.float32).reshape(6, 2, 2)
    data = from_arrays(images, [1, 2, 1, 2, 1, 2], test=(images[:2] + 100, [2, 9]))
    assert data.num_classes == 3  # 1, 2 and 9: the classes of both splits
    assert data.train.features.shape == (6, 2, 2) and data.train.features.dtype == np.float64
    np.testing.assert_array_equal(data.train.features, images)
    np.testing.assert_array_equal(data.train.labels, [0, 1, 0, 1, 0, 1])
    np.testing.assert_array_equal(data.test.labels, [1, 2])
    np.testing.assert_array_equal(data.test.features, images[:2] + 100)


@pytest.mark.parametrize(
    "features, labels, options, message",
    [
        (np.zeros((0, 2)), [], {}, "no samples"),
        (np.zeros((4, 2)), [0, 1, 0], {}, "4 rows of features but 3 labels"),
        (np.zeros((4, 2)), [1, 1, 1, 1], {}, "at least 2 classes.*all labels are 1"),
        (np.array([[0.0], [np.nan], [1.0], [np.inf]]), [0, 1, 0, 1], {}, "2 samples have NaN"),
        (np.zeros(4), [0, 1, 0, 1], {}, r"shape \(N, \.\.\.\) with a feature axis"),
        ([["a"], ["b"]], [0, 1], {}, "features must be numeric"),
        (np.zeros((4, 2)), [[0, 1, 0, 1]], {}, r"labels must have shape \(N,\)"),
        (np.zeros((4, 1)), [0.0, 1.0, np.nan, 1.0], {}, "labels are NaN"),
        (np.zeros((4, 1)), np.array([0, "a", 0, "a"], object), {}, "mutually sortable"),
        (np.zeros((4, 1)), [0, 1, 0, 1], dict(test_fraction=0.0), r"lie in \(0, 1\)"),
        (np.zeros((4, 1)), [0, 1, 0, 1], dict(test_fraction=1.0), r"lie in \(0, 1\)"),
        (np.zeros((4, 1)), [0, 1, 0, 1], dict(test_fraction=0.1), "leaves the train or"),
        (np.zeros((4, 1)), [0, 1, 0, 1], dict(test=np.zeros((2, 1))), "a \\(features, labels\\)"),
        (
            np.zeros((4, 1)),
            [0, 1, 0, 1],
            dict(test=(np.zeros((2, 3)), [0, 1])),
            "the trailing shapes must match",
        ),
        (np.zeros((4, 1)), [0, 1, 0, 1], dict(test=(np.zeros((2, 1)), [0])), "test: 2 rows"),
    ],
)
def test_from_arrays_names_bad_input(features, labels, options, message):
    with pytest.raises(ValueError, match=message):
        from_arrays(features, labels, **options)


def test_load_npz_round_trip(tmp_path):
    features, labels = _rows(40), np.tile([0.0, 1.0, 2.0, 3.0], 10)
    path = tmp_path / "toy.npz"
    train, test = dict(x_train=features[:30], y_train=labels[:30]), dict(x_test=features[30:])
    np.savez(path, **train, **test, y_test=labels[30:])
    data = load_npz(path)
    assert data.name == "toy" and data.num_classes == 4
    np.testing.assert_array_equal(data.train.features, features[:30])
    np.testing.assert_array_equal(data.test.features, features[30:])
    np.testing.assert_array_equal(data.test.labels, labels[30:].astype(np.int64))

    path = tmp_path / "whole.npz"
    names = np.array(["no", "yes"])[np.arange(40) % 2]
    np.savez(path, features=features, labels=names)
    data = load_npz(path, test_fraction=0.25, seed=1)
    assert data.name == "whole" and data.num_classes == 2
    _assert_partition(data, 40)
    expected = from_arrays(features, names, test_fraction=0.25, seed=1, name="whole")
    np.testing.assert_array_equal(data.test.features, expected.test.features)
    np.testing.assert_array_equal(data.test.labels, expected.test.labels)


def test_load_npz_names_missing_keys(tmp_path):
    path = tmp_path / "odd.npz"
    np.savez(path, x=np.zeros((4, 1)), y=np.arange(4))
    with pytest.raises(ValueError, match=r"odd\.npz: expected arrays 'x_train'.*the file has x, y"):
        load_npz(path)
    path = tmp_path / "half.npz"
    np.savez(path, x_train=np.zeros((4, 1)), y_train=[0, 1, 0, 1], x_test=np.zeros((2, 1)))
    with pytest.raises(ValueError, match=r"half\.npz: 'x_test' without its partner"):
        load_npz(path)
    path = tmp_path / "single.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(ValueError, match=r"single\.npy: not an \.npz archive"):
        load_npz(path)
