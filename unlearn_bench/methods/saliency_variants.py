""""Method + m_S" variants of Table A1 of Fan et al., "SalUn: Empowering Machine Unlearning via Gradient-based
Weight Saliency in Both Image Classification and Generation", ICLR 2024: FT, RL and GA updating only the
salient weights of the SalUn mask (Eq. 3-4, 50% sparsity by default): each builds the mask at theta_o
(``saliency.forget_saliency_mask``), then runs its method's passes through ``saliency.fit_masked``. RL + m_S is
SalUn itself (Table A1's name for it), with RL's default lr. IU's one-shot variant is ``iu_ms`` in
``influence.py``. Each variant also reads D_f (for the mask)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from unlearn_bench.methods.base import DataView, Method, is_official, register_method
from unlearn_bench.methods.finetune import FineTune, retain_pass
from unlearn_bench.methods.grad_ascent import GradientAscent, forget_ascent_pass
from unlearn_bench.methods.random_label import RandomLabel
from unlearn_bench.methods.saliency import OFFICIAL_MASK, fit_masked, forget_saliency_mask
from unlearn_bench.methods.salun import SalUn


@register_method
class FineTuneMasked(Method):
    name = "ft_ms"
    needs = frozenset({"forget", "retain"})
    official = (OFFICIAL_MASK,)

    @dataclass
    class Config(FineTune.Config):
        name: str = "ft_ms"
        sparsity: float = 0.5  # SalUn Table A1: the SalUn mask, 50% sparsity (SalUn §4)

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        mask = forget_saliency_mask(model, data, self.cfg.batch_size, self.cfg.sparsity, is_official(self.cfg))
        return fit_masked(model, [retain_pass(data, self.cfg.batch_size)], mask, self.cfg, data, self.name)


@register_method
class RandomLabelMasked(SalUn):
    """SalUn under its Table A1 name ("RL + m_S"): SalUn's ``unlearn``, RL's default lr."""

    name = "rl_ms"
    needs = frozenset({"forget", "retain"})

    @dataclass
    class Config(RandomLabel.Config):
        name: str = "rl_ms"
        sparsity: float = 0.5  # SalUn Table A1: the SalUn mask, 50% sparsity (SalUn §4)


@register_method
class GradientAscentMasked(Method):
    name = "ga_ms"
    needs = frozenset({"forget"})
    official = (OFFICIAL_MASK,)

    @dataclass
    class Config(GradientAscent.Config):
        name: str = "ga_ms"
        sparsity: float = 0.5  # SalUn Table A1: the SalUn mask, 50% sparsity (SalUn §4)

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        mask = forget_saliency_mask(model, data, self.cfg.batch_size, self.cfg.sparsity, is_official(self.cfg))
        return fit_masked(model, [forget_ascent_pass(data, self.cfg.batch_size)], mask, self.cfg, data, self.name)
