"""Typed schemas of the ``task`` config group: ``task=classification`` (the default pipeline),
``task=generation`` (class-conditional diffusion unlearning, SalUn §3/§5 and App. C.1) and ``task=generation_sd``
(Stable Diffusion, ``generation/sd/config.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore

from unlearn_bench.generation.sd.config import SDTaskConfig

SAMPLERS = ("ddim", "ddpm")


@dataclass
class ClassificationTaskConfig:
    name: str = "classification"


@dataclass
class UNetConfig:
    """diffusers ``UNet2DModel`` with a class embedding of ``num_classes + 1`` rows (the last = the null class of
    classifier-free guidance). One down block per entry of ``block_out_channels``; ``attention`` marks the levels
    with self-attention (AttnDownBlock2D / AttnUpBlock2D)."""

    block_out_channels: list[int] = field(default_factory=lambda: [32, 64])
    attention: list[bool] = field(default_factory=lambda: [False, False])
    layers_per_block: int = 1
    norm_num_groups: int = 8


@dataclass
class DiffusionConfig:
    """DDPM noise schedule (Ho et al. 2020: 1,000 steps, linear betas 1e-4 .. 0.02) and the label-dropout rate of
    classifier-free guidance training (Ho & Salimans 2022 use 0.1 / 0.2)."""

    num_train_timesteps: int = 1000
    beta_schedule: str = "linear"  # diffusers DDPMScheduler: linear | scaled_linear | squaredcos_cap_v2 | sigmoid
    beta_start: float = 1e-4
    beta_end: float = 0.02
    p_uncond: float = 0.1


@dataclass
class DDPMTrainConfig:
    """Recipe of the original DDPM and of Retrain (SalUn App. C.1: Adam, lr 1e-4, batch 128, 80,000 iterations on
    CIFAR-10); gradients clipped to ``grad_clip`` (the DDIM code base SalUn's DDPM folder builds on uses 1.0)."""

    iterations: int = 80000
    batch_size: int = 128
    lr: float = 1e-4
    grad_clip: float = 1.0


@dataclass
class SamplingConfig:
    """Generation for the metrics and the grids. SalUn App. C.1 (DDPM): 1,000 steps, conditional scale 2.0; the
    guided noise is eps(x|null) + scale * (eps(x|c) - eps(x|null)) (Eq. 1 with w = scale). ``num_per_class``
    images per class (not stated in the paper); the first ``grid_per_class`` of each class make the sample grid."""

    sampler: str = "ddim"  # ddim | ddpm
    steps: int = 50
    guidance_scale: float = 2.0
    eta: float = 0.0  # DDIM stochasticity (0 = deterministic)
    num_per_class: int = 100
    grid_per_class: int = 8
    batch_size: int = 500


@dataclass
class GenMetricsConfig:
    """UA uses the harness's own classifier original of the same data. FID uses Inception-v3 pool features when
    ``inception_weights`` names a local torchvision ``inception_v3`` state dict, else the classifier's penultimate
    features (the metric is then named ``FID_classifier``, never plain FID)."""

    inception_weights: str | None = None


@dataclass
class GenerationTaskConfig:
    name: str = "generation"
    model: str = "ddpm"  # ddpm (class-conditional UNet2DModel + CFG)
    unet: UNetConfig = field(default_factory=UNetConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    train: DDPMTrainConfig = field(default_factory=DDPMTrainConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    metrics: GenMetricsConfig = field(default_factory=GenMetricsConfig)


@dataclass(frozen=True)
class TaskKind:
    """A value of ``task.name`` (one pipeline each, ``unlearn_bench.pipelines``): its config schema, the folder of its
    method presets (``conf/<method_group>/``, also the prefix of their option) and what its methods are called."""

    schema: type
    method_group: str
    methods: str


# The one list of tasks.
TASKS: dict[str, TaskKind] = {
    "classification": TaskKind(ClassificationTaskConfig, "method", "a classification method"),
    "generation": TaskKind(GenerationTaskConfig, "method/generation", "a generation method"),
    "generation_sd": TaskKind(SDTaskConfig, "method/sd", "a Stable Diffusion method"),
}


def store_task_schemas(cs: ConfigStore) -> None:
    """The ``task`` group's schemas (the SD task's from ``generation/sd/config.py``, also a schema module)."""
    for name, task in TASKS.items():
        cs.store(group="task", name=f"base_{name}", node=task.schema)
