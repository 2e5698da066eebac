"""The NeurIPS 2023 Machine Unlearning Challenge score of a run (Triantafillou et al., "Are we making progress in
unlearning? Findings from the first NeurIPS unlearning competition", arXiv 2406.09073, §3; reference code
google-deepmind/unlearning_evaluation ``main.py``). Enabled by
``eval=challenge`` (or ``eval.challenge.enabled=true``); ``eval.challenge.num_models`` = N.

Protocol, for a run (method M, original theta_o, forget set D_f, retain set D_r, recipe R, seed s):

1. Retrained population: N models trained from scratch on D_r with N seeds, each exactly as the runner trains the
   run's Retrain (the ``retrain`` method applied to theta_o: re-initialised weights, R on D_r). Index 0 is the run's
   own Retrain; index i >= 1 is seeded by (s, eval.challenge.seed, i) and cached with ModelCache (kind
   ``challenge_retrain``, payload = the run's Retrain payload + index + eval.challenge.seed). The population does not
   depend on M or on N, so every method of a seed shares it and a larger N only trains the new indices.
2. Unlearned population: M applied N times to the same theta_o (a fresh copy each time) with N seeds, drawn from a
   stream other than the retrained one's (the run's own unlearned model is not reused: for M = Retrain it would be
   the retrained population's index 0, a shared sample). Not cached: it is the method's. For M = Retrain these are N
   more independent retrainings, so Retrain's score measures how well N models tell two samples of one distribution
   apart (1 only in the limit).
3. Statistic: logit-scaled confidence phi = log p_y - log(1 - p_y) of every forget example under each model (no
   augmentation, no eval shift, as the challenge); per-example epsilon from the N unlearned vs N retrained phi
   (``metrics.challenge.per_example_epsilons``: best of single- and double-threshold attacks, delta = 1e-5, cap 50)
   and the bucketed forget score F in [0, 1] (``forget_score_from_epsilons``; buckets up to ceil(ln(N - 1))).
4. Utility: accuracy of every model on D_r and on the test split (the run's TA split: without the forgotten class's
   test images in class-level scenarios); final score = F x (mean RA unlearned / mean RA retrained) x (mean TA
   unlearned / mean TA retrained) (``metrics.challenge.final_score``, main.py).

Recorded: ``Challenge_Forget`` (F), ``Challenge_RA_ratio``, ``Challenge_TA_ratio``, ``Challenge_Score`` (all unitless
as in the challenge, not percent) and ``Challenge_s`` (wall seconds); arrays ``challenge_epsilons`` (|D_f|),
``challenge_unlearned_phi`` / ``challenge_retrained_phi`` (N x |D_f|) and the per-model accuracies
``challenge_{unlearned,retrained}_{ra,ta}`` (N, percent).

N: the challenge used 512 per side. With N models the epsilon of an example can only be resolved up to ln(N - 1)
(the bucket range), so N = 2 scores every method 0 and is refused; N >= 3 is required. The default 8 keeps a run
to 7 extra trainings (shared by all methods of a seed) + 8 unlearnings, a CPU budget on digits; with 8 models the
score has 4 buckets (epsilon < 2), coarse but, as the paper reports for cheaper variants (§5), ranks methods
alike. The Retrain population is trained one model after the other unless ``eval.challenge.ensemble=true``
(vectorised passes, unlearn_bench/ensemble.py: same seeds and cache keys); the unlearned population stays
sequential (each method has its own loop).
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable

import numpy as np
from omegaconf import DictConfig
from torch import nn

from unlearn_bench.attacks.base import Attack, AttackContext, AttackResult
from unlearn_bench.attacks.common import Stream, derive_seed, scaled_confidences, unlearn_seeded
from unlearn_bench.cache import ModelCache
from unlearn_bench.config import ChallengeConfig
from unlearn_bench.data.task import Task
from unlearn_bench.errors import ConfigError
from unlearn_bench.evaluation import predict
from unlearn_bench.methods import create_method, method_class
from unlearn_bench.metrics.accuracy import accuracy
from unlearn_bench.metrics.challenge import final_score, forget_score_from_epsilons, per_example_epsilons
from unlearn_bench.runtime import resolve_eval_batch_size
from unlearn_bench.training import DivergedError

log = logging.getLogger(__name__)

METRIC_KEYS = ("Challenge_Forget", "Challenge_RA_ratio", "Challenge_TA_ratio", "Challenge_Score")
MIN_MODELS = 3  # N = 2: the bucket range ceil(ln(N - 1)) is 0, so every forget score would be 0
_POPULATIONS = ("unlearned", "retrained")


def check_challenge_config(challenge_cfg: ChallengeConfig | DictConfig) -> None:
    """``eval.challenge.num_models`` must be >= 3 (checked before anything is trained)."""
    if challenge_cfg.num_models < MIN_MODELS:
        raise ConfigError(f"eval.challenge.num_models={challenge_cfg.num_models} must be >= {MIN_MODELS}: with N "
                          "models the challenge's buckets reach epsilon ceil(ln(N - 1)), which is 0 for N = 2 "
                          "(every forget score 0); the challenge used 512")


def _measure(model: nn.Module, task: Task, batch_size: int, amp: bool) -> tuple[np.ndarray, float, float]:
    """phi of every forget example, accuracy on D_r and on the test split (percent), without augmentation or shift."""
    forget_x, forget_y = task.split("forget")
    phi = scaled_confidences(model, forget_x, forget_y.cpu().numpy(), batch_size, amp)
    retain_acc, test_acc = (accuracy(predict(model, x, batch_size, amp), y.cpu().numpy())
                            for x, y in (task.split("retain"), task.split("test")))
    return phi, retain_acc, test_acc


def _nan_result(start: float, arrays: dict[str, np.ndarray]) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    return {**dict.fromkeys(METRIC_KEYS, float("nan")), "Challenge_s": time.perf_counter() - start}, arrays


def _population_payload(retrain_payload: dict, index: int, population_seed: int) -> dict:
    """The cache key of model ``index`` of the Retrain population, whether trained alone or in a vectorised pass."""
    return {**retrain_payload, "challenge": {"index": index, "seed": population_seed}}


def build_retrain_population(cfg: DictConfig, task: Task, retrain_payload: dict, new_model: Callable[[], nn.Module],
                             original: nn.Module, num_models: int, population_seed: int) -> None:
    """``eval.challenge.ensemble`` / ``eval.klom.ensemble``: train the missing models 1 .. num_models - 1 of the
    Retrain population in vectorised passes (unlearn_bench/ensemble.py), seeded as ``unlearn_seeded`` seeds the
    ``retrain`` method (global seed, then ``reset_parameters`` of a copy of the original, then the D_r order from the
    generator) and cached under ``population_retrain``'s keys, so that it loads them."""
    from unlearn_bench.ensemble import EnsembleJob, build_cached
    from unlearn_bench.models import reset_parameters
    from unlearn_bench.runtime import seed_everything

    recipe = cfg.train
    jobs = []
    for i in range(1, num_models):
        def prepare(i=i):
            generator = seed_everything(derive_seed(cfg.seed, population_seed, Stream.CHALLENGE_RETRAIN, i))
            model = reset_parameters(copy.deepcopy(original))
            return model, lambda: task.loader("retain", recipe.batch_size, generator=generator)
        jobs.append(EnsembleJob("challenge_retrain", _population_payload(retrain_payload, i, population_seed), prepare))
    build_cached(ModelCache(cfg.cache_dir), jobs, new_model, recipe, desc="Retrain population")


def population_retrain(cfg: DictConfig, task: Task, retrain_payload: dict, new_model: Callable[[], nn.Module],
                       original: nn.Module, retrain: nn.Module, index: int, population_seed: int,
                       progress: bool = False) -> tuple[nn.Module, str]:
    """Model ``index`` of the Retrain population (protocol step 1) and where it came from: index 0 is the run's
    Retrain, index i >= 1 the ``retrain`` method on ``original`` seeded by (seed, population_seed, i), cached (kind
    ``challenge_retrain``). Shared by the challenge score and KLoM (``klom.py``): with the same
    population seed they train the same models once."""
    if index == 0:
        return retrain, "the run's Retrain"
    seed = derive_seed(cfg.seed, population_seed, Stream.CHALLENGE_RETRAIN, index)
    retrain_cls = method_class("retrain")
    retrain_method = retrain_cls(retrain_cls.Config())
    model, meta = ModelCache(cfg.cache_dir).load_or_build(
        "challenge_retrain", _population_payload(retrain_payload, index, population_seed), new_model(),
        lambda: unlearn_seeded(retrain_method, original, task, cfg.train, seed, progress))
    return model, "cached" if meta["cached"] else "trained"


def population_unlearned(cfg: DictConfig, method_cfg: DictConfig, task: Task, original: nn.Module, index: int,
                         population_seed: int, progress: bool = False) -> nn.Module:
    """Model ``index`` of the unlearned population (protocol step 2): the method of ``method_cfg`` on a copy of
    ``original``, seeded by (seed, population_seed, index) from a stream apart from the Retrain population's (not
    cached: it is the method's). Raises DivergedError when the method diverges."""
    return unlearn_seeded(create_method(method_cfg), original, task, cfg.train,
                          derive_seed(cfg.seed, population_seed, Stream.CHALLENGE_UNLEARN, index), progress,
                          cfg.method_isolation)


def challenge_evaluation(cfg: DictConfig, task: Task, retrain_payload: dict, new_model: Callable[[], nn.Module],
                         original: nn.Module, retrain: nn.Module, progress: bool = False
                         ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """The challenge score of a run (protocol in the module docstring). ``cfg`` is the run's config (``method``,
    ``train``, ``seed``, ``cache_dir``, ``eval.batch_size``, ``eval.challenge``), ``retrain_payload`` the cache
    payload of the run's Retrain, ``new_model()`` a fresh model on the device, ``original`` / ``retrain`` the run's
    original and Retrain. Returns the metrics and per-example arrays named in the module docstring. A population
    model that diverges (DivergedError or non-finite confidences) gives NaN metrics (logged), not an exception."""
    start = time.perf_counter()
    challenge_cfg = cfg.eval.challenge
    check_challenge_config(challenge_cfg)
    num_models, population_seed = int(challenge_cfg.num_models), int(challenge_cfg.seed)
    amp = bool(cfg.train.amp)
    batch_size = resolve_eval_batch_size(cfg.eval.batch_size, task.device)
    phi = {side: np.full((num_models, len(task.forget_idx)), np.nan) for side in _POPULATIONS}
    retain_acc = {side: np.full(num_models, np.nan) for side in _POPULATIONS}
    test_acc = {side: np.full(num_models, np.nan) for side in _POPULATIONS}
    log.info("challenge: %d retrained and %d unlearned models (method %s)", num_models, num_models, cfg.method.name)

    if challenge_cfg.ensemble:
        build_retrain_population(cfg, task, retrain_payload, new_model, original, num_models, population_seed)

    for i in range(num_models):
        model_start = time.perf_counter()
        retrained, source = population_retrain(cfg, task, retrain_payload, new_model, original, retrain, i,
                                               population_seed, progress)
        phi["retrained"][i], retain_acc["retrained"][i], test_acc["retrained"][i] = _measure(
            retrained, task, batch_size, amp)
        try:
            unlearned = population_unlearned(cfg, cfg.method, task, original, i, population_seed, progress)
        except DivergedError as err:
            log.warning("challenge model %d: %s diverged (%s); challenge metrics are NaN", i, cfg.method.name, err)
            return _nan_result(start, {})
        phi["unlearned"][i], retain_acc["unlearned"][i], test_acc["unlearned"][i] = _measure(
            unlearned, task, batch_size, amp)
        log.info("challenge model %d/%d: retrained (%s) and unlearned, %.1f s", i + 1, num_models, source,
                 time.perf_counter() - model_start)
        del retrained, unlearned

    arrays = {f"challenge_{side}_phi": phi[side].astype(np.float32) for side in _POPULATIONS}
    arrays.update({f"challenge_{side}_{name}": acc[side].astype(np.float32) for side in _POPULATIONS
                   for name, acc in (("ra", retain_acc), ("ta", test_acc))})
    if not all(np.isfinite(a).all() for a in arrays.values()):
        log.warning("challenge: non-finite confidences or accuracies (a diverged model); challenge metrics are NaN")
        return _nan_result(start, arrays)
    epsilons = per_example_epsilons(phi["unlearned"], phi["retrained"])
    arrays["challenge_epsilons"] = epsilons.astype(np.float32)
    forget = forget_score_from_epsilons(epsilons, num_models)
    metrics = {
        "Challenge_Forget": forget,
        "Challenge_RA_ratio": float(retain_acc["unlearned"].mean() / retain_acc["retrained"].mean()),
        "Challenge_TA_ratio": float(test_acc["unlearned"].mean() / test_acc["retrained"].mean()),
        "Challenge_Score": final_score(forget, retain_acc["unlearned"], retain_acc["retrained"],
                                       test_acc["unlearned"], test_acc["retrained"]),
        "Challenge_s": time.perf_counter() - start,
    }
    log.info("challenge: forget score %.3f, RA ratio %.3f, TA ratio %.3f, final score %.3f (%.1f s)",
             *(metrics[k] for k in (*METRIC_KEYS, "Challenge_s")))
    return metrics, arrays


class Challenge(Attack):
    """The NeurIPS 2023 Machine Unlearning Challenge score (this module)."""

    name, reruns_method = "challenge", True

    def check(self, cfg: DictConfig) -> None:
        check_challenge_config(cfg.eval.challenge)

    def run(self, ctx: AttackContext) -> AttackResult:
        metrics, arrays = challenge_evaluation(ctx.cfg, ctx.task, ctx.retrain_payload, ctx.fresh_model, ctx.original,
                                               ctx.retrain, ctx.progress)
        return AttackResult(metrics, arrays, {}, {})
