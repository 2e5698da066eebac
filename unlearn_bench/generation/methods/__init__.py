"""Generation unlearning methods, one file each, registered as (``generation``, name) in
``unlearn_bench.methods.base.METHODS`` (config: ``method=generation/<name>``)."""

from unlearn_bench.generation.methods import (  # noqa: F401
    esd,
    finetune,
    grad_ascent,
    l1_sparse,
    random_label,
    retrain,
    salun,
)
