"""Seed intervals, the paired sign-flip test and Holm's correction, against hand computations."""

import math

import pytest

from unlearn_bench.stats import holm, paired, seed_interval, sign_flip_p, versus_best


def test_seed_interval_is_the_student_t_interval():
    mean, low, high = seed_interval([1.0, 2.0, 3.0])
    half = 4.302653 * 1.0 / math.sqrt(3)  # t_{0.975, 2} * sample std / sqrt(n)
    assert mean == 2.0 and low == pytest.approx(2.0 - half, rel=1e-6) and high == pytest.approx(2.0 + half, rel=1e-6)
    assert seed_interval([5.0]) == (5.0, 5.0, 5.0)  # one seed: no spread to estimate
    assert seed_interval([2.0, 2.0, float("nan")]) == (2.0, 2.0, 2.0)  # NaN (a failed seed) is left out


def test_sign_flip_p_counts_the_sign_vectors_at_least_as_extreme():
    # d = (1, 2, 3): the 8 signed sums are ±1±2±3 -> |6|, |0|, |2|, |4|, |4|, |2|, |0|, |6|; two reach 6.
    assert sign_flip_p([1.0, 2.0, 3.0]) == pytest.approx(2 / 8)
    # d = (3, -1): the signed sums 2, 4, -4, -2 all reach the observed |2|.
    assert sign_flip_p([3.0, -1.0]) == pytest.approx(1.0)
    # ten positive differences of distinct size: only all-plus and all-minus reach the observed sum.
    assert sign_flip_p([float(i) for i in range(1, 11)]) == pytest.approx(2 / 1024)
    assert sign_flip_p([0.0, 0.0]) == 1.0
    with pytest.raises(ValueError, match="finite"):
        sign_flip_p([1.0, float("nan")])


def test_holm_multiplies_the_ith_smallest_by_m_minus_i_plus_one_and_keeps_order():
    # sorted 0.01, 0.02, 0.04 -> 0.03, 0.04, 0.04 (monotone), returned in the input order
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1


def test_paired_uses_only_the_seeds_both_have():
    diff, n, p = paired({0: 1.0, 1: 2.0, 2: 3.0, 3: float("nan")}, {0: 0.0, 1: 0.0, 2: 0.0, 4: 9.0})
    assert (diff, n, p) == (pytest.approx(2.0), 3, pytest.approx(2 / 8))


def test_versus_best_compares_each_with_the_lowest_mean_and_adjusts_by_holm():
    values = {"a": {0: 1.0, 1: 1.0, 2: 1.0}, "b": {0: 2.0, 1: 3.0, 2: 4.0}, "c": {0: 2.0, 1: 0.5, 2: 2.0}}
    compared = versus_best(values)
    assert set(compared) == {"b", "c"}  # a (mean 1.0) is the best
    # b - a = (1, 2, 3): p = 2/8; c - a = (1, -0.5, 1): sums ±1±0.5±1 -> observed 1.5, |.| >= 1.5 for 4 of 8: p = 0.5
    # Holm over two: 0.25 * 2 = 0.5, then max(0.5, 0.5 * 1) = 0.5
    assert compared["b"] == (pytest.approx(2.0), 3, pytest.approx(0.5))
    assert compared["c"] == (pytest.approx(0.5), 3, pytest.approx(0.5))


def test_paired_groups_tie_what_the_paired_tests_cannot_separate():
    from unlearn_bench.stats import paired_groups

    seeds = range(10)
    best = {s: 1.0 + 0.1 * s for s in seeds}
    tied = {s: best[s] + (0.05 if s % 2 else -0.05) for s in seeds}  # alternating sign: p = 1
    worse = {s: best[s] + 3.0 + 0.01 * s for s in seeds}  # always 3 above: p = 2 / 1024
    worst = {s: best[s] + 9.0 + 0.01 * s for s in seeds}
    assert paired_groups({"best": best, "tied": tied, "worse": worse, "worst": worst}) == {
        "best": 1, "tied": 1, "worse": 2, "worst": 3}
    assert paired_groups({"only": best}) == {"only": 1}
