"""A small CNN for 8x8 digits and 28x28 Fashion-MNIST: three conv-BN-ReLU blocks, global pooling, linear head."""

from __future__ import annotations

from torch import nn

from unlearn_bench.models.registry import FeaturesThenLinear, register_model


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class SmallCNN(FeaturesThenLinear):
    def __init__(self, num_classes: int, in_chans: int, width: int = 32):
        super().__init__()
        self.features = nn.Sequential(
            _block(in_chans, width),
            _block(width, 2 * width),
            nn.MaxPool2d(2),
            _block(2 * width, 4 * width),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.fc = nn.Linear(4 * width, num_classes)
        self.stages = ["features.0", "features.1", "features.3"]  # spatial activations, for attention transfer


@register_model
def small_cnn(num_classes: int, in_chans: int, img_size: int, width: int = 32) -> SmallCNN:
    return SmallCNN(num_classes, in_chans, width)
