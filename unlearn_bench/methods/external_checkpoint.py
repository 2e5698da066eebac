"""external_checkpoint: evaluate a model unlearned outside the harness, like any method (no paper: a harness
feature, as in peer benchmarks that score submitted checkpoints).

``method.path`` names a ``torch.save``-d state dict of the run's architecture (``model=``), unlearned from the run's
original: ``<cache_dir>/original/<key>.pt``, the state dict of the same data, model, recipe and seed, whose key any
run's record gives as ``extra.original_key``. Nothing here observes how the checkpoint was made, so its record has
``observed: false``: its RTE (the load time), data access and data read are as declared, not shown. The
checkpoint's SHA-256 is part of the run key, so a new file is a new run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import MISSING
from torch import nn

from unlearn_bench.cache import file_sha256
from unlearn_bench.errors import ConfigError
from unlearn_bench.methods.base import DataView, Method, MethodConfig, register_method


@register_method
class ExternalCheckpoint(Method):
    name = "external_checkpoint"
    needs = frozenset()  # reads no data here; how the checkpoint was made is not observed (``observed``)
    observed = False

    @dataclass
    class Config(MethodConfig):
        name: str = "external_checkpoint"
        path: str = MISSING  # the unlearned model's state dict (torch.save(model.state_dict(), path))
        strict: bool = True  # every parameter and buffer of the architecture present, none extra

    @classmethod
    def check_config(cls, cfg, num_classes: int) -> None:
        if not Path(cfg.path).is_file():
            raise ConfigError(f"method.path={cfg.path!r} is not a file; give the unlearned model's state dict")

    def inputs(self) -> dict[str, str]:
        return {"checkpoint_sha256": file_sha256(Path(self.cfg.path))}

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        state = torch.load(self.cfg.path, map_location="cpu", weights_only=True)
        try:
            model.load_state_dict(state, strict=self.cfg.strict)
        except RuntimeError as err:
            raise ConfigError(f"method.path={self.cfg.path!r} does not fit model={type(model).__name__}: "
                              f"{str(err).splitlines()[0]}") from err
        return model
