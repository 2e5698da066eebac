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


def sibling_subclass_accuracies(test_logits: np.ndarray, test_labels: np.ndarray, test_sub: np.ndarray,
                                sub_classes: list[str], forgotten: str) -> dict[str, float]:
    """Unlink Table 3: ``acc_<sub>``, the test accuracy (super-class label) of the forgotten sub-class and of every
    sub-class sharing its super-class: forgetting should hit only the first."""
    forgotten_id = sub_classes.index(forgotten)
    super_class = np.unique(test_labels[test_sub == forgotten_id])
    siblings = np.unique(test_sub[np.isin(test_labels, super_class)])
    return {f"acc_{sub_classes[s]}": accuracy(test_logits[test_sub == s], test_labels[test_sub == s])
            for s in siblings}
