"""The ``Pipeline`` contract: what differs between tasks (classification, class-conditional DDPMs, Stable Diffusion)
inside the one run lifecycle of ``unlearn_bench.runner.run``.

``run`` owns what every run shares (validate before any work, skip a finished run, time the method, turn a failure
or a divergence into a record, write the record and arrays, print the table); a pipeline, registered per
``task.name``, supplies the rest as hooks, called in this order:

1. ``validate()``: every check that needs no data, so bad input fails before anything is loaded or trained;
2. ``setup(device)``: the run's data (forget set included) and its cache key, ``run_payload()``;
3. ``references()``: the original and Retrain (or no Retrain), cached;
4. ``unlearn(method, refs)``: the method on a copy of the original, timed by ``timed_unlearning``;
5. ``evaluate(unlearned, refs, store)``: metrics and arrays of the three models (files such as sample grids go into
   ``store``);
6. ``attack_context(refs, unlearned)``: what the enabled attacks (``unlearn_bench.attacks``) may use;
7. ``record_fields()``: the record fields only the pipeline knows (data, model and scenario names, forget set).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from unlearn_bench.attacks import AttackContext
from unlearn_bench.config import EvalConfig
from unlearn_bench.errors import ConfigError
from unlearn_bench.generation.config import TASKS
from unlearn_bench.methods.base import Method, create_method, method_names, method_task, option
from unlearn_bench.training import DivergedError


def unbuilt() -> dict:
    """The cache metadata of a reference model that was not built (no Retrain, or the run failed first)."""
    return {"seconds": float("nan"), "cached": False}


@dataclass
class References:
    """The reference models of a run and their cache metadata (``seconds``, ``cached``, ``sha256``)."""

    original: Any
    original_meta: dict
    retrain: Any | None = None  # None: the task has no Retrain (Stable Diffusion)
    retrain_meta: dict = field(default_factory=unbuilt)


@dataclass
class Evaluation:
    metrics: dict[str, float] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    original_metrics: dict[str, float] = field(default_factory=dict)
    retrain_metrics: dict[str, float] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # written into the run store, copied beside the record
    diverged: str | None = None  # the unlearned model's outputs were NaN/inf (its weights were finite)
    collapsed: str | None = None  # finite, but its utility fell to chance (metrics.accuracy.collapsed): never ranks


EVAL_OPTIONS = tuple(f.name for f in dataclasses.fields(EvalConfig))


class Pipeline:
    name: ClassVar[str]  # the task.name it runs
    # The options of the ``eval`` section this pipeline reads (a run's key holds them; ``keys.run_eval_key``): any
    # other set away from its schema default is refused before any work (``refuse_unread``).
    eval_options: ClassVar[tuple[str, ...]] = EVAL_OPTIONS

    def __init__(self, cfg: DictConfig):
        self.cfg = cfg
        self.read: frozenset[str] = frozenset()  # the splits the method read (set by ``unlearn``; record.data_read)

    def validate(self) -> None:
        raise NotImplementedError

    def setup(self, device: torch.device) -> None:
        raise NotImplementedError

    def run_payload(self) -> dict:
        raise NotImplementedError

    def references(self) -> References:
        raise NotImplementedError

    def unlearn(self, method: Method, refs: References) -> tuple[Any | None, str | None, float]:
        raise NotImplementedError

    def evaluate(self, unlearned: Any | None, refs: References, store: Path) -> Evaluation:
        raise NotImplementedError

    def attack_context(self, refs: References, unlearned: Any) -> AttackContext:
        raise NotImplementedError

    def refuse_unread(self) -> None:
        """ConfigError naming the first ``eval`` option this pipeline does not read that is set away from its schema
        default (``eval=gn1`` under ``task=generation``): it would be recorded as if it applied."""
        defaults = OmegaConf.to_container(OmegaConf.structured(EvalConfig), resolve=True)
        values = OmegaConf.to_container(self.cfg.eval, resolve=True)
        for key in (k for k in values if k not in self.eval_options):
            for path, value, default in differences(values[key], defaults[key], f"eval.{key}"):
                raise ConfigError(f"task={self.name} does not read {path}={value!r}: leave it at its default "
                                  f"({default!r}); task={self.name} reads "
                                  f"{', '.join(f'eval.{k}' for k in self.eval_options)}")

    def record_fields(self) -> dict:
        raise NotImplementedError

    def forget_idx(self) -> np.ndarray | None:
        """Saved beside the record (None: the forget set is not a set of train indices)."""
        return None

    def versions(self) -> dict[str, str]:
        """Versions of the libraries only this pipeline uses (the record holds the common ones too)."""
        return {}

    def create_method(self) -> Method:
        return create_method(self.cfg.method, self.name)


def differences(value: Any, default: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    """(dotted path, value, default) of every leaf of ``value`` that differs from ``default``, in order."""
    if isinstance(value, dict) and isinstance(default, dict):
        for key in value:
            yield from differences(value[key], default.get(key), f"{path}.{key}")
    elif value != default:
        yield path, value, default


PIPELINES: dict[str, type[Pipeline]] = {}


def register_pipeline(cls: type[Pipeline]) -> type[Pipeline]:
    if cls.name in PIPELINES:  # a second pipeline would silently replace the first
        raise ConfigError(f"pipeline task.name={cls.name!r} is registered twice")
    if cls.name not in TASKS:
        raise ConfigError(f"pipeline {cls.name!r} runs no task of generation.config.TASKS; allowed: {list(TASKS)}")
    PIPELINES[cls.name] = cls
    return cls


def create_pipeline(cfg: DictConfig) -> Pipeline:
    """The pipeline of ``task.name``, after checking that ``method`` is a method of that task (the families share
    names: ``method=salun`` is SalUn for classifiers, ``generation/salun`` for DDPMs, ``sd/salun`` for SD) and that
    no ``eval`` option it does not read is set (``Pipeline.refuse_unread``)."""
    name = cfg.task.name
    if name not in PIPELINES:
        raise ConfigError(f"task.name={name!r} is not supported; allowed: {sorted(TASKS)}")
    family = method_task(cfg.method)
    if family != name:
        shown = option(family, cfg.method.name)
        if name == "classification":
            raise ConfigError(f"method={shown} is {TASKS[family].methods} and needs task={family}; with "
                              "task=classification choose a classification method (conf/method/*.yaml)")
        allowed = "method=" + ", ".join(option(name, m) for m in method_names(name))
        raise ConfigError(f"task={name} needs {TASKS[name].methods}, but method={shown} is "
                          f"{TASKS[family].methods} (it needs task={family}); allowed: {allowed}")
    pipeline = PIPELINES[name](cfg)
    pipeline.refuse_unread()
    return pipeline


def check_counts(cfg: DictConfig, keys: Iterable[str]) -> None:
    """Each of ``keys`` that is set must be >= 1 (an unset one is chosen automatically or not read by the method)."""
    for key in keys:
        value = OmegaConf.select(cfg, key)
        if value is not None and value < 1:
            raise ConfigError(f"{key}={value} must be >= 1")


def check_rates(cfg: DictConfig, keys: Iterable[str]) -> None:
    """Each of ``keys`` (learning rates) must be a finite number > 0."""
    for key in keys:
        value = OmegaConf.select(cfg, key)
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{key}={value} must be a finite number > 0")


def non_finite(model: torch.nn.Module) -> list[str]:
    """Names of the parameters and buffers that hold NaN or inf."""
    return [name for name, t in model.state_dict().items()
            if t.is_floating_point() and not bool(torch.isfinite(t).all())]


def check_finite(model: torch.nn.Module, name: str) -> torch.nn.Module:
    """``model``, or DivergedError when method ``name`` left NaN/inf in its weights."""
    if bad := non_finite(model):
        raise DivergedError(f"{name}: weights became NaN/inf in {len(bad)} tensors ({', '.join(bad[:3])})")
    return model


UnlearnedObserver = Callable[[Any], None]
_unlearned_observer: contextvars.ContextVar[UnlearnedObserver | None] = contextvars.ContextVar("unlearned_observer",
                                                                                               default=None)


@contextlib.contextmanager
def observe_unlearned(observer: UnlearnedObserver) -> Iterator[None]:
    """Call ``observer(model)`` with what every method inside the block returned (a finite model, after its timing
    stopped), so a check can inspect it (scripts/gpu_check.py: on which device its tensors are) while the runner
    records exactly what it records without one."""
    token = _unlearned_observer.set(observer)
    try:
        yield
    finally:
        _unlearned_observer.reset(token)


def timed_unlearning(unlearn: Callable[[], Any], name: str, device: torch.device
                     ) -> tuple[Any | None, str | None, float]:
    """Run ``unlearn()`` (method ``name``) and time it, CUDA work included. Divergence (DivergedError, NaN/inf
    weights) is a result, not a crash: ``(None, message, seconds)``; else ``(model, None, seconds)``."""
    start = time.perf_counter()
    try:
        model, error = check_finite(unlearn(), name), None
    except DivergedError as err:
        model, error = None, str(err)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    if model is not None and (observer := _unlearned_observer.get()) is not None:
        observer(model)
    return model, error, seconds
