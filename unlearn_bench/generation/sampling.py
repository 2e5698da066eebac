"""Classifier-free guided sampling (SalUn Eq. 1 with w = guidance scale, App. C.1) with diffusers' DDIM or DDPM
schedulers, and per-class generation with a fixed noise seed per class (so every model of a run starts from the
same noise, as SalUn Fig. 3 generates "from the same noise seed")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch

from unlearn_bench.errors import ConfigError
from unlearn_bench.generation.config import SAMPLERS, SamplingConfig
from unlearn_bench.generation.ddpm import ConditionalDDPM, import_diffusers, to_pixels

if TYPE_CHECKING:
    from diffusers import DDIMScheduler, DDPMScheduler


def check_sampling(cfg: SamplingConfig) -> None:
    if cfg.sampler not in SAMPLERS:
        raise ConfigError(f"task.sampling.sampler={cfg.sampler!r} is not supported; allowed: {list(SAMPLERS)}")
    for key in ("steps", "num_per_class", "batch_size"):
        if getattr(cfg, key) < 1:
            raise ConfigError(f"task.sampling.{key}={getattr(cfg, key)} must be >= 1")
    if not 0 <= cfg.grid_per_class <= cfg.num_per_class:
        raise ConfigError(f"task.sampling.grid_per_class={cfg.grid_per_class} must be in [0, num_per_class="
                          f"{cfg.num_per_class}]")


def make_scheduler(model: ConditionalDDPM, sampler: str, steps: int) -> DDIMScheduler | DDPMScheduler:
    """A sampling scheduler on the model's training noise schedule with ``steps`` inference steps."""
    if sampler not in SAMPLERS:
        raise ConfigError(f"sampler={sampler!r} is not supported; allowed: {list(SAMPLERS)}")
    diffusers = import_diffusers()
    kind = diffusers.DDIMScheduler if sampler == "ddim" else diffusers.DDPMScheduler
    scheduler = kind.from_config(model.scheduler.config)
    scheduler.set_timesteps(min(steps, model.scheduler.config.num_train_timesteps))
    return scheduler


def guided_eps(model: ConditionalDDPM, x_t: torch.Tensor, t: torch.Tensor | int, c: torch.Tensor,
               scale: float) -> torch.Tensor:
    """eps(x|null) + scale * (eps(x|c) - eps(x|null)): one forward pass over the stacked conditional and
    unconditional batch."""
    t = torch.as_tensor(t, device=x_t.device).expand(2 * x_t.shape[0])
    null = torch.full_like(c, model.null_class)
    eps_c, eps_null = model(torch.cat([x_t, x_t]), t, torch.cat([c, null])).chunk(2)
    return eps_null + scale * (eps_c - eps_null)


@torch.no_grad()
def denoise(model: ConditionalDDPM, noise: torch.Tensor, c: torch.Tensor, scale: float, sampler: str, steps: int,
            eta: float = 0.0, generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(t, x_t)`` along the reverse process from ``noise`` (x_T) down to x_0 (the last item, t = -1);
    callers may stop early (ESD's partial trajectories)."""
    scheduler = make_scheduler(model, sampler, steps)
    was_training = model.training
    model.eval()
    x = noise
    extra = {"eta": eta} if sampler == "ddim" else {}
    try:
        for t in scheduler.timesteps:
            yield t, x
            eps = guided_eps(model, x, t, c, scale)
            x = scheduler.step(eps, t, x, generator=generator, **extra).prev_sample
        yield torch.tensor(-1), x
    finally:
        model.train(was_training)


def partial_sample(model: ConditionalDDPM, noise: torch.Tensor, c: torch.Tensor, scale: float, steps: int,
                   stop: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(t, x_t)`` after ``stop`` deterministic DDIM steps from ``noise`` (``stop`` in [0, steps))."""
    trajectory = denoise(model, noise, c, scale, "ddim", steps)
    try:
        for index, (t, x_t) in enumerate(trajectory):
            if index == stop:
                return t, x_t
        raise ValueError(f"stop={stop} must be in [0, {steps})")
    finally:
        trajectory.close()


def sample(model: ConditionalDDPM, c: torch.Tensor, cfg: SamplingConfig, generator: torch.Generator) -> torch.Tensor:
    """Pixels in [0, 1] of one generated image per label in ``c``; the initial noise comes from ``generator``."""
    device = next(model.parameters()).device
    unet_cfg = model.unet.config
    noise = torch.randn((len(c), unet_cfg.in_channels, unet_cfg.sample_size, unet_cfg.sample_size),
                        generator=generator).to(device)
    *_, (_, x0) = denoise(model, noise, c.to(device), cfg.guidance_scale, cfg.sampler, cfg.steps, cfg.eta, generator)
    return to_pixels(x0)


def sample_per_class(model: ConditionalDDPM, classes: list[int], cfg: SamplingConfig, seed: int) -> torch.Tensor:
    """``num_per_class`` images for each class in ``classes``: uint8 tensor K x N x C x H x W (on the CPU). The noise
    of class k comes from a generator seeded with (seed, k), so any model sampled with the same seed starts from the
    same noise for the same class."""
    out = []
    for k in classes:
        generator = torch.Generator().manual_seed(seed * 1_000_003 + k)
        images = []
        for start in range(0, cfg.num_per_class, cfg.batch_size):
            n = min(cfg.batch_size, cfg.num_per_class - start)
            labels = torch.full((n,), k, dtype=torch.long)
            images.append(sample(model, labels, cfg, generator).cpu())
        out.append((torch.cat(images) * 255).round().to(torch.uint8))
    return torch.stack(out)
