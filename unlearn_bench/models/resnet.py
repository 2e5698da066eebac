"""ResNet-18 (basic blocks) and ResNet-50 (bottlenecks) as in the SalUn repo: for inputs up to 64 px a 3x3
stride-1 stem without max-pool (CIFAR variant); for larger inputs the ImageNet stem (7x7 stride 2 + max-pool)."""

from __future__ import annotations

import torch
from torch import nn

from unlearn_bench.models.registry import register_model


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, c_in: int, width: int, stride: int = 1):
        super().__init__()
        c_out = width * self.expansion
        self.body = nn.Sequential(
            nn.Conv2d(c_in, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, c_out, 1, bias=False), nn.BatchNorm2d(c_out))
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, blocks: list[int], num_classes: int, in_chans: int, small_input: bool,
                 block: type[nn.Module] = BasicBlock):
        super().__init__()
        if small_input:
            stem = [nn.Conv2d(in_chans, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU()]
        else:
            stem = [nn.Conv2d(in_chans, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
        self.stem = nn.Sequential(*stem)
        layers, c_in, self.stages = [], 64, []  # stages: the last block of each resolution
        for i, n in enumerate(blocks):
            width = 64 * 2**i
            for j in range(n):
                layers.append(block(c_in, width, stride=2 if (i > 0 and j == 0) else 1))
                c_in = width * block.expansion
            self.stages.append(f"layers.{len(layers) - 1}")
        self.layers = nn.Sequential(*layers)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(c_in, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.layers(self.stem(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.forward_features(x))

    def get_classifier(self) -> nn.Linear:
        """The final linear layer (timm's name for it): ``models.classifier_head`` reads it."""
        return self.fc


@register_model
def resnet18(num_classes: int, in_chans: int, img_size: int, **_) -> ResNet:
    return ResNet([2, 2, 2, 2], num_classes, in_chans, small_input=img_size <= 64)


@register_model
def resnet50(num_classes: int, in_chans: int, img_size: int, **_) -> ResNet:
    return ResNet([3, 4, 6, 3], num_classes, in_chans, small_input=img_size <= 64, block=Bottleneck)
