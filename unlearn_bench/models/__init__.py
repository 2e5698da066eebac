"""Model families, one file each (``small_cnn``, ``lenet``, ``resnet``, ``vgg``, ``timm_models``), registered in
``registry.MODELS``; ``create_model(name, ...)`` builds any of them behind a normalisation layer."""

from unlearn_bench.models import lenet, resnet, small_cnn, timm_models, vgg  # noqa: F401
from unlearn_bench.models.registry import (
    MODEL_OPTIONS,
    MODELS,
    Classifier,
    Normalize,
    check_weights_file,
    classifier_head,
    create_model,
    model_options,
    register_model,
    replace_classifier,
    reset_parameters,
    resolve_model_name,
)

__all__ = ["MODELS", "MODEL_OPTIONS", "Classifier", "Normalize", "check_weights_file", "classifier_head",
           "create_model", "model_options", "register_model", "replace_classifier", "reset_parameters",
           "resolve_model_name"]
