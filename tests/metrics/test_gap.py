"""Seed intervals and the separation of methods, against hand computations."""

import math

import pytest

from unlearn_bench.metrics.gap import not_separated, seed_interval


def test_seed_interval_is_the_student_t_interval():
    mean, low, high = seed_interval([1.0, 2.0, 3.0])
    half = 4.302653 * 1.0 / math.sqrt(3)  # t_{0.975, 2} * sample std / sqrt(n)
    assert mean == 2.0 and low == pytest.approx(2.0 - half, rel=1e-6) and high == pytest.approx(2.0 + half, rel=1e-6)
    assert seed_interval([5.0]) == (5.0, 5.0, 5.0)  # one seed: no spread to estimate
    assert seed_interval([2.0, 2.0, float("nan")]) == (2.0, 2.0, 2.0)  # NaN (a failed seed) is left out


def test_overlapping_intervals_are_not_separated():
    found = not_separated({"a": (0.0, 1.0), "b": (0.5, 2.0), "c": (3.0, 4.0), "d": (2.0, 3.0)})
    assert found == {"a": ["b"], "b": ["a", "d"], "c": ["d"], "d": ["b", "c"]}  # touching ends overlap
