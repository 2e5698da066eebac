"""Boundary unlearning (Chen et al., "Boundary Unlearning: Rapid Forgetting of Deep Networks via Shifting the
Decision Space", CVPR 2023), baselines BS and BE of Fan et al., "SalUn: Empowering Machine Unlearning via
Gradient-based Weight Saliency in Both Image Classification and Generation", ICLR 2024. Both read D_f only.

- ``bs`` (boundary shrink): each forget image is attacked with one FGSM step of size ``bound`` against a
  frozen copy of the original (x' = x + bound * sign(grad_x CE(f_o(x), y)), pixels clamped to [0, 1]); the
  frozen model's prediction on x' is the nearest wrong label, and the model is fine-tuned to predict it
  on the clean x. SalUn App. C.1: 10 epochs, lr in [1e-6, 1e-4], FGSM step 0.1.
- ``be`` (boundary expanding): the head gains one shadow class; forget images are trained towards it; the
  shadow unit is then removed (harness default: the model keeps the task's K outputs), leaving D_f
  spread over the remaining classes. SalUn App. C.1: 10 epochs, lr in [1e-6, 1e-4]. ``keep_shadow_unit=true``
  is the SalUn repo's behaviour as the harness's notes on it describe (OPTML-Group/Unlearn-Saliency,
  Classification/unlearn/boundary_ex.py: the widened model is the one evaluated; not re-checked here): the
  returned model keeps K+1 outputs. The evaluation then takes accuracy as the argmax
  over K+1 logits (a D_f image predicted as the shadow class counts as forgotten) and MIA's confidence feature
  as the softmax over K+1 of the true label; metrics that compare logits or head weights with Retrain's K
  outputs (eval groups ``distances``, ``sure``'s W_dist) do not apply to that model.
Both use SGD with momentum 0.9 and weight decay 5e-4 (SalUn repo's unlearning optimiser).

``method.fidelity=official`` applies the SalUn repo's departures (``OFFICIAL_BS``, ``OFFICIAL_BE``): BS rounds the
FGSM image to the 8-bit grid; BE keeps the shadow unit. ``keep_shadow_unit`` left null follows the fidelity; set
against it, it is refused (exit 2).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from unlearn_bench.errors import ConfigError
from unlearn_bench.methods.base import DataView, Method, SGDConfig, is_official, register_method
from unlearn_bench.methods.common import fit_sgd
from unlearn_bench.models import classifier_head, replace_classifier
from unlearn_bench.training import Pass, cross_entropy, supervised

OFFICIAL_BS = ("FGSM image rounded to the 8-bit grid (round(255 x) / 255) after clamping: SalUn repo "
               "OPTML-Group/Unlearn-Saliency Classification/unlearn/boundary_sh.py:35-36, :50",)
OFFICIAL_BE = ("the shadow unit is kept: the model evaluated has K + 1 outputs (keep_shadow_unit=true): SalUn repo "
               "Classification/unlearn/boundary_ex.py:136-138 (expand_model, then training; never shrunk)",)


def fgsm_nearest_label(model: nn.Module, x: torch.Tensor, y: torch.Tensor, bound: float,
                       discretize: bool = False) -> torch.Tensor:
    """Prediction of ``model`` on the one-step FGSM image of (x, y): the nearest wrong class (usually).
    ``discretize``: the image rounded to the 8-bit grid, as the SalUn repo (``OFFICIAL_BS``)."""
    x = x.detach().clone().requires_grad_(True)
    grad, = torch.autograd.grad(cross_entropy(model(x), y), x)
    with torch.no_grad():
        adversarial = (x + bound * grad.sign()).clamp(0.0, 1.0)
        return model(torch.round(adversarial * 255) / 255 if discretize else adversarial).argmax(1)


def nearest_label_pass(original: nn.Module, data: DataView, batch_size: int, bound: float,
                       discretize: bool = False) -> Pass:
    """CE on clean D_f images towards a frozen copy of ``original``'s prediction on their FGSM images."""
    frozen = copy.deepcopy(original).eval().requires_grad_(False)

    def objective(net: nn.Module, batch) -> torch.Tensor:
        x, y = batch
        with torch.enable_grad():
            nearest = fgsm_nearest_label(frozen, x, y, bound, discretize)
        return cross_entropy(net(x), nearest)

    return Pass(data.loader("forget", batch_size), objective)


@register_method
class BoundaryShrink(Method):
    name = "bs"
    needs = frozenset({"forget"})
    official = OFFICIAL_BS

    @dataclass
    class Config(SGDConfig):
        name: str = "bs"
        lr: float = 1e-5  # SalUn App. C.1: lr in [1e-6, 1e-4]
        bound: float = 0.1  # FGSM step size, in [0, 1] pixel units (SalUn App. C.1: FGSM step size 0.1)

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        passes = [nearest_label_pass(model, data, self.cfg.batch_size, self.cfg.bound, is_official(self.cfg))]
        return fit_sgd(model, passes, self.cfg, data, self.name)


def resized_linear(linear: nn.Linear, out_features: int) -> nn.Linear:
    """A fresh ``nn.Linear`` with ``out_features`` units whose first units are copies of ``linear``'s."""
    resized = nn.Linear(linear.in_features, out_features).to(linear.weight.device)
    kept = min(out_features, linear.out_features)
    with torch.no_grad():
        resized.weight[:kept].copy_(linear.weight[:kept])
        resized.bias[:kept].copy_(linear.bias[:kept])
    return resized


def shadow_class_pass(data: DataView, batch_size: int, shadow: int) -> Pass:
    """CE on D_f with every label set to the shadow class."""
    forget_x, forget_y = data.split("forget")
    return Pass(data.batches(forget_x, torch.full_like(forget_y, shadow), batch_size), supervised(cross_entropy))


@register_method
class BoundaryExpand(Method):
    name = "be"
    needs = frozenset({"forget"})
    official = OFFICIAL_BE

    @dataclass
    class Config(SGDConfig):
        name: str = "be"
        lr: float = 1e-5  # SalUn App. C.1: lr in [1e-6, 1e-4]
        keep_shadow_unit: bool | None = None  # null: the fidelity's (paper: drop, harness choice; official: keep)

    @classmethod
    def check_config(cls, cfg, num_classes: int) -> None:
        if cfg.keep_shadow_unit is False and is_official(cfg):
            raise ConfigError("method.keep_shadow_unit=false contradicts method.fidelity=official, whose code keeps "
                              f"it ({OFFICIAL_BE[0]}); drop one of them")

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        k = classifier_head(model).out_features
        replace_classifier(model, resized_linear(classifier_head(model), k + 1))  # the shadow unit is fresh
        fit_sgd(model, [shadow_class_pass(data, self.cfg.batch_size, k)], self.cfg, data, self.name)
        keep = is_official(self.cfg) if self.cfg.keep_shadow_unit is None else self.cfg.keep_shadow_unit
        if not keep:
            replace_classifier(model, resized_linear(classifier_head(model), k))
        return model.eval()
