"""U-LiRA: the per-example unlearning membership-inference attack of Hayes, Shumailov, Triantafillou, Khalifa,
Papernot, "Inexact Unlearning Needs More Careful Evaluations to Avoid a False Sense of Privacy" (arXiv 2403.01218,
§3), LiRA (Carlini et al., "Membership Inference Attacks From First Principles", IEEE S&P 2022) adapted to
unlearning. Enabled by ``eval=ulira`` (or ``eval.ulira.enabled=true``); ``eval.ulira.num_shadows`` = K.

Protocol, for a run (method M, train split D of N examples, forget set D_f, original recipe R, seed s):

1. Keep matrix (LiRA ``train.py``): ``keep = uniform(K, N).argsort(0) < K // 2``, seeded by (s, eval.ulira.seed).
   Every example is IN exactly K // 2 shadows (so every forget example is in some, K >= 4 gives at least two per
   side) and each shadow holds about N / 2 examples: its half H_k.
2. For each shadow k: F_k = D_f ∩ H_k (every forget example is "unlearned" in exactly the K // 2 shadows that hold
   it), shadow original = R trained from scratch on H_k; shadow retrained = R trained from scratch on H_k \\ F_k;
   shadow unlearned = M applied to the shadow original through a DataView of the Task restricted to H_k (forget
   F_k, retain H_k \\ F_k, the run's validation split, the run's recipe). Shadow originals and retrained models do not
   depend on M: they are cached with ModelCache (kinds ``ulira_original`` / ``ulira_retrain``; payload = the run's
   original payload + shadow index, K, eval.ulira.seed, SHA-256 of H_k, and for retrained that of F_k), so every
   method of a seed shares them; unlearned shadows are per method and not cached. When M is Retrain, the unlearned
   shadows are the retrained ones (Retrain's definition). A shadow with empty F_k (tiny D_f) is skipped: no forget
   example would use it.
3. Statistic: logit-scaled confidence phi = log p_y - log(1 - p_y) (``metrics.lira.logit_scaled_confidence``), on the
   forget examples, evaluated without augmentation and without the eval shift.
4. Per forget example x: unlearned population = phi(x) under the K // 2 unlearned shadows with x in F_k; retrained
   population = phi(x) under the retrained shadows of the same K // 2 shadows. Gaussian fits (median, std) per
   example, and the score of a target is log N(phi; unlearned) - log N(phi; retrained) (``metrics.lira.ulira_scores``,
   online LiRA with "unlearned" as the IN side). ``fix_variance`` (null = LiRA's rule: true when fewer than 64
   shadows per side, i.e. K < 128) shares one variance per population over the examples.
5. Targets: the run's unlearned model (label 1) and the run's Retrain model (label 0), each scored on every forget
   example: a ROC over 2 |D_f| scores gives ``ULiRA_AUC``, ``ULiRA_BalAcc`` (best threshold), ``ULiRA_TPR@0.1%FPR``,
   ``ULiRA_TPR@1%FPR`` (all in percent; 50 / 50 / ~0.1 / ~1 = indistinguishable from Retrain). With n = |D_f|
   negatives the ROC's smallest FPR step is 1 / n, so an FPR level below it measures the TPR at zero false positives.

Not done: the per-example vulnerability distribution and the same attack on retain examples (both need more shadows
than a CPU run affords; the per-example arrays are returned, so they can be computed later). Shadow originals and
retrained models are trained one after the other unless ``eval.ulira.ensemble=true``, which trains the missing ones
in vectorised passes (unlearn_bench/ensemble.py: same seeds, subsets and cache keys; equal within float rounding).
The unlearning step is an arbitrary method with its own loop and stays sequential.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable, Iterator

import numpy as np
import torch
from omegaconf import DictConfig
from torch import nn

from unlearn_bench.attacks.base import Attack, AttackContext, AttackResult
from unlearn_bench.attacks.common import Stream, derive_seed, scaled_confidences, unlearn_seeded
from unlearn_bench.cache import ModelCache
from unlearn_bench.data.task import Task
from unlearn_bench.ensemble import EnsembleJob
from unlearn_bench.errors import ConfigError
from unlearn_bench.methods import create_method
from unlearn_bench.metrics.lira import (
    attack_auc,
    attack_balanced_accuracy,
    tpr_at_fpr,
    ulira_scores,
)
from unlearn_bench.runtime import resolve_eval_batch_size, seed_everything
from unlearn_bench.training import DivergedError, train_from_scratch

log = logging.getLogger(__name__)

METRIC_KEYS = ("ULiRA_AUC", "ULiRA_BalAcc", "ULiRA_TPR@0.1%FPR", "ULiRA_TPR@1%FPR")


def _sha(idx: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(idx, dtype=np.int64).tobytes()).hexdigest()


def keep_matrix(num_shadows: int, n: int, seed: int) -> np.ndarray:
    """(num_shadows x n) bool, LiRA's balanced keep matrix: each column has exactly num_shadows // 2 True."""
    rng = np.random.default_rng(seed)
    return rng.uniform(size=(num_shadows, n)).argsort(0) < num_shadows // 2


def check_ulira_config(ucfg: DictConfig) -> None:
    """Raise ConfigError for a shadow count too small for LiRA's per-example Gaussian fits (run before training)."""
    if not int(ucfg.num_shadows) >= 4:
        raise ConfigError(f"eval.ulira.num_shadows={ucfg.num_shadows} must be >= 4 (each example needs >= 2 "
                          "shadows per side for a Gaussian fit)")


def resolve_fix_variance(fix_variance: bool | None, num_shadows: int) -> bool:
    """null = LiRA's rule (Carlini et al. 2022, §VI-A): a global variance when fewer than 64 shadows per side."""
    return num_shadows // 2 < 64 if fix_variance is None else bool(fix_variance)


def restrict_task(task: Task, half_idx: np.ndarray) -> Task:
    """The Task whose train split is ``task``'s examples ``half_idx`` (sorted) and whose forget set is
    D_f ∩ half; test and validation splits unchanged."""
    inside = np.zeros(len(task.train_y), dtype=bool)
    inside[task.forget_idx] = True
    idx = torch.from_numpy(half_idx).to(task.device)
    return dataclasses.replace(task, train_x=task.train_x[idx], train_y=task.train_y[idx],
                               forget_idx=np.flatnonzero(inside[half_idx]).astype(np.int64), _splits={})


def _nan_metrics(start: float) -> dict[str, float]:
    return {**dict.fromkeys(METRIC_KEYS, float("nan")), "ULiRA_s": time.perf_counter() - start}


@dataclasses.dataclass
class _Shadow:
    """Shadow k: its task (restricted to the half H_k) and its two reference models as cache jobs, the original on
    H_k and the retrained model on H_k \\ F_k, each seeded from its own stream (protocol step 2)."""

    k: int
    task: Task
    original: EnsembleJob
    retrained: EnsembleJob


def _shadows(cfg: DictConfig, task: Task, original_payload: dict, new_model: Callable[[], nn.Module],
             keep: np.ndarray, in_forget: np.ndarray) -> Iterator[_Shadow]:
    """The shadows with at least one forget example in their half (the others are used by no example), one at a time
    (each holds a copy of its half). Their jobs' ``prepare()`` seeds, builds and feeds the model exactly as it is
    trained, so the sequential loop and ``eval.ulira.ensemble``'s vectorised passes train and cache the same models."""
    ucfg, recipe = cfg.eval.ulira, cfg.train
    num_shadows = int(ucfg.num_shadows)
    for k in np.flatnonzero(in_forget.any(1)):
        half = np.flatnonzero(keep[k])
        shadow = restrict_task(task, half)
        tag = {"shadow": int(k), "num_shadows": num_shadows, "seed": int(ucfg.seed), "half_sha256": _sha(half)}

        def job(kind: str, stream: int, split: str, tag: dict, shadow: Task = shadow, k: int = int(k)) -> EnsembleJob:
            def prepare() -> tuple[nn.Module, Callable]:
                generator = seed_everything(derive_seed(cfg.seed, ucfg.seed, stream, k))
                return new_model(), lambda: shadow.loader(split, recipe.batch_size, generator=generator)
            return EnsembleJob(kind, {**original_payload, "ulira": tag}, prepare)

        retrained_tag = {**tag, "forget_sha256": _sha(task.forget_idx[in_forget[k]])}
        yield _Shadow(int(k), shadow, job("ulira_original", Stream.ULIRA_ORIGINAL, "train", tag),
                      job("ulira_retrain", Stream.ULIRA_RETRAIN, "retain", retrained_tag))


def ulira_attack(cfg: DictConfig, task: Task, original_payload: dict, new_model: Callable[[], nn.Module],
                 unlearned: nn.Module, retrain: nn.Module, progress: bool = False
                 ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """U-LiRA of a run (protocol in the module docstring). ``cfg`` is the run's config (``method``, ``train``,
    ``seed``, ``cache_dir``, ``eval.batch_size``, ``eval.ulira``), ``original_payload`` the cache payload of the
    run's original, ``new_model()`` a fresh model on the device, ``unlearned`` / ``retrain`` the run's unlearned and
    Retrain models (the targets). Returns the metrics (percent; ``ULiRA_s`` = wall seconds) and per-example arrays:
    ``ulira_keep`` (K x N), ``ulira_unlearned_phi`` / ``ulira_retrained_phi`` (K // 2 x |D_f|, shadows in index
    order), ``ulira_target_phi`` / ``ulira_scores`` (2 x |D_f|: the unlearned target, then Retrain). A shadow whose
    unlearning diverges gives NaN metrics (logged), not an exception."""
    start = time.perf_counter()
    ucfg = cfg.eval.ulira
    num_shadows = int(ucfg.num_shadows)
    check_ulira_config(ucfg)
    fix_variance = resolve_fix_variance(ucfg.fix_variance, num_shadows)
    recipe, amp = cfg.train, bool(cfg.train.amp)
    batch_size = resolve_eval_batch_size(cfg.eval.batch_size, task.device)
    cache = ModelCache(cfg.cache_dir)
    forget_idx = task.forget_idx
    forget_x, forget_y_t = task.split("forget")
    forget_y = forget_y_t.cpu().numpy()
    n_train, n_forget = len(task.train_y), len(forget_idx)
    keep = keep_matrix(num_shadows, n_train, derive_seed(cfg.seed, ucfg.seed, Stream.ULIRA_KEEP))
    in_forget = keep[:, forget_idx]  # (K x |D_f|): x in F_k
    unlearned_phi = np.full((num_shadows, n_forget), np.nan)
    retrained_phi = np.full((num_shadows, n_forget), np.nan)
    is_retrain = cfg.method.name == "retrain"
    log.info("U-LiRA: %d shadows (%d per side per example), fix_variance=%s, method %s", num_shadows,
             num_shadows // 2, fix_variance, cfg.method.name)

    if ucfg.ensemble:
        from unlearn_bench.ensemble import build_cached

        jobs = [job for s in _shadows(cfg, task, original_payload, new_model, keep, in_forget)
                for job in (s.original, s.retrained)]
        build_cached(cache, jobs, new_model, recipe, desc="U-LiRA shadows")

    for k in np.flatnonzero(~in_forget.any(1)):
        log.info("U-LiRA shadow %d/%d: no forget example in its half, skipped", k + 1, num_shadows)
    for s in _shadows(cfg, task, original_payload, new_model, keep, in_forget):
        k, shadow_start = s.k, time.perf_counter()

        def load_or_train(job: EnsembleJob, desc: str) -> tuple[nn.Module, dict]:
            return cache.load_or_build(job.kind, job.payload, new_model(),
                                       lambda: train_from_scratch(*job.prepare(), recipe, desc=desc, progress=progress))

        original, original_meta = load_or_train(s.original, f"ulira original {k}")
        retrained, retrained_meta = load_or_train(s.retrained, f"ulira retrain {k}")
        if is_retrain:
            shadow_unlearned = retrained
        else:
            try:
                shadow_unlearned = unlearn_seeded(create_method(cfg.method), original, s.task, recipe,
                                                  derive_seed(cfg.seed, ucfg.seed, Stream.ULIRA_UNLEARN, k), progress,
                                                  cfg.method_isolation)
            except DivergedError as err:
                log.warning("U-LiRA shadow %d: %s diverged (%s); U-LiRA metrics are NaN", k, cfg.method.name, err)
                return _nan_metrics(start), {}
        cols = in_forget[k]
        shadow_forget_x = forget_x[torch.from_numpy(cols).to(task.device)]
        unlearned_phi[k, cols] = scaled_confidences(shadow_unlearned, shadow_forget_x, forget_y[cols], batch_size, amp)
        retrained_phi[k, cols] = scaled_confidences(retrained, shadow_forget_x, forget_y[cols], batch_size, amp)
        log.info("U-LiRA shadow %d/%d: |H|=%d |F|=%d original %s, retrained %s, %.1f s", k + 1, num_shadows,
                 len(s.task.train_y), int(cols.sum()), "cached" if original_meta["cached"] else "trained",
                 "cached" if retrained_meta["cached"] else "trained", time.perf_counter() - shadow_start)
        del original, retrained, shadow_unlearned

    # Dense (K // 2 x |D_f|) populations: column j holds the shadows with x_j in F_k, in shadow order.
    per_side = num_shadows // 2
    unlearned_pop = unlearned_phi.T[in_forget.T].reshape(n_forget, per_side).T
    retrained_pop = retrained_phi.T[in_forget.T].reshape(n_forget, per_side).T
    target_phi = np.stack([scaled_confidences(unlearned, forget_x, forget_y, batch_size, amp),
                           scaled_confidences(retrain, forget_x, forget_y, batch_size, amp)])
    arrays = {"ulira_keep": keep, "ulira_unlearned_phi": unlearned_pop.astype(np.float32),
              "ulira_retrained_phi": retrained_pop.astype(np.float32),
              "ulira_target_phi": target_phi.astype(np.float32)}
    if not all(np.isfinite(a).all() for a in (unlearned_pop, retrained_pop, target_phi)):
        log.warning("U-LiRA: non-finite confidences (a diverged model); U-LiRA metrics are NaN")
        return _nan_metrics(start), arrays
    scores = ulira_scores(unlearned_pop, retrained_pop, target_phi, fix_variance=fix_variance)
    labels = np.stack([np.ones(n_forget), np.zeros(n_forget)])
    arrays["ulira_scores"] = scores.astype(np.float32)
    tpr = tpr_at_fpr(scores, labels, (0.001, 0.01))
    metrics = {"ULiRA_AUC": attack_auc(scores, labels), "ULiRA_BalAcc": attack_balanced_accuracy(scores, labels),
               "ULiRA_TPR@0.1%FPR": tpr[0.001], "ULiRA_TPR@1%FPR": tpr[0.01],
               "ULiRA_s": time.perf_counter() - start}
    log.info("U-LiRA: AUC %.1f, balanced accuracy %.1f, TPR@0.1%%FPR %.1f, TPR@1%%FPR %.1f (%.1f s)",
             *(metrics[k] for k in (*METRIC_KEYS, "ULiRA_s")))
    return metrics, arrays


class ULiRA(Attack):
    """U-LiRA (Hayes et al. 2024; this module): the unlearned model only, its wall seconds in
    ``ULiRA_s``."""

    name, reruns_method = "ulira", True

    def check(self, cfg: DictConfig) -> None:
        check_ulira_config(cfg.eval.ulira)

    def run(self, ctx: AttackContext) -> AttackResult:
        metrics, arrays = ulira_attack(ctx.cfg, ctx.task, ctx.original_payload, ctx.fresh_model, ctx.unlearned,
                                       ctx.retrain, ctx.progress)
        return AttackResult(metrics, arrays, {}, {})
