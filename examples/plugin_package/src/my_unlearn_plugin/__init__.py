"""An installed unlearn_bench plugin: one method (``method=my_ga``, with a preset ``method=my_ga_strong`` in its
config folder), one metric group (``eval.metrics=[forget_confidence]``) and one scenario kind (``scenario=my_lowest``,
the examples of D with the lowest index of one class)."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.data.scenarios import Scenario, register_scenario
from unlearn_bench.errors import ConfigError
from unlearn_bench.evaluation import MetricGroup, Outputs, register_metric_group
from unlearn_bench.methods import DataView, Method, register_method
from unlearn_bench.methods.base import MethodConfig

CONF_DIR = Path(__file__).parent / "conf"  # added to Hydra's search path: conf/method/my_ga_strong.yaml, ...


@register_method
class MyGradientAscent(Method):
    """Gradient ascent on D_f, with CE on D_r to keep utility."""

    name = "my_ga"
    needs = frozenset({"forget", "retain"})

    @dataclass
    class Config(MethodConfig):
        name: str = "my_ga"
        epochs: int = 3  # my choice
        lr: float = 0.01  # my choice
        batch_size: int = 64  # my choice

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        optimizer = torch.optim.SGD(model.parameters(), lr=self.cfg.lr, momentum=0.9)
        model.train()
        for _ in range(self.cfg.epochs):
            for (xf, yf), (xr, yr) in zip(data.loader("forget", self.cfg.batch_size)(),
                                          data.loader("retain", self.cfg.batch_size)()):
                loss = F.cross_entropy(model(xr), yr) - F.cross_entropy(model(xf), yf)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        return model


class ForgetConfidence(MetricGroup):
    """Mean softmax confidence of the true label on D_f (in %), and its distance to Retrain's."""

    name = "forget_confidence"

    def absolute(self, out: Outputs, metrics: dict[str, float]) -> dict[str, float]:
        logits, labels = out.arrays["forget_logits"], out.arrays["forget_labels"]
        return {"forget_conf": 100 * float(_true_probability(logits, labels).mean())}

    def relative(self, arrays, retrain_arrays, model, retrain) -> dict[str, float]:
        mine = _true_probability(arrays["forget_logits"], arrays["forget_labels"])
        theirs = _true_probability(retrain_arrays["forget_logits"], retrain_arrays["forget_labels"])
        return {"forget_conf_gap": 100 * float(np.abs(mine - theirs).mean())}


def _true_probability(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return torch.softmax(torch.as_tensor(logits), 1)[torch.arange(len(labels)), torch.as_tensor(labels)].numpy()


register_metric_group(ForgetConfidence())


@register_scenario
class LowestIndices(Scenario):
    """Forget the ``size`` examples of class ``class_index`` that come first in D (a deterministic partial class)."""

    kind = "my_lowest"

    def validate(self, num_classes: int) -> None:
        if self.cfg.class_index is None or not 0 <= self.cfg.class_index < num_classes or not self.cfg.size:
            raise ConfigError(f"scenario={self.cfg.name} needs scenario.class_index in [0, {num_classes - 1}] and "
                              f"scenario.size >= 1")

    def _choose(self, train_y, seed, sub_y, sub_classes, member_prob) -> np.ndarray:
        return np.flatnonzero(train_y == self.cfg.class_index)[: self.cfg.size]
