"""The generation pipeline (``task=generation``): build the task, get the classifier original, the DDPM original and
the DDPM Retrain (all cached), run the generation method, sample every class from the three models, compute UA,
FID and Acc_gen (``metrics.py``), save sample grids, write a ``RunRecord`` the report reads.

Reused from the classification pipeline: ``make_task`` (data + forget set), ``ModelCache`` (original and Retrain,
here under the kinds ``ddpm_original`` / ``ddpm_retrain``; the classifier under ``original`` with the
classification runner's own key, so both pipelines share one classifier), ``DataView``, ``training.fit``,
``RunRecord`` / ``write_record``, the report's tables, the seeding and device helpers.
"""

from __future__ import annotations

import copy
import logging
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from unlearn_bench.cache import ModelCache, config_hash
from unlearn_bench.data.scenarios import FULL_CLASS_KINDS, validate_scenario
from unlearn_bench.data.task import Task, make_task
from unlearn_bench.errors import ConfigError, UserInputError
from unlearn_bench.generation.ddpm import ConditionalDDPM, build_ddpm, import_diffusers, train_ddpm
from unlearn_bench.generation.grids import save_image_table
from unlearn_bench.generation.methods import GEN_METHODS, GenerationView, create_gen_method
from unlearn_bench.generation.metrics import (
    FeatureFn,
    batched,
    classifier_features,
    generation_metrics,
    inception_features,
)
from unlearn_bench.generation.sampling import check_sampling, sample_per_class
from unlearn_bench.generation.task import check_task
from unlearn_bench.metrics.gap import avg_gap, gaps
from unlearn_bench.models import create_model
from unlearn_bench.report import render, summarize
from unlearn_bench.results import RECORD_FILE, RunRecord, load_records, read_record, write_record
from unlearn_bench.runner import (
    _data_payload,
    _finished,
    _git_rev,
    _payloads,
    _versions,
    cached_evaluation,
    check_cache_dir,
    resolve_model_name,
    scenario_payload,
    start_run,
    timed_unlearning,
)
from unlearn_bench.runtime import (
    peak_memory_mb,
    prepare_model,
    seed_everything,
    select_device,
)
from unlearn_bench.training import train_from_scratch

log = logging.getLogger(__name__)

MODEL_NAME = "ddpm"


def fid_metric_name(cfg: DictConfig) -> str:
    """``FID_inception`` with Inception weights, else ``FID_classifier``: the table says which features it used."""
    return "FID_inception" if cfg.task.metrics.inception_weights else "FID_classifier"


def validate(cfg: DictConfig) -> None:
    """Checks that need no data: bad input fails before anything is loaded or trained."""
    check_task(cfg)
    if cfg.method.name not in GEN_METHODS:
        raise ConfigError(f"method=generation/{cfg.method.name} is not registered; allowed: "
                          f"{['generation/' + m for m in sorted(GEN_METHODS)]}")
    if cfg.task.model != MODEL_NAME:
        raise ConfigError(f"task.model={cfg.task.model!r} is not supported; allowed: {MODEL_NAME}")
    if cfg.scenario.kind not in FULL_CLASS_KINDS:
        raise ConfigError(f"task=generation forgets whole classes (SalUn's class-wise DDPM setting); scenario="
                          f"{cfg.scenario.name} (kind {cfg.scenario.kind!r}) is not class-wise; allowed kinds: "
                          f"{list(FULL_CLASS_KINDS)}")
    validate_scenario(cfg.scenario, cfg.data.num_classes)
    resolve_model_name(cfg)
    select_device(cfg.device)
    check_sampling(cfg.task.sampling)
    for key in ("task.train.iterations", "task.train.batch_size", "method.iterations", "method.batch_size",
                "train.epochs", "train.batch_size"):
        if OmegaConf.select(cfg, key) < 1:
            raise ConfigError(f"{key}={OmegaConf.select(cfg, key)} must be >= 1")
    for key in ("task.train.lr", "method.lr", "train.lr"):
        value = OmegaConf.select(cfg, key)
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{key}={value} must be a finite number > 0")
    build_ddpm(cfg.task.unet, cfg.task.diffusion, cfg.data.in_chans, cfg.data.img_size, cfg.data.num_classes)
    weights = cfg.task.metrics.inception_weights
    if weights and not Path(weights).is_file():
        raise ConfigError(f"task.metrics.inception_weights={weights!r} is not a file; give a local torchvision "
                          "inception_v3 state dict, or null to use the classifier's features")
    check_cache_dir(cfg.cache_dir)


def generation_payloads(cfg: DictConfig, task: Task) -> dict[str, dict]:
    """Cache keys: the classifier original (the classification runner's key), the DDPM original (data, UNet,
    schedule, recipe, seed), the DDPM Retrain (+ forget set) and the run (+ classifier, scenario, method,
    sampling, metrics)."""
    classification = _payloads(cfg, task)
    task_cfg = OmegaConf.to_container(cfg.task, resolve=True)
    ddpm_original = {"data": _data_payload(cfg), "unet": task_cfg["unet"], "diffusion": task_cfg["diffusion"],
                     "train": task_cfg["train"], "amp": cfg.train.amp, "seed": cfg.seed}
    ddpm_retrain = {**ddpm_original, "forget_idx_sha256": classification["forget_sha"]}
    run = {**ddpm_retrain, "task": "generation", "classifier": classification["original"],
           "scenario": scenario_payload(cfg),
           "method": OmegaConf.to_container(cfg.method, resolve=True),
           "sampling": task_cfg["sampling"], "metrics": task_cfg["metrics"]}
    return {"classifier": classification["original"], "ddpm_original": ddpm_original, "ddpm_retrain": ddpm_retrain,
            "run": run, "forget_sha": classification["forget_sha"]}


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


def classifier_original(cfg: DictConfig, task: Task, cache: ModelCache, payload: dict, device: torch.device
                        ) -> tuple[nn.Module, dict]:
    """The classification runner's original of ``cfg.data`` (same key, seed, recipe and data order), loaded from
    the cache or trained: the UA / FID classifier of the generation pipelines. Returns (model in eval mode, meta)."""
    name = resolve_model_name(cfg)

    def new_classifier() -> nn.Module:
        model = create_model(name, task.num_classes, cfg.data.in_chans, cfg.data.img_size, task.mean, task.std,
                             width=cfg.model.width)
        return prepare_model(model, device, cfg.train.channels_last, cfg.train.compile)

    def train_classifier() -> nn.Module:
        generator = seed_everything(cfg.seed)
        return train_from_scratch(new_classifier(), lambda: task.loader("train", cfg.train.batch_size,
                                                                        generator=generator),
                                  cfg.train, desc="classifier original", progress=cfg.progress)

    classifier, meta = cache.load_or_build("original", payload, new_classifier(), train_classifier)
    return classifier.eval(), meta


def generation_record(cfg: DictConfig, device: torch.device, wall_start: float, versions: dict[str, str],
                      **fields) -> RunRecord:
    """A RunRecord with the fields every generation pipeline fills the same way (wall time, device, peak memory,
    library versions, git revision, resolved config, creation time); the rest come in ``fields``."""
    return RunRecord(wall_s=time.perf_counter() - wall_start, device=str(device), memory=peak_memory_mb(device),
                     versions={**_versions(), **versions}, git_rev=_git_rev(),
                     config=OmegaConf.to_container(cfg, resolve=True), created=time.strftime("%Y-%m-%dT%H:%M:%S"),
                     **fields)


def store_run(store: Path, output_dir: Path, record: RunRecord, arrays: dict[str, np.ndarray] | None,
              forget_idx: np.ndarray | None, files: list[str]) -> None:
    """Write the record (and arrays) into the run store and the output folder; copy ``files`` (e.g. sample grids,
    already in the store) beside it."""
    write_record(store, record, arrays, forget_idx)
    write_record(output_dir, record, arrays, forget_idx)
    for name in files:
        shutil.copy2(store / name, output_dir / name)


def restore_finished(store: Path, output_dir: Path) -> RunRecord | None:
    """The stored record of a finished run, copied with its files into ``output_dir`` (``skip_existing``)."""
    if not _finished(store / RECORD_FILE):
        return None
    log.info("skip: run already recorded in %s", store)
    shutil.copytree(store, output_dir, dirs_exist_ok=True)
    return read_record(store / RECORD_FILE)


def run(cfg: DictConfig, output_dir: str | Path | None = None) -> RunRecord:
    """Run one (data, DDPM, generation method, class-wise scenario, seed) and return its record; stored under
    ``<cache_dir>/runs/<run key>/`` (skipped when it exists and ``skip_existing``) and copied into ``output_dir``
    (the Hydra job folder by default) with the sample grids ``samples_<model>.png``."""
    wall_start = time.perf_counter()
    validate(cfg)
    output_dir, device = start_run(cfg, output_dir)
    progress = cfg.progress

    task = make_task(cfg.data, cfg.scenario, cfg.train, cfg.seed, device)
    payloads = generation_payloads(cfg, task)
    run_key = config_hash(payloads["run"])
    store = Path(cfg.cache_dir) / "runs" / run_key
    fid_name = fid_metric_name(cfg)
    if cfg.skip_existing and (finished := restore_finished(store, output_dir)) is not None:
        print_table(output_dir, fid_name)
        return finished

    cache = ModelCache(cfg.cache_dir)
    classifier_name = resolve_model_name(cfg)
    method = create_gen_method(cfg.method)

    def new_ddpm() -> ConditionalDDPM:
        return build_ddpm(cfg.task.unet, cfg.task.diffusion, cfg.data.in_chans, cfg.data.img_size,
                          task.num_classes).to(device)

    def train_original() -> nn.Module:
        generator = seed_everything(cfg.seed)
        return train_ddpm(new_ddpm(), lambda batch_size: lambda: task.loader("train", batch_size, augment=False,
                                                                             generator=generator),
                          cfg.task.train, cfg.train.amp, "ddpm original", progress)

    def view(needs: frozenset[str], generator: torch.Generator) -> GenerationView:
        return GenerationView.from_task(task, needs, cfg.train, cfg.task.train, generator, progress)

    def train_retrain() -> nn.Module:
        retrain_method = GEN_METHODS["retrain"]
        return retrain_method(retrain_method.Config()).unlearn(original, view(retrain_method.needs,
                                                                               seed_everything(cfg.seed)))

    status, error = "ok", None
    original_meta = retrain_meta = classifier_meta = {"seconds": float("nan"), "cached": False}
    metrics, arrays, original_metrics, retrain_metrics = {}, {}, {}, {}
    rte_s = eval_s = float("nan")
    grids: dict[str, str] = {}
    try:
        classifier, classifier_meta = classifier_original(cfg, task, cache, payloads["classifier"], device)
        original, original_meta = cache.load_or_build("ddpm_original", payloads["ddpm_original"], new_ddpm(),
                                                      train_original)
        retrain, retrain_meta = cache.load_or_build("ddpm_retrain", payloads["ddpm_retrain"], new_ddpm(),
                                                    train_retrain)
        if cfg.method.name == "retrain":
            unlearned, rte_s = retrain, retrain_meta["seconds"]
        else:
            generator = seed_everything(cfg.seed)
            unlearned, error, rte_s = timed_unlearning(
                lambda: method.unlearn(copy.deepcopy(original), view(method.needs, generator)), cfg.method.name, device)
            status = "diverged" if error else "ok"

        eval_start = time.perf_counter()
        features = (inception_features(cfg.task.metrics.inception_weights, device)
                    if cfg.task.metrics.inception_weights else classifier_features(classifier))
        reference = batched(features, task.split("retain")[0], device, cfg.eval.batch_size)
        evaluator = GenerationEvaluator(cfg, task, classifier, features, reference, device)
        reference_eval = {"classifier_sha256": classifier_meta["sha256"], "forget_idx_sha256": payloads["forget_sha"],
                          "sampling": OmegaConf.to_container(cfg.task.sampling, resolve=True),
                          "metrics": OmegaConf.to_container(cfg.task.metrics, resolve=True), "seed": cfg.seed}
        original_metrics, original_arrays = cached_evaluation(
            cfg.cache_dir, {**reference_eval, "weights_sha256": original_meta["sha256"]}, lambda: evaluator(original))
        retrain_metrics, retrain_arrays = cached_evaluation(
            cfg.cache_dir, {**reference_eval, "weights_sha256": retrain_meta["sha256"]}, lambda: evaluator(retrain))
        if cfg.method.name == "retrain":  # the unlearned model is Retrain: its cached samples and metrics
            metrics, arrays = dict(retrain_metrics), dict(retrain_arrays)
        elif unlearned is not None:
            metrics, arrays = evaluator(unlearned)
        eval_s = time.perf_counter() - eval_start
        per_class = cfg.task.sampling.grid_per_class
        arrays["original_grid"] = original_arrays["generated_images"][:, :per_class]
        arrays["retrain_grid"] = retrain_arrays["generated_images"][:, :per_class]
        shown = {"original": original_arrays, "retrain": retrain_arrays}
        if unlearned is not None and cfg.method.name != "retrain":
            shown[cfg.method.name] = arrays
        for label, model_arrays in shown.items():  # into the stored run, copied with the record (and on skip)
            grids[label] = save_grid(model_arrays["generated_images"], task, per_class, store / f"samples_{label}.png",
                                     f"{label}: {cfg.data.name}, {cfg.scenario.name}, seed {cfg.seed}").name
    except UserInputError:
        raise
    except Exception as err:
        log.exception("run %s failed", run_key)
        status, error, metrics, arrays = "failed", f"{type(err).__name__}: {err}", {}, {}
    gap = gaps(metrics, retrain_metrics, keys=tuple(metrics))
    record = generation_record(
        cfg, device, wall_start, {"diffusers": import_diffusers().__version__},
        run_key=run_key, status=status, data=cfg.data.name, model=MODEL_NAME, scenario=cfg.scenario.name,
        method=cfg.method.name, seed=cfg.seed, metrics=metrics, original_metrics=original_metrics,
        retrain_metrics=retrain_metrics, gaps=gap, avg_gap=avg_gap(gap) if gap else float("nan"),
        rte_s=rte_s, original_train_s=original_meta["seconds"], retrain_train_s=retrain_meta["seconds"],
        data_access=sorted(method.needs), training_free=method.training_free, forget_size=len(task.forget_idx),
        forget_idx_sha256=payloads["forget_sha"], error=error,
        extra={"task": "generation", "original_cached": original_meta["cached"],
               "retrain_cached": retrain_meta["cached"], "classifier_cached": classifier_meta["cached"],
               "classifier": classifier_name, "fid_features": fid_name,
               "grids": grids},  # model -> PNG file name beside the record
        eval_s=eval_s,
    )
    store_run(store, output_dir, record, arrays if cfg.eval.save_arrays else None, task.forget_idx,
              list(grids.values()))
    print_table(output_dir, fid_name)
    return record


def print_table(folder: Path, fid_name: str) -> None:
    frame = load_records(folder)
    ok = frame[frame["status"] == "ok"] if not frame.empty else frame
    if ok.empty:
        log.warning("run finished with status %s: %s", frame["status"].iloc[0], folder)
        return
    log.info("\n%s", render(summarize(ok, ("UA", fid_name, "Acc_gen")), "md"))
