"""FT: fine-tune the original model on D_r only (Warnecke et al. 2021; SalUn §4, App. C.1: 10 epochs,
lr searched in [1e-3, 1e-1]). Forgetting comes only from catastrophic forgetting of D_f."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from unlearn_bench.methods.base import DataView, Method, SGDConfig, register_method
from unlearn_bench.methods.common import run_sgd
from unlearn_bench.training import Pass, cross_entropy


@register_method
class FineTune(Method):
    name = "ft"
    needs = frozenset({"retain"})

    @dataclass
    class Config(SGDConfig):
        name: str = "ft"

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        passes = [Pass(data.loader("retain", self.cfg.batch_size), cross_entropy)]
        return run_sgd(model, data, self.cfg, passes, desc="ft")
