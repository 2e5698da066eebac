"""l1-sparse for generation (Jia et al., "Model Sparsity Can Simplify Machine Unlearning", NeurIPS 2023; a baseline of
SalUn (Fan, Liu, Zhang, Wong, Wei, Liu, "SalUn: Empowering Machine Unlearning via Gradient-based Weight Saliency in Both
Image Classification and Generation", ICLR 2024), shown for DDPM in Fig. 3): fine-tune on D_r with l_MSE + gamma_i *
||theta||_1, gamma_i decaying linearly from ``gamma`` to 0 over the iterations (the classification method's schedule,
per iteration instead of per epoch)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from unlearn_bench.generation.ddpm import ConditionalDDPM, denoising_objective
from unlearn_bench.generation.methods.base import GenerationView, GenMethodConfig, TrainedDDPMMethod
from unlearn_bench.methods.base import register_method
from unlearn_bench.methods.l1_sparse import l1_norm
from unlearn_bench.training import Batches, Objective


@register_method
class GenL1Sparse(TrainedDDPMMethod):
    name = "l1_sparse"
    needs = frozenset({"retain"})

    @dataclass
    class Config(GenMethodConfig):
        name: str = "l1_sparse"
        gamma: float = 5e-5  # initial l1 weight

    def batches(self, model: ConditionalDDPM, data: GenerationView) -> Batches:
        return data.loader("retain", self.cfg.batch_size, augment=False)

    def objective(self, model: ConditionalDDPM, data: GenerationView) -> Objective:
        calls = [0]

        def objective(net: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
            gamma = self.cfg.gamma * (1 - calls[0] / self.cfg.iterations)
            calls[0] += 1
            return denoising_objective(net, batch) + gamma * l1_norm(net)

        return objective
