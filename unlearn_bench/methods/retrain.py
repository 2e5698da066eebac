"""Retrain: train the same architecture from scratch on D_r with the original's recipe (the gold standard every metric
is compared against: Thudi et al., EuroS&P 2022, as used by Fan et al., "SalUn: Empowering Machine Unlearning via
Gradient-based Weight Saliency in Both Image Classification and Generation", ICLR 2024, §1, §3). Its model is cached per
(data, model, recipe, scenario, seed) by the runner and shared by every method of a sweep."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from torch import nn

from unlearn_bench.methods.base import DataView, Method, MethodConfig, register_method
from unlearn_bench.models import reset_parameters
from unlearn_bench.training import train_from_scratch


@register_method
class Retrain(Method):
    name = "retrain"
    needs = frozenset({"retain"})

    @dataclass
    class Config(MethodConfig):
        name: str = "retrain"

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        fresh = reset_parameters(copy.deepcopy(model))
        return train_from_scratch(fresh, data.loader("retain", data.recipe.batch_size), data.recipe,
                                  desc="retrain", progress=data.progress)
