"""Typed schemas for every config group, registered in Hydra's ConfigStore.

Each YAML in ``conf/<group>/`` starts with ``defaults: [base_<group>, _self_]`` so a typo'd key or a value
of the wrong type fails when the config is composed, before any data is loaded or any model trained.
Method schemas are the ``Config`` dataclasses of the method classes themselves (``base_<method>``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig


@dataclass
class DataConfig:
    name: str = MISSING
    root: str = "${oc.env:UNLEARN_BENCH_DATA,data}"  # folder of the dataset files
    num_classes: int = MISSING
    in_chans: int = MISSING
    img_size: int = MISSING
    # Per-channel normalisation applied inside the model; null = computed from the training split.
    mean: list[float] | None = None
    std: list[float] | None = None
    # Share of each class of the train split held out as validation (SalUn repo: 10% on CIFAR/SVHN).
    val_ratio: float = 0.0
    default_model: str = MISSING
    verify_files: bool = True  # check torchvision's MD5 sums of the dataset files (off for test copies)
    # Only for image-folder datasets (imagenette, imagenet10): <root>/<train_dir>/<class>/* and the same under
    # test_dir; images resized to resize x resize, then center-cropped to img_size (resize null: to img_size).
    train_dir: str | None = None
    test_dir: str | None = None
    resize: int | None = None
    # Only for `fake`: sizes of the synthetic splits.
    n_train: int = 0
    n_test: int = 0


@dataclass
class ModelConfig:
    name: str = "auto"  # `auto` = the dataset's `default_model`
    width: int = 32  # base channel width where the architecture has one (small_cnn)


@dataclass
class ScenarioConfig:
    name: str = MISSING
    kind: str = MISSING  # random | classwise | multiclass | partial_class | subclass
    ratio: float | None = None  # random: share of the train split to forget, in (0, 1)
    size: int | None = None  # random / partial_class: number of examples to forget (instead of ratio)
    class_index: int | None = None  # classwise / partial_class: the class
    classes: list[int] | None = None  # multiclass: the classes to forget entirely
    subclass: str | None = None  # subclass: the sub-class (e.g. CIFAR-20's fine class "rocket") to forget


@dataclass
class TrainConfig:
    """Recipe for training the original model and Retrain from scratch."""

    name: str = MISSING
    epochs: int = MISSING
    batch_size: int = 256
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    nesterov: bool = False
    schedule: str = "multistep"  # multistep | cosine | constant
    milestones: list[int] = field(default_factory=list)  # epochs, for multistep
    gamma: float = 0.1
    warmup_epochs: int = 0
    crop_padding: int = 0  # random crop with zero padding of this many pixels; 0 = off
    hflip: bool = False
    label_smoothing: float = 0.0
    # bf16 autocast. null = auto: on for CUDA, off on CPU (fp32); true on CPU is refused.
    amp: bool | None = None
    # channels_last memory format. null = auto: on (CUDA and CPU: faster convolutions). Not in the cache key.
    channels_last: bool | None = None
    compile: bool = False  # torch.compile the model (in place; any device). Not in the cache key.


@dataclass
class MIAConfig:
    enabled: bool = True


@dataclass
class ULiRAConfig:
    """U-LiRA (Hayes et al. 2024, per-example unlearning MIA; unlearn_bench/ulira.py): ``num_shadows`` shadow
    originals on random halves of the train split, each unlearned with the run's method and retrained without its
    share of D_f. ``fix_variance`` null = LiRA's rule: one variance per population when < 64 shadows per side."""

    enabled: bool = False
    num_shadows: int = 8
    fix_variance: bool | None = None
    seed: int = 0


@dataclass
class ShiftConfig:
    """A distribution shift applied to the forget, retain and test sets at evaluation (Forget Vector §4,
    Fig. 2): ``gaussian`` pixel noise (clipped to [0, 1]) or ``pgd``, an untargeted l_inf attack on each
    evaluated model. Same noise / random start for every model of a run (seed 0)."""

    kind: str = "none"  # none | gaussian | pgd
    sigma: float = 0.08  # gaussian: standard deviation in [0, 1] pixel units (GN1 0.08, GN2 0.2)
    eps: float = 8 / 255  # pgd: l_inf radius
    steps: int = 7
    step_size: float = 2 / 255


@dataclass
class EvalConfig:
    batch_size: int | None = None  # null = auto: 1024 on CUDA, 256 on CPU
    mia: MIAConfig = field(default_factory=MIAConfig)
    shift: ShiftConfig = field(default_factory=ShiftConfig)
    ulira: ULiRAConfig = field(default_factory=ULiRAConfig)
    # Metric groups beyond UA/RA/TA/MIA(/CTA): jit, sure, distances (unlearn_bench/evaluation.py).
    metrics: list[str] = field(default_factory=list)
    save_arrays: bool = True  # per-example logits of every split, next to the record


@dataclass
class LoggerConfig:
    name: str = "none"  # none | wandb
    project: str = "unlearn_bench"
    mode: str = "offline"  # wandb mode: online | offline | disabled
    entity: str | None = None


@dataclass
class RunConfig:
    data: DataConfig = MISSING
    model: ModelConfig = MISSING
    method: Any = MISSING
    scenario: ScenarioConfig = MISSING
    train: TrainConfig = MISSING
    eval: EvalConfig = MISSING
    logger: LoggerConfig = MISSING
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    cache_dir: str = ".cache/unlearn_bench"
    skip_existing: bool = True
    progress: bool = True


def register_configs() -> None:
    """Store the schemas and the ``join`` resolver (``${join:${.classes}}`` -> ``0-1``, for scenario names);
    called before Hydra composes (entry point, scripts and tests)."""
    from omegaconf import OmegaConf

    OmegaConf.register_new_resolver("join", lambda items: "-".join(str(i) for i in items), replace=True)
    from unlearn_bench.methods import METHODS

    cs = ConfigStore.instance()
    cs.store(name="base_config", node=RunConfig)
    cs.store(group="data", name="base_data", node=DataConfig)
    cs.store(group="model", name="base_model", node=ModelConfig)
    cs.store(group="scenario", name="base_scenario", node=ScenarioConfig)
    cs.store(group="train", name="base_train", node=TrainConfig)
    cs.store(group="eval", name="base_eval", node=EvalConfig)
    cs.store(group="logger", name="base_logger", node=LoggerConfig)
    for name, method_cls in METHODS.items():
        cs.store(group="method", name=f"base_{name}", node=method_cls.Config)


CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def compose_config(overrides: list[str] | None = None) -> DictConfig:
    """The config ``python -m unlearn_bench <overrides>`` would run, without Hydra's job machinery (for
    scripts and tests)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=list(overrides or []))
