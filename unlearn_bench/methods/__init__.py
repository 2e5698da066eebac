"""Classification unlearning methods, one file each, registered as (``classification``, name) in ``METHODS``
(``unlearn_bench.methods.base``: the one registry of every task's methods)."""

from unlearn_bench.methods import (  # noqa: F401,I001
    amnesiac,
    bad_teacher,
    boundary,
    emmn,
    external_checkpoint,
    finetune,
    forget_vector,
    gkt,
    grad_ascent,
    influence,
    jit,
    l1_sparse,
    neggrad_plus,
    random_label,
    retrain,
    saliency_variants,
    salun,
    salun_soft,
    scrub,
    ssd,
    sure,
    unlink,
    unsir,
)
from unlearn_bench.methods.base import (
    METHODS,
    DataView,
    Method,
    create_method,
    method_class,
    method_names,
    register_method,
)

__all__ = ["METHODS", "DataView", "Method", "create_method", "method_class", "method_names", "register_method"]
