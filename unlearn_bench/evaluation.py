"""One forward pass per split (no augmentation) -> per-example logits -> every configured metric."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from unlearn_bench.config import EvalConfig, ShiftConfig
from unlearn_bench.data.loader import iterate_batches
from unlearn_bench.data.task import Task
from unlearn_bench.errors import ConfigError
from unlearn_bench.metrics.accuracy import accuracy, unlearning_accuracy
from unlearn_bench.metrics.mia import svc_mia_efficacy
from unlearn_bench.runtime import autocast

EVAL_SPLITS = ("forget", "retain", "test")


SHIFT_KINDS = ("none", "gaussian", "pgd")


def pgd_linf(model: nn.Module, x: torch.Tensor, y: torch.Tensor, shift: ShiftConfig,
             generator: torch.Generator) -> torch.Tensor:
    """Untargeted l_inf PGD against ``model`` (Madry et al.: uniform random start in the eps-ball, ``steps``
    signed-gradient ascent steps on the cross-entropy of the true label, projection, pixels kept in [0, 1])."""
    delta = (torch.rand(x.shape, generator=generator).to(x.device) * 2 - 1) * shift.eps
    with torch.enable_grad():
        for _ in range(shift.steps):
            delta.requires_grad_(True)
            loss = F.cross_entropy(model((x + delta).clamp(0, 1)).float(), y)
            (grad,) = torch.autograd.grad(loss, delta)
            delta = (delta.detach() + shift.step_size * grad.sign()).clamp(-shift.eps, shift.eps)
    return (x + delta).clamp(0, 1).detach()


def shifted(model: nn.Module, x: torch.Tensor, y: torch.Tensor, shift: ShiftConfig | None,
            generator: torch.Generator) -> torch.Tensor:
    """A float batch in [0, 1] under the configured evaluation shift."""
    if shift is None or shift.kind == "none":
        return x
    if shift.kind == "gaussian":
        return (x + shift.sigma * torch.randn(x.shape, generator=generator).to(x.device)).clamp(0, 1)
    if shift.kind == "pgd":
        return pgd_linf(model, x, y, shift, generator)
    raise ConfigError(f"eval.shift.kind={shift.kind!r} is not supported; allowed: {list(SHIFT_KINDS)}")


def predict(model: nn.Module, x: torch.Tensor, batch_size: int, amp: bool = False, y: torch.Tensor | None = None,
            shift: ShiftConfig | None = None) -> np.ndarray:
    """Logits (float32, on the host) for uint8 images ``x``, optionally under an evaluation shift (which
    needs the labels ``y`` for PGD). The shift's randomness is seeded, so every model sees the same noise."""
    was_training = model.training
    model.eval()
    y = y if y is not None else torch.zeros(len(x), dtype=torch.long, device=x.device)
    generator = torch.Generator().manual_seed(0)
    outs = []
    for xb, yb in iterate_batches(x, y, batch_size):
        xb = shifted(model, xb, yb, shift, generator)
        with torch.inference_mode(), autocast(xb.device, amp):
            outs.append(model(xb).float())
    model.train(was_training)
    return torch.cat(outs).cpu().numpy() if outs else np.zeros((0, 0), dtype=np.float32)


def evaluate(model: nn.Module, task: Task, cfg: EvalConfig, amp: bool = False
             ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Metrics of one model and the per-example arrays they were computed from."""
    arrays: dict[str, np.ndarray] = {}
    for split in EVAL_SPLITS:
        x, y = task.split(split)
        arrays[f"{split}_logits"] = predict(model, x, cfg.batch_size, amp, y, cfg.shift)
        arrays[f"{split}_labels"] = y.cpu().numpy()
    a = arrays
    metrics = {
        "UA": unlearning_accuracy(a["forget_logits"], a["forget_labels"]),
        "RA": accuracy(a["retain_logits"], a["retain_labels"]),
        "TA": accuracy(a["test_logits"], a["test_labels"]),
    }
    if cfg.mia.enabled:
        # Shadow members: the first |test| examples of D_r in retain order (SalUn repo).
        n_shadow = len(a["test_labels"])
        metrics["MIA"] = svc_mia_efficacy(
            a["retain_logits"][:n_shadow], a["retain_labels"][:n_shadow],
            a["test_logits"], a["test_labels"], a["forget_logits"], a["forget_labels"])
    return metrics, arrays
