"""``models.classifier_head``: every model family names its final linear layer (``get_classifier()``), and the
helpers that read or swap the head act on the layer that really produces the logits."""

import pytest
import torch
from torch import nn

from tests.models.test_models import SHAPES
from tests.models.test_timm import LARGE, TINY
from unlearn_bench.errors import ConfigError
from unlearn_bench.methods.forget_vector import PerturbedModel
from unlearn_bench.models import MODELS, classifier_head, create_model, replace_classifier

NUM_CLASSES = 7


def make(name: str) -> nn.Module:
    in_chans, size = SHAPES.get(name, (3, 32))
    torch.manual_seed(0)
    return create_model(name, NUM_CLASSES, in_chans, size, [0.5] * in_chans, [0.25] * in_chans,
                        **TINY.get(name, {})).eval()


def inputs(name: str) -> torch.Tensor:
    in_chans, size = SHAPES.get(name, (3, 32))
    return torch.rand(3, in_chans, size, size)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in LARGE else n
                                  for n in sorted(MODELS)])
@torch.no_grad()
def test_classifier_head_is_the_last_layer_applied(name):
    model, x = make(name), inputs(name)
    head = classifier_head(model)
    assert isinstance(head, nn.Linear) and head.out_features == NUM_CLASSES
    assert model(x).abs().sum() > 0
    head.weight.zero_()
    head.bias.zero_()
    assert torch.equal(model(x), torch.zeros(len(x), NUM_CLASSES))  # nothing after the head moves the logits


@torch.no_grad()
def test_replace_classifier_swaps_the_layer_the_model_applies():
    model, x = make("small_cnn"), inputs("small_cnn")
    head = classifier_head(model)
    wider = nn.Linear(head.in_features, NUM_CLASSES + 1)
    replace_classifier(model, wider)
    assert classifier_head(model) is wider and model(x).shape == (len(x), NUM_CLASSES + 1)
    assert head not in list(model.modules())


def test_a_wrapper_names_the_wrapped_models_head():
    model = make("small_cnn")
    wrapped = PerturbedModel(model, torch.zeros(1, 1, 8, 8))
    assert classifier_head(wrapped) is classifier_head(model)


def test_a_model_without_a_named_head_is_a_config_error():
    with pytest.raises(ConfigError, match="get_classifier"):
        classifier_head(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)))
