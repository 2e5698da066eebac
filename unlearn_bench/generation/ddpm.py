"""Class-conditional DDPM with classifier-free guidance (SalUn §3: Ho & Salimans 2022), its training loss (SalUn
Eq. 2) and the training loop of the original and Retrain (SalUn App. C.1: Adam, lr 1e-4, gradient clipping).

Images are pixels in [0, 1] everywhere else in the harness; the diffusion model works on ``2x - 1`` in [-1, 1]
(DDPM convention). The class embedding has ``num_classes + 1`` rows: row ``num_classes`` is the null class
(the unconditional model eps(x_t | null) of Eq. 1), used for ``p_uncond`` of the training labels.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.errors import ConfigError
from unlearn_bench.generation.config import DDPMTrainConfig, DiffusionConfig, UNetConfig
from unlearn_bench.training import Batches, Objective, Pass, StepHook, fit

if TYPE_CHECKING:
    from diffusers import DDPMScheduler, UNet2DModel


def import_diffusers() -> types.ModuleType:
    """diffusers, imported on first use: the classification pipeline runs without it (optional extra)."""
    try:
        import diffusers
    except ImportError as err:
        raise ConfigError("task=generation needs the diffusers package: pip install -e '.[generation]'") from err
    return diffusers


def to_model_space(pixels: torch.Tensor) -> torch.Tensor:
    """[0, 1] pixels -> [-1, 1]."""
    return pixels * 2.0 - 1.0


def to_pixels(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] model space -> [0, 1] pixels, clipped."""
    return ((x + 1.0) / 2.0).clamp(0.0, 1.0)


class ConditionalDDPM(nn.Module):
    """eps_theta(x_t | c): a ``UNet2DModel`` with class conditioning; ``scheduler`` holds the noise schedule."""

    def __init__(self, unet: UNet2DModel, scheduler: DDPMScheduler, num_classes: int, p_uncond: float):
        super().__init__()
        self.unet = unet
        self.scheduler = scheduler
        self.num_classes = num_classes
        self.p_uncond = p_uncond

    @property
    def null_class(self) -> int:
        return self.num_classes

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.unet(x_t, t, class_labels=c).sample

    def noised(self, x0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Forward diffusion at uniform random timesteps: ``(x_t, t, eps)``, x_t = sqrt(a_t) x0 + sqrt(1 - a_t) eps."""
        noise = torch.randn_like(x0)
        t = torch.randint(0, self.scheduler.config.num_train_timesteps, (x0.shape[0],), device=x0.device)
        alphas = self.scheduler.alphas_cumprod.to(x0.device)[t].view(-1, 1, 1, 1)
        return alphas.sqrt() * x0 + (1 - alphas).sqrt() * noise, t, noise

    def drop_labels(self, c: torch.Tensor) -> torch.Tensor:
        """Each label replaced by the null class with probability ``p_uncond`` (CFG training)."""
        drop = torch.rand(c.shape, device=c.device) < self.p_uncond
        return torch.where(drop, torch.full_like(c, self.null_class), c)


def build_ddpm(unet_cfg: UNetConfig, diffusion_cfg: DiffusionConfig, in_chans: int, img_size: int,
               num_classes: int) -> ConditionalDDPM:
    levels = len(unet_cfg.block_out_channels)
    if levels < 1 or len(unet_cfg.attention) != levels:
        raise ConfigError(f"task.unet.attention={list(unet_cfg.attention)} must have one entry per "
                          f"task.unet.block_out_channels={list(unet_cfg.block_out_channels)} entry")
    if img_size % 2 ** (levels - 1):
        raise ConfigError(f"task.unet.block_out_channels has {levels} levels ({levels - 1} downsamplings), but "
                          f"data.img_size={img_size} is not divisible by {2 ** (levels - 1)}; use fewer levels")
    bad_groups = [c for c in unet_cfg.block_out_channels if c % unet_cfg.norm_num_groups]
    if bad_groups:
        raise ConfigError(f"task.unet.norm_num_groups={unet_cfg.norm_num_groups} must divide every "
                          f"task.unet.block_out_channels entry; {bad_groups} are not divisible")
    if not 0.0 <= diffusion_cfg.p_uncond < 1.0:
        raise ConfigError(f"task.diffusion.p_uncond={diffusion_cfg.p_uncond} must be in [0, 1)")
    diffusers = import_diffusers()
    down = tuple("AttnDownBlock2D" if attn else "DownBlock2D" for attn in unet_cfg.attention)
    up = tuple("AttnUpBlock2D" if attn else "UpBlock2D" for attn in reversed(unet_cfg.attention))
    unet = diffusers.UNet2DModel(sample_size=img_size, in_channels=in_chans, out_channels=in_chans,
                                 block_out_channels=tuple(unet_cfg.block_out_channels),
                                 layers_per_block=unet_cfg.layers_per_block, down_block_types=down,
                                 up_block_types=up, norm_num_groups=unet_cfg.norm_num_groups,
                                 num_class_embeds=num_classes + 1)
    try:
        scheduler = diffusers.DDPMScheduler(num_train_timesteps=diffusion_cfg.num_train_timesteps,
                                  beta_schedule=diffusion_cfg.beta_schedule, beta_start=diffusion_cfg.beta_start,
                                  beta_end=diffusion_cfg.beta_end, clip_sample=True)
    except NotImplementedError as err:
        raise ConfigError(f"task.diffusion.beta_schedule={diffusion_cfg.beta_schedule!r} is not supported by "
                          "diffusers; allowed: linear, scaled_linear, squaredcos_cap_v2, sigmoid") from err
    return ConditionalDDPM(unet, scheduler, num_classes, diffusion_cfg.p_uncond)


def diffusion_mse(model: ConditionalDDPM, pixels: torch.Tensor, c: torch.Tensor, drop_labels: bool = True
                  ) -> torch.Tensor:
    """l_MSE (SalUn Eq. 2): E_{t, eps} ||eps - eps_theta(x_t | c)||^2 (mean over pixels), with CFG label dropout
    when ``drop_labels`` (training the unconditional model alongside)."""
    x_t, t, noise = model.noised(to_model_space(pixels))
    labels = model.drop_labels(c) if drop_labels else c
    return F.mse_loss(model(x_t, t, labels).float(), noise)


def denoising_objective(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """The training objective of the original and Retrain on ``(pixels, labels)`` batches."""
    return diffusion_mse(model, *batch)


def repeat_batches(source: Batches, iterations: int) -> Batches:
    """Exactly ``iterations`` batches, restarting ``source`` (a new shuffled epoch) whenever it is exhausted."""

    def batches() -> Iterable[Any]:
        produced = 0
        while produced < iterations:
            for batch in source():
                yield batch
                produced += 1
                if produced == iterations:
                    return

    return batches


class ClipGradNorm(StepHook):
    def __init__(self, max_norm: float, then: StepHook | None = None):
        self.max_norm, self.then = max_norm, then

    def before_step(self, model: nn.Module) -> None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), self.max_norm)
        if self.then is not None:
            self.then.before_step(model)

    def after_step(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        if self.then is not None:
            self.then.after_step(model, optimizer)


def optimize(model: nn.Module, batches: Batches, objective: Objective, iterations: int, lr: float,
             grad_clip: float | None, amp: bool, desc: str, progress: bool, hook: StepHook | None = None,
             params: Iterable[nn.Parameter] | None = None) -> nn.Module:
    """Adam on ``objective`` for ``iterations`` batches (the harness's one loop, ``training.fit``, run as a single
    pass), gradients clipped to ``grad_clip`` before ``hook`` (e.g. a saliency mask) sees them. ``params``
    restricts the optimised weights (default all). NaN/inf losses raise ``DivergedError``."""
    if iterations < 1:
        raise ConfigError(f"{desc}: iterations={iterations} must be >= 1")
    optimizer = torch.optim.Adam(list(params) if params is not None else model.parameters(), lr=lr)
    if grad_clip is not None:
        hook = ClipGradNorm(grad_clip, hook)
    fit(model, [Pass(repeat_batches(batches, iterations), objective)], 1, optimizer, hook=hook, amp=amp, desc=desc,
        progress=progress)
    return model.eval()


def train_ddpm(model: ConditionalDDPM, batches: Callable[[int], Batches], recipe: DDPMTrainConfig, amp: bool,
               desc: str, progress: bool) -> ConditionalDDPM:
    """Train from its current weights on ``batches(batch_size)`` with the recipe (original: D; Retrain: D_r)."""
    return optimize(model, batches(recipe.batch_size), denoising_objective, recipe.iterations, recipe.lr,
                    recipe.grad_clip, amp, desc, progress)
