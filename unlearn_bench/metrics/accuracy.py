"""UA, RA, TA (SalUn §3, after Jia et al. 2023), in percent."""

from __future__ import annotations

import numpy as np


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy in percent; NaN for an empty split."""
    if len(labels) == 0:
        return float("nan")
    return float((logits.argmax(1) == labels).mean() * 100.0)


def unlearning_accuracy(forget_logits: np.ndarray, forget_labels: np.ndarray) -> float:
    """UA = 100 - accuracy on D_f."""
    return 100.0 - accuracy(forget_logits, forget_labels)
