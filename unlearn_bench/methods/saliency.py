"""Gradient-based weight saliency and the masked update of Fan et al., "SalUn: Empowering Machine Unlearning via
Gradient-based Weight Saliency in Both Image Classification and Generation", ICLR 2024 (Eq. 3 and Eq. 4), shared
by SalUn and the "Method + m_S" variants (Table A1). Repo behaviour cited: OPTML-Group/Unlearn-Saliency,
Classification/generate_mask.py and Classification/unlearn/RL.py."""

from __future__ import annotations

import torch
from torch import nn

from unlearn_bench.errors import ConfigError
from unlearn_bench.methods.base import DataView, SGDConfig
from unlearn_bench.methods.common import fit_sgd, negative_cross_entropy
from unlearn_bench.training import Batches, Criterion, Pass, StepHook

# The SalUn repo's mask gradient, applied by method.fidelity=official (SalUn, SalUn-soft, the "+ m_S" variants, IU's
# mask).
OFFICIAL_MASK = ("saliency gradient = the sum over D_f batches of each batch's mean-loss gradient (the last, partial "
                 "batch weighs more): SalUn repo OPTML-Group/Unlearn-Saliency Classification/generate_mask.py:30-44")


def saliency_mask(model: nn.Module, batches: Batches, loss: Criterion, sparsity: float,
                  batch_sum: bool = False) -> dict[str, torch.Tensor]:
    """m_S = 1(|grad_theta l_f(theta; D_f)| at theta_o >= gamma), Eq. 3.

    The gradient is that of the mean loss over all of D_f (``batch_sum``: the sum of the per-batch mean-loss
    gradients, as the SalUn repo computes it, ``OFFICIAL_MASK``), taken once in eval mode (SalUn repo). gamma
    is one global threshold over all parameter tensors chosen so that a ``sparsity`` share of the
    weights is frozen (50% <=> gamma = median of |g|, the paper's default). Ties at gamma are broken by
    rank so the share is exact.
    """
    if not 0.0 <= sparsity < 1.0:
        raise ConfigError(f"method.sparsity={sparsity} must be in [0, 1)")
    was_training = model.training
    model.eval()
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    grads = {n: torch.zeros_like(p) for n, p in params.items()}
    batches_list = list(batches())
    total = sum(len(y) for _, y in batches_list)
    for x, y in batches_list:
        model.zero_grad(set_to_none=True)
        (loss(model(x), y) * (1.0 if batch_sum else len(y) / total)).backward()
        for n, p in params.items():
            if p.grad is not None:
                grads[n] += p.grad
    model.zero_grad(set_to_none=True)
    model.train(was_training)

    flat = torch.cat([g.abs().flatten() for g in grads.values()])
    n_keep = int(round((1.0 - sparsity) * flat.numel()))
    keep = torch.zeros_like(flat, dtype=torch.bool)
    keep[torch.topk(flat, n_keep, sorted=False).indices] = True
    masks, offset = {}, 0
    for n, g in grads.items():
        masks[n] = keep[offset:offset + g.numel()].view_as(g)
        offset += g.numel()
    return masks


class MaskedUpdate(StepHook):
    """Only salient weights move (Eq. 4): gradients are masked before each step, and after the step the
    frozen weights are reset to theta_o and their momentum zeroed, so weight decay and momentum cannot
    move them either (SalUn repo behaviour)."""

    def __init__(self, model: nn.Module, masks: dict[str, torch.Tensor]):
        named = dict(model.named_parameters())
        self.entries = [(named[n], m, named[n].detach().clone()) for n, m in masks.items()]

    def before_step(self, model: nn.Module) -> None:
        for p, m, _ in self.entries:
            if p.grad is not None:
                p.grad.mul_(m)

    @torch.no_grad()
    def after_step(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        for p, m, start in self.entries:
            p.copy_(torch.where(m, p, start))
            buf = optimizer.state.get(p, {}).get("momentum_buffer")
            if buf is not None:
                buf.mul_(m)


def forget_saliency_mask(model: nn.Module, data: DataView, batch_size: int, sparsity: float, batch_sum: bool = False
                         ) -> dict[str, torch.Tensor]:
    """SalUn's mask m_S: saliency of the GA forgetting loss on all of D_f at theta_o (Eq. 3, Eq. 5 with the
    classification CE), in a fixed order without augmentation, the ``sparsity`` share of weights frozen (the repo's
    mask file ``with_<1 - sparsity>.pt``: ``with_0.6.pt`` keeps the top 60%, i.e. ``sparsity=0.4``)."""
    forget = data.loader("forget", batch_size, shuffle=False, augment=False)
    return saliency_mask(model, forget, negative_cross_entropy, sparsity, batch_sum)


def fit_masked(model: nn.Module, passes: list[Pass], mask: dict[str, torch.Tensor], cfg: SGDConfig, data: DataView,
               desc: str) -> nn.Module:
    """``fit_sgd`` moving only the salient weights of ``mask`` (Eq. 4): "Method + m_S" (SalUn Table A1). Call it
    with the model still at theta_o, the point the frozen weights are held at."""
    return fit_sgd(model, passes, cfg, data, desc, hook=MaskedUpdate(model, mask))
