import pytest
import torch

from unlearn_bench.methods.gkt import Generator, attention, stage_activations
from unlearn_bench.models import create_model


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32)])
def test_generator_makes_images_of_the_data_shape(shape):
    assert Generator(16, *shape)(torch.randn(4, 16)).shape == (4, *shape)


def test_generator_refuses_sizes_it_cannot_reach():
    with pytest.raises(ValueError, match="divisible by 4"):
        Generator(16, 3, 30, 30)


def test_attention_maps_are_unit_norm_and_hooks_are_removed():
    model = create_model("small_cnn", 10, 1, 8, [0.5], [0.25]).eval()
    with stage_activations(model) as acts:
        model(torch.rand(3, 1, 8, 8))
    assert len(acts) == 3
    for act in acts:
        torch.testing.assert_close(attention(act).norm(dim=1), torch.ones(3))
    model(torch.rand(3, 1, 8, 8))
    assert len(acts) == 3  # no hook left behind
