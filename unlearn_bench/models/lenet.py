"""LeNet-5 (LeCun, Bottou, Bengio, Haffner, "Gradient-based learning applied to document recognition", Proc. IEEE
1998) for 28x28 grey images, in its modern form: ReLU and max pooling instead of the scaled tanh and trainable
sub-sampling, no padding (28 -> 24 -> 12 -> 8 -> 4). About 0.3 M multiply-adds per image at width 6, a hundredth of
``small_cnn``'s, so a whole Fashion-MNIST benchmark (originals, Retrains, tuning) fits a 2-core CPU."""

from __future__ import annotations

from torch import nn

from unlearn_bench.errors import ConfigError
from unlearn_bench.models.registry import FeaturesThenLinear, register_model


class LeNet5(FeaturesThenLinear):
    def __init__(self, num_classes: int, in_chans: int, img_size: int, width: int = 6):
        super().__init__()
        c1, c2 = width, width * 16 // 6  # LeNet-5's C1 and C3: 6 and 16 maps at width 6
        side = ((img_size - 4) // 2 - 4) // 2
        if side < 1:
            raise ConfigError(f"model=lenet5 needs images of at least 16 px (two 5x5 convolutions and two "
                              f"poolings); data.img_size={img_size}")
        self.features = nn.Sequential(
            nn.Conv2d(in_chans, c1, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(c2 * side * side, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(),
        )
        self.fc = nn.Linear(84, num_classes)
        self.stages = ["features.1", "features.4", "features.5"]  # spatial activations, for attention transfer


@register_model
def lenet5(num_classes: int, in_chans: int, img_size: int, width: int = 6) -> LeNet5:
    return LeNet5(num_classes, in_chans, img_size, width)
