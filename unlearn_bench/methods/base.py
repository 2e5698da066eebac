"""The Method contract and the one registry of every task's methods: a registered (task, name), the data it may read
(``needs``), a typed config, ``unlearn``.

A method reads its data through a ``DataView`` (``view.py``) that holds only the splits it declares; reading any
other raises, so a zero-shot method provably never touches D_r, and ``method_isolation=process``
(``unlearn_bench.isolation``) shows it by running the method in a process that has nothing else.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf
from torch import nn

from unlearn_bench.config import CONF_DIR, SGDDefaults
from unlearn_bench.errors import ConfigError
from unlearn_bench.generation.config import TASKS
from unlearn_bench.methods.view import METHOD_SPLITS, DataAccessError, DataView  # noqa: F401 (re-exported)


@dataclass
class MethodConfig:
    name: str = MISSING  # the registered method name (bookkeeping)
    # Set by a tuned preset (<conf-local>/method/tuned/, written by `python -m unlearn_bench.tune`): how its values
    # were chosen (objective, its value, the tuning seed). Metadata only: not part of the run's cache key.
    tuned: dict[str, Any] | None = None
    # Each method's ``official`` lists what ``official`` changes, with the file and line it follows; so do its cards.
    fidelity: str = "paper"  # paper: the paper's algorithm | official: all the official code's departures from it


FIDELITIES = ("paper", "official")


def check_fidelity(cfg: Any) -> None:
    if cfg.fidelity not in FIDELITIES:
        raise ConfigError(f"method.fidelity={cfg.fidelity!r} is not supported; allowed: {', '.join(FIDELITIES)}")


def is_official(cfg: Any) -> bool:
    """Whether ``cfg`` (a method config) asks for the official code's behaviour (``method.fidelity=official``)."""
    return cfg.fidelity == "official"


@dataclass
class SGDConfig(MethodConfig, SGDDefaults):
    """Optimiser settings shared by the fine-tuning style methods: batch size, momentum and weight decay as training
    (``config.SGDDefaults``); the SalUn repo's unlearning epochs and lr (its MultiStepLR milestones 91, 136 never fall
    inside the few unlearning epochs, so the learning rate is constant)."""

    epochs: int = 10  # SalUn repo Classification/arg_parser.py: --unlearn_epochs 10
    lr: float = 0.01  # SalUn repo Classification/arg_parser.py: --unlearn_lr 0.01




class Method:
    """Every unlearning method of every task: a registered (``task``, ``name``), the splits it may read (``needs``),
    a typed ``Config`` (its defaults; conf/method YAMLs hold per-setting values and their sources) and ``unlearn``."""

    name: ClassVar[str]
    task: ClassVar[str] = "classification"
    needs: ClassVar[frozenset[str]]
    training_free: ClassVar[bool] = False
    full_class_only: ClassVar[bool] = False  # defined only when D_f holds whole classes
    edits_weights: ClassVar[bool] = True  # False: returns a wrapper around the model (an input perturbation)
    # False for a model unlearned elsewhere (external_checkpoint): its RTE and data access were not observed here.
    observed: ClassVar[bool] = True
    # What ``method.fidelity=official`` changes: one line per departure of the official code from the paper, with the
    # file and line it follows (shown on the method's recipe cards). Empty: the official mode is the paper mode.
    official: ClassVar[tuple[str, ...]] = ()
    Config: ClassVar[type] = MethodConfig

    def __init__(self, cfg: Any):
        self.cfg = cfg

    @classmethod
    def check_config(cls, cfg: Any, num_classes: int) -> None:
        """Raise ConfigError on a method setting that cannot work for this data; runs before any training."""

    def inputs(self) -> dict[str, str]:
        """Digests of what the method reads besides its data and config (a checkpoint file): part of the run key."""
        return {}

    def unlearn(self, model: nn.Module, data: Any) -> nn.Module:
        """Return the unlearned model (may modify ``model`` in place). ``data`` is the task's view (``DataView`` for
        classification and DDPMs, ``SDView`` for Stable Diffusion): only the splits in ``needs`` can be read."""
        raise NotImplementedError


METHODS: dict[tuple[str, str], type[Method]] = {}  # (task, name) -> class


def option(task: str, name: str) -> str:
    """The command-line option of a method: ``salun``, ``generation/salun``, ``sd/salun``."""
    prefix = TASKS[task].method_group.removeprefix("method").lstrip("/")
    return f"{prefix}/{name}" if prefix else name


def register_method(cls: type[Method]) -> type[Method]:
    """Add ``cls`` to ``METHODS`` and its ``Config`` to Hydra's ConfigStore as ``base_<name>`` of the task's method
    group (a preset YAML starts with ``defaults: [base_<name>, _self_]``), so a typo'd key fails at composition."""
    if cls.task not in TASKS:
        raise ConfigError(f"method {cls.name!r} declares task {cls.task!r}; allowed: {list(TASKS)}")
    unknown = set(cls.needs) - METHOD_SPLITS
    if unknown:
        raise ConfigError(f"method {option(cls.task, cls.name)!r} declares unknown splits {sorted(unknown)}")
    declared = next(f.default for f in dataclasses.fields(cls.Config) if f.name == "name")
    if declared != cls.name:
        raise ConfigError(f"method {option(cls.task, cls.name)!r}: its Config names it {declared!r}")
    if (cls.task, cls.name) in METHODS:
        raise ConfigError(f"method {option(cls.task, cls.name)!r} is registered twice")
    METHODS[(cls.task, cls.name)] = cls
    store = ConfigStore.instance()
    group = TASKS[cls.task].method_group
    store.store(group=group, name=f"base_{cls.name}", node=cls.Config)
    if not (CONF_DIR / group / f"{cls.name}.yaml").is_file():
        # Selectable as method=<name> with its Config's defaults, with no YAML file (a plugin's method). Where
        # conf/ has a preset of that name, the preset is the option (two would be merged, which Hydra deprecates).
        store.store(group=group, name=cls.name, node=cls.Config)
    return cls


def method_names(task: str = "classification") -> list[str]:
    """The registered names of a task's methods, sorted."""
    return sorted(name for family, name in METHODS if family == task)


def method_class(name: str, task: str = "classification") -> type[Method]:
    """The class registered as (``task``, ``name``); ConfigError naming the options of that task otherwise."""
    if (task, name) not in METHODS:
        allowed = [option(task, m) for m in method_names(task)]
        raise ConfigError(f"method={option(task, name)} is not registered for task={task}; allowed: {allowed}")
    return METHODS[(task, name)]


def method_task(method_cfg: Any) -> str:
    """The task a composed ``method`` node belongs to: the task of the registered class whose ``Config`` is its
    schema (presets of every task share the field ``name``, so the schema tells them apart)."""
    schema = OmegaConf.get_type(method_cfg)
    for (task, _), cls in METHODS.items():
        if schema is cls.Config:
            return task
    return "classification"


def create_method(cfg: Any, task: str = "classification") -> Method:
    return method_class(cfg.name, task)(cfg)
