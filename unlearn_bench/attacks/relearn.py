"""``relearn`` (Siddiqui et al., "From Dormant to Deleted: Tamper-Resistant Unlearning Through Weight-Space
Regularization", 2025, and its few-shot variant): a copy of the model fine-tuned with ``eval.relearn.budget``
(``RELEARN_BUDGETS``: ``paper``, their 100 epochs of Adam; ``cheap``, 20 plain-SGD steps) (a) on D_r mini-batches
only and (b) on ``k_shot`` examples of D_f, its batch-norm running statistics kept (k examples of one class cannot
estimate them); the forget accuracy (100 - UA) before, every ``eval_every`` steps and after the last: on D_f for
(a), on the other D_f examples for (b). Metrics: ``Relearn_Dr`` / ``Relearn_Df`` (forget accuracy after the last
step, %), ``Relearn_Dr_AUC`` / ``Relearn_Df_AUC`` (mean forget accuracy over the attack,
``metrics.relearn.curve_area``), and the L2 distance of all weights to the original, ``W_dist_original``
(``weight_distance_to_original``; not to Retrain: unaligned, it measures the distance between two initialisations).
Arrays: the curves ``relearn_dr_curve`` / ``relearn_df_curve`` and the steps they were measured at, also the
original's and Retrain's (prefixed)."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import nn

from unlearn_bench.attacks.base import Attack, AttackContext, Scores
from unlearn_bench.attacks.common import Stream, at_least, derive_seed
from unlearn_bench.errors import ConfigError
from unlearn_bench.evaluation import predict
from unlearn_bench.metrics.accuracy import accuracy
from unlearn_bench.metrics.relearn import curve_area
from unlearn_bench.metrics.sure import weight_distance
from unlearn_bench.runtime import autocast, seed_everything


def _endless(batches: Callable[[], Iterator[tuple[torch.Tensor, torch.Tensor]]]
             ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    while True:
        yield from batches()


@dataclass(frozen=True)
class RelearnBudget:
    """The fine-tuning of a relearning attack: ``epochs`` over the fine-tuned set (or a fixed number of ``steps``),
    the optimiser, its rate, the batch size, a cosine decay to lr / 10 over the attack or none, and how often the
    forget accuracy is measured (every ``eval_every`` steps, and after the last)."""

    optimizer: str
    lr: float
    batch_size: int
    eval_every: int
    epochs: int | None = None
    steps: int | None = None
    cosine: bool = False

    def steps_for(self, n: int) -> int:
        return self.steps if self.steps is not None else self.epochs * math.ceil(n / self.batch_size)


# ``eval.relearn.budget``. paper: Siddiqui et al.'s relearning (their code shoaibahmed/vision_relearning:
# scripts/train.sh:31 100 epochs, :85 batch 128, :101-102 lr 1e-5 without weight decay; vision_unlearner.py:1834 Adam,
# :1466-1469 cosine decay to lr / 10, scripts/train.sh:30 evaluation every 100 steps). cheap: the harness's earlier
# 20 plain-SGD steps (lr 0.01, batch 64), measured after every step, for a quick look.
RELEARN_BUDGETS = {
    "paper": RelearnBudget(optimizer="adam", lr=1e-5, batch_size=128, eval_every=100, epochs=100, cosine=True),
    "cheap": RelearnBudget(optimizer="sgd", lr=0.01, batch_size=64, eval_every=1, steps=20),
}


def _train_mode(model: nn.Module, keep_norm_statistics: bool) -> nn.Module:
    model.train()
    if keep_norm_statistics:
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()
    return model


def relearn_curve(model: nn.Module, batches: Iterator[tuple[torch.Tensor, torch.Tensor]], steps: int,
                  budget: RelearnBudget, eval_x: torch.Tensor, eval_y: np.ndarray, batch_size: int, amp: bool,
                  keep_norm_statistics: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy (%) on ``eval_x`` of a copy of ``model`` before and during ``steps`` steps of ``budget``'s optimiser
    (cross-entropy, no weight decay) on the next batches of ``batches``, and the steps it was measured at (0, every
    ``budget.eval_every`` steps, the last); ``model`` itself is left unchanged. ``keep_norm_statistics``: batch-norm
    layers normalise with, and keep, their running statistics (their affine weights still train)."""
    model = copy.deepcopy(model)
    optimizer_cls = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}[budget.optimizer]
    optimizer = optimizer_cls(model.parameters(), lr=budget.lr)
    schedule = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps, eta_min=budget.lr / 10)
                if budget.cosine else None)
    curve, at = [accuracy(predict(model, eval_x, batch_size, amp), eval_y)], [0]
    _train_mode(model, keep_norm_statistics)
    for step, (xb, yb) in zip(range(1, steps + 1), batches):
        with autocast(xb.device, amp):
            loss = F.cross_entropy(model(xb).float(), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if schedule is not None:
            schedule.step()
        if step % budget.eval_every == 0 or step == steps:
            curve.append(accuracy(predict(model, eval_x, batch_size, amp), eval_y))
            at.append(step)
            _train_mode(model, keep_norm_statistics)  # predict leaves every module in train mode
    return np.array(curve), np.array(at)


def _parameters(model: nn.Module) -> dict[str, np.ndarray]:
    """Trainable parameters by name, without a wrapper's prefix (``...net.``)."""
    return {k.rsplit("net.", 1)[-1]: v.detach().float().cpu().numpy() for k, v in model.named_parameters()}


def weight_distance_to_original(model: nn.Module, original: nn.Module) -> float:
    """L2 distance of all the architecture's weights to the original's (Siddiqui et al. 2025: how far unlearning moved
    the model, which predicts its resistance to relearning). A wrapper's own parameters (Forget Vector's input
    perturbation) are not weights of the architecture and are left out. The distance to Retrain is not reported: two
    independently initialised networks differ by a permutation of their hidden units, so without weight-matching
    alignment (Ainsworth, Hayase, Srinivasa, "Git Re-Basin: Merging Models modulo Permutation Symmetries", ICLR 2023)
    it measures the init-to-init distance, and that alignment needs a permutation spec of every architecture
    (residual streams, BatchNorm, attention heads)."""
    mine, theirs = _parameters(model), _parameters(original)
    return weight_distance({k: mine[k] for k in theirs}, theirs)


class Relearn(Attack):
    name, cost_key = "relearn", "Relearn_s"
    shared_arrays = ("relearn_dr_curve", "relearn_df_curve", "relearn_dr_steps", "relearn_df_steps")

    def check(self, cfg: DictConfig) -> None:
        if cfg.eval.relearn.budget not in RELEARN_BUDGETS:
            raise ConfigError(f"eval.relearn.budget={cfg.eval.relearn.budget!r} is not supported; allowed: "
                              f"{', '.join(RELEARN_BUDGETS)}")
        at_least(cfg, "eval.relearn.k_shot", 1)

    def score(self, ctx: AttackContext, role: str, references: dict[str, Scores]) -> Scores:
        rcfg, task, amp = ctx.cfg.eval.relearn, ctx.task, bool(ctx.cfg.train.amp)
        budget = RELEARN_BUDGETS[rcfg.budget]
        forget_x, forget_y = task.split("forget")
        k_shot = int(rcfg.k_shot)
        if k_shot >= len(forget_y):
            raise ConfigError(f"eval.relearn.k_shot={k_shot} must be smaller than the forget set ({len(forget_y)} "
                              "examples): the few-shot attack is scored on the D_f examples it does not see")
        model = ctx.model(role)
        # The same batches and shots for every model (seeded by the run's seed, not by the role): a paired comparison.
        generator = seed_everything(derive_seed(ctx.cfg.seed, rcfg.seed, Stream.RELEARN_DR))
        retain_batches = _endless(lambda: task.loader("retain", budget.batch_size, generator=generator))
        dr_curve, dr_at = relearn_curve(model, retain_batches, budget.steps_for(len(task.split("retain")[1])), budget,
                                        forget_x, forget_y.cpu().numpy(), ctx.batch_size, amp)
        rng = np.random.default_rng(derive_seed(ctx.cfg.seed, rcfg.seed, Stream.RELEARN_DF))
        shots = np.zeros(len(forget_y), dtype=bool)
        shots[rng.choice(len(forget_y), k_shot, replace=False)] = True
        shot_idx, rest_idx = (torch.from_numpy(np.flatnonzero(m)).to(forget_y.device) for m in (shots, ~shots))
        shot_generator = seed_everything(derive_seed(ctx.cfg.seed, rcfg.seed, Stream.RELEARN_DF))
        shot_batches = _endless(lambda: task.batches(forget_x[shot_idx], forget_y[shot_idx], budget.batch_size,
                                                     generator=shot_generator))
        # Harness choice: k (10) examples of one class would replace the batch-norm running statistics with theirs
        # (a small_cnn original fell from 100% to 13% on the rest of D_f); the few-shot attack trains the weights only.
        df_curve, df_at = relearn_curve(model, shot_batches, budget.steps_for(k_shot), budget, forget_x[rest_idx],
                                        forget_y[rest_idx].cpu().numpy(), ctx.batch_size, amp,
                                        keep_norm_statistics=True)
        metrics = {"Relearn_Dr": float(dr_curve[-1]), "Relearn_Df": float(df_curve[-1]),
                   "Relearn_Dr_AUC": curve_area(dr_curve, dr_at), "Relearn_Df_AUC": curve_area(df_curve, df_at),
                   "W_dist_original": weight_distance_to_original(model, ctx.original)}
        curves = {"relearn_dr_curve": dr_curve, "relearn_df_curve": df_curve}
        return metrics, {**{k: v.astype(np.float32) for k, v in curves.items()},
                         "relearn_dr_steps": dr_at, "relearn_df_steps": df_at}
