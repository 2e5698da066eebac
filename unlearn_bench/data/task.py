"""The Task: data of one run (train/test tensors on the device) plus the forget/retain split."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from unlearn_bench.config import DataConfig, ScenarioConfig, TrainConfig
from unlearn_bench.data.datasets import load_dataset
from unlearn_bench.data.loader import iterate_batches
from unlearn_bench.data.scenarios import create_scenario
from unlearn_bench.errors import ConfigError

SPLITS = ("train", "forget", "retain", "test", "val", "forget_test")


@dataclass
class Task:
    train_x: torch.Tensor  # uint8 N x C x H x W, on `device`; the train split (validation held out)
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    forget_idx: np.ndarray  # sorted indices into the train split
    num_classes: int
    classes: list[str]
    mean: list[float]
    std: list[float]
    forgotten_classes: list[int] = field(default_factory=list)
    # Over the whole test set: the images of the class(es) / sub-class the scenario forgets from (none for random).
    forget_class_test: np.ndarray | None = None
    # Sub-class forgetting: the test set's sub-class labels, their names and the forgotten one (else None).
    test_sub: np.ndarray | None = None
    sub_classes: list[str] | None = None
    forgotten_subclass: str | None = None
    # SURE's resolving-confusion task: the two classes whose D_f examples carry each other's label in train_y.
    confused_classes: list[int] = field(default_factory=list)
    # Train examples in neither D_f nor D_r: what earlier rounds of iterative unlearning already forgot.
    excluded_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    crop_padding: int = 0
    hflip: bool = False
    _splits: dict = field(default_factory=dict, repr=False)

    @property
    def device(self) -> torch.device:
        return self.train_x.device

    @property
    def retain_idx(self) -> np.ndarray:
        keep = np.ones(len(self.train_y), dtype=bool)
        keep[self.forget_idx] = False
        keep[self.excluded_idx] = False
        return np.flatnonzero(keep)

    def with_forget(self, forget_idx: np.ndarray, excluded_idx: np.ndarray) -> Task:
        """The same data with another forget set, ``excluded_idx`` belonging to neither D_f nor D_r."""
        return dataclasses.replace(self, forget_idx=forget_idx, excluded_idx=excluded_idx, _splits={})

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(uint8 images, labels)`` of a split. ``test`` excludes the test images of forgotten classes
        (SalUn repo's class-wise protocol, needed for TA); ``forget_test`` is the test images of the class(es)
        or sub-class the scenario forgets from (SURE's CTA, JiT's D_f accuracy; empty for random forgetting)."""
        if name not in SPLITS:
            raise KeyError(f"unknown split {name!r}; allowed: {list(SPLITS)}")
        if name not in self._splits:
            if name == "train":
                self._splits[name] = (self.train_x, self.train_y)
            elif name == "val":
                self._splits[name] = (self.val_x, self.val_y)
            elif name in ("forget", "retain"):
                idx = torch.from_numpy(self.forget_idx if name == "forget" else self.retain_idx)
                idx = idx.to(self.device)
                self._splits[name] = (self.train_x[idx], self.train_y[idx])
            elif name == "forget_test":
                mask = torch.from_numpy(self._forget_class_test()).to(self.device)
                self._splits[name] = (self.test_x[mask], self.test_y[mask])
            else:
                keep = self._test_keep()
                self._splits[name] = (self.test_x[keep], self.test_y[keep])
        return self._splits[name]

    def _test_keep(self) -> torch.Tensor:
        return ~torch.isin(self.test_y, torch.tensor(self.forgotten_classes, device=self.device))

    def _forget_class_test(self) -> np.ndarray:
        if self.forget_class_test is None:
            return np.zeros(len(self.test_y), dtype=bool)
        return self.forget_class_test

    def forget_class_in_test_split(self) -> np.ndarray:
        """Which images of the ``test`` split are of the forgotten sub-class / partly forgotten class."""
        return self._forget_class_test()[self._test_keep().cpu().numpy()]

    def batches(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool = True,
                augment: bool = True, generator: torch.Generator | None = None
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch over ``(x, y)`` with the recipe's augmentation (when ``augment``)."""
        return iterate_batches(x, y, batch_size, shuffle, self.crop_padding if augment else 0,
                               self.hflip and augment, generator)

    def loader(self, name: str, batch_size: int, shuffle: bool = True, augment: bool = True,
               generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.batches(*self.split(name), batch_size, shuffle, augment, generator)


def _hold_out_validation(y: np.ndarray, ratio: float, seed: int) -> np.ndarray:
    """Indices of ``ratio`` of each class (SalUn repo: 10% per class with RandomState(seed))."""
    if ratio <= 0:
        return np.zeros(0, dtype=np.int64)
    rng = np.random.RandomState(seed)
    held = [rng.choice(np.flatnonzero(y == c), int(round(ratio * (y == c).sum())), replace=False)
            for c in np.unique(y)]
    return np.sort(np.concatenate(held)).astype(np.int64)


def make_task(data_cfg: DataConfig, scenario_cfg: ScenarioConfig, train_cfg: TrainConfig, seed: int,
              device: torch.device | str, member_prob: Callable[[Task], np.ndarray] | None = None) -> Task:
    """The run's data and forget set. ``member_prob`` is for scenarios whose forget set the original model chooses
    (``worst_case``): called with the task before it has a forget set (its ``train`` split is final), it returns
    the original model's member probability of every train example."""
    scenario = create_scenario(scenario_cfg)
    scenario.validate(data_cfg.num_classes)
    if not 0.0 <= data_cfg.val_ratio < 1.0:
        raise ConfigError(f"data.val_ratio={data_cfg.val_ratio} must be in [0, 1)")
    if scenario.chooses_with_original and member_prob is None:
        raise ConfigError(f"scenario={scenario_cfg.name} (kind {scenario_cfg.kind}) is chosen with the original "
                          "model: make_task needs member_prob (the runner passes it)")
    data = load_dataset(data_cfg)
    labels = data.train_y.numpy()
    val_idx = _hold_out_validation(labels, data_cfg.val_ratio, seed)
    train_mask = np.ones(len(labels), dtype=bool)
    train_mask[val_idx] = False
    train_x, train_y = data.train_x[train_mask], data.train_y[train_mask]
    mean, std = data_cfg.mean, data_cfg.std
    if mean is None or std is None:
        pixels = train_x.float().div(255).transpose(0, 1).reshape(train_x.shape[1], -1)
        mean, std = pixels.mean(1).tolist(), pixels.std(1).tolist()
    sub_y = data.train_sub[train_mask].numpy() if data.train_sub is not None else None
    test_sub = data.test_sub.numpy() if data.test_sub is not None else None

    def forget(scores: np.ndarray | None = None) -> np.ndarray:
        return scenario.forget_indices(train_y.numpy(), seed, sub_y, data.sub_classes, member_prob=scores)

    forget_idx = np.zeros(0, dtype=np.int64) if scenario.chooses_with_original else forget()
    # What the original learns (confusion: D_f's swapped labels, which D_f keeps: what a method is asked to unlearn).
    train_y = torch.from_numpy(scenario.training_labels(train_y.numpy(), forget_idx))

    task = Task(
        train_x=train_x.to(device), train_y=train_y.to(device),
        test_x=data.test_x.to(device), test_y=data.test_y.to(device),
        val_x=data.train_x[val_idx].to(device), val_y=data.train_y[val_idx].to(device),
        forget_idx=forget_idx, confused_classes=scenario.confused_classes(),
        num_classes=data_cfg.num_classes, classes=data.classes,
        mean=list(mean), std=list(std), forgotten_classes=scenario.forgotten_classes(),
        crop_padding=train_cfg.crop_padding, hflip=train_cfg.hflip,
        forget_class_test=scenario.forget_class_mask(data.test_y.numpy(), test_sub, data.sub_classes),
    )
    if (subclass := scenario.forgotten_subclass()) is not None:
        task.test_sub, task.sub_classes, task.forgotten_subclass = test_sub, data.sub_classes, subclass
    if scenario.chooses_with_original:
        task.forget_idx = forget(member_prob(task))
        task._splits.clear()  # forget / retain views, if the scorer built any, belong to the empty forget set
    return task
