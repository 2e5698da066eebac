"""SalUn for generation (Fan, Liu, Zhang, Wong, Wei, Liu, "SalUn: Empowering Machine Unlearning via Gradient-based
Weight Saliency in Both Image Classification and Generation", ICLR 2024, §5, Alg. 2).

1. Weight saliency (Eq. 3 with the generation forgetting loss of Eq. 5): m_S = 1(|grad l_MSE(theta; D_f)| at
   theta_o >= gamma), gamma set so that ``sparsity`` of the weights are frozen (50% = the median, App. C.1). The
   gradient is that of the mean conditional diffusion loss over D_f (true class, no label dropout), one (t, eps)
   draw per image (the number of draws is not stated), in eval mode; thresholding is the classification SalUn's
   (one global threshold over all UNet tensors, ties broken by rank).
2. Eq. 7 on the salient weights only (Eq. 4): relabel loss ||eps(x_t|c') - eps(x_t|c)||^2 on D_f' plus
   beta * l_MSE(theta; D_r); after each Adam step the frozen weights are reset to theta_o (Alg. 2 masks the
   gradient; with Adam the reset keeps them exactly fixed).
SalUn App. C.1 (DDPM, CIFAR-10): 1,000 iterations, lr 1e-4, beta 1e-3, batch 128, sparsity 50% (beta's scale: see
``random_label.py``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.generation.ddpm import ConditionalDDPM, to_model_space
from unlearn_bench.generation.methods.base import GenerationView
from unlearn_bench.generation.methods.random_label import GenRandomLabel
from unlearn_bench.methods.base import register_method
from unlearn_bench.methods.saliency import MaskedUpdate, saliency_mask
from unlearn_bench.training import Batches, StepHook


class NoisedInputs(nn.Module):
    """``forward((x_t, t, c)) = ddpm(x_t, t, c)``: the DDPM behind the (inputs, targets) interface of the
    classification saliency code, whose targets are then the noise eps."""

    def __init__(self, ddpm: ConditionalDDPM):
        super().__init__()
        self.ddpm = ddpm

    def forward(self, inputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return self.ddpm(*inputs)


def noised_batches(model: ConditionalDDPM, batches: Batches) -> Batches:
    """``((x_t, t, c), eps)`` for every ``(pixels, c)`` batch: one forward-diffusion draw per image."""

    def epoch() -> Iterable[tuple[tuple[torch.Tensor, ...], torch.Tensor]]:
        for pixels, c in batches():
            x_t, t, noise = model.noised(to_model_space(pixels))
            yield (x_t, t, c), noise

    return epoch


def mse(prediction: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(prediction.float(), noise)


def diffusion_saliency_hook(model: ConditionalDDPM, forget: Batches, sparsity: float) -> MaskedUpdate:
    """m_S from the gradient of l_MSE(theta; D_f) at theta_o (Eq. 3, 5) and the masked update of Eq. 4."""
    wrapped = NoisedInputs(model)
    return MaskedUpdate(wrapped, saliency_mask(wrapped, noised_batches(model, forget), mse, sparsity))


@register_method
class GenSalUn(GenRandomLabel):
    name = "salun"
    needs = frozenset({"forget", "retain"})

    @dataclass
    class Config(GenRandomLabel.Config):
        name: str = "salun"
        sparsity: float = 0.5  # share of weights frozen by the mask

    def step_hook(self, model: ConditionalDDPM, data: GenerationView) -> StepHook:
        forget = data.loader("forget", self.cfg.batch_size, shuffle=False, augment=False)
        return diffusion_saliency_hook(model, forget, self.cfg.sparsity)
