"""Unlearning methods, one file each, registered by name in ``METHODS``."""

from unlearn_bench.methods import finetune, grad_ascent, random_label, retrain, salun  # noqa: F401,I001
from unlearn_bench.methods.base import METHODS, DataView, Method, create_method, register_method

__all__ = ["METHODS", "DataView", "Method", "create_method", "register_method"]
