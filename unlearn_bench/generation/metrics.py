"""Generation metrics (SalUn §6.1, Table A5): UA of generated images and FID on the non-forgotten classes.

* UA (up): the share (%) of images generated for the forgotten class(es) that a classifier does **not** assign to
  the class they were generated for. SalUn uses an external ResNet-34; the harness uses its own original classifier
  of the same data (trained on all of D by the classification code path, cached).
* FID (down): Frechet distance (Heusel et al. 2017) between Gaussian fits of features of generated images of the
  non-forgotten classes and of the real training images of those classes (D_r; SalUn does not state its reference
  set). Features: Inception-v3 pool features (2,048-d; torchvision architecture, weights from a local file) when
  given, else the classifier's penultimate features; the metric is named ``FID_inception`` or ``FID_classifier``
  so a table never shows one as the other.
* Acc_gen (harness addition): the classifier's accuracy (%) on the generated images of the non-forgotten classes,
  which shows over-forgetting (SalUn Fig. 3: GA/RL damage the other classes) in numbers.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.data.loader import to_float
from unlearn_bench.errors import ConfigError

FeatureFn = Callable[[torch.Tensor], torch.Tensor]  # float pixels in [0, 1] (B x C x H x W) -> B x d features


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of the rows of ``features`` (n x d)."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"need an n x d array with n >= 2 to fit a Gaussian; got shape {features.shape}")
    return features.mean(0), np.cov(features, rowvar=False).reshape(features.shape[1], features.shape[1])


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6) -> float:
    """d^2 = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) between N(mu1, S1) and N(mu2, S2) (Heusel et al. 2017).
    A singular product gets ``eps`` on both diagonals (as pytorch-fid); the tiny imaginary part of the square root
    that round-off leaves is dropped."""
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (len(mu1), len(mu1)):
        raise ValueError(f"shape mismatch: mu {mu1.shape} / {mu2.shape}, sigma {sigma1.shape} / {sigma2.shape}")
    with warnings.catch_warnings(record=True) as caught:  # scipy warns (and may be inaccurate) when singular
        warnings.simplefilter("always", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    if caught or not np.isfinite(covmean).all():
        offset = np.eye(len(mu1)) * eps
        covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def fid(features_a: np.ndarray, features_b: np.ndarray) -> float:
    return frechet_distance(*gaussian_stats(features_a), *gaussian_stats(features_b))


def unlearning_accuracy_generated(predictions: np.ndarray, target_class: np.ndarray) -> float:
    """UA (%) of generated images: share whose predicted class differs from the class they were generated for."""
    if len(predictions) == 0:
        return float("nan")
    return float((np.asarray(predictions) != np.asarray(target_class)).mean() * 100.0)


@torch.no_grad()
def batched(fn: FeatureFn, images: torch.Tensor, device: torch.device, batch_size: int = 512) -> np.ndarray:
    """``fn`` over uint8 (or float) images in batches, on ``device``; float64 numpy result."""
    out = [fn(to_float(images[i:i + batch_size].to(device))).double().cpu() for i in range(0, len(images), batch_size)]
    return torch.cat(out).numpy()


def classifier_features(classifier: nn.Module) -> FeatureFn:
    """The penultimate features of a harness classifier (``Classifier.forward_features``)."""
    return classifier.eval().forward_features


def inception_features(weights: str | Path, device: torch.device) -> FeatureFn:
    """2,048-d pool features of torchvision's Inception-v3 with the state dict in the local file ``weights``
    (e.g. torchvision's IMAGENET1K_V1 ``inception_v3_google-0cc3c7bd.pth``); images are resized to 299 x 299,
    grey images repeated to 3 channels, and normalised as torchvision's ImageNet weights expect. Nothing is
    downloaded."""
    from torchvision.models import inception_v3

    path = Path(weights)
    if not path.is_file():
        raise ConfigError(f"task.metrics.inception_weights={str(weights)!r} is not a file; give a local "
                          "torchvision inception_v3 state dict, or null to use the classifier's features")
    net = inception_v3(weights=None, aux_logits=True, init_weights=False)
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    net.fc = nn.Identity()
    net = net.to(device).eval()
    mean = torch.tensor([0.485, 0.456, 0.406], device=device).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], device=device).view(1, 3, 1, 1)

    def features(pixels: torch.Tensor) -> torch.Tensor:
        if pixels.shape[1] == 1:
            pixels = pixels.repeat(1, 3, 1, 1)
        pixels = F.interpolate(pixels, size=(299, 299), mode="bilinear", align_corners=False)
        return net((pixels - mean) / std)

    return features


def generation_metrics(generated: torch.Tensor, classes: list[int], forgotten: list[int], classifier: nn.Module,
                       fid_name: str, features: FeatureFn, reference_features: np.ndarray,
                       device: torch.device) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """UA, FID and Acc_gen of images ``generated`` (K x N x C x H x W uint8, one row per entry of ``classes``).
    Returns the metrics and per-image arrays (the generated images, their labels and the classifier's
    predictions) for the record."""
    k, n = generated.shape[:2]
    images = generated.reshape(k * n, *generated.shape[2:])
    labels = np.repeat(np.asarray(classes), n)
    predictions = batched(classifier.eval(), images, device).argmax(1)
    is_forgotten = np.isin(labels, forgotten)
    kept = ~is_forgotten
    metrics = {"UA": unlearning_accuracy_generated(predictions[is_forgotten], labels[is_forgotten]),
               "Acc_gen": float((predictions[kept] == labels[kept]).mean() * 100.0),
               fid_name: fid(batched(features, images[torch.from_numpy(kept)], device), reference_features)}
    arrays = {"generated_images": generated.numpy(), "generated_labels": labels, "generated_predictions": predictions}
    return metrics, arrays
