"""Losses, relabelling and the shared SGD method shape used by the fine-tuning style methods."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.methods.base import DataView, Method, SGDConfig
from unlearn_bench.training import Pass, StepHook, cross_entropy, fit, sgd, supervised


def negative_cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Gradient-ascent loss: minimising it maximises the cross-entropy on D_f."""
    return -F.cross_entropy(logits.float(), y)


def random_other_labels(y: torch.Tensor, num_classes: int, generator: torch.Generator) -> torch.Tensor:
    """One label per example drawn uniformly from the K-1 classes other than its own (y' != y, Eq. 6)."""
    shift = torch.randint(1, num_classes, y.shape, generator=generator).to(y.device)
    return (y + shift) % num_classes


def relabel_passes(data: DataView, batch_size: int, alpha: float) -> list[Pass]:
    """RL objective (SalUn Eq. 6): CE on D_f with fixed random wrong labels, then alpha * CE on D_r.

    The labels are drawn once per run (the relabelled set D_f' of SalUn Alg. 1). Each epoch makes one
    pass over D_f' followed by one pass over D_r, as the SalUn repo does for CIFAR-10/SVHN.
    """
    forget_x, forget_y = data.split("forget")
    random_y = random_other_labels(forget_y, data.num_classes, data.generator)
    return [
        Pass(data.batches(forget_x, random_y, batch_size), supervised(cross_entropy)),
        Pass(data.loader("retain", batch_size), supervised(cross_entropy, alpha)),
    ]


class SGDMethod(Method):
    """A method that is SGD (constant lr, momentum, weight decay) over ``passes`` for ``cfg.epochs``
    epochs, optionally with a step hook built from the original model (e.g. a saliency mask)."""

    Config = SGDConfig

    def passes(self, model: nn.Module, data: DataView) -> list[Pass]:
        raise NotImplementedError

    def step_hook(self, model: nn.Module, data: DataView) -> StepHook | None:
        return None

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        hook = self.step_hook(model, data)  # built at theta_o, before any update
        passes = self.passes(model, data)
        optimizer = sgd(model, self.cfg.lr, self.cfg.momentum, self.cfg.weight_decay)
        fit(model, passes, self.cfg.epochs, optimizer, hook=hook, amp=data.amp, desc=self.name,
            progress=data.progress)
        return model.eval()
