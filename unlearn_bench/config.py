"""Typed schemas for every config group, registered in Hydra's ConfigStore.

Each YAML in ``conf/<group>/`` starts with ``defaults: [base_<group>, _self_]`` so a typo'd key or a value
of the wrong type fails when the config is composed, before any data is loaded or any model trained.
Method schemas are the ``Config`` dataclasses of the method classes themselves (``base_<method>``), stored when a
method registers. The bottom layer: this module imports no other part of the package but ``errors`` and the task
schemas (``generation/config.py``).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from unlearn_bench.errors import ConfigError
from unlearn_bench.generation.config import store_task_schemas


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
    # Keep only this many training images (the same share of each class, drawn once with a fixed RNG, so every
    # seed and run sees one dataset), before the validation hold-out; null = all. For CPU-scale studies.
    train_subset: int | None = None
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
    # timm models only (vit_tiny, vit_small, vit_b16, swin_t; unlearn_bench/models/timm_models.py):
    pretrained_path: str | None = None  # local timm checkpoint to start from; null = random init (never downloaded)
    input_size: int | None = None  # images resized to this inside the model (JiT: 224 for ViT); null = data.img_size
    patch_size: int | None = None  # null = the architecture's (16 for ViT, 4 for Swin-T)


@dataclass
class ScenarioConfig:
    name: str = MISSING
    kind: str = MISSING  # random | classwise | ... | worst_case | confusion | iterative (data.scenarios.SCENARIOS)
    ratio: float | None = None  # random: share of the train split to forget, in (0, 1)
    size: int | None = None  # random / partial_class / worst_case / confusion: number of examples (instead of ratio)
    class_index: int | None = None  # classwise / partial_class / worst_case: the class
    classes: list[int] | None = None  # multiclass: the classes to forget entirely; confusion: the two confused
    subclass: str | None = None  # subclass: the sub-class (e.g. CIFAR-20's fine class "rocket") to forget
    rounds: int | None = None  # iterative: number of rounds, each forgetting ``ratio`` (or ``size``) more of D
    round: int | None = None  # iterative: this run's round, 1 .. rounds


@dataclass
class SGDDefaults:
    """The SGD settings that training (``TrainConfig``) and the fine-tuning style methods (``methods.base.SGDConfig``)
    share, the one home of their defaults: the SalUn repo's (OPTML-Group/Unlearn-Saliency), which trains the
    original and unlearns with the same optimiser."""

    batch_size: int = 256  # SalUn repo Classification/arg_parser.py: --batch_size 256
    momentum: float = 0.9  # SalUn repo Classification/arg_parser.py: --momentum 0.9
    weight_decay: float = 5e-4  # SalUn repo Classification/arg_parser.py: --weight_decay 5e-4


@dataclass
class TrainConfig(SGDDefaults):
    """Recipe for training the original model and Retrain from scratch."""

    name: str = MISSING
    epochs: int = MISSING  # set by every conf/train option
    lr: float = 0.1  # SalUn repo Classification/arg_parser.py: --lr 0.1
    nesterov: bool = False  # off: none of the papers' recipes uses Nesterov (train=fast turns it on)
    schedule: str = "multistep"  # multistep | cosine | constant; SalUn repo Classification/main_train.py: MultiStepLR
    milestones: list[int] = field(default_factory=list)  # epochs, for multistep; none by default (train=salun: 91, 136)
    gamma: float = 0.1  # SalUn repo Classification/main_train.py: MultiStepLR x0.1
    warmup_epochs: int = 0  # SalUn repo Classification/arg_parser.py: --warmup 0
    crop_padding: int = 0  # random crop with zero padding of this many pixels; 0 = off (harness choice: opt-in)
    hflip: bool = False  # harness choice: opt-in per recipe (digits are not flip-invariant)
    label_smoothing: float = 0.0  # off: none of the papers' recipes smooths labels (train=fast: 0.2)
    # bf16 autocast. null = auto: on for CUDA, off on CPU (fp32); true on CPU is refused.
    amp: bool | None = None  # harness choice: speed on CUDA, exact fp32 on CPU
    # channels_last memory format. null = auto: on (CUDA and CPU: faster convolutions). Not in the cache key.
    channels_last: bool | None = None  # harness choice: faster convolutions
    compile: bool = False  # torch.compile the model (in place; any device). Not in the cache key. Harness choice: off


@dataclass
class MIAConfig:
    enabled: bool = True


@dataclass
class ULiRAConfig:
    """U-LiRA (Hayes et al. 2024, per-example unlearning MIA; unlearn_bench/attacks/ulira.py): ``num_shadows`` shadow
    originals on random halves of the train split, each unlearned with the run's method and retrained without its
    share of D_f. ``fix_variance`` null = LiRA's rule: one variance per population when < 64 shadows per side."""

    enabled: bool = False
    num_shadows: int = 8
    fix_variance: bool | None = None
    seed: int = 0
    # Shadow originals/retrained models in vectorised passes (unlearn_bench/ensemble.py); same model cache keys.
    ensemble: bool = False  # harness choice: off (sequential), on CPU the small CNN is compute-bound (bench_ensemble)


@dataclass
class ChallengeConfig:
    """NeurIPS 2023 Machine Unlearning Challenge score (Triantafillou et al. 2024, arXiv 2406.09073;
    unlearn_bench/attacks/challenge.py): ``num_models`` retrained models and as many runs of the method on the original,
    per-example epsilon on D_f, forget score x RA and TA ratios. The challenge used 512; 8 (>= 3) is a CPU budget."""

    enabled: bool = False
    num_models: int = 8
    seed: int = 0
    # The Retrain population in vectorised passes (unlearn_bench/ensemble.py); same model cache keys.
    ensemble: bool = False  # harness choice: off (sequential), on CPU the small CNN is compute-bound (bench_ensemble)


@dataclass
class RelearnConfig:
    """Relearning attack (Siddiqui et al. 2025, "From Dormant to Deleted"; unlearn_bench/attacks/): a copy of the
    model fine-tuned (a) on D_r only and (b) on ``k_shot`` examples of D_f, with the fine-tuning of ``budget``
    (attacks.RELEARN_BUDGETS: ``paper``, the paper's 100 epochs of Adam at 1e-5; ``cheap``, 20 SGD steps); the
    forget accuracy during the attack, against the same attack on Retrain and the original."""

    enabled: bool = False
    budget: str = "paper"  # paper | cheap (attacks.RELEARN_BUDGETS, with their sources)
    k_shot: int = 10  # harness choice: few-shot relearning on this many D_f examples (must be < |D_f|)
    seed: int = 0  # harness choice: draws the D_r batches and the k-shot examples (the same for every model)


@dataclass
class RepresentationConfig:
    """Representation similarity to Retrain (Kim et al. 2026, "Are We Truly Forgetting?"; unlearn_bench/attacks/):
    linear CKA of penultimate features with Retrain's on D_f and the test split, and a k-NN probe's accuracy on D_f."""

    enabled: bool = False
    knn_k: int = 5  # harness choice: scikit-learn's default k, as SURE's MIARS KNN here


@dataclass
class KLoMConfig:
    """KLoM (Georgiev et al., "Attribute-to-Delete: Machine Unlearning via Datamodel Matching", ICLR 2025; Rinberg
    et al., "Easy Data Unlearning Bench", 2026, EasyDUB; unlearn_bench/attacks/): per forget example
    the KL divergence of margins between ``num_models`` independently trained originals, each unlearned once by the
    method, and ``num_models`` Retrains (the challenge's cached Retrain population: the same models when ``seed``
    equals ``eval.challenge.seed``)."""

    enabled: bool = False
    num_models: int = 8  # harness choice: CPU budget (EasyDUB uses 100 per side); >= 2
    bins: int = 20  # EasyDUB reference code unlearning_bench/eval.py:83, bin_count=20
    seed: int = 0  # harness choice: the population seed, eval.challenge.seed's default so the Retrains are shared
    # The original and Retrain populations in vectorised passes (unlearn_bench/ensemble.py); same model cache keys.
    ensemble: bool = False  # harness choice: off (sequential), on CPU the small CNN is compute-bound (bench_ensemble)


# The evaluation shifts (unlearn_bench/shifts.py applies them): kind -> the parameter that labels its strength in a
# record (results.shift_label: ``gaussian(sigma=0.08)``).
SHIFT_KINDS = {"none": "", "gaussian": "sigma", "elastic": "smoothing", "pgd": "eps"}


@dataclass
class ShiftConfig:
    """A distribution shift applied to the forget, retain and test sets at evaluation (Forget Vector §4,
    Fig. 2): ``gaussian`` pixel noise (clipped to [0, 1]), ``elastic`` (ImageNet-C's elastic transform) or
    ``pgd``, an untargeted l_inf attack on each evaluated model. Same noise / warp / random start for every
    model of a run (seed 0)."""

    kind: str = "none"  # a key of SHIFT_KINDS
    sigma: float = 0.08  # gaussian: standard deviation in [0, 1] pixel units (GN1 0.08, GN2 0.2)
    eps: float = 8 / 255  # pgd: l_inf radius
    steps: int = 7
    step_size: float = 2 / 255
    # elastic, in pixels (Forget Vector's "intensity, smoothing, and offset"; ET1 488/170.8/24.4, ET2 488/19.52/48.8):
    intensity: float = 488.0  # scale of the smoothed displacement field
    smoothing: float = 170.8  # std of the Gaussian that smooths it
    offset: float = 24.4  # largest shift of the random affine's control points


@dataclass
class EvalConfig:
    batch_size: int | None = None  # null = auto: 1024 on CUDA, 256 on CPU
    mia: MIAConfig = field(default_factory=MIAConfig)
    shift: ShiftConfig = field(default_factory=ShiftConfig)
    ulira: ULiRAConfig = field(default_factory=ULiRAConfig)
    challenge: ChallengeConfig = field(default_factory=ChallengeConfig)
    # Model-based attacks of unlearn_bench/attacks/ (eval=deep enables all three).
    relearn: RelearnConfig = field(default_factory=RelearnConfig)
    representation: RepresentationConfig = field(default_factory=RepresentationConfig)
    klom: KLoMConfig = field(default_factory=KLoMConfig)
    # Metric groups beyond UA/RA/TA/MIA(/CTA): jit, sure, distances (unlearn_bench/evaluation.py).
    metrics: list[str] = field(default_factory=list)
    save_arrays: bool = True  # per-example logits of every split, next to the record
    # Evaluate after every unlearning epoch too (record.epoch_metrics), for best-epoch / top-5 reporting (SURE
    # Table 1). Costs one evaluation per epoch; the time is not counted in RTE.
    every_epoch: bool = False


@dataclass
class TuneConfig:
    """Hyper-parameter search against Retrain (``tune=<method>``, conf/tune/; unlearn_bench/tune.py). The search
    space sits in ``bayes`` (optuna TPE, hydra-optuna-sweeper syntax: ``tag(log, interval(1e-5, 1e-2))``) and
    ``grid`` (``choice(...)``: every point once); ``mode`` picks which one ``hydra.sweeper.params`` reads."""

    mode: str = "bayes"  # bayes | grid
    objective: str = "avg_gap"  # avg_gap (SalUn's Avg. Gap) | weighted (sum of weights[k] * gap_k)
    weights: dict[str, float] = field(default_factory=dict)  # objective=weighted: gap name (UA, MIA, ...) -> weight
    n_trials: int = 20  # bayes: trials of the search; grid: every point (n_trials ignored)
    seed: int = 0  # the sampler's seed; the run seed (`seed`) is the data/model seed the trials are scored on
    bayes: dict[str, str] = field(default_factory=dict)
    grid: dict[str, str] = field(default_factory=dict)
    source: str = ""  # where the ranges come from (paper, section)


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
    task: Any = MISSING  # conf/task: classification | generation (unlearn_bench/generation/config.py)
    tune: TuneConfig = field(default_factory=TuneConfig)
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    cache_dir: str = ".cache/unlearn_bench"
    skip_existing: bool = True
    progress: bool = True
    # none | process: a spawned child that gets only its DataView | sandbox: that child confined by bubblewrap
    method_isolation: str = "none"
    # Modules (or .py files) imported before the config is composed, to register outside methods, metrics,
    # scenarios and datasets (unlearn_bench/plugins.py); UNLEARN_BENCH_PLUGINS=a,b adds to them.
    plugins: list[str] = field(default_factory=list)


ISOLATION_MODES = ("none", "process", "sandbox")


def check_known_keys(node: Any, path: str = "") -> None:
    """ConfigError naming the first key of ``node`` (recursively) that its typed schema does not define: Hydra's
    ``+group.key=value`` adds a key to a typed node, which nothing would read (``+method.lr_typo=0.1``)."""
    if not isinstance(node, DictConfig):
        return
    # Hydra's own node sits at the root of a config composed with return_hydra_config (cards, tests): not ours.
    keys = [key for key in node if not (path == "" and key == "hydra")]
    schema = OmegaConf.get_type(node)
    if dataclasses.is_dataclass(schema):
        fields = [f.name for f in dataclasses.fields(schema)]
        unknown = [key for key in keys if key not in fields]
        if unknown:
            near = difflib.get_close_matches(str(unknown[0]), fields, n=3)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            raise ConfigError(f"{path}{unknown[0]} is not a setting of {schema.__qualname__} (nothing would read "
                              f"it){hint}; allowed: {', '.join(fields)}")
    for key in keys:
        if OmegaConf.is_dict(node._get_node(key)):
            check_known_keys(node[key], f"{path}{key}.")


def check_isolation(mode: str) -> None:
    if mode not in ISOLATION_MODES:
        raise ConfigError(f"method_isolation={mode!r} is not supported; allowed: {', '.join(ISOLATION_MODES)}")


@dataclass(frozen=True)
class Range:
    """The allowed values of a numeric config field: ``low``/``high`` bounds (None: unbounded), each open or closed;
    a float must also be finite."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def admits(self, value: float) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def describe(self, integer: bool) -> str:
        """``>= 1``, ``in (0, 1] and finite``, ``finite``: what ``{key}={value} must be``."""
        bounds = self._bounds()
        if integer:
            return bounds
        return f"{bounds} and finite" if bounds else "finite"

    def _bounds(self) -> str:
        if self.low is None and self.high is None:
            return ""
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {_number(self.low)}"
        if self.low is None:
            return f"{'<' if self.high_open else '<='} {_number(self.high)}"
        return (f"in {'(' if self.low_open else '['}{_number(self.low)}, {_number(self.high)}"
                f"{')' if self.high_open else ']'}")


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


COUNT, NON_NEGATIVE, POSITIVE = Range(1), Range(0), Range(0, low_open=True)
SHARE, FRACTION = Range(0, 1, low_open=True), Range(0, 1, high_open=True)
SEED = Range(0, 2**32 - 1)  # numpy's seeds
# The range of a numeric field by its name, the same in every schema (a schema field may override it with
# ``field(metadata={"range": Range(...)})``). A float field not named here must still be finite. None: the range
# depends on the data or on other fields, and is checked where that is known (scenarios, attacks) with its bound.
RANGES: dict[str, Range | None] = {
    **dict.fromkeys(("ratio", "class_index", "round", "rounds", "num_models", "num_shadows")),
    **dict.fromkeys(("epochs", "max_epochs", "class_epochs", "iterations", "steps", "ddim_steps", "generator_steps",
                     "student_steps", "max_steps", "min_steps", "noise_steps", "noise_repeats", "noise_batch",
                     "pseudo_batches", "snapshot_every", "n_samples", "n_draws", "bins", "knn_k", "k_shot", "hidden",
                     "z_dim", "width", "img_size", "in_chans", "num_classes", "size", "train_subset",
                     "num_train_timesteps", "num_per_class", "grid_per_class", "num_per_prompt", "layers_per_block",
                     "norm_num_groups", "n_trials"), COUNT),
    **dict.fromkeys(("lr", "noise_lr", "max_lr", "temperature", "tau", "grad_clip"), POSITIVE),
    **dict.fromkeys(("warmup_epochs", "crop_padding", "weight_decay", "lr_decay_epoch"), NON_NEGATIVE),
    **dict.fromkeys(("retain_fraction", "lr_decay"), SHARE),
    **dict.fromkeys(("val_ratio", "momentum", "label_smoothing", "sparsity"), FRACTION),
    "seed": SEED,
}


def _field_range(f: dataclasses.Field, value: float) -> Range | None:
    if "range" in f.metadata:
        return f.metadata["range"]
    if f.name in RANGES:
        return RANGES[f.name]
    return Range() if isinstance(value, float) else None


def _schema_fields(node: DictConfig, prefix: str) -> Iterator[tuple[str, dataclasses.Field, Any]]:
    """(key, field, value) of every numeric field set in ``node`` and its sub-nodes that a dataclass schema types."""
    schema = OmegaConf.get_type(node)
    typed = {f.name: f for f in dataclasses.fields(schema)} if dataclasses.is_dataclass(schema) else {}
    for name in node:
        if not prefix and name == "hydra":  # Hydra's own settings (in a config composed with them)
            continue
        value = OmegaConf.select(node, str(name), throw_on_missing=False)
        key = f"{prefix}{name}"
        if isinstance(value, DictConfig):
            yield from _schema_fields(value, f"{key}.")
        elif name in typed and isinstance(value, (int, float)) and not isinstance(value, bool):
            yield key, typed[name], value


def check_ranges(cfg: DictConfig) -> None:
    """Every numeric field of the composed config within its ``Range`` (``RANGES``, by field name): ConfigError
    naming the key, the value and the allowed range, before anything is loaded or trained."""
    for key, f, value in _schema_fields(cfg, ""):
        allowed = _field_range(f, value)
        if allowed is not None and not allowed.admits(value):
            raise ConfigError(f"{key}={value} must be {allowed.describe(isinstance(value, int))}")


TUNE_MODES = ("bayes", "grid")


def check_tune_mode(mode: str) -> None:
    if mode not in TUNE_MODES:
        raise ConfigError(f"tune.mode={mode!r} is not supported; allowed: {', '.join(TUNE_MODES)}")


OBJECTIVES = ("avg_gap", "weighted")


def check_tune(tune: Mapping) -> None:
    check_tune_mode(tune["mode"])
    if tune["objective"] not in OBJECTIVES:
        raise ConfigError(f"tune.objective={tune['objective']!r} is not supported; allowed: {', '.join(OBJECTIVES)}")
    if tune["objective"] == "weighted":
        if not tune["weights"]:
            raise ConfigError("tune.objective=weighted needs tune.weights, e.g. tune.weights={UA:1,MIA:1}")
        bad = {k: w for k, w in tune["weights"].items() if not (math.isfinite(w) and w >= 0)}
        if bad:
            raise ConfigError(f"tune.weights={dict(bad)}: weights must be finite and >= 0")
    if tune["n_trials"] < 1:
        raise ConfigError(f"tune.n_trials={tune['n_trials']} must be >= 1")


def tune_trials(mode: str, n_trials: int) -> int:
    """Trials to run: ``tune.n_trials`` for a Bayesian search; for a grid the sweeper caps this at the grid size."""
    check_tune_mode(mode)
    return n_trials if mode == "bayes" else 2**31 - 1


def store_schemas() -> None:
    """Store this module's schemas (and the task group's) in Hydra's ConfigStore and register the resolvers
    (``${join:${.classes}}`` -> ``0-1``, for scenario names). Method schemas are stored where methods register
    (``methods.base.register_method``); ``unlearn_bench.compose.register_configs`` does both before Hydra composes."""
    OmegaConf.register_new_resolver("join", lambda items: "-".join(str(i) for i in items), replace=True)
    OmegaConf.register_new_resolver("tune_trials", tune_trials, replace=True)
    cs = ConfigStore.instance()
    cs.store(name="base_config", node=RunConfig)
    cs.store(group="data", name="base_data", node=DataConfig)
    cs.store(group="model", name="base_model", node=ModelConfig)
    cs.store(group="scenario", name="base_scenario", node=ScenarioConfig)
    cs.store(group="train", name="base_train", node=TrainConfig)
    cs.store(group="eval", name="base_eval", node=EvalConfig)
    cs.store(group="logger", name="base_logger", node=LoggerConfig)
    store_task_schemas(cs)
    _store_tune_sampler(cs)


def _store_tune_sampler(cs: ConfigStore) -> None:
    """``hydra/sweeper/sampler=tune``: the optuna sampler picked by ``tune.mode`` (unlearn_bench.tune.sampler).
    Registered only when hydra-optuna-sweeper is installed (``pip install 'unlearn_bench[tune]'``)."""
    try:
        from hydra_plugins.hydra_optuna_sweeper.config import SamplerConfig
    except ImportError:
        return

    @dataclass
    class TuneSamplerConfig(SamplerConfig):
        _target_: str = "unlearn_bench.tune.sampler"
        mode: str = "${tune.mode}"
        seed: Any = "${tune.seed}"  # an interpolation, resolved when the sweeper is instantiated

    cs.store(group="hydra/sweeper/sampler", name="tune", node=TuneSamplerConfig, provider="unlearn_bench")


CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
