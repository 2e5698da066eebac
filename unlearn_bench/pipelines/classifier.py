"""The classifier original every pipeline shares: the classification pipeline's original, and the UA / FID classifier
of the generation pipelines (one cache key, ``keys.original_key``: one classifier per data, model, recipe and seed)."""

from __future__ import annotations

import torch
from omegaconf import DictConfig

from unlearn_bench.cache import ModelCache
from unlearn_bench.data.task import Task
from unlearn_bench.keys import original_key
from unlearn_bench.models import create_model, model_options, resolve_model_name
from unlearn_bench.runtime import prepare_model, seed_everything
from unlearn_bench.training import train_from_scratch


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

    return cache.load_or_build("original", original_key(cfg, task), new_model(cfg, task, device), train_original)
