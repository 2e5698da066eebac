"""l1-sparse unlearning (Jia, Liu, Ram, Yao, Liu, Liu, Sharma, Liu, "Model Sparsity Can Simplify Machine Unlearning",
NeurIPS 2023), a baseline of SalUn (Fan, Liu, Zhang, Wong, Wei, Liu, "SalUn: Empowering Machine Unlearning via
Gradient-based Weight Saliency in Both Image Classification and Generation", ICLR 2024): fine-tune on D_r with CE +
gamma_e * ||theta||_1, where gamma_e decays linearly from ``gamma`` to 0 over the epochs (gamma_e = gamma * (1 - e / E),
the official code's schedule, SalUn repo Classification/unlearn/FT.py:77-85 with no_l1_epochs 0; its l1 norm is that
of all parameters, FT.py:13-17). SalUn App. C.1: lr in [1e-3, 1e-1], gamma in [1e-6, 1e-4].
``method.fidelity=official`` changes nothing: no departure was found."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from unlearn_bench.methods.base import DataView, Method, SGDConfig, register_method
from unlearn_bench.methods.common import fit_sgd
from unlearn_bench.training import Pass, cross_entropy


def l1_norm(model: nn.Module) -> torch.Tensor:
    return sum(p.abs().sum() for p in model.parameters())


def decaying_l1_pass(data: DataView, batch_size: int, gamma: float, epochs: int) -> Pass:
    """CE + gamma_e * ||theta||_1 over D_r, gamma_e = gamma * (1 - e / E) in epoch e (counted from the
    objective's calls: a Pass has no epoch argument)."""
    steps_per_epoch = math.ceil(len(data.split("retain")[1]) / batch_size)
    calls = [0]

    def objective(net: nn.Module, batch) -> torch.Tensor:
        epoch = calls[0] // steps_per_epoch
        calls[0] += 1
        x, y = batch
        return cross_entropy(net(x), y) + gamma * (1 - epoch / epochs) * l1_norm(net)

    return Pass(data.loader("retain", batch_size), objective)


@register_method
class L1Sparse(Method):
    name = "l1_sparse"
    needs = frozenset({"retain"})

    @dataclass
    class Config(SGDConfig):
        name: str = "l1_sparse"
        gamma: float = 5e-5  # initial l1 weight

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        cfg = self.cfg
        return fit_sgd(model, [decaying_l1_pass(data, cfg.batch_size, cfg.gamma, cfg.epochs)], cfg, data, self.name)
