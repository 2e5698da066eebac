"""Many small reference models of one architecture trained in one vectorised pass.

A benchmark's cost is its reference models: the original and Retrain per seed, the U-LiRA shadows
(unlearn_bench/attacks/ulira.py), the challenge's Retrain population (unlearn_bench/attacks/challenge.py). Here K
models of the same architecture and recipe are stacked (``torch.func.stack_module_state``: every parameter and buffer
becomes one K x ... tensor) and every step runs all of them at once, on one of two paths (``stacked_losses`` picks):

* ``grouped`` for ``small_cnn`` and ``lenet5`` (unlearn_bench/stacked.py): the K models written out as one network,
  their channels side by side, convolutions with ``groups=K``, BatchNorm over the K*C channels, linear layers as
  ``baddbmm``;
* ``vmap`` for every other architecture: ``torch.func.vmap`` over ``functional_call`` of the model itself.

Whether it pays depends on the device and the model (scripts/bench_ensemble.py, results/bench/ensemble_cpu.md): on
one CPU thread a small model's step is already bound by its convolutions' arithmetic and its activations' memory
traffic, not by per-operator overhead, so stacking gains little (lenet5) or nothing (small_cnn on digits); the grouped
path is never slower than vmap there.

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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from unlearn_bench.cache import ModelCache, config_hash
from unlearn_bench.config import TrainConfig
from unlearn_bench.runtime import autocast
from unlearn_bench.stacked import stacked_logits
from unlearn_bench.training import Batches, DivergedError, cross_entropy, lr_factor

__all__ = ["PATHS", "EnsembleJob", "build_cached", "fit_ensemble", "stacked_losses"]

log = logging.getLogger(__name__)

PATHS = ("grouped", "vmap")
Tensors = dict[str, torch.Tensor]
# (stacked parameters, stacked buffers, inputs K x B x ..., labels K x B) -> the K models' mean losses
StackedLosses = Callable[[Tensors, Tensors, torch.Tensor, torch.Tensor], torch.Tensor]


@torch.no_grad()
def _sgd(params: list[torch.Tensor], grads: list[torch.Tensor], bufs: list[torch.Tensor], lr: float,
         momentum: float, weight_decay: float, nesterov: bool) -> None:
    """``torch.optim.SGD`` (dampening 0) on stacked tensors, in place, in a handful of ``_foreach`` calls (one
    Python round trip per operation, not per tensor). A zero momentum buffer gives torch's first step (buffer =
    d_p), so one buffer per row is exact from step one."""
    d_p = torch._foreach_add(grads, params, alpha=weight_decay) if weight_decay != 0 else grads
    if momentum != 0:
        torch._foreach_mul_(bufs, momentum)
        torch._foreach_add_(bufs, d_p)
        d_p = torch._foreach_add(d_p, bufs, alpha=momentum) if nesterov else bufs
    torch._foreach_add_(params, d_p, alpha=-lr)


def stacked_losses(model: nn.Module, label_smoothing: float, path: str | None = None) -> tuple[str, StackedLosses]:
    """The per-model losses of K stacked copies of ``model`` and the path that computes them: ``"grouped"`` (the
    grouped-convolution network of unlearn_bench/stacked.py, for small_cnn and lenet5) or ``"vmap"`` (any
    architecture); ``path`` None picks grouped where it applies, a name forces it (benchmarks and tests)."""
    if path not in (None, *PATHS):
        raise ValueError(f"path={path!r}; allowed: None (automatic), {', '.join(PATHS)}")
    logits_fn = stacked_logits(model) if path != "vmap" else None
    if path == "grouped" and logits_fn is None:
        raise ValueError(f"the grouped path has no stacked form of {type(model).__name__}; use vmap")
    if logits_fn is not None:
        def grouped(p: Tensors, b: Tensors, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            logits = logits_fn(p, b, x).flatten(0, 1).float()
            per_example = F.cross_entropy(logits, y.flatten(), reduction="none", label_smoothing=label_smoothing)
            return per_example.view(y.shape).mean(1)
        return "grouped", grouped
    base = copy.deepcopy(model).to("meta")

    def one_loss(p: Tensors, b: Tensors, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return cross_entropy(functional_call(base, (p, b), (x,)), y, label_smoothing=label_smoothing)

    return "vmap", vmap(one_loss, randomness="error")


def _next_batches(iterators: list[Iterator], active: list[int]) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """The next batch of every active model that has one left this epoch."""
    batches = {}
    for k in active:
        batch = next(iterators[k], None)
        if batch is not None:
            batches[k] = batch
    return batches


def _by_shape(batches: dict[int, tuple[torch.Tensor, torch.Tensor]]) -> list[list[int]]:
    """The models grouped by batch shape (a ragged last batch or a finished model splits the stack)."""
    groups: dict[tuple, list[int]] = {}
    for k in sorted(batches):
        groups.setdefault(tuple(batches[k][0].shape), []).append(k)
    return list(groups.values())


def fit_ensemble(models: Sequence[nn.Module], sources: Sequence[Batches], recipe: TrainConfig,
                 desc: str = "ensemble", path: str | None = None) -> list[nn.Module]:
    """Train ``models[k]`` on ``sources[k]`` (a re-iterable epoch of ``(x, y)`` batches) with ``recipe``, all in one
    vectorised pass (``path``: see ``stacked_losses``); the models are updated in place, put in eval mode and
    returned. Raises DivergedError when a model's mean loss of an epoch is not finite (one host sync per epoch)."""
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
    path, batched_losses = stacked_losses(models[0], float(recipe.label_smoothing), path)
    log.debug("%s: %d models on the %s path", desc, num, path)
    sgd = dict(momentum=float(recipe.momentum), weight_decay=float(recipe.weight_decay),
               nesterov=bool(recipe.nesterov))
    amp = bool(recipe.amp)
    for epoch in range(int(recipe.epochs)):
        lr = float(recipe.lr) * lr_factor(recipe, epoch)
        running = torch.zeros(num, device=device)
        seen = torch.zeros(num, device=device)
        iterators = [iter(source()) for source in sources]
        active = list(range(num))
        while active:
            batches = _next_batches(iterators, active)
            active = sorted(batches)
            for members in _by_shape(batches):
                x = torch.stack([batches[k][0] for k in members]).contiguous()
                y = torch.stack([batches[k][1] for k in members])
                if len(members) == num:
                    rows, p_g, b_g, m_g = None, params, buffers, momentum_bufs
                else:  # copies of the members' rows, written back after the step
                    rows = torch.tensor(members, device=device)
                    p_g = {n: p.detach()[rows].requires_grad_() for n, p in params.items()}
                    b_g = {n: b[rows] for n, b in buffers.items()}
                    m_g = {n: m[rows] for n, m in momentum_bufs.items()}
                with autocast(device, amp):
                    losses = batched_losses(p_g, b_g, x, y)
                grads = torch.autograd.grad(losses.sum(), list(p_g.values()))
                _sgd(list(p_g.values()), list(grads), list(m_g.values()), lr, **sgd)
                with torch.no_grad():
                    if rows is not None:
                        for stacked, group in ((params, p_g), (buffers, b_g), (momentum_bufs, m_g)):
                            for n, t in group.items():
                                stacked[n][rows] = t
                    at = slice(None) if rows is None else rows
                    running[at] += losses.detach().float()
                    seen[at] += 1
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
