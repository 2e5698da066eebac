"""Stable Diffusion unlearning methods, one file each, registered by name in ``SD_METHODS``
(config: ``method=sd/<name>``)."""

from unlearn_bench.generation.sd.methods import esd, fmn, salun, unlink  # noqa: F401,I001
from unlearn_bench.generation.sd.methods.base import (
    SD_METHODS,
    SDMethod,
    allowed_sd_methods,
    create_sd_method,
    register_sd_method,
)

__all__ = ["SD_METHODS", "SDMethod", "allowed_sd_methods", "create_sd_method", "register_sd_method"]
