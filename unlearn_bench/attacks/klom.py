"""``klom`` (Georgiev et al., "Attribute-to-Delete: Machine Unlearning via Datamodel Matching", ICLR 2025, App. E.1;
Rinberg et al., "Easy Data Unlearning Bench", 2026, EasyDUB): per example the KL divergence of margins
(``metrics.klom``, the reference's binned estimator, KL(Retrain || unlearned)) between N independently trained
originals each unlearned once by the method (index 0 the run's original; the others cached per seed, kind
``klom_original``, and shared by every method) and N Retrains (the challenge's cached Retrain population, shared
with ``eval=challenge`` when the seeds agree; ``eval.klom.ensemble=true`` trains both populations in vectorised
passes). U-LiRA's shadow originals are trained on halves of the train split, so their keys cannot be shared.
``KLoM_f`` (mean over D_f), ``KLoM_f_p50``, ``KLoM_f_p95``, ``KLoM_test`` (mean over the test split). Retrain's own
score is N further retrainings against the population (the floor that N models can resolve, cached per seed); the
original's is the N originals (the method that does nothing). Arrays: ``klom_f`` (per example), also the
original's and Retrain's (prefixed)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from unlearn_bench.attacks.base import Attack, AttackContext, Scores
from unlearn_bench.attacks.challenge import build_retrain_population, population_retrain, population_unlearned
from unlearn_bench.attacks.common import Stream, at_least, derive_seed
from unlearn_bench.cache import ModelCache
from unlearn_bench.data.task import Task
from unlearn_bench.ensemble import EnsembleJob, build_cached
from unlearn_bench.evaluation import predict
from unlearn_bench.metrics.klom import klom, margins
from unlearn_bench.metrics.klom import summarize as summarize_klom
from unlearn_bench.runtime import seed_everything
from unlearn_bench.training import DivergedError, train_from_scratch

log = logging.getLogger(__name__)


def _margins(model: nn.Module, task: Task, batch_size: int, amp: bool) -> dict[str, np.ndarray]:
    """The model's margins on D_f and on the test split (no augmentation, no eval shift)."""
    out = {}
    for split in ("forget", "test"):
        x, y = task.split(split)
        out[split] = margins(predict(model, x, batch_size, amp), y.cpu().numpy())
    return out


def _stack(per_model: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {split: np.stack([m[split] for m in per_model]) for split in ("forget", "test")}


def _original_job(ctx: AttackContext, index: int) -> EnsembleJob:
    """Original ``index`` >= 1 of KLoM's population: the recipe on the whole train split from a fresh initialisation,
    seeded by (seed, eval.klom.seed, index) from its own stream, cached (kind ``klom_original``) under the run's
    original's key plus the index, so every method and scenario of a seed shares it. ``prepare()`` seeds as
    ``original_model`` does (global seed, then the model, then the data order)."""
    recipe, task = ctx.cfg.train, ctx.task

    def prepare() -> tuple[nn.Module, Callable[[], Iterator[tuple[torch.Tensor, torch.Tensor]]]]:
        generator = seed_everything(derive_seed(ctx.cfg.seed, int(ctx.cfg.eval.klom.seed), Stream.KLOM_ORIGINAL, index))
        return ctx.fresh_model(), lambda: task.loader("train", recipe.batch_size, generator=generator)

    payload = {**ctx.original_payload, "klom": {"index": index, "seed": int(ctx.cfg.eval.klom.seed)}}
    return EnsembleJob("klom_original", payload, prepare)


def population_original(ctx: AttackContext, index: int) -> nn.Module:
    """Original ``index`` of KLoM's population: index 0 is the run's original, index i >= 1 ``_original_job``'s."""
    if index == 0:
        return ctx.original
    job = _original_job(ctx, index)
    return ModelCache(ctx.cfg.cache_dir).load_or_build(
        job.kind, job.payload, ctx.fresh_model(),
        lambda: train_from_scratch(*job.prepare(), ctx.cfg.train, desc=f"KLoM original {index}",
                                   progress=ctx.progress))[0]


class KLoM(Attack):
    """KLoM (``metrics.klom``) as EasyDUB computes it: N originals trained independently (index 0 the run's own),
    each unlearned once by the method (the reference's driver, run.py:98-122), against N Retrains (the challenge's
    cached Retrain population); the original's score is the N originals themselves, Retrain's N further retrainings
    (one per original, as the method) against the population."""

    name, cost_key, reruns_method = "klom", "KLoM_s", True
    shared_arrays = ("klom_f",)

    def check(self, cfg: DictConfig) -> None:
        at_least(cfg, "eval.klom.num_models", 2)
        at_least(cfg, "eval.klom.bins", 1)

    def _margins_of(self, ctx: AttackContext, models: Callable[[int], nn.Module]) -> dict[str, np.ndarray]:
        """Margins (models x examples) of ``models(i)`` for i < N, one model in memory at a time."""
        amp, n = bool(ctx.cfg.train.amp), int(ctx.cfg.eval.klom.num_models)
        return _stack([_margins(models(i), ctx.task, ctx.batch_size, amp) for i in range(n)])

    def _originals(self, ctx: AttackContext) -> None:
        """``eval.klom.ensemble``: the missing originals 1 .. N - 1 in vectorised passes, under the sequential keys."""
        jobs = [_original_job(ctx, i) for i in range(1, int(ctx.cfg.eval.klom.num_models))]
        build_cached(ModelCache(ctx.cfg.cache_dir), jobs, ctx.fresh_model, ctx.cfg.train, desc="KLoM originals")

    def score(self, ctx: AttackContext, role: str, references: dict[str, Scores]) -> Scores:
        kcfg = ctx.cfg.eval.klom
        splits, seed = ("forget", "test"), int(kcfg.seed)
        if kcfg.ensemble:
            self._originals(ctx)
        if role == "retrain":  # the population's margins are kept (in the reference cache) for the other roles
            if kcfg.ensemble:
                build_retrain_population(ctx.cfg, ctx.task, ctx.retrain_payload, ctx.fresh_model, ctx.original,
                                         int(kcfg.num_models), seed)
            population = self._margins_of(ctx, lambda i: population_retrain(
                ctx.cfg, ctx.task, ctx.retrain_payload, ctx.fresh_model, ctx.original, ctx.retrain, i, seed,
                ctx.progress)[0])
            kept = {f"population_{s}": population[s].astype(np.float32) for s in splits}
        else:
            population, kept = {s: references["retrain"][1][f"population_{s}"] for s in splits}, {}
        try:
            if role == "original":  # the method that does nothing: the N originals as they are
                sample = self._margins_of(ctx, lambda i: population_original(ctx, i))
            else:
                method = OmegaConf.create({"name": "retrain"}) if role == "retrain" else ctx.cfg.method
                sample = self._margins_of(ctx, lambda i: population_unlearned(
                    ctx.cfg, method, ctx.task, population_original(ctx, i), i, seed, ctx.progress))
        except DivergedError as err:
            sample, why = None, str(err)
        if sample is None or not all(np.isfinite(sample[s]).all() for s in splits):
            log.warning("KLoM: a run of %s diverged (%s); KLoM metrics are NaN", ctx.cfg.method.name,
                        why if sample is None else "non-finite margins")
            return dict.fromkeys(("KLoM_f", "KLoM_f_p50", "KLoM_f_p95", "KLoM_test"), float("nan")), kept
        per_example = {s: klom(sample[s], population[s], int(kcfg.bins)) for s in splits}
        forget = summarize_klom(per_example["forget"])
        metrics = {"KLoM_f": forget["mean"], "KLoM_f_p50": forget["p50"], "KLoM_f_p95": forget["p95"],
                   "KLoM_test": summarize_klom(per_example["test"])["mean"]}
        return metrics, {"klom_f": per_example["forget"].astype(np.float32), **kept}
