"""An outside unlearning method in one file, loaded without installing anything (docs/your_method.md):

    python -m unlearn_bench plugins=[examples/my_method.py] method=my_rl scenario=classwise

Random labelling in ~20 lines: fine-tune on D_f with wrong labels while keeping CE on D_r."""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.methods import DataView, Method, register_method
from unlearn_bench.methods.base import MethodConfig


@register_method
class MyRandomLabels(Method):
    name = "my_rl"  # method=my_rl
    needs = frozenset({"forget", "retain"})  # the only splits data.split / data.loader will give

    @dataclass
    class Config(MethodConfig):
        name: str = "my_rl"
        epochs: int = 5  # my choice: enough for digits class-wise forgetting
        lr: float = 0.05  # my choice: the digits recipe's learning rate (conf/train/digits.yaml)
        batch_size: int = 64  # my choice: the digits recipe's batch size

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        optimizer = torch.optim.SGD(model.parameters(), lr=self.cfg.lr, momentum=0.9)
        model.train()
        for _ in range(self.cfg.epochs):
            # loader(...)() is one shuffled epoch of (float images in [0, 1], labels) on data.device
            for (xf, yf), (xr, yr) in zip(data.loader("forget", self.cfg.batch_size)(),
                                          data.loader("retain", self.cfg.batch_size)()):
                shift = torch.randint(1, data.num_classes, yf.shape, generator=data.generator).to(yf.device)
                loss = F.cross_entropy(model(xf), (yf + shift) % data.num_classes) + F.cross_entropy(model(xr), yr)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        return model
