"""Amnesiac unlearning (Graves, Nagisetty, Ganesh, "Amnesiac Machine Learning", AAAI 2021), a baseline of
JiT (Foster, Fogarty, Schoepf, Dugue, Öztireli, Brintrup, "An Information Theoretic Approach to Machine
Unlearning", TMLR, arXiv 2402.01401, 2024), §5, which implements "the same benchmarks from Foster et al. (2023)" (SSD).

Relabel every forget example with a random class other than its own, mix it with all of D_r and train with Adam
(the JiT repo jwf40/Information-Theoretic-Unlearning, src/forget_*_strategies.py: 3 epochs, lr 1e-4, batch 128).
The original's stored-update variant needs training-time bookkeeping that a post-hoc benchmark does not have."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from unlearn_bench.methods.base import DataView, Method, MethodConfig, register_method
from unlearn_bench.methods.common import random_other_labels
from unlearn_bench.training import Pass, cross_entropy, fit, supervised


@register_method
class Amnesiac(Method):
    name = "amnesiac"
    needs = frozenset({"forget", "retain"})

    @dataclass
    class Config(MethodConfig):
        name: str = "amnesiac"
        epochs: int = 3  # JiT repo src/forget_*_strategies.py amnesiac: 3 epochs
        lr: float = 1e-4  # JiT repo src/forget_*_strategies.py amnesiac: Adam lr 1e-4
        batch_size: int = 128  # JiT repo src/forget_*_strategies.py amnesiac: batch 128

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        retain_x, retain_y = data.split("retain")
        forget_x, forget_y = data.split("forget")
        x = torch.cat([retain_x, forget_x])
        y = torch.cat([retain_y, random_other_labels(forget_y, data.num_classes, data.generator)])
        optimizer = torch.optim.Adam(model.parameters(), lr=self.cfg.lr)
        fit(model, [Pass(data.batches(x, y, self.cfg.batch_size), supervised(cross_entropy))], self.cfg.epochs,
            optimizer, amp=data.amp, desc="amnesiac", progress=data.progress)
        return model.eval()
