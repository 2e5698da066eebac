"""Many small reference models of one architecture trained in one vectorised pass.

A benchmark's cost is its reference models: the original and Retrain per seed, the U-LiRA shadows
(unlearn_bench/ulira.py), the challenge's Retrain population (unlearn_bench/challenge_eval.py). Trained one after the
other, a small model spends most of a step in per-operator overhead; here K models of the same architecture and recipe
are stacked (``torch.func.stack_module_state``) and every step runs all of them at once with ``torch.func.vmap`` over
``functional_call`` (a convolution over K stacked weights becomes one grouped convolution).

Semantics are those of ``training.train_from_scratch`` per model: each model keeps its own initial weights, its own
batch source (data subset, order and augmentation from its own generator), SGD with the recipe's momentum, weight decay
and Nesterov flag, the recipe's per-epoch learning-rate schedule, cross-entropy with label smoothing, BatchNorm in
training mode with its own running statistics, bf16 autocast when ``recipe.amp``. Models whose subsets differ in size
(U-LiRA's halves) have different batch counts or a different last batch: at each step the models are grouped by batch
shape and each group runs vectorised (the stacked rows of the others are untouched, as if they did not step). The
per-model loss is ``mean over its batch``; the vectorised backward takes the gradient of the sum over models, which is
each model's own gradient (the models share no parameter). Results equal sequential training up to floating-point
summation order (tests/test_ensemble.py).

Not for: models with dropout or other in-forward randomness (``vmap(randomness="error")`` refuses them), a method's
unlearning loop (arbitrary code per method), or models too large to hold K copies (a ResNet-18 on a GPU is better
served by a larger batch than by stacking).
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from unlearn_bench.cache import ModelCache, config_hash
from unlearn_bench.config import TrainConfig
from unlearn_bench.runtime import autocast
from unlearn_bench.training import Batches, DivergedError, cross_entropy, lr_factor

__all__ = ["EnsembleJob", "build_cached", "fit_ensemble"]

log = logging.getLogger(__name__)


@torch.no_grad()
def _sgd_rows(params: dict[str, torch.Tensor], grads: dict[str, torch.Tensor], bufs: dict[str, torch.Tensor],
              rows: torch.Tensor | None, lr: float, momentum: float, weight_decay: float, nesterov: bool) -> None:
    """``torch.optim.SGD`` (dampening 0) on the stacked rows ``rows`` (None = all) of every parameter, in place. A
    zero momentum buffer gives torch's first step (buffer = d_p), so one buffer per row is exact from step one."""
    for name, p in params.items():
        if rows is None:
            p_r, g_r, b_r = p, grads[name], bufs[name]
        else:
            p_r, g_r, b_r = p[rows], grads[name], bufs[name][rows]
        d_p = g_r.add(p_r, alpha=weight_decay) if weight_decay != 0 else g_r
        if momentum != 0:
            b_r.mul_(momentum).add_(d_p)
            d_p = d_p.add(b_r, alpha=momentum) if nesterov else b_r
        p_r.add_(d_p, alpha=-lr)
        if rows is not None:
            p[rows] = p_r
            bufs[name][rows] = b_r


def fit_ensemble(models: Sequence[nn.Module], sources: Sequence[Batches], recipe: TrainConfig,
                 desc: str = "ensemble") -> list[nn.Module]:
    """Train ``models[k]`` on ``sources[k]`` (a re-iterable epoch of ``(x, y)`` batches) with ``recipe``, all in one
    vectorised pass; the models are updated in place, put in eval mode and returned. Raises DivergedError when a
    model's mean loss of an epoch is not finite (one host sync per epoch)."""
    if len(models) != len(sources):
        raise ValueError(f"{len(models)} models but {len(sources)} batch sources")
    if not models:
        return []
    num = len(models)
    for model in models:
        model.train()
    device = next(models[0].parameters()).device
    params, buffers = stack_module_state(list(models))  # detached copies, K x ...; params require grad
    # Plain (contiguous) layout: vmap has no batching rule for the as_strided_ a channels_last pooling calls.
    params = {n: p.detach().contiguous().requires_grad_() for n, p in params.items()}
    buffers = {n: b.contiguous() for n, b in buffers.items()}
    momentum_bufs = {n: torch.zeros_like(p) for n, p in params.items()}
    base = copy.deepcopy(models[0]).to("meta")
    criterion_ls = float(recipe.label_smoothing)

    def one_loss(p: dict, b: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return cross_entropy(functional_call(base, (p, b), (x,)), y, label_smoothing=criterion_ls)

    batched_loss = vmap(one_loss, randomness="error")
    amp = bool(recipe.amp)
    for epoch in range(int(recipe.epochs)):
        lr = float(recipe.lr) * lr_factor(recipe, epoch)
        running = torch.zeros(num, device=device)
        seen = torch.zeros(num, device=device)
        iterators = [iter(source()) for source in sources]
        active = list(range(num))
        while active:
            batches: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
            for k in active:
                batch = next(iterators[k], None)
                if batch is not None:
                    batches[k] = batch
            active = sorted(batches)
            groups: dict[tuple, list[int]] = {}
            for k in active:
                groups.setdefault(tuple(batches[k][0].shape), []).append(k)
            for members in groups.values():
                x = torch.stack([batches[k][0] for k in members]).contiguous()
                y = torch.stack([batches[k][1] for k in members])
                if len(members) == num:
                    rows, p_g, b_g = None, params, buffers
                else:
                    rows = torch.tensor(members, device=device)
                    p_g = {n: p.detach()[rows].requires_grad_() for n, p in params.items()}
                    b_g = {n: b[rows] for n, b in buffers.items()}
                with autocast(device, amp):
                    losses = batched_loss(p_g, b_g, x, y)
                grads = torch.autograd.grad(losses.sum(), list(p_g.values()))
                _sgd_rows(params, dict(zip(p_g, grads)), momentum_bufs, rows, lr, float(recipe.momentum),
                          float(recipe.weight_decay), bool(recipe.nesterov))
                with torch.no_grad():
                    if rows is None:
                        running += losses.detach().float()
                        seen += 1
                    else:
                        for n, b in b_g.items():
                            buffers[n][rows] = b
                        running[rows] += losses.detach().float()
                        seen[rows] += 1
        mean = (running / seen.clamp(min=1)).tolist()  # the epoch's one host sync
        bad = [k for k, v in enumerate(mean) if not math.isfinite(v)]
        if bad:
            raise DivergedError(f"{desc}: loss of model(s) {bad} became non-finite in epoch {epoch}")
        log.debug("%s epoch %d: mean losses %s", desc, epoch, [f"{v:.3f}" for v in mean])
    with torch.no_grad():
        for k, model in enumerate(models):
            for n, t in model.named_parameters():
                t.copy_(params[n][k])
            for n, t in model.named_buffers():
                t.copy_(buffers[n][k])
    return [model.eval() for model in models]


@dataclass
class EnsembleJob:
    """One reference model for ``build_cached``: cache ``kind`` and ``payload`` (the same key the sequential code
    uses) and ``prepare()``, which seeds exactly as the sequential code does before it trains and returns the
    initialised model and its batch source."""

    kind: str
    payload: dict
    prepare: Callable[[], tuple[nn.Module, Batches]]


def _is_cached(cache: ModelCache, job: EnsembleJob, probe: nn.Module) -> bool:
    weights, meta_path = cache.paths(job.kind, config_hash(job.payload))
    return cache._load(probe, weights, meta_path) is not None  # checksum-verified, as load_or_build


def build_cached(cache: ModelCache, jobs: Sequence[EnsembleJob], new_model: Callable[[], nn.Module],
                 recipe: TrainConfig, max_models: int = 16, desc: str = "ensemble") -> int:
    """Train every job whose model is not in ``cache`` yet, ``max_models`` at a time in one vectorised pass, and store
    each under its own key through ``ModelCache.load_or_build`` (so a concurrent job's copy wins, as today). Later
    ``load_or_build`` calls of the sequential code then load them. Returns the number of models trained."""
    missing = [job for job in jobs if not _is_cached(cache, job, new_model())]
    for start in range(0, len(missing), max(1, max_models)):
        chunk = missing[start:start + max(1, max_models)]
        prepared = [job.prepare() for job in chunk]
        trained = fit_ensemble([m for m, _ in prepared], [s for _, s in prepared], recipe,
                               desc=f"{desc} {start + 1}-{start + len(chunk)}/{len(missing)}")
        for job, model in zip(chunk, trained):
            cache.load_or_build(job.kind, job.payload, new_model(), lambda model=model: model)
    if missing:
        log.info("%s: trained %d of %d models vectorised", desc, len(missing), len(jobs))
    return len(missing)
