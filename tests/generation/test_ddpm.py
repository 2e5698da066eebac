"""The DDPM wrapper, its loss, CFG sampling and configuration errors on a tiny UNet."""

import pytest
import torch

from tests.generation.conftest import tiny_ddpm
from unlearn_bench.errors import ConfigError
from unlearn_bench.generation.config import DDPMTrainConfig, DiffusionConfig, SamplingConfig, UNetConfig
from unlearn_bench.generation.ddpm import build_ddpm, diffusion_mse, repeat_batches, train_ddpm
from unlearn_bench.generation.sampling import check_sampling, guided_eps, partial_sample, sample_per_class

pytest.importorskip("diffusers")  # the optional extra: pip install -e '.[generation]'


@pytest.mark.parametrize("unet,img_size,match", [
    (UNetConfig(block_out_channels=[8, 16, 32], attention=[False] * 3, norm_num_groups=4), 6, "not divisible by 4"),
    (UNetConfig(block_out_channels=[8, 16], attention=[False], norm_num_groups=4), 8, "one entry per"),
    (UNetConfig(block_out_channels=[8, 12], attention=[False, False], norm_num_groups=8), 8, "norm_num_groups"),
])
def test_bad_unet_configs_name_the_key(unet, img_size, match):
    with pytest.raises(ConfigError, match=match):
        build_ddpm(unet, DiffusionConfig(), 1, img_size, 10)


def test_bad_schedule_and_label_dropout_are_config_errors():
    unet = UNetConfig(block_out_channels=[8, 16], attention=[False, False], norm_num_groups=4)
    with pytest.raises(ConfigError, match="beta_schedule"):
        build_ddpm(unet, DiffusionConfig(beta_schedule="cubic"), 1, 8, 10)
    with pytest.raises(ConfigError, match="p_uncond"):
        build_ddpm(unet, DiffusionConfig(p_uncond=1.0), 1, 8, 10)
    with pytest.raises(ConfigError, match="sampler"):
        check_sampling(SamplingConfig(sampler="euler"))
    with pytest.raises(ConfigError, match="grid_per_class"):
        check_sampling(SamplingConfig(num_per_class=2, grid_per_class=3))


def test_null_class_is_the_extra_embedding_row_and_dropout_uses_it():
    model = tiny_ddpm(num_classes=4)
    assert model.null_class == 4 and model.unet.class_embedding.num_embeddings == 5
    model.p_uncond = 0.5
    torch.manual_seed(0)
    dropped = model.drop_labels(torch.zeros(4000, dtype=torch.long))
    assert set(dropped.unique().tolist()) == {0, 4}
    assert (dropped == 4).float().mean().item() == pytest.approx(0.5, abs=0.03)


def test_guided_eps_is_classifier_free_guidance():
    model = tiny_ddpm().eval()
    x, c = torch.randn(3, 3, 8, 8), torch.tensor([0, 1, 2])
    t = torch.tensor(50)
    with torch.no_grad():
        eps_c, eps_null = model(x, t.expand(3), c), model(x, t.expand(3), torch.full_like(c, 4))
        torch.testing.assert_close(guided_eps(model, x, t, c, 1.0), eps_c, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(guided_eps(model, x, t, c, 2.0), 2 * eps_c - eps_null, atol=1e-5, rtol=1e-5)


def test_training_lowers_the_diffusion_loss():
    model = tiny_ddpm()
    torch.manual_seed(1)
    x = torch.rand(32, 3, 8, 8) * 0.2 + torch.linspace(0, 0.8, 4).repeat_interleave(8).view(32, 1, 1, 1)
    y = torch.arange(4).repeat_interleave(8)

    def loss() -> float:
        torch.manual_seed(2)
        with torch.no_grad():
            return sum(diffusion_mse(model, x, y, drop_labels=False).item() for _ in range(5))

    before = loss()
    train_ddpm(model, lambda batch_size: lambda: [(x, y)], DDPMTrainConfig(iterations=40, batch_size=32, lr=3e-3),
               False, "test", False)
    assert loss() < 0.8 * before


def test_repeat_batches_yields_exactly_the_iterations_over_epochs():
    epochs = []

    def source():
        epochs.append(1)
        return iter([1, 2, 3])

    assert list(repeat_batches(source, 7)()) == [1, 2, 3, 1, 2, 3, 1]
    assert len(epochs) == 3


def test_sampling_is_seeded_per_class_and_returns_uint8_images():
    model = tiny_ddpm()
    cfg = SamplingConfig(steps=4, num_per_class=3, batch_size=2)
    first = sample_per_class(model, [0, 1], cfg, seed=0)
    assert first.shape == (2, 3, 3, 8, 8) and first.dtype == torch.uint8
    torch.testing.assert_close(sample_per_class(model, [1], cfg, seed=0)[0], first[1])  # same noise for class 1
    assert not torch.equal(sample_per_class(model, [0, 1], cfg, seed=1), first)
    ddpm = sample_per_class(model, [0], SamplingConfig(sampler="ddpm", steps=4, num_per_class=3), seed=0)
    assert ddpm.shape == (1, 3, 3, 8, 8)


def test_partial_sample_stops_at_the_requested_step():
    model = tiny_ddpm()
    noise, c = torch.randn(2, 3, 8, 8), torch.tensor([0, 1])
    t0, x0 = partial_sample(model, noise, c, 3.0, 5, 0)
    assert torch.equal(x0, noise) and int(t0) == 80  # 100 training steps, 5 DDIM steps: 80, 60, ..., 0
    t2, x2 = partial_sample(model, noise, c, 3.0, 5, 2)
    assert int(t2) == 40 and not torch.equal(x2, noise)
    with pytest.raises(ValueError, match="stop"):
        partial_sample(model, noise, c, 3.0, 5, 6)
