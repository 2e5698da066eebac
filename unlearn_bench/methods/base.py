"""The Method contract: a registered name, the data it may read (``needs``), a typed config, ``unlearn``.

``DataView`` exposes only the splits a method declares; reading any other raises, so a zero-shot method
provably never touches D_r and the report can state each method's data access.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from omegaconf import MISSING
from torch import nn

from unlearn_bench.config import TrainConfig
from unlearn_bench.data.task import Task
from unlearn_bench.errors import ConfigError
from unlearn_bench.training import Batches

METHOD_SPLITS = frozenset({"forget", "retain", "val"})  # never "test": it is for evaluation only


class DataAccessError(PermissionError):
    pass


class DataView:
    """What a method may read: the declared splits, class count, device, the training recipe (for
    Retrain) and a seeded generator for data order."""

    def __init__(self, task: Task, needs: frozenset[str], recipe: TrainConfig, generator: torch.Generator,
                 progress: bool = True):
        self._task = task
        self.needs = frozenset(needs)
        self.recipe = recipe
        self.generator = generator
        self.progress = progress

    @property
    def num_classes(self) -> int:
        return self._task.num_classes

    @property
    def device(self) -> torch.device:
        return self._task.device

    @property
    def amp(self) -> bool:
        return self.recipe.amp

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        if name not in self.needs:
            raise DataAccessError(f"this method declared needs={sorted(self.needs)} and may not read {name!r}")
        return self._task.split(name)

    def batches(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool = True,
                augment: bool = True) -> Batches:
        """A re-iterable epoch source over given tensors (e.g. a split with replaced labels)."""
        return lambda: self._task.batches(x, y, batch_size, shuffle, augment, self.generator)

    def loader(self, name: str, batch_size: int, shuffle: bool = True, augment: bool = True) -> Batches:
        return self.batches(*self.split(name), batch_size, shuffle, augment)


@dataclass
class MethodConfig:
    name: str = MISSING  # the registered method name (bookkeeping)
    # Set by a tuned preset (<conf-local>/method/tuned/, written by `python -m unlearn_bench.tune`): how its values
    # were chosen (objective, its value, the tuning seed). Metadata only: not part of the run's cache key.
    tuned: dict[str, Any] | None = None


@dataclass
class SGDConfig(MethodConfig):
    """Optimiser settings shared by the fine-tuning style methods (SalUn repo OPTML-Group/Unlearn-Saliency,
    Classification/arg_parser.py: SGD, momentum 0.9, weight decay 5e-4; its MultiStepLR milestones 91, 136 never
    fall inside the few unlearning epochs, so the learning rate is constant)."""

    epochs: int = 10  # SalUn repo Classification/arg_parser.py: --unlearn_epochs 10
    lr: float = 0.01  # SalUn repo Classification/arg_parser.py: --unlearn_lr 0.01
    batch_size: int = 256  # SalUn repo Classification/arg_parser.py: --batch_size 256
    momentum: float = 0.9  # SalUn repo Classification/arg_parser.py: --momentum 0.9
    weight_decay: float = 5e-4  # SalUn repo Classification/arg_parser.py: --weight_decay 5e-4


class Method:
    name: ClassVar[str]
    needs: ClassVar[frozenset[str]]
    training_free: ClassVar[bool] = False
    full_class_only: ClassVar[bool] = False  # defined only when D_f holds whole classes
    edits_weights: ClassVar[bool] = True  # False: returns a wrapper around the model (an input perturbation)
    Config: ClassVar[type] = MethodConfig

    def __init__(self, cfg: Any):
        self.cfg = cfg

    @classmethod
    def check_config(cls, cfg: Any, num_classes: int) -> None:
        """Raise ConfigError on a method setting that cannot work for this data; runs before any training."""

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        """Return the unlearned model (may modify ``model`` in place)."""
        raise NotImplementedError


METHODS: dict[str, type[Method]] = {}


def register_method(cls: type[Method]) -> type[Method]:
    unknown = set(cls.needs) - METHOD_SPLITS
    if unknown:
        raise ConfigError(f"method {cls.name!r} declares unknown splits {sorted(unknown)}")
    METHODS[cls.name] = cls
    return cls


def create_method(cfg: Any) -> Method:
    if cfg.name not in METHODS:
        raise ConfigError(f"method={cfg.name!r} is not registered; allowed: {sorted(METHODS)}")
    return METHODS[cfg.name](cfg)

