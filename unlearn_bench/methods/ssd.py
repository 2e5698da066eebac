"""SSD: Selective Synaptic Dampening (Foster, Schoepf and Brintrup, Fast Machine Unlearning Without Retraining
Through Selective Synaptic Dampening, AAAI 2024; the selection rule and the dampening factor beta of its method
section), a baseline of the Unlink and JiT papers. Training-free: diagonal Fisher importances I_D over D_r and D_f
together (the splits this run's DataView gives: the whole train split in a one-shot scenario, without the examples
earlier rounds forgot in an iterative one) and I_Df over D_f, each the mean over batches of the squared gradient of
the batch-mean CE loss (SSD repo src/ssd.py calc_importance); every parameter with I_Df > alpha * I_D is multiplied
by beta = min(lambda * I_D / I_Df, 1). No optimiser step is taken. Batches of ``batch_size`` unshuffled examples,
no augmentation: 64 in conf/method/ssd.yaml (the SSD repo's class and sub-class scripts), 128 in ssd_random.yaml
(its random-forgetting script). Importances run outside autocast (fp32 forward and backward), since no ``fit``
loop wraps them. The official code was compared (src/ssd.py:151-217: importances, selection, dampening bounded by 1;
src/forget_full_class_main.py:152-157: unshuffled loaders over the unlearning transform): ``method.fidelity=official``
changes nothing."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from unlearn_bench.methods.base import DataView, Method, MethodConfig, register_method
from unlearn_bench.training import Batches, cross_entropy


def fisher_diagonal(model: nn.Module, batches: Batches) -> dict[str, torch.Tensor]:
    """Mean over batches of the squared gradient of the batch-mean CE (the SSD code's importance)."""
    importances = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    n_batches = 0
    for x, y in batches():
        model.zero_grad(set_to_none=True)
        cross_entropy(model(x), y).backward()
        for n, p in model.named_parameters():
            if p.grad is not None:
                importances[n] += p.grad.detach() ** 2
        n_batches += 1
    model.zero_grad(set_to_none=True)
    return {n: imp / max(n_batches, 1) for n, imp in importances.items()}


@register_method
class SelectiveSynapticDampening(Method):
    name = "ssd"
    needs = frozenset({"forget", "retain"})
    training_free = True

    @dataclass
    class Config(MethodConfig):
        name: str = "ssd"  # registry name
        alpha: float = 10.0  # selection threshold (SSD's "selection weighting"); SSD paper: 10 for ResNet-18
        dampening: float = 1.0  # lambda (SSD's "dampening constant"); SSD paper: 1 for ResNet-18
        batch_size: int = 64  # SSD repo src/forget_full_class_main.py: 64 (random forgetting: 128, ssd_random)

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        model.eval()  # importances with fixed BN statistics, as the SSD code
        forget_x, forget_y = data.split("forget")
        retain_x, retain_y = data.split("retain")
        full = data.batches(torch.cat([retain_x, forget_x]), torch.cat([retain_y, forget_y]), self.cfg.batch_size,
                            shuffle=False, augment=False)
        importance_d = fisher_diagonal(model, full)
        importance_f = fisher_diagonal(model, data.loader("forget", self.cfg.batch_size, shuffle=False,
                                                          augment=False))
        with torch.no_grad():
            for n, p in model.named_parameters():
                selected = importance_f[n] > self.cfg.alpha * importance_d[n]
                beta = (self.cfg.dampening * importance_d[n] / importance_f[n].clamp_min(1e-30)).clamp(max=1.0)
                p.mul_(torch.where(selected, beta, torch.ones_like(beta)))
        return model
