"""What generation methods share: ``GenerationView`` (a ``DataView`` plus the DDPM recipe, for Retrain), the DDPM
methods' config defaults, and ``TrainedDiffusionMethod``, the template of every trained DDPM and Stable Diffusion
method.

Trained methods run Adam (the optimizer of SalUn's DDPM code and of its SD settings, App. C.1; Alg. 2 writes one
SGD step, the DDPM optimizer is not stated) for ``iterations`` batches with gradient clipping."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from omegaconf import MISSING
from torch import nn

from unlearn_bench.config import TrainConfig
from unlearn_bench.data.task import Task
from unlearn_bench.generation.config import DDPMTrainConfig
from unlearn_bench.generation.ddpm import optimize
from unlearn_bench.methods.base import Method
from unlearn_bench.methods.view import DataView, Split, task_data
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


class GenerationMethod(Method):
    """A method of ``task=generation`` (class-conditional DDPMs): ``unlearn(ConditionalDDPM, GenerationView)``."""

    task = "generation"
    Config = GenMethodConfig


class TrainedDiffusionMethod(Method):
    """A method that minimises ``objective`` over ``batches`` with Adam for ``iterations(data)`` batches, on the
    weights ``parameters`` selects (default all), optionally with a step hook built at theta_o (e.g. SalUn's saliency
    mask). DDPM methods train the whole model; SD methods (``generation/sd/methods``) the UNet of an ``SDModel``."""

    def iterations(self, data: Any) -> int:
        return self.cfg.iterations

    def batches(self, model: Any, data: Any) -> Batches:
        raise NotImplementedError

    def objective(self, model: Any, data: Any) -> Objective:
        raise NotImplementedError

    def step_hook(self, model: Any, data: Any) -> StepHook | None:
        return None

    def parameters(self, model: Any) -> Iterable[nn.Parameter] | None:
        """The weights the method updates (default: all of ``model``'s)."""
        return None

    def unlearn(self, model: Any, data: Any) -> Any:
        hook = self.step_hook(model, data)  # built at theta_o, before any update
        optimize(model, self.batches(model, data), self.objective(model, data), self.iterations(data), self.cfg.lr,
                 self.cfg.grad_clip, data.amp, self.name, data.progress, hook, self.parameters(model))
        return model


class TrainedDDPMMethod(TrainedDiffusionMethod, GenerationMethod):
    """A trained method of ``task=generation`` (class-conditional DDPMs)."""
