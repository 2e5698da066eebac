"""Losses, relabelling and the SGD run (``fit_sgd``) shared by the fine-tuning style methods.

``relabel_passes`` is the one implementation of the random-label objective (RL, SalUn, SalUn-soft, RL + m_S) with
its two options (``layout``, ``relabel``); the methods only pass their config through."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.errors import ConfigError
from unlearn_bench.methods.base import DataView, SGDConfig, is_official
from unlearn_bench.training import Pass, StepHook, cross_entropy, fit, sgd, supervised


def negative_cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Gradient-ascent loss: minimising it maximises the cross-entropy on D_f."""
    return -F.cross_entropy(logits.float(), y)


def random_other_labels(y: torch.Tensor, num_classes: int, generator: torch.Generator) -> torch.Tensor:
    """One label per example drawn uniformly from the K-1 classes other than its own (y' != y, SalUn Eq. 6)."""
    shift = torch.randint(1, num_classes, y.shape, generator=generator).to(y.device)
    return (y + shift) % num_classes


LAYOUTS = ("passes", "mixed")
RELABELS = ("fixed", "per_batch")


def check_relabel_options(cfg: Any) -> None:
    """``method.layout`` and ``method.relabel`` of a random-label method; an explicit ``relabel=fixed`` under
    ``fidelity=official`` is refused (the official code relabels per batch: one of the two would be ignored)."""
    _check_choices(cfg.layout, relabel_of(cfg))
    if cfg.relabel == "fixed" and is_official(cfg):
        raise ConfigError("method.relabel=fixed contradicts method.fidelity=official, whose code relabels per batch "
                          f"({OFFICIAL_RELABEL}); drop one of them")


def _check_choices(layout: str, relabel: str) -> None:
    if layout not in LAYOUTS:
        raise ConfigError(f"method.layout={layout!r}; allowed: {list(LAYOUTS)}")
    if relabel not in RELABELS:
        raise ConfigError(f"method.relabel={relabel!r}; allowed: {list(RELABELS)} or null (the fidelity's rule)")


# The SalUn repo's relabelling, applied by method.fidelity=official (RL, SalUn, SalUn-soft).
OFFICIAL_RELABEL = ("labels of D_f drawn per batch uniformly over all K classes (may equal y): SalUn repo "
                    "OPTML-Group/Unlearn-Saliency Classification/unlearn/RL.py:123-125")


def relabel_of(cfg: Any) -> str:
    """The relabelling a random-label method runs: ``method.relabel`` if set, else the fidelity's rule (``fixed``,
    the paper's y' != y; ``per_batch`` under ``method.fidelity=official``, the repo's)."""
    if cfg.relabel is not None:
        return cfg.relabel
    return "per_batch" if is_official(cfg) else "fixed"


def _forget_target(y: torch.Tensor, num_classes: int, generator: torch.Generator) -> torch.Tensor:
    """Per-batch relabelling as the SalUn repo's ``unlearn/RL.py``: uniform over all K classes (may equal y)."""
    return torch.randint(0, num_classes, y.shape, generator=generator).to(y.device)


def relabel_passes(data: DataView, batch_size: int, alpha: float, layout: str = "passes",
                   relabel: str = "fixed") -> list[Pass]:
    """The RL objective of Fan et al., "SalUn: Empowering Machine Unlearning via Gradient-based Weight Saliency
    in Both Image Classification and Generation", ICLR 2024, Eq. 6: CE on D_f with random labels plus
    alpha * CE on D_r, as the passes of one epoch.

    ``relabel``: ``fixed`` (default, the paper) draws one label per D_f example once per run, uniformly from the
    K-1 classes other than its own (the relabelled set D_f' of Alg. 1, y' != y); ``per_batch`` (the SalUn repo,
    Classification/unlearn/RL.py) draws ``randint(0, K)`` afresh for every batch, so a label may equal y.

    ``layout``: ``passes`` (default; the SalUn repo's CIFAR-10 / SVHN code path) runs one pass over D_f then one
    pass over D_r each epoch; ``mixed`` (the repo's CIFAR-100 / Tiny-ImageNet code path) concatenates the
    relabelled D_f and D_r into one shuffled loader, every batch mixing both. In ``mixed`` each D_r example's CE
    is weighted by alpha and the batch loss is the weighted sum over the batch divided by its size (alpha = 1,
    the repo's case, is the plain batch-mean CE). With ``per_batch`` in ``mixed``, the D_f rows of each batch get
    fresh labels.
    """
    _check_choices(layout, relabel)
    k, gen = data.num_classes, data.generator
    forget_x, forget_y = data.split("forget")
    if relabel == "fixed":
        forget_y = random_other_labels(forget_y, k, gen)
    if layout == "passes":
        if relabel == "fixed":
            forget_objective = supervised(cross_entropy)
        else:
            def forget_objective(net: nn.Module, batch) -> torch.Tensor:
                x, y = batch
                return cross_entropy(net(x), _forget_target(y, k, gen))
        return [
            Pass(data.batches(forget_x, forget_y, batch_size), forget_objective),
            Pass(data.loader("retain", batch_size), supervised(cross_entropy, alpha)),
        ]
    # mixed: a D_f row is marked by its label encoded as -label - 1 (as the SalUn repo marks forget examples).
    retain_x, retain_y = data.split("retain")
    x = torch.cat([forget_x, retain_x])
    y = torch.cat([-forget_y - 1, retain_y])

    def mixed_objective(net: nn.Module, batch) -> torch.Tensor:
        xb, yb = batch
        is_forget = yb < 0
        target = torch.where(is_forget, -yb - 1, yb)
        if relabel == "per_batch":
            target = torch.where(is_forget, _forget_target(yb, k, gen), target)
        per_example = F.cross_entropy(net(xb).float(), target, reduction="none")
        weight = torch.where(is_forget, torch.ones_like(per_example), torch.full_like(per_example, alpha))
        return (weight * per_example).mean()

    return [Pass(data.batches(x, y, batch_size), mixed_objective)]


def fit_sgd(model: nn.Module, passes: list[Pass], cfg: SGDConfig, data: DataView, desc: str,
            hook: StepHook | None = None, lr_at: Callable[[float], float] | None = None) -> nn.Module:
    """The fine-tuning style methods' one optimisation: SGD (constant lr unless ``lr_at(epoch)`` scales it,
    momentum, weight decay) over ``passes`` for ``cfg.epochs`` epochs, optionally with a step hook built at theta_o
    (e.g. a saliency mask)."""
    optimizer = sgd(model, cfg.lr, cfg.momentum, cfg.weight_decay)
    fit(model, passes, cfg.epochs, optimizer, lr_at=lr_at, hook=hook, amp=data.amp, desc=desc,
        progress=data.progress)
    return model.eval()
