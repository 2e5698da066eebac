"""``task=generation``: class-wise forgetting in a class-conditional DDPM (SalUn §3, §5, App. C.1). References: the
classification original of ``data`` (the UA / FID classifier, the classification pipeline's cached model), the DDPM
original and the DDPM Retrain (cached as ``ddpm_original`` / ``ddpm_retrain``). Evaluation samples every class from
each model and computes UA, FID and Acc_gen (``generation/metrics.py``); the sample grids are saved beside the
record."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig
from torch import nn

from unlearn_bench import keys
from unlearn_bench.cache import ModelCache, cached_evaluation
from unlearn_bench.data.scenarios import SCENARIOS, create_scenario
from unlearn_bench.data.task import Task, make_task
from unlearn_bench.errors import ConfigError
from unlearn_bench.generation import methods as _generation_methods  # noqa: F401  (registers the family)
from unlearn_bench.generation.ddpm import ConditionalDDPM, build_ddpm, import_diffusers, train_ddpm
from unlearn_bench.generation.grids import save_image_table
from unlearn_bench.generation.methods.base import GenerationView
from unlearn_bench.generation.metrics import (
    FeatureFn,
    batched,
    classifier_features,
    generation_metrics,
    inception_features,
)
from unlearn_bench.generation.sampling import check_sampling, sample_per_class
from unlearn_bench.isolation import check_mode
from unlearn_bench.isolation import unlearn as isolated_unlearn
from unlearn_bench.methods.base import Method, method_class
from unlearn_bench.models import resolve_model_name
from unlearn_bench.pipelines.base import (
    Evaluation,
    Pipeline,
    References,
    check_counts,
    check_rates,
    register_pipeline,
    timed_unlearning,
)
from unlearn_bench.pipelines.classifier import original_model
from unlearn_bench.runtime import seed_everything, select_device

MODEL_NAME = "ddpm"


def fid_metric_name(cfg: DictConfig) -> str:
    """``FID_inception`` with Inception weights, else ``FID_classifier``: the table says which features it used."""
    return "FID_inception" if cfg.task.metrics.inception_weights else "FID_classifier"


def check_full_class(cfg: DictConfig, what: str) -> None:
    """Generation pipelines forget whole classes (SalUn's class-wise settings)."""
    if not create_scenario(cfg.scenario).full_class:
        raise ConfigError(f"{what} forgets whole classes; scenario={cfg.scenario.name} (kind "
                          f"{cfg.scenario.kind!r}) is not class-wise; allowed kinds: "
                          f"{[kind for kind, cls in SCENARIOS.items() if cls.full_class]}")


@dataclass
class GenerationEvaluator:
    """Samples every class from a DDPM and scores the images against the classifier and the real D_r features."""

    cfg: DictConfig
    task: Task
    classifier: nn.Module
    features: FeatureFn
    reference_features: np.ndarray
    device: torch.device

    def __call__(self, model: ConditionalDDPM) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        classes = list(range(self.task.num_classes))
        generated = sample_per_class(model, classes, self.cfg.task.sampling, self.cfg.seed)
        return generation_metrics(generated, classes, self.task.forgotten_classes, self.classifier,
                                  fid_metric_name(self.cfg), self.features, self.reference_features, self.device)


def save_grid(images: np.ndarray, task: Task, per_class: int, path: Path, title: str) -> Path:
    """Rows = classes (the forgotten one(s) marked), ``per_class`` generated images each (SalUn Fig. 4 style)."""
    labels = [f"{name} (forgotten)" if k in task.forgotten_classes else name for k, name in enumerate(task.classes)]
    return save_image_table(images[:, :per_class], labels, None, path, title)


@register_pipeline
class DDPMPipeline(Pipeline):
    name = "generation"
    eval_options = ("batch_size", "save_arrays")  # the real D_r features' batches; the arrays beside the record

    def validate(self) -> None:
        cfg = self.cfg
        method_class(cfg.method.name, self.name)
        if cfg.task.model != MODEL_NAME:
            raise ConfigError(f"task.model={cfg.task.model!r} is not supported; allowed: {MODEL_NAME}")
        check_full_class(cfg, "task=generation (SalUn's class-wise DDPM setting)")
        create_scenario(cfg.scenario).validate(cfg.data.num_classes)
        resolve_model_name(cfg)
        select_device(cfg.device)
        check_sampling(cfg.task.sampling)
        check_counts(cfg, ("task.train.iterations", "task.train.batch_size", "method.iterations", "method.batch_size",
                           "train.epochs", "train.batch_size"))
        check_rates(cfg, ("task.train.lr", "method.lr", "train.lr"))
        build_ddpm(cfg.task.unet, cfg.task.diffusion, cfg.data.in_chans, cfg.data.img_size, cfg.data.num_classes)
        weights = cfg.task.metrics.inception_weights
        if weights and not Path(weights).is_file():
            raise ConfigError(f"task.metrics.inception_weights={weights!r} is not a file; give a local torchvision "
                              "inception_v3 state dict, or null to use the classifier's features")
        check_mode(cfg.method_isolation)

    def setup(self, device: torch.device) -> None:
        cfg = self.cfg
        self.device = device
        self.cache = ModelCache(cfg.cache_dir)
        self.task = make_task(cfg.data, cfg.scenario, cfg.train, cfg.seed, device)
        self.classifier_meta: dict = {"cached": False}
        self.grids: dict[str, str] = {}

    def run_payload(self) -> dict:
        return keys.ddpm_run_key(self.cfg, self.task, self.eval_options)

    def new_ddpm(self) -> ConditionalDDPM:
        cfg = self.cfg
        return build_ddpm(cfg.task.unet, cfg.task.diffusion, cfg.data.in_chans, cfg.data.img_size,
                          self.task.num_classes).to(self.device)

    def view(self, method: Method | type[Method], generator: torch.Generator) -> GenerationView:
        return GenerationView.from_task(self.task, method.needs, self.cfg.train, self.cfg.task.train, generator,
                                        self.cfg.progress)

    def references(self) -> References:
        cfg, task = self.cfg, self.task
        self.classifier, self.classifier_meta = original_model(cfg, task, self.cache, self.device)
        self.classifier.eval()

        def train_original() -> nn.Module:
            generator = seed_everything(cfg.seed)
            return train_ddpm(self.new_ddpm(), lambda batch_size: lambda: task.loader(
                "train", batch_size, augment=False, generator=generator), cfg.task.train, cfg.train.amp,
                "ddpm original", cfg.progress)

        original, original_meta = self.cache.load_or_build("ddpm_original", keys.ddpm_original_key(cfg),
                                                           self.new_ddpm(), train_original)
        retrain_cls = method_class("retrain", self.name)

        def train_retrain() -> nn.Module:
            return retrain_cls(retrain_cls.Config()).unlearn(original, self.view(retrain_cls,
                                                                                 seed_everything(cfg.seed)))

        retrain, retrain_meta = self.cache.load_or_build("ddpm_retrain", keys.ddpm_retrain_key(cfg, task),
                                                         self.new_ddpm(), train_retrain)
        return References(original, original_meta, retrain, retrain_meta)

    def unlearn(self, method: Method, refs: References) -> tuple[Any | None, str | None, float]:
        view = self.view(method, seed_everything(self.cfg.seed))
        result = timed_unlearning(
            lambda: isolated_unlearn(method, copy.deepcopy(refs.original), view, self.cfg.method_isolation),
            self.cfg.method.name, self.device)
        self.read = view.read
        return result

    def evaluate(self, unlearned: ConditionalDDPM | None, refs: References, store: Path) -> Evaluation:
        cfg, task = self.cfg, self.task
        features = (inception_features(cfg.task.metrics.inception_weights, self.device)
                    if cfg.task.metrics.inception_weights else classifier_features(self.classifier))
        reference = batched(features, task.split("retain")[0], self.device, cfg.eval.batch_size)
        evaluator = GenerationEvaluator(cfg, task, self.classifier, features, reference, self.device)
        key = keys.ddpm_eval_key(cfg, task, self.classifier_meta["sha256"])
        original_metrics, original_arrays = cached_evaluation(
            cfg.cache_dir, {**key, "weights_sha256": refs.original_meta["sha256"]}, lambda: evaluator(refs.original))
        retrain_metrics, retrain_arrays = cached_evaluation(
            cfg.cache_dir, {**key, "weights_sha256": refs.retrain_meta["sha256"]}, lambda: evaluator(refs.retrain))
        result = Evaluation(original_metrics=original_metrics, retrain_metrics=retrain_metrics)
        is_retrain = cfg.method.name == "retrain"
        if is_retrain:  # the unlearned model is Retrain: its cached samples and metrics
            result.metrics, result.arrays = dict(retrain_metrics), dict(retrain_arrays)
        elif unlearned is not None:
            result.metrics, result.arrays = evaluator(unlearned)
        per_class = cfg.task.sampling.grid_per_class
        result.arrays["original_grid"] = original_arrays["generated_images"][:, :per_class]
        result.arrays["retrain_grid"] = retrain_arrays["generated_images"][:, :per_class]
        shown = {"original": original_arrays, "retrain": retrain_arrays}
        if unlearned is not None and not is_retrain:
            shown[cfg.method.name] = result.arrays
        for label, model_arrays in shown.items():  # into the stored run, copied with the record (and on skip)
            self.grids[label] = save_grid(model_arrays["generated_images"], task, per_class,
                                          store / f"samples_{label}.png",
                                          f"{label}: {cfg.data.name}, {cfg.scenario.name}, seed {cfg.seed}").name
        result.files = list(self.grids.values())
        return result

    def record_fields(self) -> dict:
        cfg = self.cfg
        return {"data": cfg.data.name, "model": MODEL_NAME, "scenario": cfg.scenario.name,
                "forget_size": len(self.task.forget_idx), "forget_idx_sha256": keys.forget_sha(self.task),
                "extra": {"task": "generation", "classifier_cached": self.classifier_meta["cached"],
                          "classifier": resolve_model_name(cfg), "fid_features": fid_metric_name(cfg),
                          "grids": self.grids}}  # model -> PNG file name beside the record

    def forget_idx(self) -> np.ndarray:
        return self.task.forget_idx

    def versions(self) -> dict[str, str]:
        return {"diffusers": import_diffusers().__version__}
