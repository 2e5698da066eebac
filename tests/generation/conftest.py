"""A tiny class-conditional DDPM and the synthetic ``fake`` task for fast generation tests."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import compose_config
from unlearn_bench.data.task import make_task
from unlearn_bench.generation.config import DDPMTrainConfig, DiffusionConfig, UNetConfig
from unlearn_bench.generation.ddpm import ConditionalDDPM, build_ddpm
from unlearn_bench.generation.methods.base import GenerationView
from unlearn_bench.runtime import seed_everything

# Tiny UNet: two levels of 8 and 16 channels (8x8 -> 4x4), GroupNorm over 4 groups.
TINY_UNET = ["task.unet.block_out_channels=[8,16]", "task.unet.norm_num_groups=4"]


@pytest.fixture(autouse=True)
def one_thread():
    """The tiny UNet's ops are too small to split across threads: on the shared 2-core CI machine two threads made a
    training step 20x slower than one. Restored after each test."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_ddpm(num_classes: int = 4, in_chans: int = 3, img_size: int = 8) -> ConditionalDDPM:
    seed_everything(0)
    return build_ddpm(UNetConfig(block_out_channels=[8, 16], attention=[False, True], norm_num_groups=4),
                      DiffusionConfig(num_train_timesteps=100), in_chans, img_size, num_classes)


@pytest.fixture(scope="module")
def fake_task():
    cfg = compose_config(["data=fake", "scenario=classwise", "data.n_train=120", "data.n_test=40"])
    return make_task(cfg.data, cfg.scenario, cfg.train, 0, "cpu"), cfg


def make_view(task_and_cfg, needs: frozenset[str], iterations: int = 10) -> GenerationView:
    task, cfg = task_and_cfg
    cfg.train.amp = False
    recipe = DDPMTrainConfig(iterations=iterations, batch_size=16, lr=1e-3)
    return GenerationView.from_task(task, needs, cfg.train, recipe, torch.Generator().manual_seed(0), progress=False)
