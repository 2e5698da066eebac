"""SalUn-soft (Fan et al., "SalUn: Empowering Machine Unlearning via Gradient-based Weight Saliency in Both
Image Classification and Generation", ICLR 2024, App. B): no mask; the RL objective of Eq. 6 plus beta * ||theta -
theta_o||_1 (Eq. 8), solved by proximal gradient (Eq. 17-18): after every SGD step,
theta <- theta_o + sign(theta - theta_o) * max(|theta - theta_o| - lr * beta_t, 0).
beta_t decays linearly to 0 over the run (App. B: a linearly decaying scheduler worked best; its end
points are not stated: beta_0 = ``beta``, beta_T = 0 is this harness's choice). The RL part takes ``rl``'s
``layout`` and ``relabel`` options (``common.relabel_passes``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from unlearn_bench.methods.base import DataView, Method, register_method
from unlearn_bench.methods.common import OFFICIAL_RELABEL, check_relabel_options, fit_sgd, relabel_of, relabel_passes
from unlearn_bench.methods.random_label import RandomLabel
from unlearn_bench.training import StepHook


class ProximalL1(StepHook):
    """Soft-thresholding of theta - theta_o after each step (Eq. 18), beta decaying linearly to 0."""

    def __init__(self, model: nn.Module, beta: float, total_steps: int):
        self.params = [(p, p.detach().clone()) for p in model.parameters()]
        self.beta, self.total_steps, self.step = beta, max(total_steps, 1), 0

    @torch.no_grad()
    def after_step(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        beta_t = self.beta * (1.0 - self.step / self.total_steps)
        threshold = optimizer.param_groups[0]["lr"] * beta_t
        for p, start in self.params:
            delta = p - start
            p.copy_(start + delta.sign() * (delta.abs() - threshold).clamp_min(0.0))
        self.step += 1


def relabel_steps(data: DataView, batch_size: int, epochs: int) -> int:
    """Optimiser steps of a ``passes``-layout RL run: the decay horizon of beta_t (the ``mixed`` layout's run is
    up to one step per epoch shorter, so its beta_t ends just above 0)."""
    return sum(math.ceil(len(data.split(s)[1]) / batch_size) for s in ("forget", "retain")) * epochs


@register_method
class SalUnSoft(Method):
    name = "salun_soft"
    needs = frozenset({"forget", "retain"})
    official = (OFFICIAL_RELABEL,)

    @dataclass
    class Config(RandomLabel.Config):
        name: str = "salun_soft"
        lr: float = 0.013  # as salun (SalUn repo README, CIFAR-10 10% random); App. C.1 range [5e-4, 5e-2]
        beta: float = 0.1  # initial l1 weight of Eq. 8 (harness choice: not stated in the paper)

    @classmethod
    def check_config(cls, cfg, num_classes: int) -> None:
        check_relabel_options(cfg)

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        cfg = self.cfg
        proximal = ProximalL1(model, cfg.beta, relabel_steps(data, cfg.batch_size, cfg.epochs))  # around theta_o
        passes = relabel_passes(data, cfg.batch_size, cfg.alpha, cfg.layout, relabel_of(cfg))
        return fit_sgd(model, passes, cfg, data, self.name, hook=proximal)
