"""The evaluation shifts (unlearn_bench/shifts.py): every declared kind applied, and the elastic transform
(Forget Vector §4 ET1/ET2 = ImageNet-C elastic_transform severity 1/2)."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from tests.conftest import compose_config
from unlearn_bench.config import SHIFT_KINDS, ShiftConfig
from unlearn_bench.errors import ConfigError
from unlearn_bench.evaluation import predict
from unlearn_bench.results import shift_label
from unlearn_bench.runner import validate
from unlearn_bench.shifts import APPLY, check_shift, elastic_transform, reflect_gaussian_matrix, shifted


class Pixels(torch.nn.Module):
    """'Logits' = the input pixels: shows exactly what the model was fed."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


def imagenet_c_elastic(image: np.ndarray, affine_noise: np.ndarray, field_noise: np.ndarray,
                       intensity: float, smoothing: float, offset: float) -> np.ndarray:
    """ImageNet-C's elastic_transform on one H x W x C float image with given random draws, written with scipy
    (cv2.warpAffine's BORDER_REFLECT_101 = ndimage mode "mirror"; skimage's gaussian = ndimage.gaussian_filter)."""
    height, width, chans = image.shape
    centre = np.float32((height, width)) // 2
    side = min(height, width) // 3
    pts1 = np.float32([centre + side, [centre[0] + side, centre[1] - side], centre - side])
    pts2 = pts1 + offset * affine_noise
    forward = np.linalg.solve(np.c_[pts1, np.ones(3)], pts2).T  # cv2.getAffineTransform: 2 x 3, (x, y)
    inverse = np.linalg.inv(np.vstack([forward, [0, 0, 1]]))
    swap = np.array([[0, 1], [1, 0]])  # (x, y) <-> (row, col)
    matrix, shift = swap @ inverse[:2, :2] @ swap, swap @ inverse[:2, 2]
    warped = np.stack([ndimage.affine_transform(image[..., c], matrix, shift, order=1, mode="mirror")
                       for c in range(chans)], -1)
    dx, dy = (ndimage.gaussian_filter(n, smoothing, mode="reflect", truncate=3) * intensity for n in field_noise)
    x, y, z = np.meshgrid(np.arange(width), np.arange(height), np.arange(chans))
    indices = (y + dy[..., None]).reshape(-1, 1), (x + dx[..., None]).reshape(-1, 1), z.reshape(-1, 1)
    out = ndimage.map_coordinates(warped, indices, order=1, mode="reflect").reshape(image.shape)
    return np.clip(out, 0, 1)


@pytest.mark.parametrize("size,sigma", [(16, 170.8), (16, 19.52), (24, 2.5)])
def test_reflect_gaussian_matrix_is_scipys_gaussian_filter(size, sigma):
    signal = np.random.RandomState(0).uniform(-1, 1, size)
    ours = reflect_gaussian_matrix(size, sigma).double() @ torch.from_numpy(signal)
    expected = ndimage.gaussian_filter1d(signal, sigma, mode="reflect", truncate=3)
    np.testing.assert_allclose(ours.numpy(), expected, atol=1e-6)


@pytest.mark.parametrize("preset", ["et1", "et2"])
def test_elastic_matches_imagenet_c_reference(preset):
    shift = ShiftConfig(**{k: v for k, v in compose_config([f"eval={preset}"]).eval.shift.items()})
    rng = np.random.RandomState(1)
    images = rng.uniform(0, 1, (3, 20, 20, 3)).astype(np.float32)
    affine_noise = rng.uniform(-1, 1, (3, 3, 2)).astype(np.float32)
    field_noise = rng.uniform(-1, 1, (3, 2, 20, 20)).astype(np.float32)
    ours = elastic_transform(torch.from_numpy(images).permute(0, 3, 1, 2), shift, torch.from_numpy(affine_noise),
                             torch.from_numpy(field_noise)).permute(0, 2, 3, 1).numpy()
    for i in range(3):
        expected = imagenet_c_elastic(images[i], affine_noise[i], field_noise[i], shift.intensity, shift.smoothing,
                                      shift.offset)
        np.testing.assert_allclose(ours[i], expected, atol=2e-4)
    assert np.abs(ours - images).mean() > 0.1  # the warp moved the pixels


def test_elastic_without_movement_is_the_identity():
    x = torch.rand(2, 3, 12, 12)
    still = ShiftConfig(kind="elastic", intensity=0.0, smoothing=3.0, offset=0.0)
    out = elastic_transform(x, still, torch.rand(2, 3, 2) * 2 - 1, torch.rand(2, 2, 12, 12) * 2 - 1)
    torch.testing.assert_close(out, x)


def test_elastic_shift_is_seeded_per_image_and_differs_between_presets():
    x = torch.randint(0, 256, (40, 3, 16, 16), dtype=torch.uint8)
    et1, et2 = (ShiftConfig(**compose_config([f"eval={p}"]).eval.shift) for p in ("et1", "et2"))
    seen = predict(Pixels(), x, 16, shift=et1)
    np.testing.assert_array_equal(seen, predict(Pixels(), x, 16, shift=et1))  # same warp for every model
    clean = x.flatten(1).float().numpy() / 255
    assert seen.min() >= 0 and seen.max() <= 1 and np.abs(seen - clean).mean() > 0.05
    assert np.abs(predict(Pixels(), x, 16, shift=et2) - seen).mean() > 0.05
    assert not np.allclose(seen[0], seen[1])  # each image gets its own warp


def test_elastic_presets_hold_the_papers_parameters():
    et1, et2 = (compose_config([f"eval={p}"]).eval.shift for p in ("et1", "et2"))
    assert (et1.kind, et1.intensity, et1.smoothing, et1.offset) == ("elastic", 488.0, 170.8, 24.4)
    assert (et2.kind, et2.intensity, et2.smoothing, et2.offset) == ("elastic", 488.0, 19.52, 48.8)


@pytest.mark.parametrize("key,value", [("smoothing", 0.0), ("intensity", -1.0), ("offset", -0.5)])
def test_bad_elastic_parameters_are_refused_before_training(tmp_path, key, value):
    cfg = compose_config(["data=fake", f"cache_dir={tmp_path}", "eval=et1", f"eval.shift.{key}={value}"])
    with pytest.raises(ConfigError, match=f"eval.shift.{key}"):
        validate(cfg)
    assert not any(tmp_path.iterdir())  # nothing trained or cached
    with pytest.raises(ConfigError, match="allowed: .*elastic"):
        check_shift(ShiftConfig(kind="elastik"))


@pytest.mark.parametrize("kind", [k for k in SHIFT_KINDS if k != "none"])
def test_every_declared_kind_is_applied_and_labelled(kind):
    """A kind added to config.SHIFT_KINDS needs its function in shifts.APPLY and a field that labels it; the shift
    moves the pixels, seeded (the same noise for every model of a run) and inside [0, 1]."""
    shift = ShiftConfig(kind=kind, sigma=0.2, eps=0.1, intensity=4.0, smoothing=2.0, offset=1.0)
    x, y = torch.rand(4, 1, 12, 12), torch.zeros(4, dtype=torch.long)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(144, 3))
    out = shifted(model, x, y, shift, torch.Generator().manual_seed(0))
    assert not torch.equal(out, x) and out.min() >= 0 and out.max() <= 1
    torch.testing.assert_close(out, shifted(model, x, y, shift, torch.Generator().manual_seed(0)))
    assert set(APPLY) == set(SHIFT_KINDS) - {"none"}
    assert shift_label({"kind": kind, SHIFT_KINDS[kind]: 0.5}) == f"{kind}({SHIFT_KINDS[kind]}=0.5)"

