"""The distribution shifts applied to the evaluated splits (``eval.shift``, Forget Vector §4, Fig. 2): Gaussian pixel
noise, ImageNet-C's elastic transform and an untargeted l_inf PGD attack on each evaluated model. The kinds, and the
parameter that labels each in a record, are declared once: ``config.SHIFT_KINDS``; ``shifted`` applies them."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.config import SHIFT_KINDS, ShiftConfig
from unlearn_bench.errors import ConfigError


def pgd_linf(model: nn.Module, x: torch.Tensor, y: torch.Tensor, shift: ShiftConfig,
             generator: torch.Generator) -> torch.Tensor:
    """Untargeted l_inf PGD against ``model`` (Madry et al.: uniform random start in the eps-ball, ``steps``
    signed-gradient ascent steps on the cross-entropy of the true label, projection, pixels kept in [0, 1])."""
    delta = (torch.rand(x.shape, generator=generator).to(x.device) * 2 - 1) * shift.eps
    with torch.enable_grad():
        for _ in range(shift.steps):
            delta.requires_grad_(True)
            loss = F.cross_entropy(model((x + delta).clamp(0, 1)).float(), y)
            (grad,) = torch.autograd.grad(loss, delta)
            delta = (delta.detach() + shift.step_size * grad.sign()).clamp(-shift.eps, shift.eps)
    return (x + delta).clamp(0, 1).detach()


def reflect_gaussian_matrix(size: int, sigma: float, device: torch.device | str = "cpu",
                            truncate: float = 3.0) -> torch.Tensor:
    """``size x size`` matrix ``K`` with ``K @ v`` = ``scipy.ndimage.gaussian_filter1d(v, sigma, mode="reflect",
    truncate=3)`` (what ImageNet-C's ``skimage.filters.gaussian`` calls): normalised Gaussian weights over
    ``int(truncate * sigma + 0.5)`` pixels each side, the signal extended by half-sample reflection as often as
    the kernel needs (at sigma 170.8 it is far wider than a 32 px image)."""
    radius = int(truncate * sigma + 0.5)
    taps = torch.arange(-radius, radius + 1, dtype=torch.float64)
    weights = torch.exp(-0.5 * (taps / sigma) ** 2)
    weights /= weights.sum()
    rows = torch.arange(size)[:, None].expand(size, len(taps))
    source = (rows + taps.long()[None, :]) % (2 * size)
    source = torch.where(source >= size, 2 * size - 1 - source, source)  # d c b a | a b c d | d c b a
    matrix = torch.zeros(size, size, dtype=torch.float64)
    matrix.index_put_((rows.reshape(-1), source.reshape(-1)), weights.repeat(size), accumulate=True)
    return matrix.float().to(device)


def _sample(x: torch.Tensor, src_x: torch.Tensor, src_y: torch.Tensor, edge_reflect: bool) -> torch.Tensor:
    """Bilinear sampling of ``x`` (B x C x H x W) at pixel coordinates ``src_x``, ``src_y`` (B x H x W), outside
    points mirrored: about the edge pixels' centres (``edge_reflect``: OpenCV's BORDER_REFLECT_101) or about
    their outer edges (scipy's ``mode="reflect"``)."""
    height, width = x.shape[-2:]
    if edge_reflect:
        grid = torch.stack([2 * src_x / (width - 1) - 1, 2 * src_y / (height - 1) - 1], dim=-1)
    else:
        grid = torch.stack([(2 * src_x + 1) / width - 1, (2 * src_y + 1) / height - 1], dim=-1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=edge_reflect)


def elastic_transform(x: torch.Tensor, shift: ShiftConfig, affine_noise: torch.Tensor,
                      field_noise: torch.Tensor) -> torch.Tensor:
    """ImageNet-C's ``elastic_transform`` (Hendrycks & Dietterich 2019), the ET corruption of Forget Vector §4 /
    Fig. 2, as batched tensor ops. ``x``: float B x C x H x W in [0, 1]; ``affine_noise``: B x 3 x 2 and
    ``field_noise``: B x 2 x H x W, uniform in [-1, 1] (the corruption's random draws).

    1. Random affine: the control points ``c + (s, s)``, ``c + (s, -s)``, ``c - (s, s)`` (``c`` the centre,
       ``s = min(H, W) // 3``) each move by ``offset * affine_noise``; the image is warped with that affine
       (cv2.warpAffine: bilinear, BORDER_REFLECT_101).
    2. Elastic: displacements ``dx``, ``dy`` = ``intensity`` x the noise fields smoothed by a Gaussian of std
       ``smoothing`` (reflect, truncate 3); ``out(y, x) = in(y + dy, x + dx)`` (scipy map_coordinates, order 1,
       mode reflect), clipped to [0, 1].
    The parameters are in pixels of the evaluated images, as ImageNet-C applies them (Forget Vector does not say
    at which size its ET sets were generated; it states only the three numbers)."""
    batch, _, height, width = x.shape
    dev = x.device
    centre = torch.tensor([height // 2, width // 2], dtype=torch.float32, device=dev)  # (x, y) as ImageNet-C
    side = min(height, width) // 3
    signs = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]], device=dev)
    points = (centre + side * signs).expand(batch, 3, 2)
    moved = points + shift.offset * affine_noise
    ones = torch.ones(batch, 3, 1, device=dev)
    forward = torch.linalg.solve(torch.cat([points, ones], 2), moved).transpose(1, 2)  # B x 2 x 3: p -> A p + b
    linear, translation = forward[:, :, :2], forward[:, :, 2:]
    ys, xs = torch.meshgrid(torch.arange(height, device=dev, dtype=torch.float32),
                            torch.arange(width, device=dev, dtype=torch.float32), indexing="ij")
    targets = torch.stack([xs, ys]).reshape(1, 2, -1) - translation  # output pixel -> its source: A^-1 (p - b)
    source = torch.linalg.solve(linear, targets).reshape(batch, 2, height, width)
    warped = _sample(x, source[:, 0], source[:, 1], edge_reflect=True)

    smooth_rows = reflect_gaussian_matrix(height, shift.smoothing, dev)
    smooth_cols = reflect_gaussian_matrix(width, shift.smoothing, dev)
    displacement = shift.intensity * (smooth_rows @ field_noise @ smooth_cols.T)  # B x 2 x H x W: dx, dy
    out = _sample(warped, xs + displacement[:, 0], ys + displacement[:, 1], edge_reflect=False)
    return out.clamp(0, 1)


def check_shift(shift: ShiftConfig) -> None:
    """Raise ConfigError for an unknown ``eval.shift.kind`` or an impossible parameter of the chosen kind."""
    if shift.kind not in SHIFT_KINDS:
        raise ConfigError(f"eval.shift.kind={shift.kind!r} is not supported; allowed: {list(SHIFT_KINDS)}")
    if shift.kind == "elastic":
        for key, value, low in (("intensity", shift.intensity, 0.0), ("offset", shift.offset, 0.0)):
            if not value >= low:
                raise ConfigError(f"eval.shift.{key}={value!r} must be >= {low} for eval.shift.kind=elastic")
        if not shift.smoothing > 0:
            raise ConfigError(f"eval.shift.smoothing={shift.smoothing!r} must be > 0 for eval.shift.kind=elastic")


def gaussian_noise(model: nn.Module, x: torch.Tensor, y: torch.Tensor, shift: ShiftConfig,
                   generator: torch.Generator) -> torch.Tensor:
    """Pixel noise of std ``sigma``, clipped to [0, 1] (Forget Vector's GN1 / GN2)."""
    return (x + shift.sigma * torch.randn(x.shape, generator=generator).to(x.device)).clamp(0, 1)


def elastic(model: nn.Module, x: torch.Tensor, y: torch.Tensor, shift: ShiftConfig,
            generator: torch.Generator) -> torch.Tensor:
    """``elastic_transform`` with the corruption's random draws taken from ``generator``."""
    batch, _, height, width = x.shape
    affine_noise = torch.rand((batch, 3, 2), generator=generator) * 2 - 1
    field_noise = torch.rand((batch, 2, height, width), generator=generator) * 2 - 1
    return elastic_transform(x, shift, affine_noise.to(x.device), field_noise.to(x.device))


# How each kind of config.SHIFT_KINDS but ``none`` is applied (tests/test_shifts.py: one for each).
APPLY = {"gaussian": gaussian_noise, "elastic": elastic, "pgd": pgd_linf}


def shifted(model: nn.Module, x: torch.Tensor, y: torch.Tensor, shift: ShiftConfig | None,
            generator: torch.Generator) -> torch.Tensor:
    """A float batch in [0, 1] under the configured evaluation shift."""
    if shift is None or shift.kind == "none":
        return x
    check_shift(shift)
    return APPLY[shift.kind](model, x, y, shift, generator)
