"""GA: gradient ascent on D_f, i.e. minimise -CE(theta; D_f) (Thudi, Deza, Chandrasekaran, Papernot, "Unrolling SGD:
Understanding Factors Influencing Machine Unlearning", IEEE EuroS&P 2022), a baseline of SalUn (Fan, Liu, Zhang, Wong,
Wei, Liu, "SalUn: Empowering Machine Unlearning via Gradient-based Weight Saliency in Both Image Classification and
Generation", ICLR 2024), §4, App. C.1: 5 epochs, lr searched in [1e-5, 1e-3]. Reads D_f only."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from unlearn_bench.methods.base import DataView, Method, SGDConfig, register_method
from unlearn_bench.methods.common import fit_sgd, negative_cross_entropy
from unlearn_bench.training import Pass, supervised


def forget_ascent_pass(data: DataView, batch_size: int) -> Pass:
    """Gradient ascent on the CE over D_f (true labels)."""
    return Pass(data.loader("forget", batch_size), supervised(negative_cross_entropy))


@register_method
class GradientAscent(Method):
    name = "ga"
    needs = frozenset({"forget"})

    @dataclass
    class Config(SGDConfig):
        name: str = "ga"
        epochs: int = 5  # SalUn App. C.1: GA 5 epochs
        lr: float = 1e-4  # harness choice: 1e-4, the log-middle of SalUn App. C.1's range [1e-5, 1e-3]

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        return fit_sgd(model, [forget_ascent_pass(data, self.cfg.batch_size)], self.cfg, data, self.name)
