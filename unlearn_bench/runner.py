"""The only orchestrator: build the task, get the original and Retrain (cached), run the method,
evaluate all three, write the record."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import math
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock
from omegaconf import DictConfig, OmegaConf

import unlearn_bench
from unlearn_bench.attacks import ATTACKS, AttackContext, check_attacks, enabled_attacks, run_attack
from unlearn_bench.cache import ModelCache, atomic_write_bytes, atomic_write_json, config_hash
from unlearn_bench.challenge_eval import challenge_evaluation, check_challenge_config
from unlearn_bench.data.scenarios import (
    FULL_CLASS_KINDS,
    MODEL_DEPENDENT_KINDS,
    iterative_chunks,
    member_probability,
    validate_scenario,
)
from unlearn_bench.data.task import Task, make_task
from unlearn_bench.errors import ConfigError, UserInputError
from unlearn_bench.evaluation import check_metric_groups, check_shift, evaluate, predict, relative_metrics
from unlearn_bench.loggers import log_run
from unlearn_bench.methods import METHODS, DataView, Method, create_method
from unlearn_bench.metrics.gap import avg_gap, gaps
from unlearn_bench.models import MODELS, create_model, model_options
from unlearn_bench.report import reading, render, summarize
from unlearn_bench.results import ARRAYS_FILE, RECORD_FILE, RunRecord, load_records, read_record, write_record
from unlearn_bench.runtime import (
    configure_backends,
    peak_memory_mb,
    prepare_model,
    resolve_amp,
    resolve_eval_batch_size,
    seed_everything,
    select_device,
)
from unlearn_bench.training import DivergedError, lr_factor, observe_epochs, train_from_scratch
from unlearn_bench.tune import check_tune
from unlearn_bench.ulira import ulira_attack

log = logging.getLogger(__name__)


def resolve_model_name(cfg: DictConfig) -> str:
    name = cfg.data.default_model if cfg.model.name == "auto" else cfg.model.name
    if name not in MODELS:
        raise ConfigError(f"model={name!r} is not registered; allowed: auto, {', '.join(sorted(MODELS))}")
    return name


def validate(cfg: DictConfig) -> None:
    """Checks that need no data, so bad input fails before anything is loaded or trained."""
    if cfg.method.name not in METHODS:
        raise ConfigError(f"method={cfg.method.name!r} is not registered; allowed: {sorted(METHODS)}")
    if METHODS[cfg.method.name].full_class_only and cfg.scenario.kind not in FULL_CLASS_KINDS:
        raise ConfigError(f"method={cfg.method.name} is defined for full-class forgetting only; "
                          f"scenario={cfg.scenario.name} (kind {cfg.scenario.kind!r}) is not; allowed kinds: "
                          f"{list(FULL_CLASS_KINDS)}")
    METHODS[cfg.method.name].check_config(cfg.method, cfg.data.num_classes)
    validate_scenario(cfg.scenario, cfg.data.num_classes)
    if cfg.scenario.kind == "iterative":
        if not METHODS[cfg.method.name].edits_weights:
            raise ConfigError(f"scenario kind 'iterative' chains the method's models round by round; "
                              f"method={cfg.method.name} returns a wrapper, not weights")
        for attack in ("ulira", "challenge"):
            if cfg.eval[attack].enabled:
                raise ConfigError(f"eval.{attack} re-runs the method from the original; it is not defined for "
                                  "scenario kind 'iterative'")
    check_shift(cfg.eval.shift)
    model_options(cfg.model, resolve_model_name(cfg))
    select_device(cfg.device)
    check_metric_groups(cfg.eval.metrics)
    check_challenge_config(cfg.eval.challenge)
    check_attacks(cfg)
    check_tune(cfg.tune)
    for key in ("train.epochs", "train.batch_size", "eval.batch_size", "model.width",
                *(f"method.{k}" for k in cfg.method if k.endswith("batch_size"))):
        value = OmegaConf.select(cfg, key)
        if value is not None and value < 1:  # None: chosen automatically
            raise ConfigError(f"{key}={value} must be >= 1")
    if not (math.isfinite(cfg.train.lr) and cfg.train.lr > 0):
        raise ConfigError(f"train.lr={cfg.train.lr} must be a finite number > 0")
    lr_factor(cfg.train, cfg.train.warmup_epochs)  # the first epoch after warm-up: raises on an unknown train.schedule
    check_cache_dir(cfg.cache_dir)


def check_cache_dir(cache_dir: str) -> None:
    """``cache_dir`` (env UNLEARN_BENCH_CACHE) must be, or be creatable as, a readable and writable folder;
    checked without creating anything."""
    path = Path(cache_dir).absolute()
    existing = next(p for p in (path, *path.parents) if os.path.exists(p))  # False, not an error, if unreadable
    problem = None
    if not existing.is_dir():
        problem = f"{existing} is not a folder"
    elif not os.access(existing, os.R_OK | os.W_OK | os.X_OK):
        problem = f"{existing} is not readable and writable"
    if problem:
        raise ConfigError(f"cache_dir={cache_dir!r} cannot be used: {problem}; set cache_dir=<dir> or the "
                          "environment variable UNLEARN_BENCH_CACHE to a readable, writable folder")


def non_finite(model: torch.nn.Module) -> list[str]:
    """Names of the parameters and buffers that hold NaN or inf."""
    return [name for name, t in model.state_dict().items()
            if t.is_floating_point() and not bool(torch.isfinite(t).all())]


# Options added after cache keys were in use: left out of a key while unset, so earlier runs keep their keys.
LATER_OPTIONS = {"data": ("train_subset",), "scenario": ("rounds", "round"), "method": ("weights",)}


def _without_unset_later_options(node: dict, group: str) -> dict:
    return {k: v for k, v in node.items() if not (k in LATER_OPTIONS.get(group, ()) and v is None)}


def _payload_of(cfg: DictConfig, group: str) -> dict:
    return _without_unset_later_options(OmegaConf.to_container(cfg[group], resolve=True), group)


def _data_payload(cfg: DictConfig) -> dict:
    """The config that determines the data: everything in `data` but where and how files are read."""
    data = _payload_of(cfg, "data")
    for key in ("root", "verify_files"):
        data.pop(key, None)
    return data


def scenario_payload(cfg: DictConfig) -> dict:
    return _payload_of(cfg, "scenario")


def _original_payload(cfg: DictConfig, task: Task) -> dict:
    """The original's cache key: data, model, recipe and seed (no scenario: every forget set shares it, but for
    SURE's confusion task, whose original learns D_f with swapped labels)."""
    model = {"name": resolve_model_name(cfg), **model_options(cfg.model, resolve_model_name(cfg))}
    train = OmegaConf.to_container(cfg.train, resolve=True)
    for knob in ("compile", "channels_last"):  # how the same computation is executed, not what is computed
        train.pop(knob)
    payload = {"data": _data_payload(cfg), "model": model, "train": train, "seed": cfg.seed}
    if task.confused_classes:
        payload["swapped_labels"] = {"classes": task.confused_classes,
                                     "forget_idx_sha256": hashlib.sha256(task.forget_idx.tobytes()).hexdigest()}
    return payload


def _payloads(cfg: DictConfig, task: Task) -> dict[str, dict]:
    forget_sha = hashlib.sha256(task.forget_idx.tobytes()).hexdigest()
    original = _original_payload(cfg, task)
    retrain = {**original, "forget_idx_sha256": forget_sha}
    run = {**retrain, "scenario": scenario_payload(cfg),
           "method": method_payload(cfg.method),
           "eval": OmegaConf.to_container(cfg.eval, resolve=True)}
    return {"original": original, "retrain": retrain, "run": run, "forget_sha": forget_sha}


def new_model(cfg: DictConfig, task: Task, device: torch.device) -> torch.nn.Module:
    """A freshly initialised model of the run's architecture, on ``device``."""
    model_name = resolve_model_name(cfg)
    model = create_model(model_name, task.num_classes, cfg.data.in_chans, cfg.data.img_size, task.mean, task.std,
                         **model_options(cfg.model, model_name))
    return prepare_model(model, device, cfg.train.channels_last, cfg.train.compile)


def original_model(cfg: DictConfig, task: Task, cache: ModelCache, device: torch.device
                   ) -> tuple[torch.nn.Module, dict]:
    """The original (cached): ``train`` of the recipe on the whole train split, seeded with the run's seed."""

    def train_original() -> torch.nn.Module:
        generator = seed_everything(cfg.seed)
        return train_from_scratch(new_model(cfg, task, device),
                                  lambda: task.loader("train", cfg.train.batch_size, generator=generator),
                                  cfg.train, desc="original", progress=cfg.progress)

    return cache.load_or_build("original", _original_payload(cfg, task), new_model(cfg, task, device),
                               train_original)


def iterative_round(cfg: DictConfig, task: Task, round_k: int) -> Task:
    """What the method sees in round ``round_k`` of iterative unlearning (SalUn Table A3): D_f = that round's new
    examples; D_r = the train split minus everything forgotten so far (earlier rounds are in neither)."""
    chunks = iterative_chunks(cfg.scenario, len(task.train_y), cfg.seed)
    return task.with_forget(chunks[round_k - 1], np.concatenate([np.zeros(0, dtype=np.int64), *chunks[:round_k - 1]]))


def iterative_payload(cfg: DictConfig, task: Task, round_k: int) -> dict:
    """The cache key of the method's model after round ``round_k`` (the name, which holds this run's round, is left
    out: every run of the sweep must find the same key)."""
    scenario = {k: v for k, v in scenario_payload(cfg).items() if k != "name"}
    return {**_original_payload(cfg, task), "scenario": {**scenario, "round": round_k},
            "method": method_payload(cfg.method)}


def check_finite(model: torch.nn.Module, name: str) -> torch.nn.Module:
    """``model``, or DivergedError when method ``name`` left NaN/inf in its weights."""
    if bad := non_finite(model):
        raise DivergedError(f"{name}: weights became NaN/inf in {len(bad)} tensors ({', '.join(bad[:3])})")
    return model


def timed_unlearning(unlearn: Callable[[], torch.nn.Module], name: str, device: torch.device
                     ) -> tuple[torch.nn.Module | None, str | None, float]:
    """Run ``unlearn()`` (method ``name``) and time it, CUDA work included. Divergence (DivergedError, NaN/inf
    weights) is a result, not a crash: ``(None, message, seconds)``; else ``(model, None, seconds)``. Every runner
    (classification, DDPM, Stable Diffusion) times its method here."""
    start = time.perf_counter()
    try:
        model, error = check_finite(unlearn(), name), None
    except DivergedError as err:
        model, error = None, str(err)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return model, error, time.perf_counter() - start


def iterative_start(cfg: DictConfig, task: Task, method: Method, original: torch.nn.Module, cache: ModelCache,
                    device: torch.device) -> torch.nn.Module:
    """The model round ``scenario.round`` starts from: the original in round 1, else the method's model after the
    previous round, "the model of round k is the original of round k+1". Each round's model is cached, so a sweep
    over the rounds unlearns every round once."""
    model = original
    for round_k in range(1, cfg.scenario.round):
        def build(previous: torch.nn.Module = model, round_k: int = round_k) -> torch.nn.Module:
            view = DataView.from_task(iterative_round(cfg, task, round_k), method.needs, cfg.train,
                                      seed_everything(cfg.seed), cfg.progress)
            return check_finite(method.unlearn(copy.deepcopy(previous), view), method.name)

        model, _ = cache.load_or_build("iterative", iterative_payload(cfg, task, round_k), new_model(cfg, task, device),
                                       build)
    return model


class MembershipScorer:
    """For ``worst_case`` (JiT Table 6): the original model's member probability of every train example under
    JiT's MIA model (``scenarios.member_probability``: the whole train split as members, the test set as
    non-members). The original does not depend on the forget set, so it is the run's own (cached) original, kept
    in ``original`` for the run."""

    def __init__(self, cfg: DictConfig, cache: ModelCache, device: torch.device):
        self.cfg, self.cache, self.device = cfg, cache, device
        self.original: tuple[torch.nn.Module, dict] | None = None

    def __call__(self, task: Task) -> np.ndarray:
        self.original = original_model(self.cfg, task, self.cache, self.device)
        batch_size, amp = self.cfg.eval.batch_size, self.cfg.train.amp
        train_logits = predict(self.original[0], task.train_x, batch_size, amp)
        return member_probability(train_logits, predict(self.original[0], task.test_x, batch_size, amp), train_logits)


def method_payload(method_cfg: DictConfig) -> dict:
    """The method config that determines the unlearned model: all of it but the ``tuned`` metadata, so a tuned
    preset and the same values given as overrides are one run."""
    method = _without_unset_later_options(OmegaConf.to_container(method_cfg, resolve=True), "method")
    method.pop("tuned", None)
    if method.get("weights") is not None:  # {1: 0}, {"1": 0.0} and any key order are one computation
        method["weights"] = {str(k): float(v) for k, v in sorted(method["weights"].items(), key=lambda kv: int(kv[0]))}
    return method


def _versions() -> dict[str, str]:
    import hydra
    import sklearn

    return {"unlearn_bench": unlearn_bench.__version__, "torch": torch.__version__,
            "hydra": hydra.__version__, "sklearn": sklearn.__version__, "numpy": np.__version__}


def _git_rev() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def cached_evaluation(cache_dir: str, payload: dict, compute: Callable[[], tuple[dict, dict]]
                      ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """``compute()`` (metrics, arrays) of a reference model, the original or Retrain, stored in
    ``<cache_dir>/eval/<key>/``: every method of a seed shares them, so they are computed once (the key holds the
    weights' SHA-256, the forget set, the scenario and the eval config). metrics.json is written last: its presence
    marks a complete entry. Used by the classification and the generation runner."""
    folder = Path(cache_dir) / "eval" / config_hash(payload)
    metrics_path, arrays_path = folder / "metrics.json", folder / ARRAYS_FILE
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if metrics_path.exists() and arrays_path.exists():
            with np.load(arrays_path) as stored:
                return json.loads(metrics_path.read_text()), dict(stored)
        metrics, arrays = compute()
        atomic_write_bytes(arrays_path, lambda f: np.savez(f, **arrays))
        atomic_write_json(metrics_path, metrics)
        return metrics, arrays


def reference_eval_cfg(cfg: DictConfig) -> dict:
    """The eval config that determines the original's and Retrain's evaluation (U-LiRA, the challenge score and the
    attacks of unlearn_bench/attacks.py are the method's, and so is evaluating every unlearning epoch)."""
    return {k: v for k, v in OmegaConf.to_container(cfg.eval, resolve=True).items()
            if k not in ("ulira", "challenge", "every_epoch", *ATTACKS)}


def config_options() -> dict[str, str]:
    """The group options the run was composed from (``method: digits/salun``, ``train: digits``, ``experiment``), so
    a record says which preset file its values came from; empty outside a Hydra job (tests, scripts)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return {}
    return {group: str(option) for group, option in HydraConfig.get().runtime.choices.items()
            if option is not None and not group.startswith("hydra")}


def _finished(record_path: Path) -> bool:
    """A stored record that counts as done: readable and not ``failed`` (a failed run is tried again)."""
    try:
        return read_record(record_path).status != "failed"
    except (OSError, ValueError, TypeError):
        return False


def start_run(cfg: DictConfig, output_dir: str | Path | None) -> tuple[Path, torch.device]:
    """What every runner does after its checks: the output folder (the Hydra job folder by default), the device,
    and the settings resolved for it (``train.amp``, ``eval.batch_size``: resolved before any cache key, since fp32
    and bf16 models differ) and its backend flags."""
    if output_dir is None:
        from hydra.core.hydra_config import HydraConfig

        output_dir = HydraConfig.get().runtime.output_dir
    device = select_device(cfg.device)
    cfg.train.amp = resolve_amp(cfg.train.amp, device)
    cfg.eval.batch_size = resolve_eval_batch_size(cfg.eval.batch_size, device)
    configure_backends(device)
    return Path(output_dir), device


def run(cfg: DictConfig, output_dir: str | Path | None = None) -> RunRecord:
    """Run one (data, model, method, scenario, seed) and return its record.

    The record is stored under ``<cache_dir>/runs/<run key>/`` (so an identical run anywhere is skipped
    when ``skip_existing``) and copied into ``output_dir`` (the Hydra job folder by default).
    """
    wall_start = time.perf_counter()
    validate(cfg)
    output_dir, device = start_run(cfg, output_dir)
    progress = cfg.progress

    cache = ModelCache(cfg.cache_dir)
    scorer = MembershipScorer(cfg, cache, device) if cfg.scenario.kind in MODEL_DEPENDENT_KINDS else None
    task = make_task(cfg.data, cfg.scenario, cfg.train, cfg.seed, device, scorer)
    payloads = _payloads(cfg, task)
    run_key = config_hash(payloads["run"])
    store = Path(cfg.cache_dir) / "runs" / run_key
    if cfg.skip_existing and _finished(store / RECORD_FILE):
        log.info("skip: run %s already recorded in %s", run_key, store)
        shutil.copytree(store, output_dir, dirs_exist_ok=True)
        _print_table(output_dir)
        return read_record(store / RECORD_FILE)

    model_name = resolve_model_name(cfg)
    method = create_method(cfg.method)

    def fresh_model() -> torch.nn.Module:
        return new_model(cfg, task, device)

    def train_retrain() -> torch.nn.Module:
        generator = seed_everything(cfg.seed)
        view = DataView.from_task(task, METHODS["retrain"].needs, cfg.train, generator, progress)
        retrain_method = METHODS["retrain"]
        return retrain_method(retrain_method.Config()).unlearn(original, view)

    epoch_metrics: list[dict[str, float]] = []
    observed_s = 0.0  # seconds spent in epoch_observer

    def epoch_observer(model: torch.nn.Module, epoch: int) -> None:
        """eval.every_epoch: the model's metrics after each unlearning epoch (numbered 1, 2, ... across all of the
        method's training loops)."""
        nonlocal observed_s
        start = time.perf_counter()
        epoch_metrics.append({"epoch": len(epoch_metrics) + 1, **evaluate(model, task, cfg.eval, cfg.train.amp)[0]})
        observed_s += time.perf_counter() - start

    # Failures are data: an exception below is recorded (status `failed`, its message) and the sweep goes on.
    status, error = "ok", None
    original_meta = retrain_meta = {"seconds": float("nan"), "cached": False}
    metrics, arrays, original_metrics, retrain_metrics = {}, {}, {}, {}
    rte_s = eval_s = float("nan")
    try:
        original, original_meta = scorer.original if scorer else original_model(cfg, task, cache, device)
        retrain, retrain_meta = cache.load_or_build("retrain", payloads["retrain"], fresh_model(), train_retrain)

        if cfg.method.name == "retrain":
            unlearned, rte_s = retrain, retrain_meta["seconds"]
        else:
            iterative = cfg.scenario.kind == "iterative"
            round_task = iterative_round(cfg, task, cfg.scenario.round) if iterative else task
            try:
                start_model = iterative_start(cfg, task, method, original, cache, device) if iterative else original
            except DivergedError as err:
                start_model, error = None, f"an earlier round diverged: {err}"
            if start_model is not None:
                view = DataView.from_task(round_task, method.needs, cfg.train, seed_everything(cfg.seed), progress)
                with observe_epochs(epoch_observer) if cfg.eval.every_epoch else contextlib.nullcontext():
                    unlearned, error, rte_s = timed_unlearning(
                        lambda: method.unlearn(copy.deepcopy(start_model), view), cfg.method.name, device)
                rte_s -= observed_s  # per-epoch evaluations are not unlearning time
            else:
                unlearned = None
            status = "diverged" if error else "ok"
            if iterative and unlearned is not None:  # the next round starts from this model
                cache.load_or_build("iterative", iterative_payload(cfg, task, cfg.scenario.round), fresh_model(),
                                    lambda: unlearned)

        amp = cfg.train.amp
        eval_start = time.perf_counter()
        reference_eval = {"forget_idx_sha256": payloads["forget_sha"],
                          "scenario": scenario_payload(cfg),
                          "eval": reference_eval_cfg(cfg), "amp": amp}
        original_metrics, original_arrays = cached_evaluation(
            cfg.cache_dir, {**reference_eval, "weights_sha256": original_meta["sha256"]},
            lambda: evaluate(original, task, cfg.eval, amp))
        retrain_metrics, retrain_arrays = cached_evaluation(
            cfg.cache_dir, {**reference_eval, "weights_sha256": retrain_meta["sha256"]},
            lambda: evaluate(retrain, task, cfg.eval, amp))
        metrics, arrays = {}, {}
        if unlearned is not None:
            try:
                metrics, arrays = evaluate(unlearned, task, cfg.eval, amp)
            except DivergedError as err:
                status, error, unlearned = "diverged", f"{cfg.method.name}: {err}", None
        groups = list(cfg.eval.metrics)
        if unlearned is not None:
            metrics.update(relative_metrics(arrays, retrain_arrays, groups, unlearned, retrain))
        original_metrics = {**original_metrics,
                            **relative_metrics(original_arrays, retrain_arrays, groups, original, retrain)}
        # The references' D_f logits travel with the run: distances to the original and to Retrain on D_f.
        arrays["original_forget_logits"] = original_arrays["forget_logits"]
        arrays["retrain_forget_logits"] = retrain_arrays["forget_logits"]
        eval_s = time.perf_counter() - eval_start
        if cfg.eval.ulira.enabled and unlearned is not None:
            ulira_metrics, ulira_arrays = ulira_attack(cfg, task, payloads["original"], fresh_model, unlearned,
                                                       retrain, progress)
            metrics.update(ulira_metrics)
            arrays.update(ulira_arrays)
        if cfg.eval.challenge.enabled and unlearned is not None:
            challenge_metrics, challenge_arrays = challenge_evaluation(cfg, task, payloads["retrain"], fresh_model,
                                                                       original, retrain, progress)
            metrics.update(challenge_metrics)
            arrays.update(challenge_arrays)
        if unlearned is not None:  # eval.relearn / representation / klom (unlearn_bench/attacks.py)
            context = AttackContext(cfg, task, original, retrain, unlearned, fresh_model, reference_eval,
                                    {"original": original_meta["sha256"], "retrain": retrain_meta["sha256"]},
                                    partial(cached_evaluation, cfg.cache_dir), payloads["retrain"], progress)
            for attack in enabled_attacks(cfg):
                result = run_attack(attack, context)
                metrics.update(result.metrics)
                arrays.update(result.arrays)
                original_metrics.update(result.original_metrics)
                retrain_metrics.update(result.retrain_metrics)
    except UserInputError:
        raise
    except Exception as err:
        log.exception("run %s failed", run_key)
        status, error, metrics, arrays = "failed", f"{type(err).__name__}: {err}", {}, {}
    gap = gaps(metrics, retrain_metrics, keys=tuple(metrics))
    record = RunRecord(
        run_key=run_key, status=status, data=cfg.data.name, model=model_name, scenario=cfg.scenario.name,
        method=cfg.method.name, seed=cfg.seed, metrics=metrics, original_metrics=original_metrics,
        retrain_metrics=retrain_metrics, gaps=gap, avg_gap=avg_gap(gap) if gap else float("nan"),
        rte_s=rte_s, original_train_s=original_meta["seconds"], retrain_train_s=retrain_meta["seconds"],
        wall_s=time.perf_counter() - wall_start, data_access=sorted(method.needs),
        training_free=method.training_free, forget_size=len(task.forget_idx),
        forget_idx_sha256=payloads["forget_sha"], device=str(device), memory=peak_memory_mb(device),
        versions=_versions(), git_rev=_git_rev(), config=OmegaConf.to_container(cfg, resolve=True),
        created=time.strftime("%Y-%m-%dT%H:%M:%S"), error=error,
        extra={"original_cached": original_meta["cached"], "retrain_cached": retrain_meta["cached"],
               "options": config_options()},
        eval_s=eval_s, epoch_metrics=epoch_metrics,
    )
    arrays = arrays if cfg.eval.save_arrays else None
    write_record(store, record, arrays, task.forget_idx)
    write_record(output_dir, record, arrays, task.forget_idx)
    log_run(cfg.logger, record.config, {"metrics": metrics, "avg_gap": record.avg_gap, "rte_s": rte_s},
            str(output_dir))
    _print_table(output_dir)
    return record


def _print_table(folder: Path) -> None:
    frame = load_records(folder)
    ok = frame[frame["status"] == "ok"] if not frame.empty else frame
    if ok.empty:
        log.warning("run finished with status %s: %s", frame["status"].iloc[0], folder)
        return
    tables = summarize(ok)
    log.info("\n%s\n%s", render(tables, "md"), "\n".join(reading(t) for t in tables.values()))
