import numpy as np
import pytest

from unlearn_bench.metrics.distances import js_divergence, kl_divergence, per_class_accuracy

P = np.array([[0.5, 0.5]])
Q = np.array([[0.9, 0.1]])


def test_kl_by_hand_and_zero_for_identical_logits():
    expected = 0.5 * np.log(0.5 / 0.9) + 0.5 * np.log(0.5 / 0.1)
    assert np.isclose(kl_divergence(np.log(P), np.log(Q)), expected)
    assert not np.isclose(kl_divergence(np.log(Q), np.log(P)), expected)  # KL is directed
    logits = np.random.RandomState(0).randn(20, 10)
    assert kl_divergence(logits, logits) == 0.0
    assert kl_divergence(logits, logits + 5.0) < 1e-12  # softmax ignores a shift of all logits


def test_kl_is_averaged_over_examples():
    rows = np.log(np.concatenate([P, Q]))
    assert np.isclose(kl_divergence(rows, np.log(np.concatenate([Q, Q]))), kl_divergence(np.log(P), np.log(Q)) / 2)


def test_js_by_hand_symmetric_and_bounded_by_log_2():
    m = (P + Q) / 2
    expected = 0.5 * np.sum(P * np.log(P / m)) + 0.5 * np.sum(Q * np.log(Q / m))
    assert np.isclose(js_divergence(np.log(P), np.log(Q)), expected)
    rng = np.random.RandomState(1)
    a, b = rng.randn(50, 10) * 3, rng.randn(50, 10) * 3
    assert np.isclose(js_divergence(a, b), js_divergence(b, a))
    assert 0.0 < js_divergence(a, b) < np.log(2)
    assert abs(js_divergence(a, a)) < 1e-15
    disjoint = js_divergence(np.array([[100.0, 0.0]]), np.array([[0.0, 100.0]]))
    assert np.isclose(disjoint, np.log(2)) and disjoint <= np.log(2)


def test_per_class_accuracy_by_hand():
    logits = np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 2.0], [0.0, 2.0, 0.0]])
    labels = np.array([0, 0, 0, 2, 1])  # class 0: 2 of 3 right; class 1: 1 of 1; class 2: 1 of 1
    table = per_class_accuracy(logits, labels)
    assert table == {0: pytest.approx(200 / 3), 1: 100.0, 2: 100.0}
    with_empty = per_class_accuracy(logits, labels, num_classes=4)
    assert list(with_empty) == [0, 1, 2, 3] and np.isnan(with_empty[3])
