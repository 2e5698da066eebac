"""What the attacks that train or re-run models share: the seed streams, ``derive_seed`` and ``unlearn_seeded`` (the
run's method re-run on a copy of the original, seeded), and the confidence statistic of U-LiRA and the challenge."""

from __future__ import annotations

import copy
from enum import IntEnum, unique

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from unlearn_bench.data.task import Task
from unlearn_bench.errors import ConfigError
from unlearn_bench.evaluation import predict
from unlearn_bench.isolation import unlearn as isolated_unlearn
from unlearn_bench.methods import DataView, Method
from unlearn_bench.metrics.lira import logit_scaled_confidence
from unlearn_bench.runtime import seed_everything


@unique
class Stream(IntEnum):
    """The streams of the seed sequence ``derive_seed(run seed, attack seed, stream, index)``: one per kind of model
    or draw, distinct, so no two attacks' models share a seed. The values are in the cached models' seeds: changing
    one retrains them."""

    ULIRA_KEEP = 0  # U-LiRA's keep matrix
    ULIRA_ORIGINAL = 1  # its shadow originals
    ULIRA_RETRAIN = 2  # its shadow retrained models
    ULIRA_UNLEARN = 3  # its unlearned shadows
    CHALLENGE_RETRAIN = 10  # the Retrain population (challenge score and KLoM)
    CHALLENGE_UNLEARN = 11  # the unlearned population (challenge score and KLoM)
    RELEARN_DR = 20  # relearning on D_r: its batch order
    RELEARN_DF = 21  # few-shot relearning: the shots and their order
    KLOM_ORIGINAL = 22  # KLoM's independently trained originals


def derive_seed(*parts: int) -> int:
    """A 32-bit seed drawn from the seed sequence of ``parts`` (independent streams per tuple)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def unlearn_seeded(method: Method, original: nn.Module, task: Task, recipe: DictConfig, seed: int,
                   progress: bool = False, isolation: str = "none") -> nn.Module:
    """``method`` applied to a copy of ``original`` through a DataView of ``task``, everything seeded by ``seed``
    (the global RNGs and the data-order generator), as the runner applies the run's method: in the run's
    ``method_isolation`` mode (``isolation``) when it is the run's method, so an attack's re-runs are held to the
    same data access as the run itself."""
    generator = seed_everything(seed)
    view = DataView.from_task(task, method.needs, recipe, generator, progress)
    return isolated_unlearn(method, copy.deepcopy(original), view, isolation)


def scaled_confidences(model: nn.Module, x: torch.Tensor, y: np.ndarray, batch_size: int, amp: bool) -> np.ndarray:
    """phi = log p_y - log(1 - p_y) of ``model`` on images ``x`` with labels ``y``: no augmentation, no eval shift."""
    return logit_scaled_confidence(predict(model, x, batch_size, amp), y)


def at_least(cfg: DictConfig, key: str, low: float) -> None:
    value = OmegaConf.select(cfg, key)
    if not value >= low:
        raise ConfigError(f"{key}={value} must be >= {low}")
