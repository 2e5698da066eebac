""""Method + m_S" variants of Table A1 of Fan et al., "SalUn: Empowering Machine Unlearning via Gradient-based
Weight Saliency in Both Image Classification and Generation", ICLR 2024: FT, RL and GA updating only the
salient weights of the SalUn mask (Eq. 3-4, 50% sparsity by default). One mask helper (``SaliencyMasked``)
serves all of them; IU's one-shot variant is ``iu_ms`` in ``influence.py``. Each variant also reads D_f
(for the mask)."""

from __future__ import annotations

from dataclasses import dataclass

from unlearn_bench.methods.base import register_method
from unlearn_bench.methods.finetune import FineTune
from unlearn_bench.methods.grad_ascent import GradientAscent
from unlearn_bench.methods.random_label import RandomLabel
from unlearn_bench.methods.saliency import SaliencyMasked


@register_method
class FineTuneMasked(SaliencyMasked, FineTune):
    name = "ft_ms"
    needs = frozenset({"forget", "retain"})

    @dataclass
    class Config(FineTune.Config):
        name: str = "ft_ms"
        sparsity: float = 0.5  # SalUn Table A1: the SalUn mask, 50% sparsity (SalUn §4)


@register_method
class RandomLabelMasked(SaliencyMasked, RandomLabel):
    name = "rl_ms"
    needs = frozenset({"forget", "retain"})

    @dataclass
    class Config(RandomLabel.Config):
        name: str = "rl_ms"
        sparsity: float = 0.5  # SalUn Table A1: the SalUn mask, 50% sparsity (SalUn §4)


@register_method
class GradientAscentMasked(SaliencyMasked, GradientAscent):
    name = "ga_ms"
    needs = frozenset({"forget"})

    @dataclass
    class Config(GradientAscent.Config):
        name: str = "ga_ms"
        sparsity: float = 0.5  # SalUn Table A1: the SalUn mask, 50% sparsity (SalUn §4)
