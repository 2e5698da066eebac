"""The SD methods' family defaults (``method=sd/<name>``): ``unlearn(model: SDModel, data: SDView) -> SDModel`` edits
``model.unet``. Trained methods use the generation template (``TrainedDiffusionMethod``: Adam for
``iterations(data)`` batches on the weights ``parameters`` selects, default the whole UNet)."""

from __future__ import annotations

from torch import nn

from unlearn_bench.generation.methods.base import TrainedDiffusionMethod
from unlearn_bench.generation.sd.config import SDMethodConfig
from unlearn_bench.generation.sd.pipeline import SDModel, cross_attention_modules
from unlearn_bench.methods.base import Method


class SDMethod(Method):
    """A method of ``task=generation_sd``."""

    task = "generation_sd"
    Config = SDMethodConfig


class TrainedSDMethod(TrainedDiffusionMethod, SDMethod):
    """A trained method of ``task=generation_sd``."""


def cross_attention_parameters(model: SDModel) -> list[nn.Parameter]:
    """Every weight of the UNet's cross-attention layers (ESD-x's and FMN's ``only_optimize_ca`` set: parameter
    names containing ``attn2``)."""
    return [p for module in cross_attention_modules(model.unet).values() for p in module.parameters()]
