"""SalUn for Stable Diffusion (Fan, Liu, Zhang, Wong, Wei, Liu, "SalUn: Empowering Machine Unlearning via Gradient-based
Weight Saliency in Both Image Classification and Generation", ICLR 2024, §5, Alg. 2, App. C.1).

1. Weight saliency (Eq. 3 with Eq. 5): m_S = 1(|grad l_MSE(theta; D_f)| at theta_o >= gamma) over the UNet's
   weights, l_MSE of the D_f latents conditioned on their prompt, one (t, eps) draw per image, in eval mode; gamma
   freezes ``sparsity`` of the weights (50%, App. C.1); the classification SalUn's thresholding
   (``methods/saliency.py``).
2. Eq. 7 on the salient weights (Eq. 4): ||eps(z_t|c') - eps(z_t|c)||^2 on D_f (the c' branch a target, no
   gradient, as the DDPM version) + beta * l_MSE(theta; D_r); frozen weights reset to theta_o after each Adam step.
   c' per D_f image, drawn once: a uniform other class prompt (Imagenette; the paper is silent) or
   'a photo of a person wearing clothes' (nudity, App. C.1).
SalUn App. C.1 (SD): 5 epochs, Adam, lr 1e-5, beta 0.5, batch 8, sparsity 50%. An epoch = one pass over D_f, each
D_f batch paired with the next D_r batch (D_r restarts when exhausted), as SalUn's SD code loops over the forget
loader. No gradient clipping (not stated)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.generation.sd.config import SDMethodConfig
from unlearn_bench.generation.sd.data import SDView
from unlearn_bench.generation.sd.methods.base import TrainedSDMethod
from unlearn_bench.generation.sd.methods.common import EncodedSplit, denoising_mse, encode_split
from unlearn_bench.generation.sd.pipeline import SDModel
from unlearn_bench.methods.base import register_method
from unlearn_bench.methods.saliency import MaskedUpdate, saliency_mask
from unlearn_bench.training import Batches, Objective, StepHook, paired


class NoisedLatents(nn.Module):
    """``forward((z_t, t, c)) = eps_theta(z_t | c)``: the UNet behind the (inputs, targets) interface of the
    classification saliency code, whose targets are then the noise eps."""

    def __init__(self, model: SDModel):
        super().__init__()
        self.model = model

    def forward(self, inputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return self.model(*inputs)


def noised_batches(model: SDModel, forget: EncodedSplit, batch_size: int) -> Batches:
    """``((z_t, t, c), eps)`` over D_f in order: one forward-diffusion draw per image."""

    def epoch() -> Iterable[tuple[tuple[torch.Tensor, ...], torch.Tensor]]:
        for start in range(0, len(forget), batch_size):
            z0 = forget.latents[start:start + batch_size]
            z_t, t, noise = model.noised(z0)
            yield (z_t, t, forget.embeddings[forget.prompt_ids[start:start + batch_size]]), noise

    return epoch


def mse(prediction: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(prediction.float(), noise.float())


def sd_saliency_hook(model: SDModel, forget: EncodedSplit, batch_size: int, sparsity: float) -> MaskedUpdate:
    """m_S of the UNet from the gradient of l_MSE(theta; D_f) at theta_o (Eq. 3, 5) and the masked update (Eq. 4)."""
    wrapped = NoisedLatents(model)
    return MaskedUpdate(wrapped, saliency_mask(wrapped, noised_batches(model, forget, batch_size), mse, sparsity))


def substitute_ids(count: int, candidates: int, generator: torch.Generator) -> torch.Tensor:
    """One c' index per D_f image, uniform over ``candidates`` prompts, drawn once (Alg. 2's D_f')."""
    return torch.randint(0, candidates, (count,), generator=generator)


def relabel_objective(beta: float, substitutes: torch.Tensor) -> Objective:
    """Eq. 7 on ``((z_f, c, c' id), (z_r, c_r))`` batches; ``substitutes`` holds the c' embeddings."""

    def objective(model: nn.Module, batch: tuple) -> torch.Tensor:
        (z_f, cond, sub), (z_r, cond_r) = batch
        z_t, t, _ = model.noised(z_f)
        with torch.no_grad():
            target = model(z_t, t, substitutes[sub])
        forget_term = F.mse_loss(model(z_t, t, cond).float(), target.float())
        return forget_term + beta * denoising_mse(model, z_r, cond_r)

    return objective


@register_method
class SDSalUn(TrainedSDMethod):
    name = "salun"
    needs = frozenset({"forget", "retain"})

    @dataclass
    class Config(SDMethodConfig):
        name: str = "salun"
        epochs: int = 5
        lr: float = 1e-5
        batch_size: int = 8
        beta: float = 0.5
        sparsity: float = 0.5

    def __init__(self, cfg):
        super().__init__(cfg)
        self._encoded: dict[str, EncodedSplit] = {}

    def encoded(self, model: SDModel, data: SDView, split: str) -> EncodedSplit:
        if split not in self._encoded:
            self._encoded[split] = encode_split(model, data.split(split))
        return self._encoded[split]

    def iterations(self, data: SDView) -> int:
        return self.cfg.epochs * math.ceil(len(data.split("forget")) / self.cfg.batch_size)

    def step_hook(self, model: SDModel, data: SDView) -> StepHook:
        return sd_saliency_hook(model, self.encoded(model, data, "forget"), self.cfg.batch_size, self.cfg.sparsity)

    def batches(self, model: SDModel, data: SDView) -> Batches:
        forget = self.encoded(model, data, "forget")
        subs = substitute_ids(len(forget), len(data.prompts.substitutes), data.generator).to(model.device)
        return paired(forget.batches(self.cfg.batch_size, data.generator, extra=subs),
                      self.encoded(model, data, "retain").batches(self.cfg.batch_size, data.generator))

    def objective(self, model: SDModel, data: SDView) -> Objective:
        return relabel_objective(self.cfg.beta, model.encode_prompts(data.prompts.substitutes))

    def unlearn(self, model: SDModel, data: SDView) -> SDModel:
        try:
            return super().unlearn(model, data)
        finally:
            self._encoded.clear()
