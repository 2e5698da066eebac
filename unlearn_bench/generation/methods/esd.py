"""ESD, Erased Stable Diffusion (Gandikota, Materzynska, Fiotto-Kaufman, Bau, "Erasing Concepts from Diffusion Models",
ICCV 2023), a baseline of SalUn (Fan, Liu, Zhang, Wong, Wei, Liu, "SalUn: Empowering Machine Unlearning via
Gradient-based Weight Saliency in Both Image Classification and Generation", ICLR 2024) for DDPM (Table A5) and SD
(Table 2).

Fine-tune so that the model's noise for the erased concept c follows negatively guided noise of the frozen original
theta*: min ||eps_theta(x_t | c) - [eps*(x_t | null) - eta (eps*(x_t | c) - eps*(x_t | null))]||^2. x_t comes from
the model being trained: DDIM with guidance ``start_guidance`` from pure noise for a random number of the
``ddim_steps`` steps, t the timestep reached (ESD samples a DDPM timestep inside that DDIM interval; the DDIM
timestep itself is this harness's choice). ESD reads only the forgotten class labels (no image of D_f or D_r).
ESD defaults: eta 1, start guidance 3, 50 DDIM steps, 1,000 iterations, lr 1e-5, batch 1; SalUn does not state
its DDPM settings. On a class-conditional DDPM every weight is trained (ESD's ``full``; its cross-attention-only
variant needs a text-conditioned model)."""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.errors import ConfigError
from unlearn_bench.generation.ddpm import ConditionalDDPM
from unlearn_bench.generation.methods.base import GenerationView, GenMethodConfig, TrainedDDPMMethod
from unlearn_bench.generation.methods.common import forgotten_concepts
from unlearn_bench.generation.sampling import partial_sample
from unlearn_bench.methods.base import register_method
from unlearn_bench.training import Batches, Objective


def negatively_guided(eps_null: torch.Tensor, eps_c: torch.Tensor, eta: float) -> torch.Tensor:
    """ESD's target eps(null) - eta (eps(c) - eps(null)) (shared with the SD version, ``sd/methods/esd.py``)."""
    return eps_null - eta * (eps_c - eps_null)


def esd_target(frozen: ConditionalDDPM, x_t: torch.Tensor, t: torch.Tensor, c: torch.Tensor,
               negative_guidance: float) -> torch.Tensor:
    """eps*(x_t|null) - eta (eps*(x_t|c) - eps*(x_t|null)) of the frozen original."""
    with torch.no_grad():
        eps_null = frozen(x_t, t, torch.full_like(c, frozen.null_class))
        eps_c = frozen(x_t, t, c)
    return negatively_guided(eps_null, eps_c, negative_guidance)


@register_method
class GenESD(TrainedDDPMMethod):
    name = "esd"
    needs = frozenset({"forget"})

    @dataclass
    class Config(GenMethodConfig):
        name: str = "esd"
        iterations: int = 1000
        lr: float = 1e-5
        batch_size: int = 1
        negative_guidance: float = 1.0  # eta
        start_guidance: float = 3.0  # guidance of the partial sampling that produces x_t
        ddim_steps: int = 50

    def batches(self, model: ConditionalDDPM, data: GenerationView) -> Batches:
        """Labels of the erased concept(s), ``batch_size`` per iteration (cycled over the forgotten classes)."""
        concepts = torch.tensor(forgotten_concepts(data), device=data.device)
        labels = concepts[torch.arange(self.cfg.batch_size, device=data.device) % len(concepts)]
        return lambda: [labels]

    def objective(self, model: ConditionalDDPM, data: GenerationView) -> Objective:
        if self.cfg.ddim_steps < 1:
            raise ConfigError(f"method.ddim_steps={self.cfg.ddim_steps} must be >= 1")
        frozen = copy.deepcopy(model).eval().requires_grad_(False)
        rng = random.Random(int(torch.randint(0, 2**31, (1,), generator=data.generator)))
        unet = model.unet.config

        def objective(net: nn.Module, c: torch.Tensor) -> torch.Tensor:
            noise = torch.randn((len(c), unet.in_channels, unet.sample_size, unet.sample_size), device=c.device)
            t, x_t = partial_sample(net, noise, c, self.cfg.start_guidance, self.cfg.ddim_steps,
                                    rng.randrange(self.cfg.ddim_steps))
            t = t.to(c.device).expand(len(c))
            target = esd_target(frozen, x_t, t, c, self.cfg.negative_guidance)
            return F.mse_loss(net(x_t, t, c).float(), target.float())

        return objective
