"""Known answers of KLoM (Georgiev et al. 2024; EasyDUB's estimator): margins, the binned and the Gaussian KL."""

import numpy as np
import pytest

from unlearn_bench.metrics.klom import binned_kl, gaussian_fit_kl, gaussian_kl, klom, margins, summarize


def closed_form(mean_p, std_p, mean_q, std_q):
    """KL(N(mean_p, std_p^2) || N(mean_q, std_q^2)), written out independently of the module."""
    return np.log(std_q / std_p) + (std_p**2 + (mean_p - mean_q) ** 2) / (2 * std_q**2) - 0.5


def test_margin_is_the_correct_logit_minus_the_log_sum_exp_of_the_others():
    logits = np.array([[2.0, 0.0, 0.0], [0.0, 5.0, -50.0]])
    expected = [2.0 - np.log(2.0), 0.0 - np.log(np.exp(5.0) + np.exp(-50.0))]
    np.testing.assert_allclose(margins(logits, np.array([0, 0])), expected)
    assert margins(np.array([[3.0, -1000.0]]), np.array([0]))[0] == pytest.approx(1003.0)  # one other class: z_y - z_o


def test_identical_samples_score_zero_with_both_estimators():
    sample = np.random.default_rng(0).normal(3.0, 2.0, size=(50, 7))
    assert np.all(klom(sample, sample, "binned") == 0.0)
    np.testing.assert_allclose(klom(sample, sample, "gaussian"), 0.0, atol=1e-12)


@pytest.mark.parametrize("shift", [0.5, 1.0, 2.0])
def test_binned_kl_of_shifted_gaussians_matches_the_closed_form(shift):
    rng = np.random.default_rng(1)
    p, q = rng.normal(shift, 1.0, 200_000), rng.normal(0.0, 1.0, 200_000)
    assert binned_kl(p, q) == pytest.approx(closed_form(shift, 1.0, 0.0, 1.0), rel=0.08)


def test_binned_kl_grows_with_the_shift_and_is_asymmetric_in_spread():
    rng = np.random.default_rng(2)
    q = rng.normal(0.0, 1.0, 5000)
    scores = [binned_kl(rng.normal(s, 1.0, 5000), q) for s in (0.0, 0.5, 1.0, 2.0)]
    assert scores == sorted(scores) and scores[0] < 0.05 < scores[1]
    narrow, wide = rng.normal(0.0, 0.2, 5000), rng.normal(0.0, 2.0, 5000)
    assert binned_kl(narrow, wide) != pytest.approx(binned_kl(wide, narrow), rel=0.1)


def test_binned_kl_of_disjoint_samples_reaches_the_floor():
    # Every unlearned value sits in a bin without a Retrain value: log(1 / 1e-5).
    assert binned_kl(np.full(10, 5.0), np.zeros(10)) == pytest.approx(np.log(1e5))


def test_gaussian_estimator_matches_the_closed_form():
    assert gaussian_kl(1.0, 0.25, 0.0, 1.0) == pytest.approx(closed_form(1.0, 0.5, 0.0, 1.0))
    rng = np.random.default_rng(3)
    p, q = rng.normal(1.0, 0.5, (100_000, 1)), rng.normal(-1.0, 2.0, (100_000, 1))
    assert gaussian_fit_kl(p, q)[0] == pytest.approx(closed_form(1.0, 0.5, -1.0, 2.0), rel=0.02)


@pytest.mark.parametrize("estimator, models", [("gaussian", 8), ("binned", 300)])
def test_a_deterministic_sample_far_from_the_reference_scores_high(estimator, models):
    rng = np.random.default_rng(4)
    retrain = rng.normal(0.0, 1.0, (models, 20))
    same = rng.normal(0.0, 1.0, (models, 20))
    point_mass = np.full((models, 20), 6.0)
    assert klom(point_mass, retrain, estimator).mean() > 5 * klom(same, retrain, estimator).mean()


def test_the_binned_estimator_needs_many_models():
    """Why eval=deep uses the Gaussian estimator: with 8 models per side, 20 bins leave most unlearned models in a
    bin without a Retrain, so two samples of one distribution already score several nats."""
    rng = np.random.default_rng(5)
    few = klom(rng.normal(size=(8, 50)), rng.normal(size=(8, 50)), "binned").mean()
    many = klom(rng.normal(size=(300, 50)), rng.normal(size=(300, 50)), "binned").mean()
    assert few > 2.0 > 0.5 > many


def test_klom_checks_its_inputs_and_summarizes():
    with pytest.raises(ValueError, match="same examples"):
        klom(np.zeros((3, 4)), np.zeros((3, 5)))
    with pytest.raises(ValueError, match="estimator 'x'"):
        klom(np.zeros((3, 4)), np.zeros((3, 4)), "x")
    with pytest.raises(ValueError, match="at least 2 models"):
        klom(np.zeros((1, 4)), np.zeros((3, 4)), "gaussian")
    assert summarize(np.arange(101.0)) == {"mean": 50.0, "p50": 50.0, "p95": 95.0}
    assert all(np.isnan(v) for v in summarize(np.zeros(0)).values())
