"""VGG-11 (configuration A) and VGG-16 (configuration D) with batch norm, global pooling and one linear head."""

from __future__ import annotations

from torch import nn

from unlearn_bench.errors import ConfigError
from unlearn_bench.models.registry import FeaturesThenLinear, register_model

_VGG11 = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
_VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


class VGG(FeaturesThenLinear):
    def __init__(self, layout: list, num_classes: int, in_chans: int):
        super().__init__()
        layers, c_in, self.stages = [], in_chans, []  # stages: the activation before each pooling
        for v in layout:
            if v == "M":
                self.stages.append(f"features.{len(layers) - 1}")
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(c_in, v, 3, padding=1, bias=False), nn.BatchNorm2d(v), nn.ReLU()]
                c_in = v
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(c_in, num_classes)


def _vgg(name: str, layout: list, num_classes: int, in_chans: int, img_size: int) -> VGG:
    if img_size < 32:
        raise ConfigError(f"{name} pools 5 times and needs img_size >= 32, got {img_size}")
    return VGG(layout, num_classes, in_chans)


@register_model
def vgg11_bn(num_classes: int, in_chans: int, img_size: int, **_) -> VGG:
    return _vgg("vgg11_bn", _VGG11, num_classes, in_chans, img_size)


@register_model
def vgg16_bn(num_classes: int, in_chans: int, img_size: int, **_) -> VGG:
    return _vgg("vgg16_bn", _VGG16, num_classes, in_chans, img_size)
