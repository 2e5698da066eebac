"""``DataView``: the only data a method sees.

A view is built from the tensors of the splits the method declares and the few settings batching needs; it holds no
reference to the ``Task``, so an undeclared split is not merely refused by ``split`` but absent from the method's
reach (no attribute path leads to it). It records which declared splits the method actually read, so the report can
state each method's data access as observed, not only as declared. A view is picklable: process isolation
(``unlearn_bench.isolation``) sends it whole to a child process.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch

from unlearn_bench.config import TrainConfig
from unlearn_bench.data.loader import iterate_batches
from unlearn_bench.data.task import Task
from unlearn_bench.training import Batches

METHOD_SPLITS = frozenset({"forget", "retain", "val"})  # never "test": it is for evaluation only

Split = tuple[torch.Tensor, torch.Tensor]


class DataAccessError(PermissionError):
    pass


def task_data(task: Task, needs: Iterable[str]) -> dict[str, Any]:
    """What a view copies out of ``task``: the ``needs`` splits and the settings batching needs, never the task.
    Keyword arguments of ``DataView`` (and of its subclasses' constructors)."""
    return {"splits": {name: task.split(name) for name in needs}, "num_classes": task.num_classes,
            "device": task.device, "crop_padding": task.crop_padding, "hflip": task.hflip}


class DataView:
    """What a method may read: the declared splits, class count, device, the training recipe (for Retrain) and a
    seeded generator for data order and augmentation."""

    def __init__(self, splits: Mapping[str, Split], num_classes: int, device: torch.device | str,
                 recipe: TrainConfig, generator: torch.Generator, progress: bool = True, crop_padding: int = 0,
                 hflip: bool = False):
        self._splits = dict(splits)
        self._read: set[str] = set()
        self.num_classes = num_classes
        self.device = torch.device(device)
        self.recipe = recipe
        self.generator = generator
        self.progress = progress
        self.crop_padding = crop_padding
        self.hflip = hflip

    @classmethod
    def from_task(cls, task: Task, needs: Iterable[str], recipe: TrainConfig, generator: torch.Generator,
                  progress: bool = True) -> DataView:
        return cls(**task_data(task, needs), recipe=recipe, generator=generator, progress=progress)

    @property
    def needs(self) -> frozenset[str]:
        """The declared splits: those the view holds (read-only)."""
        return frozenset(self._splits)

    @property
    def read(self) -> frozenset[str]:
        """The declared splits read so far through ``split`` / ``loader``."""
        return frozenset(self._read)

    def note_read(self, names: Iterable[str]) -> None:
        """Add splits read through a copy of this view (process isolation's child)."""
        self._read.update(set(names) & self.needs)

    @property
    def amp(self) -> bool:
        return self.recipe.amp

    def split(self, name: str) -> Split:
        """The split's tensors as stored: images uint8 in [0, 255] (N x C x H x W, on ``device``), labels int64.
        A model takes floats in [0, 1]: feed it through ``loader`` / ``batches`` (or ``data.loader.to_float``)."""
        if name not in self._splits:
            raise DataAccessError(f"this method declared needs={sorted(self.needs)} and may not read {name!r}")
        self._read.add(name)
        return self._splits[name]

    def batches(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool = True,
                augment: bool = True) -> Batches:
        """A re-iterable epoch source over given tensors (e.g. a split with replaced labels), with the recipe's
        augmentation when ``augment``."""
        return lambda: iterate_batches(x, y, batch_size, shuffle, self.crop_padding if augment else 0,
                                       self.hflip and augment, self.generator)

    def loader(self, name: str, batch_size: int, shuffle: bool = True, augment: bool = True) -> Batches:
        """A re-iterable epoch source: ``loader(...)()`` yields ``(images float in [0, 1], labels)`` batches, shuffled
        with the view's seeded generator, with the recipe's augmentation when ``augment``."""
        return self.batches(*self.split(name), batch_size, shuffle, augment)
