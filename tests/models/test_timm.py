"""timm ViT / Swin-T: created at 32 px, one training step, evaluation, local pretrained weights, Retrain's reset."""

import pytest
import torch

from tests.conftest import compose_config
from unlearn_bench.errors import ConfigError
from unlearn_bench.evaluation import predict
from unlearn_bench.models import create_model, model_options, reset_parameters
from unlearn_bench.models.timm_models import TIMM_ARCHS
from unlearn_bench.runner import validate

TINY = {"vit_tiny": {"patch_size": 8}, "vit_small": {"patch_size": 8}, "vit_b16": {"patch_size": 16},
        "swin_t": {}}


def make(name: str, **kw) -> torch.nn.Module:
    return create_model(name, 5, 3, 32, [0.5] * 3, [0.25] * 3, **{**TINY[name], **kw})


LARGE = {"vit_b16", "swin_t"}  # 86M / 28M parameters: seconds to create on CPU


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in LARGE else n
                                  for n in sorted(TIMM_ARCHS)])
def test_timm_model_trains_one_step_and_evaluates(name):
    torch.manual_seed(0)
    model = make(name)
    x, y = torch.rand(4, 3, 32, 32), torch.randint(0, 5, (4,))
    fc_before = model.net.fc.weight.detach().clone()
    embed_before = model.net.body.patch_embed.proj.weight.detach().clone()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    assert not torch.equal(fc_before, model.net.fc.weight)
    assert not torch.equal(embed_before, model.net.body.patch_embed.proj.weight)  # the backbone trains too
    model.eval()  # Swin-T's stochastic depth (timm default 0.1) is on in train mode
    features = model.forward_features(x)
    assert features.shape == (4, model.net.fc.in_features)
    torch.testing.assert_close(model.head(features), model(x))
    logits = predict(model, (x * 255).to(torch.uint8), batch_size=2)  # the evaluation path (eval mode, batches)
    assert logits.shape == (4, 5)
    outputs = []
    handles = [m.register_forward_hook(lambda _m, _i, out: outputs.append(out)) for m in model.stage_modules()]
    model(x)
    for handle in handles:
        handle.remove()
    assert len(outputs) == len(model.net.stages) >= 2 and all(out.shape[0] == 4 for out in outputs)


def test_reset_restores_a_fresh_network_including_position_embeddings():
    torch.manual_seed(0)
    model = make("vit_tiny")
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    reset_parameters(model)
    after = model.state_dict()
    for key in ("net.body.pos_embed", "net.body.cls_token", "net.body.blocks.0.attn.qkv.weight", "net.fc.weight"):
        assert not torch.equal(before[key], after[key]), key
    assert after["net.body.pos_embed"].abs().max() < 0.5  # timm's init (trunc. normal, std .02), not +1 leftovers
    torch.testing.assert_close(after["normalize.mean"], before["normalize.mean"])  # normalisation is not a layer


def test_pretrained_weights_come_from_a_local_file_and_survive_reset(tmp_path):
    import timm

    torch.manual_seed(1)
    source = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=1000, patch_size=8, img_size=64)
    path = tmp_path / "vit_tiny.pth"
    torch.save(source.state_dict(), path)
    model = make("vit_tiny", pretrained_path=str(path))  # 1000-class head dropped, 8x8 position grid resized to 4x4
    body = model.net.body
    torch.testing.assert_close(body.blocks[3].mlp.fc1.weight, source.blocks[3].mlp.fc1.weight)
    torch.testing.assert_close(body.cls_token, source.cls_token)
    assert body.pos_embed.shape == (1, 1 + 16, 192) and model.net.fc.out_features == 5
    with torch.no_grad():
        body.blocks[3].mlp.fc1.weight.add_(1.0)
    reset_parameters(model)  # Retrain starts where the original did: the pretrained weights
    torch.testing.assert_close(body.blocks[3].mlp.fc1.weight, source.blocks[3].mlp.fc1.weight)
    torch.save({k: v for k, v in source.state_dict().items() if k != "blocks.0.norm1.weight"}, tmp_path / "cut.pth")
    with pytest.raises(ConfigError, match="does not fit vit_tiny_patch16_224.*blocks.0.norm1.weight"):
        make("vit_tiny", pretrained_path=str(tmp_path / "cut.pth"))


def test_input_size_resizes_inside_the_model():
    model = make("vit_tiny", input_size=48)
    seen = []
    model.net.body.patch_embed.register_forward_hook(lambda _m, inputs, _o: seen.append(inputs[0].shape))
    model(torch.rand(2, 3, 32, 32))
    assert seen == [(2, 3, 48, 48)] and model.net.body.pos_embed.shape[1] == 1 + 36


def test_model_options_are_checked_before_anything_is_loaded(tmp_path):
    common = ["data=fake", f"cache_dir={tmp_path}"]
    with pytest.raises(ConfigError, match=r"model.pretrained_path=.*is not a file"):
        validate(compose_config([*common, "model=vit_tiny", f"model.pretrained_path={tmp_path}/none.pth"]))
    with pytest.raises(ConfigError, match=r"not read by model=resnet18; models that read it: \['swin_t', 'vit_b16'"):
        validate(compose_config([*common, "model=resnet18", "model.patch_size=4"]))
    with pytest.raises(ConfigError, match="model.input_size=0 must be >= 1"):
        validate(compose_config([*common, "model=swin_t", "model.input_size=0"]))
    assert not any(tmp_path.iterdir())
    assert model_options(compose_config(["model=resnet18"]).model, "resnet18") == {"width": 32}  # cache keys kept
    assert model_options(compose_config(["model=vit_b16"]).model, "vit_b16") == {"width": 32, "input_size": 224}
