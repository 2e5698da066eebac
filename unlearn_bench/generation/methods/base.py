"""The contract of a generation unlearning method: like ``unlearn_bench.methods.base.Method`` (a registered name,
the splits it may read in ``needs``, a typed config) with ``unlearn(model, data)`` on a ``ConditionalDDPM``.

Trained methods run Adam (the optimizer of SalUn's DDPM code and of its SD settings, App. C.1; Alg. 2 writes one
SGD step, the DDPM optimizer is not stated) for ``iterations`` batches with gradient clipping."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from omegaconf import MISSING
from torch import nn

from unlearn_bench.config import TrainConfig
from unlearn_bench.data.task import Task
from unlearn_bench.errors import ConfigError
from unlearn_bench.generation.config import DDPMTrainConfig
from unlearn_bench.generation.ddpm import ConditionalDDPM, optimize
from unlearn_bench.methods.view import METHOD_SPLITS, DataView, Split, task_data
from unlearn_bench.training import Batches, Objective, StepHook


class GenerationView(DataView):
    """A ``DataView`` plus the DDPM training recipe (for Retrain)."""

    def __init__(self, splits: Mapping[str, Split], num_classes: int, device: torch.device | str,
                 recipe: TrainConfig, ddpm_recipe: DDPMTrainConfig, generator: torch.Generator, progress: bool = True,
                 crop_padding: int = 0, hflip: bool = False):
        super().__init__(splits, num_classes, device, recipe, generator, progress, crop_padding, hflip)
        self.ddpm_recipe = ddpm_recipe

    @classmethod
    def from_task(cls, task: Task, needs: Iterable[str], recipe: TrainConfig,
                  ddpm_recipe: DDPMTrainConfig, generator: torch.Generator, progress: bool = True) -> GenerationView:
        return cls(**task_data(task, needs), recipe=recipe, ddpm_recipe=ddpm_recipe, generator=generator,
                   progress=progress)


@dataclass
class GenMethodConfig:
    name: str = MISSING
    iterations: int = 1000
    lr: float = 1e-4
    batch_size: int = 128
    grad_clip: float | None = 1.0


class GenMethod:
    name: ClassVar[str]
    needs: ClassVar[frozenset[str]]
    training_free: ClassVar[bool] = False
    Config: ClassVar[type] = GenMethodConfig

    def __init__(self, cfg: Any):
        self.cfg = cfg

    def unlearn(self, model: ConditionalDDPM, data: GenerationView) -> nn.Module:
        raise NotImplementedError


class TrainedGenMethod(GenMethod):
    """A method that minimises ``objective`` over ``batches`` with Adam (optionally with a step hook built at
    theta_o, e.g. SalUn's saliency mask)."""

    def batches(self, model: ConditionalDDPM, data: GenerationView) -> Batches:
        raise NotImplementedError

    def objective(self, model: ConditionalDDPM, data: GenerationView) -> Objective:
        raise NotImplementedError

    def step_hook(self, model: ConditionalDDPM, data: GenerationView) -> StepHook | None:
        return None

    def parameters(self, model: ConditionalDDPM) -> Iterable[nn.Parameter] | None:
        """The weights the method updates (default: all)."""
        return None

    def unlearn(self, model: ConditionalDDPM, data: GenerationView) -> nn.Module:
        hook = self.step_hook(model, data)  # built at theta_o, before any update
        return optimize(model, self.batches(model, data), self.objective(model, data), self.cfg.iterations,
                        self.cfg.lr, self.cfg.grad_clip, data.amp, self.name, data.progress, hook,
                        self.parameters(model))


GEN_METHODS: dict[str, type[GenMethod]] = {}


def register_gen_method(cls: type[GenMethod]) -> type[GenMethod]:
    unknown = set(cls.needs) - METHOD_SPLITS
    if unknown:
        raise ConfigError(f"generation method {cls.name!r} declares unknown splits {sorted(unknown)}")
    GEN_METHODS[cls.name] = cls
    return cls


def create_gen_method(cfg: Any) -> GenMethod:
    if cfg.name not in GEN_METHODS:
        raise ConfigError(f"method=generation/{cfg.name} is not registered; allowed: "
                          f"{['generation/' + name for name in sorted(GEN_METHODS)]}")
    return GEN_METHODS[cfg.name](cfg)
