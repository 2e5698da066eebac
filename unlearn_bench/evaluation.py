"""One forward pass per split (no augmentation) -> per-example logits -> every configured metric."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from unlearn_bench.config import EvalConfig
from unlearn_bench.data.loader import iterate_batches
from unlearn_bench.data.task import Task
from unlearn_bench.metrics.accuracy import accuracy, unlearning_accuracy
from unlearn_bench.metrics.mia import svc_mia_efficacy
from unlearn_bench.runtime import autocast

EVAL_SPLITS = ("forget", "retain", "test")


@torch.inference_mode()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int, amp: bool = False) -> np.ndarray:
    """Logits (float32, on the host) for uint8 images ``x``."""
    was_training = model.training
    model.eval()
    dummy = torch.zeros(len(x), dtype=torch.long, device=x.device)
    outs = []
    for xb, _ in iterate_batches(x, dummy, batch_size):
        with autocast(xb.device, amp):
            outs.append(model(xb).float())
    model.train(was_training)
    return torch.cat(outs).cpu().numpy() if outs else np.zeros((0, 0), dtype=np.float32)


def evaluate(model: nn.Module, task: Task, cfg: EvalConfig, amp: bool = False
             ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Metrics of one model and the per-example arrays they were computed from."""
    arrays: dict[str, np.ndarray] = {}
    for split in EVAL_SPLITS:
        x, y = task.split(split)
        arrays[f"{split}_logits"] = predict(model, x, cfg.batch_size, amp)
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
