"""IU: influence unlearning (Izzo, Smart, Chaudhuri, Zou, "Approximate Data Deletion from Machine Learning Models",
AISTATS 2021; Jia et al., "Model Sparsity Can Simplify Machine Unlearning", NeurIPS 2023), a baseline of SalUn (Fan,
Liu, Zhang, Wong, Wei, Liu, "SalUn: Empowering Machine Unlearning via Gradient-based Weight Saliency in Both Image
Classification and Generation", ICLR 2024), §4, as the SalUn repo's ``Classification/unlearn/Wfisher.py`` computes it.
One shot, no optimiser, model in eval mode, mean CE with true labels:

1. v = (n_f / n) (mean forget gradient - mean retain gradient) over all of D_f and D_r;
2. the repo's "WoodFisher" recursion over the first ``n_samples`` + 2 retain examples one at a time
   (k <- v; o <- g_0; then t = o.g_j, k <- k - (k.g_j / (N + t)) o, o <- o N / (N + t), with N = ``n_samples``);
3. theta <- theta + alpha * k.
The recursion only ever rescales o, so k = v - c g_0: a rank-1 correction rather than a real inverse-
Hessian product; it is reproduced for parity with the SalUn tables.
SalUn App. C.1 searches alpha in [1, 20]; the repo default is 0.2 (users report alpha < 1 working).
Gradients are taken without augmentation (the repo keeps its training transform on: ``method.fidelity=official``
takes them with the recipe's training augmentation, ``OFFICIAL``). ``iu_ms`` applies the SalUn saliency mask to the
one-shot step: theta <- theta + alpha * (m_S * k) (SalUn Table A1).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import nn

from unlearn_bench.data.loader import to_float
from unlearn_bench.methods.base import DataView, Method, MethodConfig, is_official, register_method
from unlearn_bench.methods.saliency import OFFICIAL_MASK, forget_saliency_mask
from unlearn_bench.training import Batches, cross_entropy


def summed_gradient(model: nn.Module, params: list[nn.Parameter], batches: Batches) -> tuple[torch.Tensor, int]:
    """Sum over examples of the per-example CE gradient (batch-mean gradient x batch size), flattened."""
    total, count = None, 0
    for x, y in batches():
        grads = torch.autograd.grad(cross_entropy(model(x), y) * len(y), params)
        flat = torch.cat([g.flatten() for g in grads])
        total = flat if total is None else total + flat
        count += len(y)
    return total, count


# What method.fidelity=official changes: the SalUn repo's gradients see D_f and D_r through their training transform.
OFFICIAL = ("gradients of D_f and D_r (and the recursion's retain examples) under the recipe's training augmentation: "
            "SalUn repo OPTML-Group/Unlearn-Saliency Classification/unlearn/Wfisher.py:100-110 (loaders over the "
            "unlearning datasets, which carry the training transform)",)


def official_woodfisher(model: nn.Module, params: list[nn.Parameter], examples: Batches, v: torch.Tensor,
                        n_samples: int) -> torch.Tensor:
    """The repo's recursion over the first ``n_samples`` + 2 single-example batches of ``examples``."""
    k, o = v.clone(), None
    for xj, yj in itertools.islice(examples(), n_samples + 2):
        grads = torch.autograd.grad(cross_entropy(model(xj), yj), params)
        g = torch.cat([gr.flatten() for gr in grads])
        if o is None:
            o = g.clone()
            continue
        t = o @ g
        k = k - (k @ g) / (n_samples + t) * o
        o = o * (n_samples / (n_samples + t))
    return k


def influence_step(model: nn.Module, data: DataView, cfg: Influence.Config,
                   mask: dict[str, torch.Tensor] | None = None) -> nn.Module:
    """theta <- theta + alpha * k (steps 1-3 above), only where ``mask`` is set when one is given."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    params = [p for _, p in named]
    augment = is_official(cfg)
    forget_sum, n_f = summed_gradient(model, params, data.loader("forget", cfg.batch_size, False, augment))
    retain_sum, n_r = summed_gradient(model, params, data.loader("retain", cfg.batch_size, False, augment))
    n = n_f + n_r
    v = forget_sum / n - retain_sum * n_f / (n * n_r)
    retain_x, retain_y = data.split("retain")
    first_x, first_y = to_float(retain_x[:cfg.n_samples + 2]), retain_y[:cfg.n_samples + 2]

    def first_examples():
        return ((first_x[j:j + 1], first_y[j:j + 1]) for j in range(len(first_y)))

    examples = data.loader("retain", 1, False, True) if augment else first_examples
    k = official_woodfisher(model, params, examples, v, cfg.n_samples)
    with torch.no_grad():
        offset = 0
        for name, p in named:
            step = k[offset:offset + p.numel()].view_as(p) * cfg.alpha
            p.add_(step * mask[name] if mask is not None else step)
            offset += p.numel()
    return model


@register_method
class Influence(Method):
    name = "iu"
    needs = frozenset({"forget", "retain"})
    official = OFFICIAL
    training_free = True

    @dataclass
    class Config(MethodConfig):
        name: str = "iu"
        alpha: float = 1.0  # harness choice: 1, the low end of SalUn App. C.1's range [1, 20] (SalUn repo default 0.2)
        # N of the recursion (over the first N + 2 retain examples).
        n_samples: int = 1000  # SalUn repo Classification/unlearn/Wfisher.py: N = 1000
        # Gradient accumulation batches only (no effect on the step).
        batch_size: int = 256  # SalUn repo Classification/arg_parser.py: --batch_size 256

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        return influence_step(model.eval(), data, self.cfg)


@register_method
class InfluenceMasked(Method):
    name = "iu_ms"
    needs = frozenset({"forget", "retain"})
    official = (*OFFICIAL, OFFICIAL_MASK)
    training_free = True

    @dataclass
    class Config(Influence.Config):
        name: str = "iu_ms"
        sparsity: float = 0.5  # SalUn §6.1: saliency sparsity 50% unless otherwise specified

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        mask = forget_saliency_mask(model.eval(), data, self.cfg.batch_size, self.cfg.sparsity,
                                    is_official(self.cfg))
        return influence_step(model, data, self.cfg, mask)
