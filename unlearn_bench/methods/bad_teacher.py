"""Bad Teacher (Chundawat, Tarun, Mandal, Kankanhalli, "Can Bad Teaching Induce Forgetting? Unlearning in Deep
Networks Using an Incompetent Teacher", AAAI 2023), a baseline of JiT (Foster et al., "An Information Theoretic
Approach to Machine Unlearning", TMLR, arXiv 2402.01401, 2024, §5) and of SURE (anonymous authors, "Selective
Unlearning via Representation Erasure using Domain Adversarial Training", OpenReview submission, 2024, App. A).

The student (a copy of the original) distils from the competent teacher (the frozen original) on a random
``retain_fraction`` of D_r and from an incompetent teacher (a randomly initialised model of the same
architecture) on D_f: minimise KL(softmax(T_x / tau) || softmax(S(x) / tau)) with T_x the teacher chosen
per example. Defaults: the JiT repo jwf40/Information-Theoretic-Unlearning, src/forget_*_strategies.py (30% of
D_r, 1 epoch, Adam lr 1e-4, tau 1, batch 256).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.methods.base import DataView, Method, MethodConfig, register_method
from unlearn_bench.models import reset_parameters
from unlearn_bench.training import Pass, fit


@register_method
class BadTeacher(Method):
    name = "bad_teacher"
    needs = frozenset({"forget", "retain"})

    @dataclass
    class Config(MethodConfig):
        name: str = "bad_teacher"
        epochs: int = 1  # JiT repo src/forget_*_strategies.py bad teacher: 1 epoch
        lr: float = 1e-4  # JiT repo src/forget_*_strategies.py bad teacher: Adam lr 1e-4
        batch_size: int = 256  # JiT repo src/forget_*_strategies.py bad teacher: batch 256 (128 for ViT)
        temperature: float = 1.0  # JiT repo src/forget_*_strategies.py bad teacher: KL temperature 1
        retain_fraction: float = 0.3  # JiT repo src/forget_*_strategies.py bad teacher: 30% random subset of D_r

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        cfg = self.cfg
        good = copy.deepcopy(model).eval().requires_grad_(False)
        bad = reset_parameters(copy.deepcopy(model)).eval().requires_grad_(False)
        retain_x, _ = data.split("retain")
        forget_x, _ = data.split("forget")
        keep = torch.randperm(len(retain_x), generator=data.generator)[:int(cfg.retain_fraction * len(retain_x))]
        x = torch.cat([retain_x[keep.to(retain_x.device)], forget_x])
        is_forget = torch.cat([torch.zeros(len(keep)), torch.ones(len(forget_x))]).to(x.device)

        def objective(student: nn.Module, batch) -> torch.Tensor:
            xb, forget_flag = batch
            with torch.no_grad():
                flag = forget_flag[:, None]
                target = flag * bad(xb) + (1 - flag) * good(xb)
            log_p = F.log_softmax(student(xb).float() / cfg.temperature, dim=1)
            return F.kl_div(log_p, F.softmax(target.float() / cfg.temperature, dim=1), reduction="batchmean")

        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        fit(model, [Pass(data.batches(x, is_forget, cfg.batch_size), objective)], cfg.epochs, optimizer,
            amp=data.amp, desc="bad_teacher", progress=data.progress)
        return model.eval()
