"""Device-resident batching: uint8 images stay on the device; a batch is gathered by index, augmented
(random crop with zero padding, horizontal flip) as whole-batch tensor ops and converted to [0, 1] floats.

Semantics match torchvision's ``RandomCrop(size, padding=p)`` + ``RandomHorizontalFlip()`` used by the
SalUn repo: a uniform crop offset in [0, 2p] per image and axis, a flip with probability 1/2 per image.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F


def random_crop(x: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Crop every image of ``x`` (B x C x H x W) at its own random offset after zero padding."""
    b, _, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    offsets = torch.randint(0, 2 * padding + 1, (2, b), generator=generator).to(x.device)
    rows = offsets[0, :, None] + torch.arange(h, device=x.device)  # B x H
    cols = offsets[1, :, None] + torch.arange(w, device=x.device)  # B x W
    batch = torch.arange(b, device=x.device)[:, None, None]
    # Advanced indices around a slice put the indexed dims first: the result is B x H x W x C.
    return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def random_hflip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    flip = (torch.rand(x.shape[0], generator=generator) < 0.5).to(x.device)
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> [0, 1] floats; float inputs (e.g. learned noise images) pass through."""
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()


def iterate_batches(
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    shuffle: bool = False,
    crop_padding: int = 0,
    hflip: bool = False,
    generator: torch.Generator | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(images in [0, 1], labels)`` batches over one epoch; the last batch may be smaller."""
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    n = x.shape[0]
    order = torch.randperm(n, generator=generator).to(x.device) if shuffle else None
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size] if order is not None else slice(start, start + batch_size)
        xb, yb = x[idx], y[idx]
        if crop_padding > 0:
            xb = random_crop(xb, crop_padding, generator)
        if hflip:
            xb = random_hflip(xb, generator)
        yield to_float(xb), yb
