"""``task=classification``: the original and Retrain of an image classifier (cached), the method on a copy of the
original, every metric of the three models against Retrain (``unlearn_bench.evaluation``), and the context of the
model-based attacks (``unlearn_bench.attacks``)."""

from __future__ import annotations

import contextlib
import copy
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from unlearn_bench import keys
from unlearn_bench.attacks import AttackContext, check_attacks
from unlearn_bench.cache import ModelCache, cached_evaluation
from unlearn_bench.config import check_tune
from unlearn_bench.data.scenarios import SCENARIOS, Scenario, create_scenario, member_probability
from unlearn_bench.data.task import Task, make_task
from unlearn_bench.errors import ConfigError
from unlearn_bench.evaluation import check_metric_groups, evaluate, predict, relative_metrics
from unlearn_bench.isolation import check_mode
from unlearn_bench.isolation import unlearn as isolated_unlearn
from unlearn_bench.methods import DataView, Method, method_class
from unlearn_bench.methods.base import check_fidelity
from unlearn_bench.metrics.accuracy import collapsed
from unlearn_bench.models import model_options, resolve_model_name
from unlearn_bench.pipelines.base import (
    Evaluation,
    Pipeline,
    References,
    check_counts,
    check_finite,
    check_rates,
    register_pipeline,
    timed_unlearning,
)
from unlearn_bench.pipelines.classifier import new_model, original_model
from unlearn_bench.runtime import seed_everything, select_device
from unlearn_bench.shifts import check_shift
from unlearn_bench.training import DivergedError, lr_factor, observe_epochs


class MembershipScorer:
    """For a scenario that chooses D_f with the original (``worst_case``, JiT Table 6): the original model's member
    probability of every train example under JiT's MIA model (``scenarios.member_probability``: the whole train split
    as members, the test set as non-members). The original does not depend on the forget set, so it is the run's own
    (cached) original, kept in ``original`` for the run."""

    def __init__(self, cfg: DictConfig, cache: ModelCache, device: torch.device):
        self.cfg, self.cache, self.device = cfg, cache, device
        self.original: tuple[torch.nn.Module, dict] | None = None

    def __call__(self, task: Task) -> np.ndarray:
        self.original = original_model(self.cfg, task, self.cache, self.device)
        batch_size, amp = self.cfg.eval.batch_size, self.cfg.train.amp
        train_logits = predict(self.original[0], task.train_x, batch_size, amp)
        return member_probability(train_logits, predict(self.original[0], task.test_x, batch_size, amp), train_logits)


@register_pipeline
class ClassificationPipeline(Pipeline):
    name = "classification"

    def validate(self) -> None:
        cfg = self.cfg
        method_cls = method_class(cfg.method.name)
        scenario = create_scenario(cfg.scenario)
        if method_cls.full_class_only and not scenario.full_class:
            raise ConfigError(f"method={cfg.method.name} is defined for full-class forgetting only; "
                              f"scenario={cfg.scenario.name} (kind {cfg.scenario.kind!r}) is not; allowed kinds: "
                              f"{[kind for kind, cls in SCENARIOS.items() if cls.full_class]}")
        check_fidelity(cfg.method)
        method_cls.check_config(cfg.method, cfg.data.num_classes)
        scenario.validate(cfg.data.num_classes)
        if scenario.current_round() is not None and not method_cls.edits_weights:
            raise ConfigError(f"scenario kind {cfg.scenario.kind!r} chains the method's models round by round; "
                              f"method={cfg.method.name} returns a wrapper, not weights")
        check_attacks(cfg, scenario)
        check_shift(cfg.eval.shift)
        model_options(cfg.model, resolve_model_name(cfg))
        select_device(cfg.device)
        check_metric_groups(cfg.eval.metrics)
        check_tune(cfg.tune)
        check_mode(cfg.method_isolation)
        if cfg.method_isolation != "none" and cfg.eval.every_epoch:
            raise ConfigError("eval.every_epoch evaluates inside the method's loop, which method_isolation="
                              f"{cfg.method_isolation} runs in another process; use one of them")
        check_counts(cfg, ("train.epochs", "train.batch_size", "eval.batch_size", "model.width",
                           *(f"method.{k}" for k in cfg.method if k.endswith("batch_size"))))
        check_rates(cfg, ("train.lr",))
        lr_factor(cfg.train, cfg.train.warmup_epochs)  # the first epoch after warm-up: raises on an unknown schedule

    def setup(self, device: torch.device) -> None:
        cfg = self.cfg
        self.device = device
        self.cache = ModelCache(cfg.cache_dir)
        self.scenario: Scenario = create_scenario(cfg.scenario)
        self.scorer = MembershipScorer(cfg, self.cache, device) if self.scenario.chooses_with_original else None
        self.task = make_task(cfg.data, cfg.scenario, cfg.train, cfg.seed, device, self.scorer)
        self.epoch_metrics: list[dict[str, float]] = []

    def run_payload(self) -> dict:
        return keys.classification_run_key(self.cfg, self.task, self.eval_options)

    def fresh_model(self) -> torch.nn.Module:
        return new_model(self.cfg, self.task, self.device)

    def view(self, task: Task, method: Method | type[Method]) -> DataView:
        """The method's view of ``task``, its data order seeded with the run's seed."""
        return DataView.from_task(task, method.needs, self.cfg.train, seed_everything(self.cfg.seed),
                                  self.cfg.progress)

    def references(self) -> References:
        cfg = self.cfg
        original, original_meta = (self.scorer.original if self.scorer
                                   else original_model(cfg, self.task, self.cache, self.device))
        retrain_cls = method_class("retrain")

        def train_retrain() -> torch.nn.Module:
            return retrain_cls(retrain_cls.Config()).unlearn(original, self.view(self.task, retrain_cls))

        retrain, retrain_meta = self.cache.load_or_build("retrain", keys.retrain_key(cfg, self.task),
                                                         self.fresh_model(), train_retrain)
        return References(original, original_meta, retrain, retrain_meta)

    def round_start(self, method: Method, original: torch.nn.Module) -> torch.nn.Module:
        """The model this run's round starts from: the original, or for a scenario that chains rounds the method's
        model after the previous round ("the model of round k is the original of round k+1"). Each round's model is
        cached, so a sweep over the rounds unlearns every round once."""
        model = original
        for round_k in self.scenario.earlier_rounds():
            def build(previous: torch.nn.Module = model, round_k: int = round_k) -> torch.nn.Module:
                view = self.view(self.round_task(round_k), method)
                return check_finite(isolated_unlearn(method, copy.deepcopy(previous), view,
                                                     self.cfg.method_isolation), method.name)

            model, _ = self.cache.load_or_build("iterative", keys.round_key(self.cfg, self.task, round_k),
                                                self.fresh_model(), build)
        return model

    def round_task(self, round_k: int | None) -> Task:
        """What the method sees in round ``round_k`` (SalUn Table A3: D_f = that round's new examples, D_r = the train
        split minus everything forgotten so far); the run's task when the scenario has no rounds."""
        if round_k is None:
            return self.task
        return self.task.with_forget(*self.scenario.round_split(len(self.task.train_y), self.cfg.seed, round_k))

    def unlearn(self, method: Method, refs: References) -> tuple[Any | None, str | None, float]:
        cfg = self.cfg
        round_k = self.scenario.current_round()
        try:
            start_model = self.round_start(method, refs.original)
        except DivergedError as err:
            return None, f"an earlier round diverged: {err}", float("nan")
        observed_s = 0.0  # seconds spent evaluating epochs (eval.every_epoch): not unlearning time

        def epoch_observer(model: torch.nn.Module, epoch: int) -> None:
            """The model's metrics after each unlearning epoch (numbered 1, 2, ... across the method's loops)."""
            nonlocal observed_s
            start = time.perf_counter()
            self.epoch_metrics.append({"epoch": len(self.epoch_metrics) + 1,
                                       **evaluate(model, self.task, cfg.eval, cfg.train.amp)[0]})
            observed_s += time.perf_counter() - start

        view = self.view(self.round_task(round_k), method)
        with observe_epochs(epoch_observer) if cfg.eval.every_epoch else contextlib.nullcontext():
            unlearned, error, rte_s = timed_unlearning(
                lambda: isolated_unlearn(method, copy.deepcopy(start_model), view, cfg.method_isolation),
                cfg.method.name, self.device)
        self.read = view.read
        if round_k is not None and unlearned is not None:  # the next round starts from this model
            self.cache.load_or_build("iterative", keys.round_key(cfg, self.task, round_k), self.fresh_model(),
                                     lambda: unlearned)
        return unlearned, error, rte_s - observed_s

    def evaluate(self, unlearned: torch.nn.Module | None, refs: References, store: Path) -> Evaluation:
        cfg, task, amp = self.cfg, self.task, self.cfg.train.amp
        key = keys.reference_eval_key(cfg, task)
        original_metrics, original_arrays = cached_evaluation(
            cfg.cache_dir, {**key, "weights_sha256": refs.original_meta["sha256"]},
            lambda: evaluate(refs.original, task, cfg.eval, amp))
        retrain_metrics, retrain_arrays = cached_evaluation(
            cfg.cache_dir, {**key, "weights_sha256": refs.retrain_meta["sha256"]},
            lambda: evaluate(refs.retrain, task, cfg.eval, amp))
        result = Evaluation(original_metrics=original_metrics, retrain_metrics=retrain_metrics)
        if unlearned is not None:
            try:
                result.metrics, result.arrays = evaluate(unlearned, task, cfg.eval, amp)
                result.collapsed = collapsed(result.metrics, cfg.data.num_classes, original_metrics)
            except DivergedError as err:
                result.diverged, unlearned = f"{cfg.method.name}: {err}", None
        groups = list(cfg.eval.metrics)
        if unlearned is not None:
            result.metrics.update(relative_metrics(result.arrays, retrain_arrays, groups, unlearned, refs.retrain))
        result.original_metrics = {**original_metrics, **relative_metrics(original_arrays, retrain_arrays, groups,
                                                                           refs.original, refs.retrain)}
        # The references' D_f logits travel with the run: distances to the original and to Retrain on D_f.
        result.arrays["original_forget_logits"] = original_arrays["forget_logits"]
        result.arrays["retrain_forget_logits"] = retrain_arrays["forget_logits"]
        return result

    def attack_context(self, refs: References, unlearned: torch.nn.Module) -> AttackContext:
        cfg = self.cfg
        return AttackContext(cfg, self.task, refs.original, refs.retrain, unlearned, self.fresh_model,
                             keys.reference_eval_key(cfg, self.task),
                             {"original": refs.original_meta["sha256"], "retrain": refs.retrain_meta["sha256"]},
                             partial(cached_evaluation, cfg.cache_dir), keys.original_key(cfg, self.task),
                             keys.retrain_key(cfg, self.task), cfg.progress)

    def record_fields(self) -> dict:
        return {"data": self.cfg.data.name, "model": resolve_model_name(self.cfg), "scenario": self.cfg.scenario.name,
                "forget_size": len(self.task.forget_idx), "forget_idx_sha256": keys.forget_sha(self.task),
                "epoch_metrics": self.epoch_metrics}

    def forget_idx(self) -> np.ndarray:
        return self.task.forget_idx
