"""Generation unlearning methods, one file each, registered by name in ``GEN_METHODS``
(config: ``method=generation/<name>``)."""

from unlearn_bench.generation.methods import (  # noqa: F401,I001
    esd,
    finetune,
    grad_ascent,
    l1_sparse,
    random_label,
    retrain,
    salun,
)
from unlearn_bench.generation.methods.base import (
    GEN_METHODS,
    GenerationView,
    GenMethod,
    GenMethodConfig,
    create_gen_method,
    register_gen_method,
)

__all__ = ["GEN_METHODS", "GenMethod", "GenMethodConfig", "GenerationView", "create_gen_method",
           "register_gen_method"]
