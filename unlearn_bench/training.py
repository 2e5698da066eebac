"""The shared optimisation loop, ``fit``: the original model and Retrain (``train_from_scratch``), the diffusion models'
fine-tuning and most gradient-based unlearning methods supply passes and losses to it, not a loop of their own.
Four loops live elsewhere because ``fit``'s one-model, one-optimiser epoch does not fit them: ``ensemble.fit_ensemble``
(many reference models in one vectorised pass), ``methods.unsir.class_noise`` (optimises input noise, not a model;
UNSIR and EMMN), GKT's alternating generator and student steps (``methods/gkt.py``) and the relearning attack's
measured steps (``attacks.relearn_curve``)."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from unlearn_bench.config import TrainConfig
from unlearn_bench.errors import ConfigError
from unlearn_bench.runtime import autocast

Batches = Callable[[], Iterable[Any]]
Criterion = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (logits, labels) -> loss
Objective = Callable[[nn.Module, Any], torch.Tensor]  # (model, batch) -> loss


@dataclass
class Pass:
    """One sweep over a data source inside an epoch: ``batches()`` yields a fresh epoch of batches
    (usually ``(images, labels)``); ``objective(model, batch)`` is minimised on each."""

    batches: Batches
    objective: Objective
    first_epochs: int | None = None  # run only in the first n epochs (e.g. SCRUB's max-steps); None = all


def paired(primary: Batches, *secondary: Batches) -> Batches:
    """Each batch of ``primary`` with the next batch of every ``secondary`` source, which restarts when
    exhausted (e.g. every D_r batch with a D_f batch)."""

    def next_batch(sources: list, k: int) -> Any:
        try:
            return next(sources[k])
        except StopIteration:
            sources[k] = iter(secondary[k]())
            return next(sources[k])

    def epoch() -> Iterable[tuple[Any, ...]]:
        sources = [iter(s()) for s in secondary]
        for first in primary():
            yield (first, *(next_batch(sources, k) for k in range(len(secondary))))

    return epoch


def supervised(criterion: Criterion, weight: float = 1.0) -> Objective:
    """``weight * criterion(model(x), y)`` on ``(x, y)`` batches."""
    return lambda model, batch: weight * criterion(model(batch[0]), batch[1])


class DivergedError(FloatingPointError):
    """The loss became NaN or infinite."""


def sgd(model: nn.Module, lr: float, momentum: float, weight_decay: float, nesterov: bool = False) -> torch.optim.SGD:
    """SGD over every parameter; the values come from a config (their defaults: ``config.SGDDefaults``)."""
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay,
                           nesterov=nesterov)


def lr_factor(recipe: TrainConfig, epoch: float) -> float:
    """Learning-rate multiplier at an epoch: linear warm-up, then the recipe's schedule."""
    if recipe.warmup_epochs > 0 and epoch < recipe.warmup_epochs:
        return (epoch + 1) / recipe.warmup_epochs
    if recipe.schedule == "cosine":
        span = max(recipe.epochs - recipe.warmup_epochs, 1)
        return 0.5 * (1 + math.cos(math.pi * (epoch - recipe.warmup_epochs) / span))
    if recipe.schedule == "multistep":
        return recipe.gamma ** sum(epoch >= m for m in recipe.milestones)
    if recipe.schedule == "constant":
        return 1.0
    raise ConfigError(f"train.schedule={recipe.schedule!r} is not supported; allowed: cosine, multistep, constant")


EpochObserver = Callable[[nn.Module, int], None]
_epoch_observer: contextvars.ContextVar[EpochObserver | None] = contextvars.ContextVar("epoch_observer", default=None)


@contextlib.contextmanager
def observe_epochs(observer: EpochObserver) -> Iterator[None]:
    """Call ``observer(model, epoch)`` after every epoch of every ``fit`` inside the block (``eval.every_epoch``:
    the runner evaluates the model being unlearned after each epoch without any method knowing). The model is put
    back in its training mode afterwards."""
    token = _epoch_observer.set(observer)
    try:
        yield
    finally:
        _epoch_observer.reset(token)


class StepHook:
    """Called around every optimiser step (e.g. a weight-saliency mask)."""

    def before_step(self, model: nn.Module) -> None: ...

    def after_step(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None: ...


def fit(
    model: nn.Module,
    passes: list[Pass],
    epochs: int,
    optimizer: torch.optim.Optimizer,
    lr_at: Callable[[float], float] | None = None,
    hook: StepHook | None = None,
    amp: bool = False,
    desc: str = "train",
    progress: bool = True,
    train_mode: bool = True,
    accumulate: bool = False,
) -> int:
    """Run ``epochs`` epochs; each epoch runs every pass in order. ``lr_at(epoch)`` scales the
    optimiser's base learning rates. ``train_mode=False`` keeps the model in eval mode (frozen BatchNorm
    statistics, no dropout). ``accumulate``: gradients are zeroed once, before the first step, and never again, so
    step k applies the sum of the gradients of batches 1..k (JiT's official code; methods/jit.py). Returns the
    number of optimiser steps taken."""
    device = next(model.parameters()).device
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    steps = 0
    model.train(train_mode)
    optimizer.zero_grad(set_to_none=True)
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    for epoch in bar:
        if lr_at is not None:  # stepped per epoch, as the SalUn repo's schedulers
            for group, base in zip(optimizer.param_groups, base_lrs):
                group["lr"] = base * lr_at(epoch)
        seen, running = 0, torch.zeros((), device=device)
        for p in passes:
            if p.first_epochs is not None and epoch >= p.first_epochs:
                continue
            for batch in p.batches():
                with autocast(device, amp):
                    loss = p.objective(model, batch)
                if not accumulate:
                    optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if hook is not None:
                    hook.before_step(model)
                optimizer.step()
                if hook is not None:
                    hook.after_step(model, optimizer)
                steps += 1
                seen += 1
                running += loss.detach()
        # One host sync per epoch: a NaN/inf loss anywhere in the epoch is caught here.
        mean_loss = running.item() / max(seen, 1)
        if not math.isfinite(mean_loss):
            raise DivergedError(f"{desc}: loss became {mean_loss} in epoch {epoch}")
        bar.set_postfix(loss=f"{mean_loss:.3f}")
        if (observer := _epoch_observer.get()) is not None:
            observer(model, epoch)
            model.train(train_mode)
    for group, base in zip(optimizer.param_groups, base_lrs):
        group["lr"] = base
    return steps


def cross_entropy(logits: torch.Tensor, y: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    return F.cross_entropy(logits.float(), y, label_smoothing=label_smoothing)


def train_from_scratch(model: nn.Module, batches: Batches, recipe: TrainConfig, desc: str,
                       progress: bool = True) -> nn.Module:
    """Train with the recipe (SGD + schedule) on one data source; used for the original and Retrain."""
    optimizer = sgd(model, recipe.lr, recipe.momentum, recipe.weight_decay, recipe.nesterov)
    criterion = functools.partial(cross_entropy, label_smoothing=recipe.label_smoothing)
    fit(model, [Pass(batches, supervised(criterion))], recipe.epochs, optimizer,
        lr_at=lambda e: lr_factor(recipe, e), amp=recipe.amp, desc=desc, progress=progress)
    return model.eval()
