"""Forget Vector (Sun, Wang, Zhang, Jia, Liu, Liu, Liu and Yan, Forget Vectors at Play: Universal Input Perturbations
Driving Machine Unlearning in Image Classification, arXiv 2412.16780, 2024): unlearning by a universal input
perturbation, model weights intact.

``forget_vector`` learns delta (the shape of one image, init 0) with theta_o frozen (eval mode), minimising
(Eq. 4) l_f(delta) + lambda1 * CE(theta_o; x + delta, D_r) + lambda2 * ||delta||_2^2, where the forget loss
(Eq. 3) is the margin max{f_y(x + delta) - max_{k != y} f_k(x + delta), -tau} averaged over D_f. The result
wraps the model as x -> theta_o(x + delta): every evaluated set (forget, retain, test, MIA shadows) is
perturbed, as in the paper's §6.1.

``forget_vector_compositional`` (Eq. 5) learns one class-wise vector delta_k per class (Eq. 4 with D_f =
that class), then only the coefficients w of delta(w) = sum_k w_k delta_k on the actual forget set, with
lambda2 * ||w||^2 instead of the delta penalty. Learning the class vectors is part of its RTE here (the
paper leaves that cost out of its reported times). With ``weights`` given (class index -> w_k, e.g.
``{"1": 0.4, "2": 0.6}``) nothing is optimised over w: delta(w) = sum of the given w_k delta_k, the other
coefficients 0, and only the named classes' vectors are learned. lambda1 per setting (§6.1, App. C.1): 3 for
CIFAR-10 class-wise (conf/method/forget_vector.yaml), 5 for ImageNet-10 class-wise (forget_vector_imagenet10.yaml),
1 for random forgetting (forget_vector_random.yaml). That is Fig. 3's grid (w_1, w_2 in
{0, 0.2, ..., 1}, heat maps of UA on each class and TA; conf/experiment/forget_vector_fig3*.yaml).

Choices where the paper is silent (official code: the Forget-Vector repo, Changchangsun/Forget-Vector): "40
iterations" (§6.1) read as 40 epochs with the lr decayed x0.9 after each (official code); lr 0.2 (the only value in
the code's checkpoint names); delta added in [0, 1] pixel space before the model's normalisation, no clamp (code);
one shuffled loader over D_f and D_r with per-set means in each batch; training augmentation on (code); w
initialised at 0, unconstrained. The code's departures from the paper (``OFFICIAL``) are applied, all at once, by
``method.fidelity=official``. Precision: the margin (Eq. 3) and CE are computed in fp32 from the logits;
under bf16 autocast the logits themselves are bf16, but the margin is a difference of two logits of order tau = 1 or
more, well above bf16's rounding (about 0.03), so it is left under the recipe's autocast."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from unlearn_bench.errors import ConfigError
from unlearn_bench.methods.base import DataView, Method, MethodConfig, is_official, register_method
from unlearn_bench.training import Pass, cross_entropy, fit


class PerturbedModel(nn.Module):
    """``x -> model(x + delta)`` with the model frozen: the unlearned "model" of a weight-intact method."""

    def __init__(self, model: nn.Module, delta: torch.Tensor):
        super().__init__()
        self.model = model.eval().requires_grad_(False)
        self.register_buffer("delta", delta.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x + self.delta)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_features(x + self.delta)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        return self.model.head(features)

    def get_classifier(self) -> nn.Linear:
        return self.model.get_classifier()


def margin_loss(logits: torch.Tensor, y: torch.Tensor, tau: float) -> torch.Tensor:
    """Eq. 3 per example: max{f_y - max_{k != y} f_k, -tau} (zero gradient once the margin is <= -tau)."""
    logits = logits.float()
    true = logits.gather(1, y[:, None]).squeeze(1)
    others = logits.scatter(1, y[:, None], float("-inf")).amax(1)
    return torch.clamp(true - others, min=-tau)


@dataclass
class ForgetVectorConfig(MethodConfig):
    epochs: int = 40  # Forget Vector §6.1: "40 iterations", read as epochs
    lr: float = 0.2  # Forget-Vector repo checkpoint names (_lr_0.2); not stated in the paper
    lr_decay: float = 0.9  # Forget Vector §6.1: exponential, per epoch
    momentum: float = 0.9  # Forget Vector §6.1
    batch_size: int = 256  # Forget Vector §6.1
    tau: float = 1.0  # Forget Vector §5, App. B (Eq. 3)
    lambda1: float = 3.0  # retain CE weight, Eq. 4; §6.1: 3 class-wise CIFAR-10, 5 ImageNet-10, 1 random
    lambda2: float = 1.0  # penalty weight, Eq. 4; §6.1: 1


# What method.fidelity=official changes (Forget-Vector repo Changchangsun/Forget-Vector; main_delta_2loss.py learns
# delta, main_delta_2loss_transfer2.py the coefficients w).
OFFICIAL = (
    "forget margin and retain CE summed over their rows of the batch and divided by the batch size, not each set's "
    "mean: main_delta_2loss.py:98 (CE reduction='sum'), :193-200; main_delta_2loss_transfer2.py:129, :358-368",
    "penalty ||delta||_2 / |B| (not squared): main_delta_2loss.py:201; for w, ||w||_2: "
    "main_delta_2loss_transfer2.py:369",
    "weight decay 5e-4 on delta / w in the SGD: main_delta_2loss.py:117-122, transfer2.py:281-286, "
    "arg_parser.py:37",
    "delta trained for epochs + 1 epochs: main_delta_2loss.py:170 (range(0, unlearn_epochs + 1))",
)
OFFICIAL_WEIGHT_DECAY = 5e-4  # Forget-Vector repo arg_parser.py:37


def optimise_perturbation(model: nn.Module, data: DataView, cfg: ForgetVectorConfig, forget: torch.Tensor,
                          params: list[torch.Tensor], delta: Callable[[], torch.Tensor], epochs: int, lambda1: float,
                          desc: str) -> None:
    """Minimise Eq. 4 over ``params`` (delta itself, or the coefficients w), theta_o frozen; the penalty is the
    squared L2 norm of ``params`` (``method.fidelity=official``: ``OFFICIAL``'s objective and optimiser).

    ``forget`` is a boolean mask over the train split rows of D_f and D_r concatenated (D_f first): the
    examples whose margin is pushed below -tau; the others get lambda1 * CE."""
    official = is_official(cfg)
    learns_delta = delta() is params[0]
    (fx, fy), (rx, ry) = data.split("forget"), data.split("retain")
    x, y = torch.cat([fx, rx]), torch.cat([fy, ry])
    labels = torch.stack([y, forget.long()], dim=1)  # (label, is_forget) per example

    def objective(net: nn.Module, batch) -> torch.Tensor:
        xb, tagged = batch
        yb, is_forget = tagged[:, 0], tagged[:, 1].bool()
        logits = net(xb + delta())
        if not official:
            loss = cfg.lambda2 * params[0].pow(2).sum()
        else:
            loss = cfg.lambda2 * (params[0].norm() / len(yb) if learns_delta else params[0].norm())
        if is_forget.any():
            margins = margin_loss(logits[is_forget], yb[is_forget], cfg.tau)
            loss = loss + (margins.sum() / len(yb) if official else margins.mean())
        if (~is_forget).any():
            retain_ce = cross_entropy(logits[~is_forget], yb[~is_forget])
            loss = loss + lambda1 * (retain_ce * (~is_forget).sum() / len(yb) if official else retain_ce)
        return loss

    model.eval().requires_grad_(False)
    optimizer = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                                weight_decay=OFFICIAL_WEIGHT_DECAY if official else 0.0)
    epochs += int(official and learns_delta)
    fit(model, [Pass(data.batches(x, labels, cfg.batch_size), objective)], epochs, optimizer,
        lr_at=lambda epoch: cfg.lr_decay**epoch, amp=data.amp, desc=desc, progress=data.progress, train_mode=False)


def _image_zeros(data: DataView) -> torch.Tensor:
    x, _ = data.split("forget")
    return torch.zeros((1, *x.shape[1:]), device=data.device, requires_grad=True)


@register_method
class ForgetVector(Method):
    name = "forget_vector"
    edits_weights = False
    needs = frozenset({"forget", "retain"})
    official = OFFICIAL

    @dataclass
    class Config(ForgetVectorConfig):
        name: str = "forget_vector"  # registry name

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        delta = _image_zeros(data)
        n_forget = len(data.split("forget")[1])
        is_forget = torch.arange(n_forget + len(data.split("retain")[1]), device=data.device) < n_forget
        optimise_perturbation(model, data, self.cfg, is_forget, [delta], lambda: delta, self.cfg.epochs,
                              self.cfg.lambda1, desc="forget_vector")
        return PerturbedModel(model, delta)


@register_method
class ForgetVectorCompositional(Method):
    name = "forget_vector_compositional"
    edits_weights = False
    needs = frozenset({"forget", "retain"})
    official = OFFICIAL

    @dataclass
    class Config(ForgetVectorConfig):
        name: str = "forget_vector_compositional"  # registry name
        lambda1: float = 1.0  # Forget Vector §6.1, Eq. 5: lambda1 = lambda2 = 1
        class_lambda1: float = 3.0  # lambda1 of the class-wise vectors (Eq. 4 with D_f = one class); §6.1 CIFAR-10
        class_epochs: int = 40  # Forget Vector §6.1: Eq. 4's 40 iterations
        # Fixed w_k per class index, a dict (Fig. 3); None: optimise w (Eq. 5). Set it whole (method.weights={1:0.4});
        # dotted overrides (method.weights.1=0.4) only change keys a preset already has (forget_vector_fig3). Typed
        # Any, not an Optional dict: OmegaConf cannot merge an override's dict into a None dict node. Keys: a YAML
        # key or dotted override gives "1", a dict override gives 1.
        weights: Any = None  # Forget Vector Fig. 3 grid when set; None: Eq. 5

    @classmethod
    def check_config(cls, cfg: ForgetVectorCompositional.Config, num_classes: int) -> None:
        if cfg.weights is not None:
            fixed_coefficients(cfg.weights, num_classes)

    def class_vector(self, model: nn.Module, data: DataView, all_y: torch.Tensor, k: int) -> torch.Tensor:
        """delta_k: Eq. 4 with class k of the whole train split (D_f and D_r) as the forget set."""
        delta = _image_zeros(data)
        optimise_perturbation(model, data, self.cfg, all_y == k, [delta], lambda: delta, self.cfg.class_epochs,
                              self.cfg.class_lambda1, desc=f"forget_vector[class {k}]")
        return delta.detach()

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        cfg = self.cfg
        forget_y = data.split("forget")[1]
        all_y = torch.cat([forget_y, data.split("retain")[1]])
        if cfg.weights is not None:
            fixed = fixed_coefficients(cfg.weights, data.num_classes)
            # in class order, and a named class with w_k = 0 too: each cell of a grid then learns the same delta_k
            # (up to non-deterministic kernels, e.g. on CUDA)
            delta = sum(w_k * self.class_vector(model, data, all_y, k) for k, w_k in sorted(fixed.items()))
            return PerturbedModel(model, delta)
        basis = torch.cat([self.class_vector(model, data, all_y, k) for k in range(data.num_classes)])  # K x C x H x W
        w = torch.zeros(data.num_classes, device=data.device, requires_grad=True)
        is_forget = torch.arange(len(all_y), device=data.device) < len(forget_y)

        def composed() -> torch.Tensor:
            return (w[:, None, None, None] * basis).sum(0, keepdim=True)

        optimise_perturbation(model, data, cfg, is_forget, [w], composed, cfg.epochs, cfg.lambda1,
                              desc="forget_vector_compositional")
        return PerturbedModel(model, composed().detach())


def fixed_coefficients(weights: dict, num_classes: int) -> dict[int, float]:
    """``method.weights`` as class index -> w_k; a key that is not a class index of the data is an error."""
    allowed = f"class indices 0..{num_classes - 1}"
    if not isinstance(weights, Mapping) or not weights:
        raise ConfigError(f"method.weights={weights!r} must map one or more {allowed} to w_k (e.g. {{1: 0.4}}), "
                          "or be null to optimise w")
    fixed = {}
    for key, value in weights.items():
        if not (str(key).isdigit() and int(key) < num_classes):
            raise ConfigError(f"method.weights has key {str(key)!r}; allowed: {allowed}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"method.weights.{key}={value!r} must be a number")
        fixed[int(key)] = float(value)
    return fixed
