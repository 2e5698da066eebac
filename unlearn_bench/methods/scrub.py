"""SCRUB (Kurmanji, Triantafillou, Hayes and Triantafillou, Towards Unbounded Machine Unlearning, NeurIPS 2023; its
max-step / min-step objective), a baseline of the Forget Vector and JiT papers. Student = the original model,
teacher = a frozen copy of it. Each epoch: in the first ``max_epochs`` epochs a max-step pass over D_f moving the
student away from the teacher (minimise -KL(teacher || student)), then a min-step pass over D_r: gamma * CE + alpha
* KL(teacher || student). KL on temperature-T softmaxes scaled by T^2 (Hinton distillation), as in the SCRUB code
(repo meghdadk/SCRUB, distiller_zoo DistillKL). Precision: the KL is computed in fp32 from the logits; the forward
passes stay under the recipe's autocast. Unlike JiT's loss, the KL compares two different models (student in
training mode, teacher a frozen copy in eval mode) whose outputs differ by more than bf16's rounding once the first
steps are taken, and the min step is dominated by gamma * CE; so the forward passes are not forced to fp32.

The official code (meghdadk/SCRUB) was read against this: the losses (thirdparty/repdistiller/helper/loops.py:137-265,
distiller_zoo/KD.py:13-17) and the epoch loop (small_scale_unlearning.ipynb: max step in the first ``msteps``
epochs, then the min step) are the same; ``method.fidelity=official`` adds its step decay of the learning rate
(``OFFICIAL``)."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.methods.base import DataView, Method, SGDConfig, is_official, register_method
from unlearn_bench.methods.common import fit_sgd
from unlearn_bench.training import Pass, cross_entropy


def distill_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(softmax(teacher/T) || softmax(student/T)) * T^2, averaged over the batch."""
    log_p = F.log_softmax(student_logits.float() / temperature, dim=1)
    q = F.softmax(teacher_logits.float() / temperature, dim=1)
    return F.kl_div(log_p, q, reduction="batchmean") * temperature**2


def scrub_passes(student: nn.Module, data: DataView, cfg: Scrub.Config) -> list[Pass]:
    """The max-step pass over D_f (first ``cfg.max_epochs`` epochs) and the min-step pass over D_r, both against
    a frozen copy of ``student`` as it is now (the teacher)."""
    teacher = copy.deepcopy(student).eval().requires_grad_(False)

    def max_step(net: nn.Module, batch) -> torch.Tensor:
        x, _ = batch
        with torch.no_grad():
            target = teacher(x)
        return -distill_kl(net(x), target, cfg.temperature)

    def min_step(net: nn.Module, batch) -> torch.Tensor:
        x, y = batch
        with torch.no_grad():
            target = teacher(x)
        logits = net(x)
        return cfg.gamma * cross_entropy(logits, y) + cfg.alpha * distill_kl(logits, target, cfg.temperature)

    return [Pass(data.loader("forget", cfg.forget_batch_size), max_step, first_epochs=cfg.max_epochs),
            Pass(data.loader("retain", cfg.batch_size), min_step)]


# SCRUB repo small_scale_unlearning.ipynb: args.lr_decay_epochs = [5, 8, 9], args.lr_decay_rate = 0.1, applied at the
# start of every epoch (1-based) by thirdparty/repdistiller/helper/util.py:22-30 (adjust_learning_rate).
OFFICIAL_LR_DECAY_EPOCHS, OFFICIAL_LR_DECAY_RATE = (5, 8, 9), 0.1
OFFICIAL = ("learning rate x0.1 for each of the epochs 5, 8, 9 already passed (epoch counted from 1): SCRUB repo "
            "thirdparty/repdistiller/helper/util.py:22-30, small_scale_unlearning.ipynb (lr_decay_epochs [5, 8, 9], "
            "sgda_adjust_learning_rate at the start of each epoch)",)


def official_lr_factor(epoch: float) -> float:
    """util.py's step decay at 0-based ``epoch`` (the code's epoch is ``epoch + 1``)."""
    return OFFICIAL_LR_DECAY_RATE ** sum(epoch + 1 > m for m in OFFICIAL_LR_DECAY_EPOCHS)


@register_method
class Scrub(Method):
    name = "scrub"
    needs = frozenset({"forget", "retain"})
    official = OFFICIAL

    @dataclass
    class Config(SGDConfig):
        name: str = "scrub"  # registry name
        epochs: int = 3  # SCRUB's sgda_epochs
        max_epochs: int = 2  # SCRUB's msteps: epochs that include the max-step pass over D_f
        lr: float = 5e-4  # SCRUB repo: sgda_learning_rate
        batch_size: int = 128  # D_r batches (min steps)
        forget_batch_size: int = 32  # D_f batches (max steps)
        temperature: float = 4.0  # SCRUB repo: kd_T
        alpha: float = 0.001  # KL weight in the min step
        gamma: float = 0.99  # CE weight in the min step

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        return fit_sgd(model, scrub_passes(model, data, self.cfg), self.cfg, data, self.name,
                       lr_at=official_lr_factor if is_official(self.cfg) else None)
