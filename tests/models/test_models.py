import pytest
import torch

from unlearn_bench.errors import ConfigError
from unlearn_bench.models import MODELS, create_model, reset_parameters
from unlearn_bench.models.timm_models import TIMM_ARCHS

SHAPES = {"small_cnn": (1, 8), "lenet5": (1, 28), "resnet18": (3, 32), "resnet50": (3, 32), "vgg11_bn": (3, 32),
          "vgg16_bn": (3, 32)}


@pytest.mark.parametrize("name", sorted(set(MODELS) - set(TIMM_ARCHS)))  # timm: tests/models/test_timm.py
def test_model_trains_one_step_and_exposes_features(name):
    in_chans, size = SHAPES[name]
    model = create_model(name, 5, in_chans, size, [0.5] * in_chans, [0.25] * in_chans)
    x, y = torch.rand(4, in_chans, size, size), torch.randint(0, 5, (4,))
    before = model.net.fc.weight.detach().clone()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    assert not torch.equal(before, model.net.fc.weight)
    assert model.forward_features(x).shape == (4, model.net.fc.in_features)


@pytest.mark.parametrize("name", sorted(set(MODELS) - set(TIMM_ARCHS)))  # timm: tests/models/test_timm.py
def test_stages_are_spatial_activations_at_falling_resolution(name):
    in_chans, size = SHAPES[name]
    model = create_model(name, 5, in_chans, size, [0.5] * in_chans, [0.25] * in_chans).eval()
    outputs = []
    handles = [m.register_forward_hook(lambda _m, _i, out: outputs.append(out)) for m in model.stage_modules()]
    model(torch.rand(2, in_chans, size, size))
    for handle in handles:
        handle.remove()
    assert len(outputs) >= 3 and all(out.dim() == 4 for out in outputs)
    sizes = [out.shape[-1] for out in outputs]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > sizes[-1]


def test_to_pixels_inverts_normalisation():
    model = create_model("small_cnn", 3, 1, 8, [0.5], [0.25])
    x = torch.rand(2, 1, 8, 8)
    torch.testing.assert_close(model.to_pixels(model.normalize(x)), x)


def test_normalisation_is_inside_the_model():
    model = create_model("small_cnn", 3, 1, 8, [0.5], [0.25]).eval()
    x = torch.rand(2, 1, 8, 8)
    torch.testing.assert_close(model(x), model.net((x - 0.5) / 0.25))


def test_reset_parameters_gives_a_fresh_model():
    model = create_model("small_cnn", 3, 1, 8, [0.5], [0.25])
    before = model.net.fc.weight.detach().clone()
    reset_parameters(model)
    assert not torch.equal(before, model.net.fc.weight)


def test_unknown_model_lists_allowed():
    with pytest.raises(ConfigError, match="resnet18"):
        create_model("resnet1000", 3, 1, 8, [0.5], [0.25])


@pytest.mark.parametrize("name,features", [("resnet18", 512), ("resnet50", 2048)])
def test_resnets_use_the_imagenet_stem_above_64_pixels(name, features):
    model = create_model(name, 10, 3, 96, [0.5] * 3, [0.25] * 3).eval()
    assert isinstance(model.net.stem[-1], torch.nn.MaxPool2d)  # 7x7 stride 2 + max-pool
    assert model.forward_features(torch.rand(2, 3, 96, 96)).shape == (2, features)


def test_lenet5_has_lecuns_layer_sizes_and_refuses_small_images():
    model = create_model("lenet5", 10, 1, 28, [0.5], [0.25], width=6)
    # C1 6x(5x5+1), C3 16x(6x5x5+1), F5 256x120+120, F6 120x84+84, output 84x10+10 (LeCun et al. 1998, 28 px input)
    assert sum(p.numel() for p in model.net.parameters()) == 156 + 2416 + 30840 + 10164 + 850
    with pytest.raises(ConfigError, match="lenet5 needs images of at least 16 px"):
        create_model("lenet5", 10, 1, 8, [0.5], [0.25])
