"""ESD-x, Erased Stable Diffusion with cross-attention fine-tuning (Gandikota, Materzynska, Fiotto-Kaufman, Bau,
"Erasing Concepts from Diffusion Models", ICCV 2023), a baseline of SalUn (Fan, Liu, Zhang, Wong, Wei, Liu, "SalUn:
Empowering Machine Unlearning via Gradient-based Weight Saliency in Both Image Classification and Generation", ICLR
2024, Table 2). Minimise ||eps_theta(z_t | c) - [eps*(z_t | null) - eta (eps*(z_t | c) - eps*(z_t | null))]||^2 over the
cross-attention (attn2) weights only; eps* is the frozen original UNet. z_t comes from the model being trained: guided
DDIM (scale ``start_guidance``) from pure noise for a random number of the ``ddim_steps`` steps, t = the DDIM timestep
reached (ESD samples a DDPM timestep inside that interval; the DDIM timestep is the harness's choice, as in the DDPM
version). ESD reads only the concept prompt(s) c (no image of D_f or D_r), cycled over ``batch_size``. ESD repo defaults
(ESD-x): eta 1, start guidance 3, 50 DDIM steps, 1,000 iterations, lr 1e-5, batch 1, no gradient clipping; SalUn does
not state its settings."""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.errors import ConfigError
from unlearn_bench.generation.methods.esd import negatively_guided
from unlearn_bench.generation.sd.config import SDMethodConfig
from unlearn_bench.generation.sd.data import SDView
from unlearn_bench.generation.sd.methods.base import TrainedSDMethod, cross_attention_parameters
from unlearn_bench.generation.sd.pipeline import SDModel
from unlearn_bench.methods.base import register_method
from unlearn_bench.training import Batches, Objective


def esd_target(frozen: SDModel, z_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, eta: float) -> torch.Tensor:
    """eps*(z_t|null) - eta (eps*(z_t|c) - eps*(z_t|null)) of the frozen original."""
    with torch.no_grad():
        null = frozen.encode_prompts([""]).expand_as(cond)
        eps_c, eps_null = frozen(torch.cat([z_t, z_t]), t.repeat(2), torch.cat([cond, null])).chunk(2)
    return negatively_guided(eps_null, eps_c, eta)


@register_method
class SDESD(TrainedSDMethod):
    name = "esd"
    needs = frozenset({"forget"})

    @dataclass
    class Config(SDMethodConfig):
        name: str = "esd"
        iterations: int = 1000
        lr: float = 1e-5
        batch_size: int = 1
        negative_guidance: float = 1.0  # eta
        start_guidance: float = 3.0
        ddim_steps: int = 50

    def parameters(self, model: SDModel) -> list[nn.Parameter]:
        return cross_attention_parameters(model)

    def batches(self, model: SDModel, data: SDView) -> Batches:
        """The concept prompts' embeddings, ``batch_size`` per iteration (cycled over the forget prompts)."""
        embeddings = model.encode_prompts(data.prompts.forget)
        rows = embeddings[torch.arange(self.cfg.batch_size) % len(embeddings)]
        return lambda: [rows]

    def objective(self, model: SDModel, data: SDView) -> Objective:
        if self.cfg.ddim_steps < 1:
            raise ConfigError(f"method.ddim_steps={self.cfg.ddim_steps} must be >= 1")
        frozen = model.copy().eval().requires_grad_(False)
        rng = random.Random(int(torch.randint(0, 2**31, (1,), generator=data.generator)))

        def objective(net: SDModel, cond: torch.Tensor) -> torch.Tensor:
            t, z_t = net.partial_ddim(cond, self.cfg.start_guidance, self.cfg.ddim_steps,
                                      rng.randrange(self.cfg.ddim_steps))
            t = t.expand(len(cond))
            target = esd_target(frozen, z_t, t, cond, self.cfg.negative_guidance)
            return F.mse_loss(net(z_t, t, cond).float(), target.float())

        return objective
