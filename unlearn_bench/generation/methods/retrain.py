"""Retrain for generation: the same DDPM trained from scratch on D_r with the original's recipe (SalUn (Fan, Liu, Zhang,
Wong, Wei, Liu, "SalUn: Empowering Machine Unlearning via Gradient-based Weight Saliency in Both Image Classification
and Generation", ICLR 2024), App. C.1: 80,000 Adam iterations, lr 1e-4, batch 128 on CIFAR-10). Cached per (data, UNet,
recipe, forget set, seed) by the generation runner and shared by every method of a sweep."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from torch import nn

from unlearn_bench.generation.ddpm import ConditionalDDPM, train_ddpm
from unlearn_bench.generation.methods.base import GenerationMethod, GenerationView, GenMethodConfig
from unlearn_bench.methods.base import register_method
from unlearn_bench.models import reset_parameters


@register_method
class GenRetrain(GenerationMethod):
    name = "retrain"
    needs = frozenset({"retain"})

    @dataclass
    class Config(GenMethodConfig):
        name: str = "retrain"
        iterations: int = 1000  # not read: Retrain trains with task.train, the original's recipe (SalUn App. C.1)
        lr: float = 1e-4  # not read: Retrain trains with task.train, the original's recipe (SalUn App. C.1)
        batch_size: int = 128  # not read: Retrain trains with task.train, the original's recipe (SalUn App. C.1)
        grad_clip: float | None = 1.0  # not read: Retrain trains with task.train (its grad_clip)

    def unlearn(self, model: ConditionalDDPM, data: GenerationView) -> nn.Module:
        fresh = reset_parameters(copy.deepcopy(model))
        return train_ddpm(fresh, lambda batch_size: data.loader("retain", batch_size, augment=False),
                          data.ddpm_recipe, data.amp, "retrain", data.progress)
