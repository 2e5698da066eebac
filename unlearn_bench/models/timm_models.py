"""Vision transformers from timm: ViT-Ti/16, ViT-S/16 (SURE App. D "Small-ViT"), ViT-B/16 (JiT §5: the repo's
``google/vit-base-patch16-224`` backbone with a new linear head) and Swin-T (Unlink Table 14).

``timm.create_model(..., pretrained=False, num_classes=0)`` gives the backbone (pooled, normed pre-logits features);
``fc`` is the linear head (``get_classifier()``), so the network follows the ``Classifier`` contract. Nothing is ever
downloaded: pretrained weights come only from ``model.pretrained_path``, a local timm checkpoint (.pth / .bin /
.safetensors), adapted by the architecture's own timm ``checkpoint_filter_fn`` (position embeddings / patch
embedding resized to this model's grid); its classifier is dropped (the head is new, as in JiT). Set ``data.mean``
/ ``data.std`` to the checkpoint's normalisation. ``model.input_size`` resizes images inside the model (JiT feeds
CIFAR images resized to 224 to its ViT); ``model.patch_size`` overrides the patch size (e.g. 4 for a ViT trained
from scratch on 32 px images). ``stages`` are the outputs at four depths: token tensors (B x N x D) of ViT blocks
(one resolution), B x H x W x C maps of the Swin stages.
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.errors import ConfigError
from unlearn_bench.models.registry import check_weights_file, register_model

TIMM_ARCHS = {
    "vit_tiny": "vit_tiny_patch16_224",
    "vit_small": "vit_small_patch16_224",
    "vit_b16": "vit_base_patch16_224",
    "swin_t": "swin_tiny_patch4_window7_224",
}


def _create_body(arch: str, in_chans: int, img_size: int, patch_size: int | None) -> nn.Module:
    import timm

    extra = {} if patch_size is None else {"patch_size": patch_size}
    return timm.create_model(arch, pretrained=False, num_classes=0, in_chans=in_chans, img_size=img_size, **extra)


def load_pretrained(body: nn.Module, path: str) -> None:
    """Load a local timm checkpoint into ``body`` (strict, classifier dropped); ConfigError naming
    ``model.pretrained_path`` if the file is missing or does not fit the architecture."""
    from timm.models import load_state_dict

    state = load_state_dict(str(check_weights_file(path)))
    filter_fn = getattr(sys.modules[type(body).__module__], "checkpoint_filter_fn", None)
    if filter_fn is not None:
        state = filter_fn(state, body)
    classifier = body.pretrained_cfg.get("classifier", "head")
    state = {k: v for k, v in state.items() if not k.startswith(f"{classifier}.")}
    try:
        body.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ConfigError(f"model.pretrained_path={path!r} does not fit {body.pretrained_cfg['architecture']}: "
                          f"{' '.join(str(err).split())[:400]}") from err


class TimmNet(nn.Module):
    """A timm backbone + linear head ``fc``. ``reset_parameters`` returns the whole network to its starting point
    (the pretrained weights if any, else a fresh timm initialisation; the head always fresh), so Retrain starts
    where the original did (``resets_children``: ``models.reset_parameters`` does not re-initialise its layers
    one by one, which would miss the position embeddings and class token and wipe pretrained weights)."""

    resets_children = True

    def __init__(self, arch: str, num_classes: int, in_chans: int, img_size: int, input_size: int | None,
                 patch_size: int | None, pretrained_path: str | None):
        super().__init__()
        self.arch, self.in_chans, self.patch_size, self.pretrained_path = arch, in_chans, patch_size, pretrained_path
        self.input_size = input_size or img_size
        self.body = _create_body(arch, in_chans, self.input_size, patch_size)
        if pretrained_path:
            load_pretrained(self.body, pretrained_path)
        self.fc = nn.Linear(self.body.num_features, num_classes)
        blocks = [f"body.layers.{i}" for i in range(len(self.body.layers))] if hasattr(self.body, "layers") else \
            [f"body.blocks.{i}" for i in range(len(self.body.blocks))]
        depth = len(blocks)
        self.stages = [blocks[max(0, round(depth * q) - 1)] for q in (0.25, 0.5, 0.75, 1.0)] if depth > 4 else blocks

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.input_size, self.input_size):
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False)
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.forward_features(x))

    def get_classifier(self) -> nn.Linear:
        """The final linear layer (timm's name for it): ``models.classifier_head`` reads it. Not the body's own
        ``get_classifier()``: built with ``num_classes=0``, that is an ``nn.Identity``."""
        return self.fc

    @torch.no_grad()
    def reset_parameters(self) -> None:
        fresh = _create_body(self.arch, self.in_chans, self.input_size, self.patch_size)
        if self.pretrained_path:
            load_pretrained(fresh, self.pretrained_path)
        self.body.load_state_dict(fresh.state_dict())
        self.fc.reset_parameters()


def _timm_factory(name: str):
    def factory(num_classes: int, in_chans: int, img_size: int, input_size: int | None = None,
                patch_size: int | None = None, pretrained_path: str | None = None, **_) -> TimmNet:
        return TimmNet(TIMM_ARCHS[name], num_classes, in_chans, img_size, input_size, patch_size, pretrained_path)

    factory.__name__ = name
    factory.__doc__ = f"timm ``{TIMM_ARCHS[name]}`` (see the module docstring)."
    return factory


for _name in TIMM_ARCHS:
    register_model(_timm_factory(_name))
