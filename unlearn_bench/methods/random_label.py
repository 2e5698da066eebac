"""RL: random labelling (Golatkar et al., "Eternal Sunshine of the Spotless Net", CVPR 2020), in the form of
Fan et al., "SalUn: Empowering Machine Unlearning via Gradient-based Weight Saliency in Both Image Classification
and Generation", ICLR 2024: fine-tune on D_f with random wrong labels plus alpha * CE on D_r, SalUn's Eq. 6
without the saliency mask (SalUn Table A1 names SalUn "RL + m_S"). SalUn App. C.1: 10 epochs, lr in [1e-3, 1e-1].

Two options follow the SalUn repo (OPTML-Group/Unlearn-Saliency, Classification/unlearn/RL.py) where it differs
from the paper; both defaults are the paper's (see ``common.relabel_passes``):
- ``layout``: ``passes`` (D_f pass then D_r pass each epoch, the repo's CIFAR-10 / SVHN path) or ``mixed`` (one
  shuffled loader over relabelled D_f + D_r, the repo's CIFAR-100 / Tiny-ImageNet path);
- ``relabel``: ``fixed`` (drawn once, y' != y, SalUn Eq. 6 / Alg. 1) or ``per_batch`` (repo: ``randint(0, K)``
  per batch, may hit y).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from unlearn_bench.methods.base import DataView, Method, SGDConfig, register_method
from unlearn_bench.methods.common import OFFICIAL_RELABEL, check_relabel_options, fit_sgd, relabel_of, relabel_passes


@register_method
class RandomLabel(Method):
    name = "rl"
    needs = frozenset({"forget", "retain"})
    official = (OFFICIAL_RELABEL,)

    @dataclass
    class Config(SGDConfig):
        name: str = "rl"
        alpha: float = 1.0  # weight of the D_r term (SalUn Eq. 6's alpha; not stated: 1.0 = the SalUn repo's)
        layout: str = "passes"  # SalUn repo unlearn/RL.py: passes (CIFAR-10/SVHN path) | mixed (CIFAR-100/TinyIN)
        relabel: str | None = None  # null: the fidelity's (paper: fixed y' != y, SalUn Alg. 1; official: per_batch)

    @classmethod
    def check_config(cls, cfg, num_classes: int) -> None:
        check_relabel_options(cfg)

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        passes = relabel_passes(data, self.cfg.batch_size, self.cfg.alpha, self.cfg.layout, relabel_of(self.cfg))
        return fit_sgd(model, passes, self.cfg, data, self.name)
