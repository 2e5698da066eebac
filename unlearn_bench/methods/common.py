"""Losses, relabelling and optimiser construction shared by the fine-tuning style methods."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.methods.base import DataView, SGDConfig
from unlearn_bench.training import Pass, StepHook, cross_entropy, fit, sgd


def negative_cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Gradient-ascent loss: minimising it maximises the cross-entropy on D_f."""
    return -F.cross_entropy(logits.float(), y)


def scaled(loss, weight: float):
    return lambda logits, y: weight * loss(logits, y)


def random_other_labels(y: torch.Tensor, num_classes: int, generator: torch.Generator) -> torch.Tensor:
    """One label per example drawn uniformly from the K-1 classes other than its own (y' != y, Eq. 6)."""
    shift = torch.randint(1, num_classes, y.shape, generator=generator).to(y.device)
    return (y + shift) % num_classes


def relabel_passes(data: DataView, cfg: SGDConfig, alpha: float) -> list[Pass]:
    """RL objective (SalUn Eq. 6): CE on D_f with fixed random wrong labels, then alpha * CE on D_r.

    The labels are drawn once per run (the relabelled set D_f' of SalUn Alg. 1). Each epoch makes one
    pass over D_f' followed by one pass over D_r, as the SalUn repo does for CIFAR-10/SVHN.
    """
    forget_x, forget_y = data.split("forget")
    random_y = random_other_labels(forget_y, data.num_classes, data.generator)
    return [
        Pass(data.batches(forget_x, random_y, cfg.batch_size), cross_entropy),
        Pass(data.loader("retain", cfg.batch_size), scaled(cross_entropy, alpha)),
    ]


def run_sgd(model: nn.Module, data: DataView, cfg: SGDConfig, passes: list[Pass], epochs: int | None = None,
            hook: StepHook | None = None, desc: str = "unlearn") -> nn.Module:
    """Constant-lr SGD over ``passes`` for ``cfg.epochs`` epochs (or ``epochs``)."""
    optimizer = sgd(model, cfg.lr, cfg.momentum, cfg.weight_decay)
    fit(model, passes, cfg.epochs if epochs is None else epochs, optimizer, hook=hook, amp=data.amp,
        desc=desc, progress=data.progress)
    return model.eval()
