"""RL: random labelling (Golatkar et al. 2020; SalUn §4). Fine-tune on D_f with random wrong labels plus
alpha * CE on D_r: SalUn's Eq. 6 without the saliency mask (SalUn Table A1 names SalUn "RL + m_S", and
the SalUn repo's RL runs a relabelled D_f pass then a D_r pass each epoch). 10 epochs, lr in [1e-3, 1e-1]."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from unlearn_bench.methods.base import DataView, SGDConfig, register_method
from unlearn_bench.methods.common import SGDMethod, relabel_passes
from unlearn_bench.training import Pass


@register_method
class RandomLabel(SGDMethod):
    name = "rl"
    needs = frozenset({"forget", "retain"})

    @dataclass
    class Config(SGDConfig):
        name: str = "rl"
        alpha: float = 1.0  # weight of the D_r term

    def passes(self, model: nn.Module, data: DataView) -> list[Pass]:
        return relabel_passes(data, self.cfg.batch_size, self.cfg.alpha)
