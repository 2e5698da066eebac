"""FT: fine-tune the original model on D_r only (Warnecke, Pirch, Wressnegger, Rieck, "Machine Unlearning of Features
and Labels", arXiv 2108.11577, 2021), a baseline of SalUn (Fan, Liu, Zhang, Wong, Wei, Liu, "SalUn: Empowering Machine
Unlearning via Gradient-based Weight Saliency in Both Image Classification and Generation", ICLR 2024), §4, App. C.1: 10
epochs, lr searched in [1e-3, 1e-1]. Forgetting comes only from catastrophic forgetting of D_f."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from unlearn_bench.methods.base import DataView, Method, SGDConfig, register_method
from unlearn_bench.methods.common import fit_sgd
from unlearn_bench.training import Pass, cross_entropy, supervised


def retain_pass(data: DataView, batch_size: int) -> Pass:
    """CE with the true labels over D_r."""
    return Pass(data.loader("retain", batch_size), supervised(cross_entropy))


@register_method
class FineTune(Method):
    name = "ft"
    needs = frozenset({"retain"})

    @dataclass
    class Config(SGDConfig):
        name: str = "ft"

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        return fit_sgd(model, [retain_pass(data, self.cfg.batch_size)], self.cfg, data, self.name)
