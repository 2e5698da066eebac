"""GA for generation: gradient ascent on the diffusion loss of D_f, i.e. minimise -l_MSE(theta; D_f) with the true
condition (SalUn (Fan, Liu, Zhang, Wong, Wei, Liu, "SalUn: Empowering Machine Unlearning via Gradient-based Weight
Saliency in Both Image Classification and Generation", ICLR 2024), Eq. 5 as a loss to ascend; SalUn Fig. 3 shows it
over-forgets). No label dropout on D_f: ascending the unconditional loss would erase every class."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from unlearn_bench.generation.ddpm import ConditionalDDPM, diffusion_mse
from unlearn_bench.generation.methods.base import GenerationView, GenMethodConfig, TrainedDDPMMethod
from unlearn_bench.methods.base import register_method
from unlearn_bench.training import Batches, Objective


def negative_diffusion_mse(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    return -diffusion_mse(model, *batch, drop_labels=False)


@register_method
class GenGradientAscent(TrainedDDPMMethod):
    name = "ga"
    needs = frozenset({"forget"})

    @dataclass
    class Config(GenMethodConfig):
        name: str = "ga"
        iterations: int = 100
        lr: float = 1e-5

    def batches(self, model: ConditionalDDPM, data: GenerationView) -> Batches:
        return data.loader("forget", self.cfg.batch_size, augment=False)

    def objective(self, model: ConditionalDDPM, data: GenerationView) -> Objective:
        return negative_diffusion_mse
