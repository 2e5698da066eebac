"""SalUn (Fan et al., "SalUn: Empowering Machine Unlearning via Gradient-based Weight Saliency in Both Image
Classification and Generation", ICLR 2024).

1. Weight saliency mask m_S = 1(|grad of the GA forgetting loss at theta_o| >= gamma) (Eq. 3, Eq. 5 with the
   classification CE), gamma set so that ``sparsity`` (default 50% = the median) of weights freeze.
2. RL unlearning of the salient weights only (Eq. 4): minimise CE on D_f with random labels plus alpha * CE on
   D_r (Eq. 6), SGD, 10 epochs (Algorithm 1).

Choices where the paper is silent follow the SalUn repo (OPTML-Group/Unlearn-Saliency: Classification/
generate_mask.py, Classification/unlearn/RL.py):
- saliency gradient of the mean CE over all of D_f in eval mode, no augmentation, one global threshold over all
  parameter tensors (BN affine included);
- SGD with momentum 0.9 and weight decay 5e-4 at a constant lr; frozen weights are reset to theta_o after every
  step and their momentum zeroed so they never move;
- alpha (not stated in the paper) = 1.0, the repo's implicit weight.
The epoch layout and the relabelling are options shared with ``rl`` (``common.relabel_passes``): by default one
pass over the relabelled D_f then one over D_r (``layout=passes``, the repo's CIFAR-10 / SVHN path;
``layout=mixed`` is its CIFAR-100 / Tiny-ImageNet path, one shuffled loader over both) and labels drawn once,
excluding the true one (``relabel=fixed``, the paper's y' != y; ``relabel=per_batch`` is the repo's per-batch
draw that may hit y). Defaults are the repo's CIFAR-10 10% random-forgetting command (lr 0.013). ``rl_ms`` is
the same method under its Table A1 name with RL's default lr.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from unlearn_bench.methods.base import DataView, Method, is_official, register_method
from unlearn_bench.methods.common import OFFICIAL_RELABEL, check_relabel_options, relabel_of, relabel_passes
from unlearn_bench.methods.random_label import RandomLabel
from unlearn_bench.methods.saliency import OFFICIAL_MASK, fit_masked, forget_saliency_mask


@register_method
class SalUn(Method):
    name = "salun"
    needs = frozenset({"forget", "retain"})
    official = (OFFICIAL_MASK, OFFICIAL_RELABEL)

    @dataclass
    class Config(RandomLabel.Config):
        name: str = "salun"
        lr: float = 0.013  # SalUn repo README: main_random.py --unlearn_lr 0.013 (CIFAR-10, 10% random)
        # The repo's mask file with_<k>.pt keeps the top k of weights: with_0.6.pt (top 60%) is sparsity=0.4.
        sparsity: float = 0.5  # share of weights FROZEN by the mask (SalUn §4: 50%; repo with_<1 - sparsity>.pt)

    @classmethod
    def check_config(cls, cfg, num_classes: int) -> None:
        check_relabel_options(cfg)

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        cfg = self.cfg
        mask = forget_saliency_mask(model, data, cfg.batch_size, cfg.sparsity, is_official(cfg))
        passes = relabel_passes(data, cfg.batch_size, cfg.alpha, cfg.layout, relabel_of(cfg))
        return fit_masked(model, passes, mask, cfg, data, self.name)
