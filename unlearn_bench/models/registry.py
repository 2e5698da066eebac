"""The model registry: ``create_model(name, ...)`` builds any registered architecture behind a normalisation layer.

Inputs are always pixels in [0, 1]; each model normalises them itself (the SalUn repo's
``NormalizeByChannelMeanStd`` convention), so loaders, attacks and input-space methods never see
dataset statistics.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

from unlearn_bench.errors import ConfigError

MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Register an architecture factory ``fn(num_classes, in_chans, img_size, **kwargs)`` under its name."""
    MODELS[fn.__name__] = fn
    return fn


class FeaturesThenLinear(nn.Module):
    """A network that is ``features`` (input to penultimate representation) then one linear layer ``fc``, the final
    layer ``get_classifier()`` names (small_cnn, lenet5, vgg)."""

    features: nn.Module
    fc: nn.Linear

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))

    def get_classifier(self) -> nn.Linear:
        """The final linear layer (timm's name for it): ``models.classifier_head`` reads it."""
        return self.fc


class Normalize(nn.Module):
    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class Classifier(nn.Module):
    """``normalize`` then ``net``; ``net`` exposes ``forward_features``, ``get_classifier()`` (its final linear
    layer, as timm's models) and ``stages``, the names of the modules whose outputs are its spatial activations at
    each depth (as timm's ``feature_info``), for methods that match intermediate activations."""

    def __init__(self, net: nn.Module, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalize(x))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate representation (input of the final linear layer)."""
        return self.net.forward_features(self.normalize(x))

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """Logits from penultimate features: ``model(x) == model.head(model.forward_features(x))``."""
        return self.net.get_classifier()(features)

    def get_classifier(self) -> nn.Linear:
        return self.net.get_classifier()

    def stage_modules(self) -> list[nn.Module]:
        return [self.net.get_submodule(name) for name in self.net.stages]

    def to_pixels(self, normalised: torch.Tensor) -> torch.Tensor:
        """Inverse of ``normalize``: pixel-space images whose normalised form is ``normalised``."""
        return self.normalize.mean + self.normalize.std * normalised


def classifier_head(model: nn.Module) -> nn.Linear:
    """The final linear layer of a classification model, as the model names it (``get_classifier()``, timm's
    convention), so no caller depends on how an architecture spells its head. ConfigError for a model that does not
    name one or whose head is not linear."""
    get_classifier = getattr(model, "get_classifier", None)
    if get_classifier is None:
        raise ConfigError(f"{type(model).__name__} does not name its classifier head (no get_classifier())")
    head = get_classifier()
    if not isinstance(head, nn.Linear):
        raise ConfigError(f"{type(model).__name__}'s classifier head is a {type(head).__name__}, not an nn.Linear")
    return head


def replace_classifier(model: nn.Module, new: nn.Linear) -> None:
    """Put ``new`` where ``model``'s classifier head is registered (found by identity, not by name)."""
    head = classifier_head(model)
    for owner in model.modules():
        for name, child in owner.named_children():
            if child is head:
                setattr(owner, name, new)
                return
    raise ConfigError(f"{type(model).__name__}'s classifier head is not one of its modules")


def create_model(
    name: str,
    num_classes: int,
    in_chans: int,
    img_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    **kwargs,
) -> Classifier:
    if name not in MODELS:
        raise ConfigError(f"model={name!r} is not registered; allowed: {sorted(MODELS)}")
    if len(mean) != in_chans or len(std) != in_chans:
        raise ConfigError(f"mean/std have {len(mean)}/{len(std)} entries but in_chans={in_chans}")
    net = MODELS[name](num_classes=num_classes, in_chans=in_chans, img_size=img_size, **kwargs)
    return Classifier(net, mean, std)


def reset_parameters(model: nn.Module) -> nn.Module:
    """Re-initialise every layer in place (a from-scratch model of the same architecture). A module that sets
    ``resets_children = True`` (a timm network: position embeddings, pretrained starting point) resets itself as a
    whole with its own ``reset_parameters``; its layers are not re-initialised one by one."""
    done: list[str] = []
    for name, module in model.named_modules():
        if any(name.startswith(f"{prefix}.") for prefix in done):
            continue
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
        if getattr(module, "resets_children", False):
            done.append(name)
    return model


MODEL_OPTIONS = ("pretrained_path", "input_size", "patch_size")  # ModelConfig keys only some architectures read


def check_weights_file(path: str) -> Path:
    """``path`` as a local file, or ConfigError naming ``model.pretrained_path`` (weights are never downloaded)."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"model.pretrained_path={path!r} is not a file; give a local checkpoint of the architecture "
                          "(weights are never downloaded) or model.pretrained_path=null")
    return file


def resolve_model_name(cfg) -> str:
    """The run's architecture: ``model.name``, or the data's ``default_model`` for ``auto``."""
    name = cfg.data.default_model if cfg.model.name == "auto" else cfg.model.name
    if name not in MODELS:
        raise ConfigError(f"model={name!r} is not registered; allowed: auto, {', '.join(sorted(MODELS))}")
    return name


def model_options(model_cfg, name: str) -> dict:
    """``create_model`` keyword arguments for architecture ``name`` from the ``model`` config: ``width`` plus the
    ``MODEL_OPTIONS`` that are set (so configs without them keep their cache keys). ConfigError for an option the
    architecture does not read, a size < 1 or a missing weights file."""
    options = {"width": model_cfg.width}
    for key in MODEL_OPTIONS:
        value = model_cfg.get(key)
        if value is None:
            continue
        readers = sorted(n for n, fn in MODELS.items() if key in inspect.signature(fn).parameters)
        if name not in readers:
            raise ConfigError(f"model.{key}={value!r} is not read by model={name}; models that read it: {readers}")
        if key in ("input_size", "patch_size") and value < 1:
            raise ConfigError(f"model.{key}={value} must be >= 1 (or null)")
        if key == "pretrained_path":
            check_weights_file(value)
        options[key] = value
    return options


# Register the architecture families (one file each).
