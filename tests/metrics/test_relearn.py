"""Known answers of the relearning-curve summaries."""

import numpy as np
import pytest

from unlearn_bench.metrics.relearn import curve_area, recovered


def test_area_of_a_flat_curve_is_its_height_and_of_a_ramp_its_mean():
    assert curve_area(np.full(11, 30.0)) == pytest.approx(30.0)
    assert curve_area(np.linspace(0.0, 100.0, 21)) == pytest.approx(50.0)
    assert curve_area(np.array([0.0, 100.0, 100.0])) == pytest.approx(75.0)  # recovered after one step


def test_a_faster_recovery_has_the_larger_area():
    slow, fast = np.array([0.0, 10.0, 20.0, 90.0]), np.array([0.0, 80.0, 90.0, 90.0])
    assert recovered(slow) == recovered(fast) == 90.0
    assert curve_area(fast) > curve_area(slow)


def test_a_curve_needs_at_least_one_step():
    with pytest.raises(ValueError, match="at least|>= 1 step"):
        curve_area(np.array([5.0]))


def test_curve_area_weighs_each_segment_by_the_steps_it_spans():
    # Measured at steps 0, 100 and 130 (the paper budget's every-100-steps plus the last): trapezoids by hand.
    assert curve_area(np.array([0.0, 50.0, 100.0]), np.array([0, 100, 130])) == pytest.approx(
        (25.0 * 100 + 75.0 * 30) / 130)
