"""One ``Pipeline`` per task, registered by ``task.name`` in ``PIPELINES``: ``classification``, ``generation``
(class-conditional DDPMs) and ``generation_sd`` (Stable Diffusion). Importing this package registers every pipeline
and, through them, every method family."""

from unlearn_bench.pipelines import classification, ddpm, sd  # noqa: F401
from unlearn_bench.pipelines.base import (
    PIPELINES,
    Evaluation,
    Pipeline,
    References,
    create_pipeline,
    observe_unlearned,
    register_pipeline,
    timed_unlearning,
)

__all__ = ["PIPELINES", "Evaluation", "Pipeline", "References", "create_pipeline", "observe_unlearned",
           "register_pipeline", "timed_unlearning"]
