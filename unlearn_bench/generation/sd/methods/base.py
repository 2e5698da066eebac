"""The contract of an SD unlearning method (``method=sd/<name>``): a registered name, the splits it may read
(``needs``), a typed config and ``unlearn(model: SDModel, data: SDView) -> SDModel`` that edits ``model.unet``.
Trained methods run Adam (``generation.ddpm.optimize``: the harness's one loop) on the weights ``parameters``
selects, for ``iterations(data)`` batches."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from torch import nn

from unlearn_bench.errors import ConfigError
from unlearn_bench.generation.ddpm import optimize
from unlearn_bench.generation.sd.config import SDMethodConfig
from unlearn_bench.generation.sd.data import SDView
from unlearn_bench.generation.sd.pipeline import SDModel, cross_attention_modules
from unlearn_bench.methods.base import METHOD_SPLITS
from unlearn_bench.training import Batches, Objective, StepHook


class SDMethod:
    name: ClassVar[str]
    needs: ClassVar[frozenset[str]]
    training_free: ClassVar[bool] = False
    Config: ClassVar[type] = SDMethodConfig

    def __init__(self, cfg: Any):
        self.cfg = cfg

    def unlearn(self, model: SDModel, data: SDView) -> SDModel:
        raise NotImplementedError


class TrainedSDMethod(SDMethod):
    def iterations(self, data: SDView) -> int:
        return self.cfg.iterations

    def batches(self, model: SDModel, data: SDView) -> Batches:
        raise NotImplementedError

    def objective(self, model: SDModel, data: SDView) -> Objective:
        raise NotImplementedError

    def step_hook(self, model: SDModel, data: SDView) -> StepHook | None:
        return None

    def parameters(self, model: SDModel) -> Iterable[nn.Parameter] | None:
        """The weights the method updates (default: the whole UNet)."""
        return None

    def unlearn(self, model: SDModel, data: SDView) -> SDModel:
        hook = self.step_hook(model, data)  # built at theta_o, before any update
        optimize(model, self.batches(model, data), self.objective(model, data), self.iterations(data), self.cfg.lr,
                 self.cfg.grad_clip, data.amp, self.name, data.progress, hook, self.parameters(model))
        return model


def cross_attention_parameters(model: SDModel) -> list[nn.Parameter]:
    """Every weight of the UNet's cross-attention layers (ESD-x's and FMN's ``only_optimize_ca`` set: parameter
    names containing ``attn2``)."""
    return [p for module in cross_attention_modules(model.unet).values() for p in module.parameters()]


SD_METHODS: dict[str, type[SDMethod]] = {}


def register_sd_method(cls: type[SDMethod]) -> type[SDMethod]:
    unknown = set(cls.needs) - METHOD_SPLITS
    if unknown:
        raise ConfigError(f"SD method {cls.name!r} declares unknown splits {sorted(unknown)}")
    SD_METHODS[cls.name] = cls
    return cls


def allowed_sd_methods() -> list[str]:
    return [f"sd/{name}" for name in sorted(SD_METHODS)]


def create_sd_method(cfg: Any) -> SDMethod:
    if cfg.name not in SD_METHODS:
        raise ConfigError(f"method=sd/{cfg.name} is not registered; allowed: {allowed_sd_methods()}")
    return SD_METHODS[cfg.name](cfg)
