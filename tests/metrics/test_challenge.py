import numpy as np
import pytest

from unlearn_bench.metrics.challenge import (
    DELTA,
    EPSILON_CAP,
    final_score,
    forget_score,
    forget_score_from_epsilons,
    per_example_epsilons,
)


def test_epsilon_by_hand_when_the_best_attack_errs_once_on_each_side():
    # 4 models each. With 4 samples a usable rate is 0 (discarded unless both are) or >= 1/4; no threshold or window
    # separates the populations, and phi >= 2.5 errs on exactly one of each: FPR = FNR = 1/4.
    unlearned = np.array([[1.5], [3.0], [4.0], [5.0]])
    retrained = np.array([[0.0], [1.0], [2.0], [3.5]])
    expected = np.log(1 - DELTA - 0.25) - np.log(0.25)
    assert np.allclose(per_example_epsilons(unlearned, retrained), [expected], rtol=0, atol=1e-12)
    # the population with the larger median is the "positive" one, whichever side it is
    assert np.allclose(per_example_epsilons(retrained, unlearned), [expected], rtol=0, atol=1e-12)


def test_identical_populations_give_epsilon_0_and_a_full_forget_score():
    phi = np.random.RandomState(0).randn(64, 5)
    assert np.array_equal(per_example_epsilons(phi, phi.copy()), np.zeros(5))
    assert forget_score(phi, phi.copy()) == 1.0


def test_separated_or_much_peakier_populations_give_the_cap_and_no_points():
    rng = np.random.RandomState(1)
    retrained = rng.randn(64, 3)
    assert np.array_equal(per_example_epsilons(retrained + 10.0, retrained), np.full(3, EPSILON_CAP))
    assert forget_score(retrained + 10.0, retrained) == 0.0
    peaky = 0.001 * rng.randn(64, 3)  # range < 1 % of the other's: the cap, even though the medians agree
    assert np.array_equal(per_example_epsilons(peaky, retrained), np.full(3, EPSILON_CAP))


def test_epsilon_grows_with_the_shift_between_populations():
    rng = np.random.RandomState(2)
    retrained = rng.randn(64, 6)
    small, large = (per_example_epsilons(rng.randn(64, 6) + shift, retrained).mean() for shift in (0.3, 2.0))
    assert 0.0 < small < large < EPSILON_CAP


def test_bucket_points_by_hand():
    # 8 models: ceil(log 7) = 2 -> buckets [0, .5), [.5, 1), [1, 1.5), [1.5, 2) worth 1, 1/2, 1/4, 1/8; >= 2: 0
    assert forget_score_from_epsilons(np.array([0.2, 0.7, 1.6, 1.99, 2.0]), 8) == pytest.approx(1.75 / 5)
    # 512 models (the challenge's N): ceil(log 511) = 7 -> the last bucket [6.5, 7) is worth 2^-13
    assert forget_score_from_epsilons(np.array([6.9, 7.0]), 512) == pytest.approx(2.0**-13 / 2)
    with pytest.raises(ValueError):
        forget_score_from_epsilons(np.zeros(3), 1)


def test_final_score_scales_by_retain_and_test_accuracy_ratios():
    assert final_score(0.5, 90.0, 100.0, 80.0, 100.0) == pytest.approx(0.36)
    # per-model accuracies are averaged first
    assert final_score(0.5, np.array([88.0, 92.0]), np.array([100.0]), 40.0, np.array([50.0, 50.0])) == \
        pytest.approx(0.5 * 0.9 * 0.8)
