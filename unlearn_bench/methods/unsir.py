"""UNSIR (Tarun, Chundawat, Mandal, Kankanhalli, "Fast Yet Effective Machine Unlearning", IEEE TNNLS 2023), a
baseline of JiT (Foster, Fogarty, Schoepf, Dugue, Öztireli, Brintrup, "An Information Theoretic Approach to Machine
Unlearning", TMLR, arXiv 2402.01401, 2024), §5.

1. Error-maximising noise: for each class present in D_f, a batch of noise images N is optimised with the model frozen
   to maximise the CE of that class, minimise -CE(f(N), c) + noise_weight * mean ||N||^2.
2. Impair: one epoch on (the noise batches repeated ``noise_repeats`` times, labelled c) plus a subset of D_r (the first
   ``retain_per_class`` examples of each class), Adam, batch ``impair_batch_size``.
3. Repair: one epoch on the same D_r subset, Adam, batch ``batch_size``. Defaults: the JiT repo,
   src/forget_full_class_strategies.py (noise batch 32, 25 noise steps with Adam lr 0.1, weight 0.1, 80 repeats, 500
   retain examples per class, impair batch 32, repair batch 128, Adam lr 1e-4). The code's copy loop uses only 3 of the
   32 noise images (a bug); all 32 are used here. D_f is only used for its classes; UNSIR is defined for full-class
   forgetting.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from unlearn_bench.data.loader import to_float
from unlearn_bench.methods.base import DataView, Method, MethodConfig, register_method
from unlearn_bench.models import Classifier
from unlearn_bench.training import Pass, cross_entropy, fit, supervised


def class_noise(model: Classifier, label: int, shape: tuple, steps: int, lr: float, weight: float,
                generator: torch.Generator, device: torch.device, maximise: bool = True) -> torch.Tensor:
    """A batch of noise images the frozen model reads as (``maximise=False``) or away from (``True``) class
    ``label``. Noise n lives in the model's normalised input units (the official code's space) and is
    returned as pixel-space images mean + std * n (not clamped). Minimises -CE(f, label) + weight * mean_b
    ||n_b||^2 (error-maximising, U1) or CE(f, label) + weight * mean_b ||n_b||^2 (error-minimising)."""
    noise = torch.randn(shape, generator=generator).to(device).requires_grad_(True)
    target = torch.full((shape[0],), label, device=device)
    sign = -1.0 if maximise else 1.0
    optimizer = torch.optim.Adam([noise], lr=lr)
    model.eval()
    for _ in range(steps):
        loss = sign * cross_entropy(model(model.to_pixels(noise)), target) + weight * noise.pow(2).sum((1, 2, 3)).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    model.zero_grad(set_to_none=True)
    return model.to_pixels(noise).detach()


@register_method
class Unsir(Method):
    name = "unsir"
    needs = frozenset({"forget", "retain"})
    full_class_only = True

    @dataclass
    class Config(MethodConfig):
        name: str = "unsir"
        noise_batch: int = 32  # JiT repo src/forget_full_class_strategies.py UNSIR: noise batch 32
        noise_steps: int = 25  # JiT repo src/forget_full_class_strategies.py UNSIR: 25 noise steps
        noise_lr: float = 0.1  # JiT repo src/forget_full_class_strategies.py UNSIR: noise Adam lr 0.1
        noise_weight: float = 0.1  # JiT repo src/forget_full_class_strategies.py UNSIR: -CE + 0.1 * mean ||noise||^2
        noise_repeats: int = 80  # JiT repo src/forget_full_class_strategies.py UNSIR: 80 noise batches
        retain_per_class: int = 500  # JiT repo src/forget_full_class_strategies.py UNSIR: 500 retain samples per class
        # Impair and repair (Adam).
        lr: float = 1e-4  # JiT repo src/forget_full_class_strategies.py UNSIR: Adam lr 1e-4
        impair_batch_size: int = 32  # JiT repo src/forget_full_class_strategies.py UNSIR: impair batch 32
        batch_size: int = 128  # JiT repo src/forget_full_class_strategies.py UNSIR: repair batch 128

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        cfg = self.cfg
        forget_x, forget_y = data.split("forget")
        retain_x, retain_y = data.split("retain")
        keep = torch.cat([(retain_y == c).nonzero().squeeze(1)[:cfg.retain_per_class] for c in retain_y.unique()])
        sub_x, sub_y = to_float(retain_x[keep]), retain_y[keep]
        model.requires_grad_(False)
        noises, noise_labels = [], []
        for c in forget_y.unique().tolist():
            noise = class_noise(model, c, (cfg.noise_batch, *forget_x.shape[1:]), cfg.noise_steps, cfg.noise_lr,
                                cfg.noise_weight, data.generator, data.device)
            noises.append(noise.repeat(cfg.noise_repeats, 1, 1, 1))
            noise_labels.append(torch.full((len(noise) * cfg.noise_repeats,), c, device=data.device))
        model.requires_grad_(True)
        impair_x, impair_y = torch.cat([*noises, sub_x]), torch.cat([*noise_labels, sub_y])
        stages = (("impair", impair_x, impair_y, cfg.impair_batch_size), ("repair", sub_x, sub_y, cfg.batch_size))
        for stage, x, y, batch_size in stages:
            optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
            fit(model, [Pass(data.batches(x, y, batch_size, augment=False), supervised(cross_entropy))], 1,
                optimizer, amp=data.amp, desc=f"unsir[{stage}]", progress=data.progress)
        return model.eval()
