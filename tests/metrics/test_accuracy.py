import numpy as np
import pytest

from unlearn_bench.metrics.accuracy import (
    accuracy,
    collapse_threshold,
    collapsed,
    sibling_subclass_accuracies,
    unlearning_accuracy,
)
from unlearn_bench.metrics.gap import avg_gap, gaps

LOGITS = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.0, 1.0, 5.0], [4.0, 0.0, 0.0]])


def test_accuracy_and_ua_on_hand_made_logits():
    labels = np.array([0, 1, 0, 1])  # predictions are 0, 1, 2, 0 -> 2 of 4 right
    assert accuracy(LOGITS, labels) == 50.0
    assert unlearning_accuracy(LOGITS, labels) == 50.0
    assert accuracy(LOGITS, np.array([0, 1, 2, 0])) == 100.0
    assert unlearning_accuracy(LOGITS, np.array([1, 0, 0, 2])) == 100.0


def test_empty_split_is_nan_not_zero():
    assert np.isnan(accuracy(np.zeros((0, 3)), np.zeros(0, dtype=int)))


def test_gaps_and_avg_gap_follow_salun_table1():
    # SalUn Table 1, 10% random: Retrain and SalUn rows; printed Avg. Gap 1.15
    retrain = {"UA": 5.24, "RA": 100.00, "TA": 94.26, "MIA": 12.88}
    salun = {"UA": 2.85, "RA": 99.62, "TA": 93.93, "MIA": 14.39}
    g = gaps(salun, retrain)
    assert np.allclose([g["UA"], g["RA"], g["TA"], g["MIA"]], [2.39, 0.38, 0.33, 1.51])
    assert round(avg_gap(g), 2) == 1.15


def test_sibling_subclass_accuracies_cover_the_forgotten_sub_class_and_its_super_class_only():
    # sub-classes a, b (super 0) and c (super 1); predictions 0, 1, 2, 0 on the four LOGITS rows
    test_sub = np.array([0, 0, 1, 2])
    test_labels = np.array([0, 0, 0, 1])
    accs = sibling_subclass_accuracies(LOGITS, test_labels, test_sub, ["a", "b", "c"], "a")
    assert accs == {"acc_a": 50.0, "acc_b": 0.0}  # a: rows 0 (right), 1 (wrong); b: row 2 (wrong); c is not a sibling


def test_collapse_is_within_a_tenth_of_the_way_from_chance_to_perfect():
    assert collapse_threshold(10) == pytest.approx(19.0)  # 10 + 0.1 * 90
    assert collapse_threshold(5) == pytest.approx(28.0)
    assert collapsed({"RA": 99.0, "TA": 19.5}, 10) is None
    why = collapsed({"RA": 10.1, "TA": 10.0, "UA": 90.0}, 10)
    assert why.startswith("collapsed to chance: RA 10.1, TA 10.0 <= 19.0")
    assert collapsed({"UA": 100.0}, 10) is None  # forgetting everything in D_f is not a collapse
    # a metric the original already had at chance (a tiny test model) did not fall to it
    assert collapsed({"RA": 10.1, "TA": 10.0}, 10, original={"RA": 95.0, "TA": 12.0}).startswith(
        "collapsed to chance: RA 10.1 <= 19.0")
    assert collapsed({"RA": 10.1, "TA": 10.0}, 10, original={"RA": 15.0, "TA": 12.0}) is None
