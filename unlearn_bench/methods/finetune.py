"""FT: fine-tune the original model on D_r only (Warnecke, Pirch, Wressnegger, Rieck, "Machine Unlearning of Features
and Labels", arXiv 2108.11577, 2021), a baseline of SalUn (Fan, Liu, Zhang, Wong, Wei, Liu, "SalUn: Empowering Machine
Unlearning via Gradient-based Weight Saliency in Both Image Classification and Generation", ICLR 2024), §4, App. C.1: 10
epochs, lr searched in [1e-3, 1e-1]. Forgetting comes only from catastrophic forgetting of D_f."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from unlearn_bench.methods.base import DataView, SGDConfig, register_method
from unlearn_bench.methods.common import SGDMethod
from unlearn_bench.training import Pass, cross_entropy, supervised


@register_method
class FineTune(SGDMethod):
    name = "ft"
    needs = frozenset({"retain"})

    @dataclass
    class Config(SGDConfig):
        name: str = "ft"

    def passes(self, model: nn.Module, data: DataView) -> list[Pass]:
        return [Pass(data.loader("retain", self.cfg.batch_size), supervised(cross_entropy))]
