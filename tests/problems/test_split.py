"""The i.i.d., label-shard and Dirichlet splits: every sample dealt once, skew as promised."""

import jax
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from jaxgossip.plot import plot_label_histogram
from jaxgossip.problems import Shards, split
from jaxgossip.problems.datasets import LabelledData, Samples

NUM_CLASSES = 10
SPLITS = [("iid", {}), ("label", {}), ("dirichlet", {"alpha": 0.5})]


def _samples(num=400, classes=NUM_CLASSES, seed=0):
    """Balanced classes; feature 0 is the sample's row number, so rows can be traced."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(num) % classes).astype(np.int64)
    features = np.column_stack([np.arange(num), labels, rng.normal(size=num)]).astype(np.float64)
    return Samples(features, labels)


def _entropy(histogram):
    """The mean over nodes of the entropy (nats) of each node's label distribution."""
    p = histogram / histogram.sum(axis=1, keepdims=True)
    return float(np.mean(-np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0), 1)))


@pytest.mark.parametrize("by, options", SPLITS)
def test_every_sample_is_dealt_exactly_once(key, by, options):
    samples = _samples()
    shards = split(samples, 7, by=by, key=key, **options)
    n, m = shards.labels.shape
    assert isinstance(shards, Shards) and n == 7
    assert shards.features.shape == (n, m, 3) and shards.features.dtype == np.float64
    assert shards.labels.dtype == np.int64 and shards.counts.dtype == np.int64
    assert shards.counts.shape == (n,) and np.all(shards.counts >= 1)
    assert m == shards.counts.max() and shards.counts.sum() == 400
    mask = shards.mask()
    np.testing.assert_array_equal(mask.sum(axis=1), shards.counts)
    # The rows past each count are zero padding.
    np.testing.assert_array_equal(shards.features[~mask], 0.0)
    np.testing.assert_array_equal(shards.labels[~mask], 0)
    # The unpadded rows are the input's rows, each once, with their labels.
    rows = shards.features[mask]
    np.testing.assert_array_equal(np.sort(rows[:, 0]), np.arange(400))
    order = np.argsort(rows[:, 0])
    np.testing.assert_array_equal(rows[order], samples.features, strict=True)
    np.testing.assert_array_equal(shards.labels[mask][order], samples.labels)


@pytest.mark.parametrize("by, options", SPLITS)
def test_label_histogram_counts_each_node_and_class(by, options):
    samples = _samples()
    shards = split(samples, 5, by=by, seed=3, **options)
    histogram = shards.label_histogram()
    assert histogram.shape == (5, NUM_CLASSES) and histogram.dtype == np.int64
    np.testing.assert_array_equal(histogram.sum(axis=1), shards.counts)
    np.testing.assert_array_equal(histogram.sum(axis=0), np.bincount(samples.labels))
    for node in range(5):
        labels = shards.labels[node, : shards.counts[node]]
        np.testing.assert_array_equal(histogram[node], np.bincount(labels, minlength=NUM_CLASSES))


def test_iid_is_balanced(key):
    samples = _samples(num=2000)
    shards = split(samples, 7, key=key)
    assert shards.counts.max() - shards.counts.min() <= 1
    # Each node's class shares are near 1/C (286 samples per node: ~3 standard deviations).
    shares = shards.label_histogram() / shards.counts[:, None]
    np.testing.assert_allclose(shares, 1 / NUM_CLASSES, atol=0.06)
    assert _entropy(shards.label_histogram()) > 0.97 * np.log(NUM_CLASSES)


@pytest.mark.parametrize("num_nodes, classes_per_node", [(10, 2), (5, 2), (8, 3), (20, 1)])
def test_label_split_limits_the_classes_per_node(key, num_nodes, classes_per_node):
    shards = split(
        _samples(num=600), num_nodes, by="label", classes_per_node=classes_per_node, key=key
    )
    classes_seen = (shards.label_histogram() > 0).sum(axis=1)
    assert np.all(classes_seen <= classes_per_node) and np.all(classes_seen >= 1)
    # Balanced classes and C | n * k: McMahan's equal shards, so equal nodes.
    if (num_nodes * classes_per_node) % NUM_CLASSES == 0:
        np.testing.assert_array_equal(shards.counts, 600 // num_nodes)


def test_label_split_with_unbalanced_classes_keeps_pure_shards(key):
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(3), [50, 30, 7])
    samples = Samples(rng.normal(size=(labels.size, 2)), labels)
    shards = split(samples, 4, by="label", classes_per_node=2, key=key)
    assert np.all((shards.label_histogram() > 0).sum(axis=1) <= 2)
    assert shards.counts.sum() == labels.size


def test_dirichlet_small_alpha_is_more_skewed(key):
    samples = _samples(num=2000)
    skewed = split(samples, 10, by="dirichlet", alpha=0.1, key=key)
    near_iid = split(samples, 10, by="dirichlet", alpha=100.0, key=key)
    assert _entropy(skewed.label_histogram()) < 0.7 * _entropy(near_iid.label_histogram())
    assert _entropy(near_iid.label_histogram()) > 0.95 * np.log(NUM_CLASSES)
    assert np.all(skewed.counts >= 1)


@pytest.mark.parametrize("by, options", SPLITS)
def test_same_key_same_shards_other_key_other_shards(by, options):
    samples = _samples()
    first = split(samples, 6, by=by, key=jax.random.key(4), **options)
    again = split(samples, 6, by=by, key=jax.random.key(4), **options)
    other = split(samples, 6, by=by, key=jax.random.key(5), **options)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first.features, other.features)
    seeded = split(samples, 6, by=by, seed=11, **options)
    np.testing.assert_array_equal(seeded.features, split(samples, 6, by=by, seed=11, **options)[0])


def test_accepts_labelled_data_and_pairs(key):
    samples = _samples()
    data = LabelledData(train=samples, test=_samples(num=20), num_classes=12, name="toy")
    from_data = split(data, 4, key=key)
    assert from_data.num_classes == 12 and from_data.counts.sum() == 400
    assert from_data.label_histogram().shape == (4, 12)
    from_pair = split(tuple(samples), 4, key=key)
    assert from_pair.num_classes == NUM_CLASSES
    np.testing.assert_array_equal(from_pair.features, from_data.features)


def test_one_node_gets_everything(key):
    shards = split(_samples(num=30), 1, key=key)
    assert shards.features.shape == (1, 30, 3) and shards.counts.tolist() == [30]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(num_nodes=0), "num_nodes must be an integer >= 1"),
        (dict(num_nodes=2.0), "num_nodes must be an integer >= 1"),
        (dict(num_nodes=41), "cannot split N=40 samples over num_nodes=41"),
        (dict(by="pathological"), "by must be one of 'iid', 'label', 'dirichlet'"),
        (dict(by="dirichlet"), "by='dirichlet' needs alpha > 0"),
        (dict(by="dirichlet", alpha=0.0), "alpha must be a finite number > 0"),
        (dict(by="dirichlet", alpha=np.inf), "alpha must be a finite number > 0"),
        (dict(by="dirichlet", alpha="1"), "alpha must be a number > 0"),
        (dict(by="iid", alpha=1.0), "alpha applies to by='dirichlet' only"),
        (dict(by="label", classes_per_node=0), "classes_per_node must be an integer >= 1"),
        (dict(num_nodes=3, by="label", classes_per_node=1), "3 shards.*between the 4 classes"),
        (dict(num_nodes=20, by="label", classes_per_node=3), "60 shards.*N=40 samples"),
    ],
)
def test_bad_arguments_are_named(arguments, message):
    samples = _samples(num=40, classes=4)
    arguments = dict(num_nodes=4) | arguments
    with pytest.raises(ValueError, match=message):
        split(samples, arguments.pop("num_nodes"), **arguments)


def test_bad_samples_are_named():
    with pytest.raises(TypeError, match="must be a Samples, a LabelledData"):
        split(np.zeros((4, 2)), 2)
    with pytest.raises(ValueError, match="labels must be class indices"):
        split(Samples(np.zeros((4, 2)), np.array([0.0, 1.0, 0.0, 1.0])), 2)
    with pytest.raises(ValueError, match="labels must be class indices"):
        split(Samples(np.zeros((4, 2)), np.array([0, -1, 0, 1])), 2)
    with pytest.raises(ValueError, match=r"features \(N, \.\.\.\) and labels \(N,\)"):
        split(Samples(np.zeros((4, 2)), np.array([0, 1, 0])), 2)
    data = LabelledData(_samples(num=20), _samples(num=20), num_classes=3, name="toy")
    with pytest.raises(ValueError, match="labels reach 9 but num_classes is 3"):
        split(data, 2)


def test_dirichlet_gives_up_when_a_node_stays_empty(key):
    # 3 samples of one class over 3 nodes at alpha = 1e-3: one node takes (almost) all.
    samples = Samples(np.arange(3.0)[:, None], np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="left a node without samples.*larger alpha or fewer"):
        split(samples, 3, by="dirichlet", alpha=1e-3, key=key)


@pytest.mark.parametrize("classes", [3, 30])
def test_plot_label_histogram(tmp_path, key, classes):
    shards = split(_samples(num=300, classes=classes), 6, by="dirichlet", alpha=1.0, key=key)
    path = tmp_path / "histogram.png"
    fig = plot_label_histogram(shards, path=path, title="toy split")
    FigureCanvasAgg(fig).draw()
    ax = fig.axes[0]
    assert ax.get_title() == "toy split" and len(ax.patches) == 6 * classes
    # The bars stack up to each node's count.
    tops = np.zeros(6)
    for bar in ax.patches:
        node = round(bar.get_x() + bar.get_width() / 2)
        tops[node] = max(tops[node], bar.get_y() + bar.get_height())
    np.testing.assert_allclose(tops, shards.counts, rtol=0, atol=1e-9)
    assert path.stat().st_size > 0
