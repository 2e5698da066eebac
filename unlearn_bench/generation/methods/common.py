"""Losses and batch layouts shared by the generation methods (SalUn Eq. 2, 5, 7)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.generation.ddpm import ConditionalDDPM, diffusion_mse, to_model_space
from unlearn_bench.generation.methods.base import GenerationView
from unlearn_bench.training import Batches, Objective, paired


def forgotten_concepts(data: GenerationView) -> list[int]:
    """The forgotten classes c (the labels of D_f; class-wise scenarios only)."""
    return sorted(set(data.split("forget")[1].tolist()))


def misaligned_classes(c: torch.Tensor, num_classes: int, forgotten: list[int],
                       generator: torch.Generator) -> torch.Tensor:
    """One concept c' != c per example, uniform over the classes that are not forgotten (Eq. 7's c' != c; SalUn
    does not say how c' is drawn for DDPM: its code uses the next class for every image, a uniform draw over the
    kept classes is this harness's choice). Drawn once per run: Alg. 2's relabelled set D_f'."""
    kept = torch.tensor([k for k in range(num_classes) if k not in forgotten])
    return kept[torch.randint(0, len(kept), c.shape, generator=generator)].to(c.device)


def relabel_loss(model: ConditionalDDPM, pixels: torch.Tensor, c: torch.Tensor, c_prime: torch.Tensor) -> torch.Tensor:
    """First term of Eq. 7: ||eps(x_t | c') - eps(x_t | c)||^2 on D_f. The c' branch is a target (no gradient):
    the paper is silent, SalUn's DDPM code detaches it, and so the update moves the forgotten concept towards c'
    without moving c'."""
    x_t, t, _ = model.noised(to_model_space(pixels))
    with torch.no_grad():
        target = model(x_t, t, c_prime)
    return F.mse_loss(model(x_t, t, c).float(), target.float())


def relabel_batches(data: GenerationView, batch_size: int) -> Batches:
    """Each D_r batch paired with the next batch of D_f' = {(x, (c, c'))} (D_f restarts when exhausted): one
    iteration of Alg. 2 sees both parts of D' = D_f' u D_r, as SalUn's DDPM code does."""
    forget_x, forget_c = data.split("forget")
    c_prime = misaligned_classes(forget_c, data.num_classes, forgotten_concepts(data), data.generator)
    forget = data.batches(forget_x, torch.stack([forget_c, c_prime], 1), batch_size, augment=False)
    return paired(data.loader("retain", batch_size, augment=False), forget)


def relabel_objective(beta: float) -> Objective:
    """Eq. 7: relabel loss on D_f' + beta * l_MSE(theta; D_r) (with CFG label dropout on D_r, as in training)."""

    def objective(model: nn.Module, batch: tuple) -> torch.Tensor:
        (retain_x, retain_c), (forget_x, labels) = batch
        return relabel_loss(model, forget_x, labels[:, 0], labels[:, 1]) + beta * diffusion_mse(model, retain_x,
                                                                                                retain_c)

    return objective
