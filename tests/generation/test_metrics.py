"""Frechet distance against closed forms, UA / Acc_gen / FID wiring on images whose classes are known."""

import numpy as np
import pytest
import torch
from torch import nn

from unlearn_bench.generation.metrics import (
    fid,
    frechet_distance,
    gaussian_stats,
    generation_metrics,
    unlearning_accuracy_generated,
)


def test_frechet_distance_of_one_dimensional_gaussians():
    # N(0, 1) vs N(3, 4): (0 - 3)^2 + (1 - 2)^2 = 10
    assert frechet_distance(np.array([0.0]), np.array([[1.0]]), np.array([3.0]), np.array([[4.0]])) == \
        pytest.approx(10.0)


def test_frechet_distance_of_commuting_covariances_matches_closed_form():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    a, b = rng.uniform(0.5, 3.0, 5), rng.uniform(0.5, 3.0, 5)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = frechet_distance(mu1, q @ np.diag(a) @ q.T, mu2, q @ np.diag(b) @ q.T)
    assert got == pytest.approx(expected, rel=1e-8)


def test_frechet_distance_is_zero_for_identical_and_handles_singular_covariances():
    sigma = np.diag([1.0, 2.0, 0.0])  # singular: the eps-regularised path
    assert frechet_distance(np.ones(3), sigma, np.ones(3), sigma) == pytest.approx(0.0, abs=1e-5)
    with pytest.raises(ValueError, match="shape mismatch"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


def test_fid_grows_with_the_shift_between_samples():
    rng = np.random.default_rng(1)
    reference = rng.normal(size=(2000, 4))
    same = fid(rng.normal(size=(2000, 4)), reference)
    shifted = fid(rng.normal(size=(2000, 4)) + 1.0, reference)
    assert same < 0.05
    assert shifted == pytest.approx(4.0, abs=0.2)  # ||mu shift||^2 = 4
    with pytest.raises(ValueError, match="n >= 2"):
        gaussian_stats(np.ones((1, 4)))


def test_unlearning_accuracy_counts_images_not_assigned_to_their_class():
    assert unlearning_accuracy_generated(np.array([0, 1, 2, 0]), np.array([0, 0, 0, 0])) == 50.0
    assert np.isnan(unlearning_accuracy_generated(np.array([]), np.array([])))


class IntensityClassifier(nn.Module):
    """Predicts class round(mean pixel * 10): images filled with k/10 are class k."""

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        k = (pixels.mean((1, 2, 3)) * 10).round().long()
        return nn.functional.one_hot(k, 10).float()


def filled(values: list[float], n: int) -> torch.Tensor:
    return torch.stack([torch.full((n, 1, 4, 4), round(v * 255), dtype=torch.uint8) for v in values])


def test_generation_metrics_ua_acc_and_fid_name():
    classes = [0, 1, 2]
    good = filled([0.0, 0.1, 0.2], 5)  # every class drawn as itself
    forgot = filled([0.1, 0.1, 0.2], 5)  # class 0 now drawn as class 1
    features = lambda x: x.flatten(1)[:, :2] + torch.randn(len(x), 2)  # noqa: E731
    reference = np.random.default_rng(0).normal(size=(50, 2)) + 0.15
    torch.manual_seed(0)
    before, arrays = generation_metrics(good, classes, [0], IntensityClassifier(), "FID_classifier", features,
                                        reference, torch.device("cpu"))
    after, _ = generation_metrics(forgot, classes, [0], IntensityClassifier(), "FID_classifier", features, reference,
                                  torch.device("cpu"))
    assert before["UA"] == 0.0 and after["UA"] == 100.0
    assert before["Acc_gen"] == after["Acc_gen"] == 100.0
    assert set(before) == {"UA", "Acc_gen", "FID_classifier"} and np.isfinite(before["FID_classifier"])
    np.testing.assert_array_equal(arrays["generated_labels"], np.repeat(classes, 5))
    assert arrays["generated_images"].shape == (3, 5, 1, 4, 4)
