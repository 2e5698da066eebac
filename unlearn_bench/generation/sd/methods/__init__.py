"""Stable Diffusion unlearning methods, one file each, registered as (``generation_sd``, name) in
``unlearn_bench.methods.base.METHODS`` (config: ``method=sd/<name>``)."""

from unlearn_bench.generation.sd.methods import esd, fmn, salun, unlink  # noqa: F401
