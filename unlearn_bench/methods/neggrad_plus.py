"""NegGrad+ (Kurmanji, Triantafillou, Hayes, Triantafillou, "Towards Unbounded Machine Unlearning", NeurIPS 2023), a
baseline of Forget Vector (Sun et al., "Forget Vectors at Play: Universal Input Perturbations Driving Machine Unlearning
in Image Classification", arXiv 2412.16780, 2024, §6.1) and of SURE (anonymous authors, "Selective Unlearning via
Representation Erasure using Domain Adversarial Training", OpenReview submission, 2024): fine-tune on beta * CE(D_r) -
(1 - beta) * CE(D_f), every D_r batch paired with a D_f batch (D_f cycled). Unlike GA, the retain term keeps utility."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from unlearn_bench.methods.base import DataView, Method, SGDConfig, register_method
from unlearn_bench.methods.common import fit_sgd
from unlearn_bench.training import Pass, cross_entropy, paired


def retain_minus_forget_pass(data: DataView, batch_size: int, beta: float) -> Pass:
    """beta * CE(D_r batch) - (1 - beta) * CE(D_f batch), each D_r batch paired with the next D_f batch."""

    def objective(net: nn.Module, batches) -> object:
        (xr, yr), (xf, yf) = batches
        return beta * cross_entropy(net(xr), yr) - (1 - beta) * cross_entropy(net(xf), yf)

    return Pass(paired(data.loader("retain", batch_size), data.loader("forget", batch_size)), objective)


@register_method
class NegGradPlus(Method):
    name = "neggrad_plus"
    needs = frozenset({"forget", "retain"})

    @dataclass
    class Config(SGDConfig):
        name: str = "neggrad_plus"
        epochs: int = 5  # harness choice: 5 epochs as GA (Kurmanji et al. and the Forget Vector paper state none)
        lr: float = 0.01  # harness choice: SalUn repo arg_parser.py --unlearn_lr default (no published NegGrad+ lr)
        beta: float = 0.95  # weight of the retain loss; (1 - beta) weights the ascent on D_f

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        passes = [retain_minus_forget_pass(data, self.cfg.batch_size, self.cfg.beta)]
        return fit_sgd(model, passes, self.cfg, data, self.name)
