"""FT for generation: fine-tune on D_r with the diffusion loss (SalUn Eq. 2; a baseline of SalUn (Fan, Liu, Zhang, Wong,
Wei, Liu, "SalUn: Empowering Machine Unlearning via Gradient-based Weight Saliency in Both Image Classification and
Generation", ICLR 2024), shown for DDPM in Fig. 3, where it under-forgets)."""

from __future__ import annotations

from dataclasses import dataclass

from unlearn_bench.generation.ddpm import ConditionalDDPM, denoising_objective
from unlearn_bench.generation.methods.base import GenerationView, GenMethodConfig, TrainedDDPMMethod
from unlearn_bench.methods.base import register_method
from unlearn_bench.training import Batches, Objective


@register_method
class GenFinetune(TrainedDDPMMethod):
    name = "ft"
    needs = frozenset({"retain"})

    @dataclass
    class Config(GenMethodConfig):
        name: str = "ft"

    def batches(self, model: ConditionalDDPM, data: GenerationView) -> Batches:
        return data.loader("retain", self.cfg.batch_size, augment=False)

    def objective(self, model: ConditionalDDPM, data: GenerationView) -> Objective:
        return denoising_objective
