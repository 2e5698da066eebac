"""EMMN (Chundawat, Tarun, Mandal, Kankanhalli, "Zero-Shot Machine Unlearning", IEEE TIFS 2023), a zero-shot
baseline of JiT (Foster, Fogarty, Schoepf, Dugue, Öztireli, Brintrup, "An Information Theoretic Approach to Machine
Unlearning", TMLR, arXiv 2402.01401, 2024).

UNSIR's impair step without any real data (JiT §2: "replaces the repair step with an error-minimising noise"): for each
forgotten class an error-maximising noise batch (UNSIR's U1, with its L2 penalty), for every other class an
error-minimising noise batch (min_n CE(f(n), c), no penalty); then ``epochs`` epochs of CE on all noise batches repeated
``noise_repeats`` times, labelled with their class. Defaults: the JiT repo, src/forget_full_class_strategies.py (noise
batch 4, 25 maximising / 30 minimising steps with Adam lr 0.1, penalty 0.1, 80 repeats, batch 4, 2 epochs of Adam lr
1e-4). The code's copy loop uses only 3 of the 4 noise images of each batch (the same bug as its UNSIR); all 4 are used
here. D_f is read only for its labels (which classes to forget); D_r is never read. Defined for full-class forgetting.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from unlearn_bench.methods.base import DataView, Method, MethodConfig, register_method
from unlearn_bench.methods.unsir import class_noise
from unlearn_bench.training import Pass, cross_entropy, fit, supervised


@register_method
class Emmn(Method):
    name = "emmn"
    needs = frozenset({"forget"})
    full_class_only = True

    @dataclass
    class Config(MethodConfig):
        name: str = "emmn"
        noise_batch: int = 4  # JiT repo src/forget_full_class_strategies.py EMMN: noise batch 4
        # Steps of the error-maximising noise of the forgotten classes.
        max_steps: int = 25  # JiT repo src/forget_full_class_strategies.py EMMN: 25 maximising steps
        # Steps of the error-minimising noise of every other class.
        min_steps: int = 30  # JiT repo src/forget_full_class_strategies.py EMMN: 30 minimising steps
        noise_lr: float = 0.1  # JiT repo src/forget_full_class_strategies.py EMMN: noise Adam lr 0.1
        # L2 penalty of the maximising noise only.
        noise_weight: float = 0.1  # JiT repo src/forget_full_class_strategies.py EMMN: penalty 0.1
        noise_repeats: int = 80  # JiT repo src/forget_full_class_strategies.py EMMN: 80 noise batches per class
        epochs: int = 2  # JiT repo src/forget_full_class_strategies.py EMMN: impair 2 epochs
        lr: float = 1e-4  # JiT repo src/forget_full_class_strategies.py EMMN: impair Adam lr 1e-4
        batch_size: int = 4  # JiT repo src/forget_full_class_strategies.py EMMN: batch 4 (the noise batch)

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        cfg = self.cfg
        forget_x, forget_y = data.split("forget")
        forget_classes = set(forget_y.unique().tolist())
        shape = (cfg.noise_batch, *forget_x.shape[1:])
        model.requires_grad_(False)
        noises, labels = [], []
        for c in range(data.num_classes):
            maximise = c in forget_classes
            noise = class_noise(model, c, shape, cfg.max_steps if maximise else cfg.min_steps, cfg.noise_lr,
                                cfg.noise_weight if maximise else 0.0, data.generator, data.device, maximise)
            noises.append(noise.repeat(cfg.noise_repeats, 1, 1, 1))
            labels.append(torch.full((len(noise) * cfg.noise_repeats,), c, device=data.device))
        model.requires_grad_(True)
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        batches = data.batches(torch.cat(noises), torch.cat(labels), cfg.batch_size, augment=False)
        fit(model, [Pass(batches, supervised(cross_entropy))], cfg.epochs, optimizer, amp=data.amp, desc="emmn",
            progress=data.progress)
        return model.eval()
