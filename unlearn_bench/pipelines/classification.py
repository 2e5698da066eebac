"""``task=classification``: the original and Retrain of an image classifier (cached), the method on a copy of the
original, every metric of the three models against Retrain (``unlearn_bench.evaluation``), and the context of the
model-based attacks (``unlearn_bench.attacks``)."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from unlearn_bench.attacks import ATTACKS, AttackContext, check_attacks
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
from unlearn_bench.models import MODELS, create_model, model_options
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
from unlearn_bench.runtime import prepare_model, seed_everything, select_device
from unlearn_bench.shifts import check_shift
from unlearn_bench.training import DivergedError, lr_factor, observe_epochs, train_from_scratch


def resolve_model_name(cfg: DictConfig) -> str:
    name = cfg.data.default_model if cfg.model.name == "auto" else cfg.model.name
    if name not in MODELS:
        raise ConfigError(f"model={name!r} is not registered; allowed: auto, {', '.join(sorted(MODELS))}")
    return name


# Options added after cache keys were in use: left out of a key while unset, so earlier runs keep their keys.
# Options added after cache keys were in use, with the value they are left out of a key at, so earlier runs keep
# their keys.
LATER_OPTIONS = {"data": {"train_subset": None}, "scenario": {"rounds": None, "round": None},
                 "method": {"weights": None, "fidelity": "paper"}}


def _without_unset_later_options(node: dict, group: str) -> dict:
    later = LATER_OPTIONS.get(group, {})
    return {k: v for k, v in node.items() if not (k in later and v == later[k])}


def _payload_of(cfg: DictConfig, group: str) -> dict:
    return _without_unset_later_options(OmegaConf.to_container(cfg[group], resolve=True), group)


def data_payload(cfg: DictConfig) -> dict:
    """The config that determines the data: everything in `data` but where and how files are read."""
    data = _payload_of(cfg, "data")
    for key in ("root", "verify_files"):
        data.pop(key, None)
    return data


def scenario_payload(cfg: DictConfig) -> dict:
    return _payload_of(cfg, "scenario")


def method_payload(method_cfg: DictConfig) -> dict:
    """The method config that determines the unlearned model: all of it but the ``tuned`` metadata, so a tuned
    preset and the same values given as overrides are one run."""
    method = _without_unset_later_options(OmegaConf.to_container(method_cfg, resolve=True), "method")
    method.pop("tuned", None)
    if method.get("weights") is not None:  # {1: 0}, {"1": 0.0} and any key order are one computation
        method["weights"] = {str(k): float(v) for k, v in sorted(method["weights"].items(), key=lambda kv: int(kv[0]))}
    return method


def forget_sha(task: Task) -> str:
    return hashlib.sha256(task.forget_idx.tobytes()).hexdigest()


def original_payload(cfg: DictConfig, task: Task) -> dict:
    """The original's cache key: data, model, recipe and seed (no scenario: every forget set shares it, but for
    SURE's confusion task, whose original learns D_f with swapped labels)."""
    model = {"name": resolve_model_name(cfg), **model_options(cfg.model, resolve_model_name(cfg))}
    train = OmegaConf.to_container(cfg.train, resolve=True)
    for knob in ("compile", "channels_last"):  # how the same computation is executed, not what is computed
        train.pop(knob)
    payload = {"data": data_payload(cfg), "model": model, "train": train, "seed": cfg.seed}
    if task.confused_classes:
        payload["swapped_labels"] = {"classes": task.confused_classes, "forget_idx_sha256": forget_sha(task)}
    return payload


def retrain_payload(cfg: DictConfig, task: Task) -> dict:
    return {**original_payload(cfg, task), "forget_idx_sha256": forget_sha(task)}


def new_model(cfg: DictConfig, task: Task, device: torch.device) -> torch.nn.Module:
    """A freshly initialised model of the run's architecture, on ``device``."""
    model_name = resolve_model_name(cfg)
    model = create_model(model_name, task.num_classes, cfg.data.in_chans, cfg.data.img_size, task.mean, task.std,
                         **model_options(cfg.model, model_name))
    return prepare_model(model, device, cfg.train.channels_last, cfg.train.compile)


def original_model(cfg: DictConfig, task: Task, cache: ModelCache, device: torch.device
                   ) -> tuple[torch.nn.Module, dict]:
    """The original (cached): ``train`` of the recipe on the whole train split, seeded with the run's seed. Also
    the UA / FID classifier of the generation pipelines (the same key: every pipeline shares one classifier)."""

    def train_original() -> torch.nn.Module:
        generator = seed_everything(cfg.seed)
        return train_from_scratch(new_model(cfg, task, device),
                                  lambda: task.loader("train", cfg.train.batch_size, generator=generator),
                                  cfg.train, desc="original", progress=cfg.progress)

    return cache.load_or_build("original", original_payload(cfg, task), new_model(cfg, task, device),
                               train_original)


def round_payload(cfg: DictConfig, task: Task, round_k: int) -> dict:
    """The cache key of the method's model after round ``round_k`` of a scenario that chains rounds (the name, which
    holds this run's round, is left out: every run of the sweep must find the same key)."""
    scenario = {k: v for k, v in scenario_payload(cfg).items() if k != "name"}
    return {**original_payload(cfg, task), "scenario": {**scenario, "round": round_k},
            "method": method_payload(cfg.method)}


def reference_eval_cfg(cfg: DictConfig) -> dict:
    """The eval config that determines the original's and Retrain's evaluation (the attacks of
    ``unlearn_bench.attacks`` are the method's, and so is evaluating every unlearning epoch)."""
    return {k: v for k, v in OmegaConf.to_container(cfg.eval, resolve=True).items()
            if k not in ("every_epoch", *ATTACKS)}


def isolation_keyed(payload: dict, cfg: DictConfig) -> dict:
    """A run under ``method_isolation=process`` computes the same model but is its own record, so it shows that the
    method ran with only its declared splits instead of being skipped for an in-process run (unset in-process, so
    earlier runs keep their keys)."""
    return payload if cfg.method_isolation == "none" else {**payload, "method_isolation": cfg.method_isolation}


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
        cfg = self.cfg
        payload = {**retrain_payload(cfg, self.task), "scenario": scenario_payload(cfg),
                   "method": method_payload(cfg.method), "eval": OmegaConf.to_container(cfg.eval, resolve=True)}
        return isolation_keyed(payload, cfg)

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

        retrain, retrain_meta = self.cache.load_or_build("retrain", retrain_payload(cfg, self.task),
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

            model, _ = self.cache.load_or_build("iterative", round_payload(self.cfg, self.task, round_k),
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
            self.cache.load_or_build("iterative", round_payload(cfg, self.task, round_k), self.fresh_model(),
                                     lambda: unlearned)
        return unlearned, error, rte_s - observed_s

    def reference_key(self) -> dict:
        """What determines a reference model's evaluation besides its weights."""
        return {"forget_idx_sha256": forget_sha(self.task), "scenario": scenario_payload(self.cfg),
                "eval": reference_eval_cfg(self.cfg), "amp": self.cfg.train.amp}

    def evaluate(self, unlearned: torch.nn.Module | None, refs: References, store: Path) -> Evaluation:
        cfg, task, amp = self.cfg, self.task, self.cfg.train.amp
        key = self.reference_key()
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
                             self.reference_key(),
                             {"original": refs.original_meta["sha256"], "retrain": refs.retrain_meta["sha256"]},
                             partial(cached_evaluation, cfg.cache_dir), original_payload(cfg, self.task),
                             retrain_payload(cfg, self.task), cfg.progress)

    def record_fields(self) -> dict:
        return {"data": self.cfg.data.name, "model": resolve_model_name(self.cfg), "scenario": self.cfg.scenario.name,
                "forget_size": len(self.task.forget_idx), "forget_idx_sha256": forget_sha(self.task),
                "epoch_metrics": self.epoch_metrics}

    def forget_idx(self) -> np.ndarray:
        return self.task.forget_idx
