"""GKT, gated knowledge transfer (Chundawat et al., "Zero-Shot Machine Unlearning", IEEE TIFS 2023), a
zero-shot JiT baseline.

A generator G(z) is trained adversarially against a student: it maximises KL(teacher || student) on its
images, the student minimises KL(teacher || student) + beta * sum_l ||att(s_l) - att(t_l)||^2 with the
attention map att(a) = normalize(mean_c a^2) of each stage's activations (attention transfer). The gate
(band-pass filter): generated images on which the teacher (the original model) gives a forgotten class a
probability above ``threshold`` are dropped before both steps, so no knowledge of that class flows.
Per pseudo-batch (fresh z): ``generator_steps`` generator steps, then ``student_steps`` student steps.

Defaults and what is verified. Taken from notes on the JiT benchmark code (Foster et al., "An Information
Theoretic Approach to Machine Unlearning", repository jwf40/Information-Theoretic-Unlearning,
src/forget_full_class_strategies.py, GKT, non-ViT):
z_dim 128, pseudo-batch 128, 2 generator + 15 student steps per pseudo-batch, 1000 pseudo-batches, forget-class
probability threshold 0.01, KL at T = 1, attention weight beta 5, SGD lr 0.01 momentum 0.9 for both, student
OneCycle max lr 0.1, gradient norms clipped at 5. Not checked against any code here: the student's
Xavier re-initialisation of every conv weight, the generator's layers (Linear -> (128, H/4, W/4) -> [BN,
ConvTranspose 4/2, BN, LeakyReLU 0.2] x 2 -> Conv 3x3 -> BN, read as images in the model's normalised input
units), and the recovery: a pseudo-batch the gate empties is redrawn; after ``max_empty`` consecutive empty ones
(the generator drifted onto the forgotten class, whose images maximise the divergence from a student that never
learns them) the generator is rolled back to its snapshot, taken every ``snapshot_every`` pseudo-batches
(``max_empty`` 100 and ``snapshot_every`` 50 are harness choices).
D_f is read only for its labels (which classes to forget); D_r is never read. Full-class forgetting only.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.methods.base import DataView, Method, MethodConfig, register_method
from unlearn_bench.models import Classifier
from unlearn_bench.runtime import autocast
from unlearn_bench.training import DivergedError


class Generator(nn.Sequential):
    def __init__(self, z_dim: int, channels: int, height: int, width: int):
        if height % 4 or width % 4:
            raise ValueError(f"gkt's generator upsamples x4 and needs H, W divisible by 4, got {height}x{width}")
        h, w = height // 4, width // 4

        def up(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]

        super().__init__(nn.Linear(z_dim, 128 * h * w), nn.Unflatten(1, (128, h, w)), nn.BatchNorm2d(128),
                         *up(128, 128), nn.BatchNorm2d(128), *up(128, 64), nn.Conv2d(64, channels, 3, 1, 1),
                         nn.BatchNorm2d(channels))


def attention(activation: torch.Tensor) -> torch.Tensor:
    return F.normalize(activation.float().pow(2).mean(1).flatten(1))


def kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    return F.kl_div(F.log_softmax(student_logits.float(), 1), F.softmax(teacher_logits.float(), 1),
                    reduction="batchmean")


@contextmanager
def stage_activations(model: Classifier):
    """Collects the outputs of ``model.stage_modules()`` of each forward pass into the yielded list."""
    outputs: list[torch.Tensor] = []
    handles = [m.register_forward_hook(lambda _m, _i, out: outputs.append(out)) for m in model.stage_modules()]
    try:
        yield outputs
    finally:
        for handle in handles:
            handle.remove()


@register_method
class Gkt(Method):
    name = "gkt"
    needs = frozenset({"forget"})
    full_class_only = True

    @dataclass
    class Config(MethodConfig):
        name: str = "gkt"
        z_dim: int = 128  # JiT repo forget_full_class_strategies.py (GKT): z_dim 128
        batch_size: int = 128  # JiT repo (GKT): pseudo-batch 128
        pseudo_batches: int = 1000  # JiT repo (GKT): 1000 pseudo-batches
        generator_steps: int = 2  # JiT repo (GKT): 2 generator iterations per pseudo-batch
        student_steps: int = 15  # JiT repo (GKT): 15 student iterations per pseudo-batch
        threshold: float = 0.01  # JiT repo (GKT): forget-class probability filter 0.01
        beta: float = 5.0  # JiT repo (GKT): attention loss weight 5
        lr: float = 0.01  # SGD, generator and student (JiT repo (GKT): lr 0.01, momentum 0.9)
        max_lr: float = 0.1  # student OneCycle peak (JiT repo (GKT): max_lr 0.1)
        clip: float = 5.0  # JiT repo (GKT): gradient clipping 5
        max_empty: int = 100  # harness choice: empty pseudo-batches in a row before the generator is rolled back
        snapshot_every: int = 50  # harness choice: pseudo-batches between generator snapshots

    def unlearn(self, model: Classifier, data: DataView) -> Classifier:
        cfg = self.cfg
        forget_x, forget_y = data.split("forget")
        forget_classes = forget_y.unique()
        teacher = model.eval().requires_grad_(False)
        student = copy.deepcopy(teacher).requires_grad_(True).train()
        for module in student.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.xavier_uniform_(module.weight)
        generator = Generator(cfg.z_dim, *forget_x.shape[1:]).to(data.device).train()

        def generator_optimizer() -> torch.optim.Optimizer:  # also after a rollback: drops the momentum
            return torch.optim.SGD(generator.parameters(), lr=cfg.lr, momentum=0.9)

        gen_opt = generator_optimizer()
        student_opt = torch.optim.SGD(student.parameters(), lr=cfg.lr, momentum=0.9)
        schedule = torch.optim.lr_scheduler.OneCycleLR(student_opt, cfg.max_lr,
                                                       total_steps=cfg.pseudo_batches * cfg.student_steps)
        seed = torch.randint(2**62, (), generator=data.generator).item()
        z_gen = torch.Generator(data.device).manual_seed(seed)

        def step(net: nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), cfg.clip)
            optimizer.step()

        def gated_images(z: torch.Tensor) -> torch.Tensor:
            images = teacher.to_pixels(generator(z))
            with torch.no_grad():
                p_forget = F.softmax(teacher(images).float(), 1)[:, forget_classes].amax(1)
            return images[p_forget <= cfg.threshold]

        done, empty, restores = 0, 0, 0
        snapshot = copy.deepcopy(generator.state_dict())
        while done < cfg.pseudo_batches:
            z = torch.randn(cfg.batch_size, cfg.z_dim, generator=z_gen, device=data.device)
            images = gated_images(z)
            if len(images) < 2:  # BatchNorm needs two samples
                empty += 1
                if empty >= cfg.max_empty:  # the generator makes only the forgotten classes: roll it back
                    generator.load_state_dict(snapshot)
                    gen_opt = generator_optimizer()
                    empty, restores = 0, restores + 1
                    if restores > cfg.pseudo_batches:
                        raise DivergedError("gkt: the generator keeps collapsing onto the forgotten classes")
                continue
            empty = 0
            if done % cfg.snapshot_every == 0:
                snapshot = copy.deepcopy(generator.state_dict())
            for i in range(cfg.generator_steps):
                if i > 0:  # the first step uses the images gated above
                    images = gated_images(z)
                if len(images) < 2:
                    break
                with autocast(data.device, data.amp):
                    step(generator, gen_opt, -kl(student(images), teacher(images)))
            with torch.no_grad():
                images = gated_images(z)
                with stage_activations(teacher) as acts, autocast(data.device, data.amp):
                    teacher_logits = teacher(images)
                teacher_att = [attention(a) for a in acts]
            if len(images) < 2:
                continue
            for _ in range(cfg.student_steps):
                with stage_activations(student) as acts, autocast(data.device, data.amp):
                    logits = student(images)
                    at_loss = sum((attention(s) - t).pow(2).mean() for s, t in zip(acts, teacher_att))
                    loss = kl(logits, teacher_logits) + cfg.beta * at_loss
                step(student, student_opt, loss)
                schedule.step()
            done += 1
        return student.eval()
