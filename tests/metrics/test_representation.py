"""Known answers of linear CKA (Kornblith et al., ICML 2019) and the k-NN probe."""

import numpy as np
import pytest

from unlearn_bench.metrics.representation import knn_probe_accuracy, linear_cka


@pytest.fixture
def features():
    return np.random.default_rng(0).normal(size=(500, 12))


def test_cka_of_a_representation_with_itself_is_one(features):
    assert linear_cka(features, features) == pytest.approx(1.0, abs=1e-12)


def test_cka_is_invariant_to_rotation_isotropic_scaling_and_shift(features):
    rotation, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(12, 12)))
    assert linear_cka(features, 3.0 * features @ rotation + 7.0) == pytest.approx(1.0, abs=1e-12)


def test_cka_of_independent_noise_is_near_zero(features):
    noise = np.random.default_rng(2).normal(size=(500, 12))
    # E[CKA] of independent Gaussians is about d / n (here 12 / 500); a real relation scores far higher.
    assert linear_cka(features, noise) < 0.05


def test_cka_of_a_partly_shared_representation_is_in_between(features):
    noise = np.random.default_rng(3).normal(size=(500, 12))
    mixed = linear_cka(features, features + noise)
    assert 0.3 < mixed < 0.7  # half the variance shared: CKA = 1 / (1 + 1) up to sampling


def test_cka_does_not_depend_on_feature_width(features):
    wider = np.concatenate([features, np.zeros((500, 20))], axis=1)  # dead units add nothing
    assert linear_cka(features, wider) == pytest.approx(1.0, abs=1e-12)


def test_cka_needs_the_same_examples_and_is_nan_without_variance(features):
    with pytest.raises(ValueError, match="same n examples"):
        linear_cka(features, features[:-1])
    assert np.isnan(linear_cka(features, np.ones((500, 3))))


def test_knn_probe_on_separable_clusters_is_perfect_and_on_swapped_labels_zero():
    rng = np.random.default_rng(0)
    centres = np.array([[-10.0, -10.0], [10.0, 0.0], [0.0, 10.0]])  # apart in direction too (cosine)
    labels = np.repeat(np.arange(3), 40)
    train = centres[labels] + rng.normal(scale=0.5, size=(120, 2))
    query = centres[labels] + rng.normal(scale=0.5, size=(120, 2))
    assert knn_probe_accuracy(train, labels, query, labels, k=5) == 100.0
    assert knn_probe_accuracy(train, labels, query, (labels + 1) % 3, k=5) == 0.0


def test_knn_probe_on_unrelated_features_is_at_chance():
    rng = np.random.default_rng(0)
    train, query = rng.normal(size=(2000, 4)), rng.normal(size=(2000, 4))
    labels, query_labels = rng.integers(0, 2, 2000), rng.integers(0, 2, 2000)
    assert knn_probe_accuracy(train, labels, query, query_labels, k=5) == pytest.approx(50.0, abs=4.0)


def reference_cosine_knn(train, train_labels, query, k):
    """Kim et al.'s k-NN probe written out: the k training examples of largest cosine similarity, majority vote."""
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    nearest = np.argsort(-(unit(query) @ unit(train).T), axis=1, kind="stable")[:, :k]
    return np.array([np.bincount(train_labels[row]).argmax() for row in nearest])


def test_knn_probe_uses_cosine_distance_not_euclidean():
    # Class 0 lies along the x axis far out, class 1 along the y axis near the origin: a query at (1, 0.1) is
    # Euclidean-near class 1 and cosine-near class 0.
    rng = np.random.default_rng(1)
    train = np.concatenate([np.c_[rng.uniform(50, 60, 20), rng.normal(0, 1, 20)],
                            np.c_[rng.normal(0, 0.1, 20), rng.uniform(1, 2, 20)]])
    labels = np.repeat([0, 1], 20)
    query = np.c_[rng.uniform(0.5, 1.5, 30), rng.uniform(-0.1, 0.1, 30)]
    expected = reference_cosine_knn(train, labels, query, 5)
    assert (expected == 0).all()
    accuracy = knn_probe_accuracy(train, labels, query, np.zeros(30, int), k=5)
    assert accuracy == 100.0 * (expected == 0).mean()


def test_knn_probe_refuses_k_beyond_the_fitted_examples():
    with pytest.raises(ValueError, match="k=4"):
        knn_probe_accuracy(np.zeros((3, 2)), np.arange(3), np.zeros((1, 2)), np.zeros(1), k=4)
