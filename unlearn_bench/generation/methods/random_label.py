"""RL for generation: SalUn (Fan, Liu, Zhang, Wong, Wei, Liu, "SalUn: Empowering Machine Unlearning via Gradient-based
Weight Saliency in Both Image Classification and Generation", ICLR 2024) Eq. 7 on all weights (SalUn Table A1 names
SalUn "RL + m_S"): on D_f, pull eps(x_t | c) towards eps(x_t | c') for a misaligned concept c' != c, plus beta * l_MSE
on D_r. SalUn App. C.1 (DDPM SalUn): 1,000 iterations, lr 1e-4, beta 1e-3, batch 128.

Scale of beta: both terms here are per-pixel means. SalUn's DDPM code, where beta = 1e-3 comes from, averages the
D_f term but sums the D_r loss over the C x H x W pixels, so its 1e-3 is beta = 1e-3 * C * H * W here (3.072 on
CIFAR-10, 0.064 on 8x8 digits)."""

from __future__ import annotations

from dataclasses import dataclass

from unlearn_bench.generation.ddpm import ConditionalDDPM
from unlearn_bench.generation.methods.base import GenerationView, GenMethodConfig, TrainedDDPMMethod
from unlearn_bench.generation.methods.common import relabel_batches, relabel_objective
from unlearn_bench.methods.base import register_method
from unlearn_bench.training import Batches, Objective


@register_method
class GenRandomLabel(TrainedDDPMMethod):
    name = "rl"
    needs = frozenset({"forget", "retain"})

    @dataclass
    class Config(GenMethodConfig):
        name: str = "rl"
        beta: float = 3.072  # weight of the D_r diffusion loss (Eq. 7): the paper's 1e-3, rescaled (docstring)

    def batches(self, model: ConditionalDDPM, data: GenerationView) -> Batches:
        return relabel_batches(data, self.cfg.batch_size)

    def objective(self, model: ConditionalDDPM, data: GenerationView) -> Objective:
        return relabel_objective(self.cfg.beta)
