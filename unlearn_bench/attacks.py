"""Model-based evaluations of a run beyond its logits: each an ``Attack`` in ``ATTACKS``, enabled by
``eval.<name>.enabled`` and run by ``runner.run`` in one loop (``Attack.run`` of each): U-LiRA (``ulira``, Hayes et
al. 2024; ``unlearn_bench/ulira.py``), the challenge score (``challenge``; ``unlearn_bench/challenge_eval.py``) and
the three below (``eval=deep`` enables those).

Each of the three below scores three models, the run's unlearned model, the original and Retrain, each against Retrain,
so the record holds its metrics for all three (``metrics``, ``original_metrics``, ``retrain_metrics``) and the report
prints the gap to Retrain as for UA. The original's and Retrain's scores do not depend on the method: they are cached
(``cached_evaluation``, keyed by both models' weights, the forget set and the attack's config) and every method of a
seed reuses them; for ``method=retrain`` the unlearned model's score is Retrain's. Each attack records its wall seconds
in this run as ``<Name>_s`` (reference scores included when they were computed, not loaded).

- ``relearn`` (Siddiqui et al., "From Dormant to Deleted: Tamper-Resistant Unlearning Through Weight-Space
  Regularization", 2025, and its few-shot variant): a copy of the model fine-tuned with plain SGD for ``steps``
  steps (a) on D_r mini-batches only and (b) on ``k_shot`` examples of D_f (one batch); the forget accuracy
  (100 - UA) before and after every step: on D_f for (a), on the other D_f examples for (b). Metrics:
  ``Relearn_Dr`` / ``Relearn_Df`` (forget accuracy after the last step, %), ``Relearn_Dr_AUC`` / ``Relearn_Df_AUC``
  (mean forget accuracy over the attack, ``metrics.relearn.curve_area``), and the L2 distance of all weights to the
  original, ``W_dist_original`` (``weight_distance_to_original``; not to Retrain: unaligned, it measures the
  distance between two initialisations). Arrays: the
  curves ``relearn_dr_curve`` / ``relearn_df_curve`` (steps + 1), also the original's and Retrain's (prefixed).
- ``representation`` (Kim, Cha, Kim, "Are We Truly Forgetting? A Critical Re-examination of Machine Unlearning
  Evaluation Protocols", Engineering Applications of Artificial Intelligence, 2026): linear CKA of the penultimate
  features with Retrain's on D_f (``CKA_f``) and on the test split (``CKA_test``); ``kNN_f``, the accuracy (%) on D_f
  of a k-NN probe (cosine distance) fitted on the model's own features of D_r with their labels. The paper probes
  transfer to downstream data; this probe asks the same of D_f. In a class-wise scenario D_r holds no example of the
  forgotten class, so the probe cannot predict it and ``kNN_f`` is 0 for every model.
- ``klom`` (Georgiev et al., "Attribute-to-Delete: Machine Unlearning via Datamodel Matching", ICLR 2025, App. E.1;
  Rinberg et al., "Easy Data Unlearning Bench", 2026, EasyDUB): per example the KL divergence of margins
  (``metrics.klom``, the reference's binned estimator, KL(Retrain || unlearned)) between N independently trained
  originals each unlearned once by the method (index 0 the run's original; the others cached per seed, kind
  ``klom_original``, and shared by every method) and N Retrains (the challenge's cached Retrain population, shared
  with ``eval=challenge`` when the seeds agree; ``eval.klom.ensemble=true`` trains both populations in vectorised
  passes). U-LiRA's shadow originals are trained on halves of the train split, so their keys cannot be shared.
  ``KLoM_f`` (mean over D_f), ``KLoM_f_p50``, ``KLoM_f_p95``, ``KLoM_test`` (mean over the test split). Retrain's own
  score is N further retrainings against the population (the floor that N models can resolve, cached per seed); the
  original's is the N originals (the method that does nothing). Arrays: ``klom_f`` (per example), also the
  original's and Retrain's (prefixed).
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf
from torch import nn

from unlearn_bench.cache import ModelCache
from unlearn_bench.challenge_eval import (
    build_retrain_population,
    challenge_evaluation,
    check_challenge_config,
    population_retrain,
    population_unlearned,
)
from unlearn_bench.data.scenarios import Scenario
from unlearn_bench.data.task import Task
from unlearn_bench.ensemble import EnsembleJob, build_cached
from unlearn_bench.errors import ConfigError
from unlearn_bench.evaluation import predict
from unlearn_bench.metrics.accuracy import accuracy
from unlearn_bench.metrics.klom import klom, margins
from unlearn_bench.metrics.klom import summarize as summarize_klom
from unlearn_bench.metrics.relearn import curve_area
from unlearn_bench.metrics.representation import knn_probe_accuracy, linear_cka
from unlearn_bench.metrics.sure import weight_distance
from unlearn_bench.runtime import autocast, resolve_eval_batch_size, seed_everything
from unlearn_bench.training import DivergedError, train_from_scratch
from unlearn_bench.ulira import check_ulira_config, derive_seed, ulira_attack

log = logging.getLogger(__name__)

ROLES = ("retrain", "original", "unlearned")  # scoring order: later roles read the earlier roles' arrays
# seed streams, apart from U-LiRA's (0-3) and the challenge's (10-11)
_DR_STREAM, _DF_STREAM, _ORIGINAL_STREAM = 20, 21, 22
Scores = tuple[dict[str, float], dict[str, np.ndarray]]


@dataclass
class AttackContext:
    """What an attack may use: the run's config and task, its three models, a fresh model of the architecture,
    ``reference_key`` (what determines a reference model's evaluation besides the weights: forget set, scenario,
    eval config, amp), the original's and Retrain's weight SHA-256 (``weights``), ``cached(payload, compute)``
    (``cache.cached_evaluation``) and the cache payloads of the run's original and Retrain (for U-LiRA's shadows and
    the challenge's Retrain population)."""

    cfg: DictConfig
    task: Task
    original: nn.Module
    retrain: nn.Module
    unlearned: nn.Module
    fresh_model: Callable[[], nn.Module]
    reference_key: dict
    weights: dict[str, str]
    cached: Callable[[dict, Callable[[], Scores]], Scores]
    original_payload: dict
    retrain_payload: dict
    progress: bool = False

    def model(self, role: str) -> nn.Module:
        return {"original": self.original, "retrain": self.retrain, "unlearned": self.unlearned}[role]

    @property
    def batch_size(self) -> int:
        return resolve_eval_batch_size(self.cfg.eval.batch_size, self.task.device)


class AttackResult(NamedTuple):
    metrics: dict[str, float]  # the unlearned model's, with the attack's wall seconds
    arrays: dict[str, np.ndarray]
    original_metrics: dict[str, float]
    retrain_metrics: dict[str, float]


class Attack:
    """One model-based evaluation of a run, enabled by ``eval.<name>.enabled``. ``run(ctx)`` returns its metrics of
    the unlearned model (and of the original and Retrain where it scores them). The default ``run`` scores the three
    roles with ``score(ctx, role, references)`` -> (metrics, arrays) of the model of ``role`` ("retrain",
    "original" or "unlearned"), where ``references`` holds the (metrics, arrays) of the roles scored before it.
    ``shared_arrays``: the arrays that travel with the run (the unlearned model's, and the original's and Retrain's
    prefixed ``original_`` / ``retrain_``); the others (features, the Retrain population's margins) stay in the
    reference cache for the later roles. ``reruns_method``: the attack runs the method again from the original,
    which a scenario that chains rounds does not define."""

    name: str = ""  # the eval.<name> config key
    cost_key: str = ""  # the metric that records the attack's wall seconds
    shared_arrays: tuple[str, ...] = ()
    reruns_method: bool = False

    def check(self, cfg: DictConfig) -> None:
        """Raise ConfigError for a bad ``eval.<name>`` value (before anything is trained)."""

    def score(self, ctx: AttackContext, role: str, references: dict[str, Scores]) -> Scores:
        raise NotImplementedError

    def run(self, ctx: AttackContext) -> AttackResult:
        """The attack's scores of Retrain and the original (cached), then of the unlearned model (Retrain's when the
        method is Retrain); the shared arrays of the references travel with the run, prefixed ``original_`` /
        ``retrain_``."""
        start = time.perf_counter()
        config = OmegaConf.to_container(ctx.cfg.eval[self.name], resolve=True)
        scores: dict[str, Scores] = {}
        for role in ROLES:
            if role == "unlearned":
                scores[role] = scores["retrain"] if ctx.cfg.method.name == "retrain" else self.score(ctx, role, scores)
                continue
            payload = {**ctx.reference_key, "attack": self.name, "config": config, "seed": ctx.cfg.seed,
                       "role": role, "original_sha256": ctx.weights["original"],
                       "retrain_sha256": ctx.weights["retrain"]}
            scores[role] = ctx.cached(payload, lambda role=role: self.score(ctx, role, dict(scores)))
        metrics, arrays = scores["unlearned"]
        arrays = {k: v for k, v in arrays.items() if k in self.shared_arrays}
        for role in ("original", "retrain"):
            arrays.update({f"{role}_{k}": v for k, v in scores[role][1].items() if k in self.shared_arrays})
        seconds = time.perf_counter() - start
        log.info("%s: %s (%.1f s)", self.name, ", ".join(f"{k} {v:.3g}" for k, v in metrics.items()), seconds)
        return AttackResult({**metrics, self.cost_key: seconds}, arrays, dict(scores["original"][0]),
                            dict(scores["retrain"][0]))


class ULiRA(Attack):
    """U-LiRA (Hayes et al. 2024; ``unlearn_bench.ulira``): the unlearned model only, its wall seconds in
    ``ULiRA_s``."""

    name, reruns_method = "ulira", True

    def check(self, cfg: DictConfig) -> None:
        check_ulira_config(cfg.eval.ulira)

    def run(self, ctx: AttackContext) -> AttackResult:
        metrics, arrays = ulira_attack(ctx.cfg, ctx.task, ctx.original_payload, ctx.fresh_model, ctx.unlearned,
                                       ctx.retrain, ctx.progress)
        return AttackResult(metrics, arrays, {}, {})


class Challenge(Attack):
    """The NeurIPS 2023 Machine Unlearning Challenge score (``unlearn_bench.challenge_eval``)."""

    name, reruns_method = "challenge", True

    def check(self, cfg: DictConfig) -> None:
        check_challenge_config(cfg.eval.challenge)

    def run(self, ctx: AttackContext) -> AttackResult:
        metrics, arrays = challenge_evaluation(ctx.cfg, ctx.task, ctx.retrain_payload, ctx.fresh_model, ctx.original,
                                               ctx.retrain, ctx.progress)
        return AttackResult(metrics, arrays, {}, {})


def _at_least(cfg: DictConfig, key: str, low: float) -> None:
    value = OmegaConf.select(cfg, key)
    if not value >= low:
        raise ConfigError(f"{key}={value} must be >= {low}")


# --- relearning ----------------------------------------------------------------------------------------------------


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


def relearn_curve(model: nn.Module, batches: Iterator[tuple[torch.Tensor, torch.Tensor]], steps: int,
                  budget: RelearnBudget, eval_x: torch.Tensor, eval_y: np.ndarray, batch_size: int, amp: bool
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy (%) on ``eval_x`` of a copy of ``model`` before and during ``steps`` steps of ``budget``'s optimiser
    (cross-entropy, no weight decay) on the next batches of ``batches``, and the steps it was measured at (0, every
    ``budget.eval_every`` steps, the last); ``model`` itself is left unchanged."""
    model = copy.deepcopy(model).train()
    optimizer_cls = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}[budget.optimizer]
    optimizer = optimizer_cls(model.parameters(), lr=budget.lr)
    schedule = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps, eta_min=budget.lr / 10)
                if budget.cosine else None)
    curve, at = [accuracy(predict(model, eval_x, batch_size, amp), eval_y)], [0]
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
        _at_least(cfg, "eval.relearn.k_shot", 1)

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
        generator = seed_everything(derive_seed(ctx.cfg.seed, rcfg.seed, _DR_STREAM))
        retain_batches = _endless(lambda: task.loader("retain", budget.batch_size, generator=generator))
        dr_curve, dr_at = relearn_curve(model, retain_batches, budget.steps_for(len(task.split("retain")[1])), budget,
                                        forget_x, forget_y.cpu().numpy(), ctx.batch_size, amp)
        rng = np.random.default_rng(derive_seed(ctx.cfg.seed, rcfg.seed, _DF_STREAM))
        shots = np.zeros(len(forget_y), dtype=bool)
        shots[rng.choice(len(forget_y), k_shot, replace=False)] = True
        shot_idx, rest_idx = (torch.from_numpy(np.flatnonzero(m)).to(forget_y.device) for m in (shots, ~shots))
        shot_generator = seed_everything(derive_seed(ctx.cfg.seed, rcfg.seed, _DF_STREAM))
        shot_batches = _endless(lambda: task.batches(forget_x[shot_idx], forget_y[shot_idx], budget.batch_size,
                                                     generator=shot_generator))
        df_curve, df_at = relearn_curve(model, shot_batches, budget.steps_for(k_shot), budget, forget_x[rest_idx],
                                        forget_y[rest_idx].cpu().numpy(), ctx.batch_size, amp)
        metrics = {"Relearn_Dr": float(dr_curve[-1]), "Relearn_Df": float(df_curve[-1]),
                   "Relearn_Dr_AUC": curve_area(dr_curve, dr_at), "Relearn_Df_AUC": curve_area(df_curve, df_at),
                   "W_dist_original": weight_distance_to_original(model, ctx.original)}
        curves = {"relearn_dr_curve": dr_curve, "relearn_df_curve": df_curve}
        return metrics, {**{k: v.astype(np.float32) for k, v in curves.items()},
                         "relearn_dr_steps": dr_at, "relearn_df_steps": df_at}


# --- representations -----------------------------------------------------------------------------------------------


class Representation(Attack):
    name, cost_key = "representation", "Representation_s"

    def check(self, cfg: DictConfig) -> None:
        _at_least(cfg, "eval.representation.knn_k", 1)

    def score(self, ctx: AttackContext, role: str, references: dict[str, Scores]) -> Scores:
        task, amp = ctx.task, bool(ctx.cfg.train.amp)
        feats = {split: predict(ctx.model(role), task.split(split)[0], ctx.batch_size, amp, features=True)[1]
                 for split in ("forget", "retain", "test")}
        retrain_feats = feats if role == "retrain" else {s: references["retrain"][1][f"features_{s}"]
                                                         for s in ("forget", "test")}
        metrics = {"CKA_f": linear_cka(feats["forget"], retrain_feats["forget"]),
                   "CKA_test": linear_cka(feats["test"], retrain_feats["test"]),
                   "kNN_f": knn_probe_accuracy(feats["retain"], task.split("retain")[1].cpu().numpy(),
                                               feats["forget"], task.split("forget")[1].cpu().numpy(),
                                               int(ctx.cfg.eval.representation.knn_k))}
        # Retrain's features are kept (in the reference cache only) for the other models' CKA.
        return metrics, ({f"features_{s}": feats[s] for s in ("forget", "test")} if role == "retrain" else {})


# --- KLoM ----------------------------------------------------------------------------------------------------------


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
        generator = seed_everything(derive_seed(ctx.cfg.seed, int(ctx.cfg.eval.klom.seed), _ORIGINAL_STREAM, index))
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
        _at_least(cfg, "eval.klom.num_models", 2)
        _at_least(cfg, "eval.klom.bins", 1)

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


# In the order they run (and their metrics appear in the record).
ATTACKS: dict[str, Attack] = {attack.name: attack for attack in (ULiRA(), Challenge(), Relearn(), Representation(),
                                                                 KLoM())}


def check_attacks(cfg: DictConfig, scenario: Scenario) -> None:
    """Every enabled attack's config; attacks that re-run the method from the original need a scenario without
    rounds."""
    for attack in enabled_attacks(cfg):
        attack.check(cfg)
        if attack.reruns_method and not scenario.reruns_method:
            raise ConfigError(f"eval.{attack.name} re-runs the method from the original; it is not defined for "
                              f"scenario kind {cfg.scenario.kind!r}")


def enabled_attacks(cfg: DictConfig) -> list[Attack]:
    return [attack for name, attack in ATTACKS.items() if cfg.eval[name].enabled]
