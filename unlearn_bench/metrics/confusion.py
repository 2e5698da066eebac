"""SURE App. F, the resolving-confusion (RC) task (from Kurmanji et al. 2024): D_f = examples of two classes a, b
trained with each other's label. Success = "the forget samples are correctly relabeled while maintaining the model's
performance on the test and retain sets". SURE §5.9 / Table 2 metrics, lower is better:

* Forget_Err: error (%) on D_f against the TRUE labels (D_f carries the swapped training labels).
* IC_ERR (per split): "errors involving the confused classes ... a sample from class 0 is predicted to belong to any
  other class, and vice versa for class 1": the fraction (0-1) of the split's class-a and class-b examples predicted
  wrong. Units are not stated; SURE's Table 2 prints values <= 0.64 beside test errors of ~25%, so fractions.
* FGT_ERR (per split): "counts only cases where a sample from class 0 is mislabeled as class 1, or a sample from
  class 1 is mislabeled as class 0": a count, as SURE's Table 2 prints it.
* Retain_Err, Test_Err: Table 2's Retain Err and Test Err (100 - RA, 100 - TA), for the side-by-side table.
"""

from __future__ import annotations

import numpy as np


def swap_labels(labels: np.ndarray, classes: tuple[int, int] | list[int]) -> np.ndarray:
    """Labels with classes a and b exchanged (the confusion's training labels <-> the true ones)."""
    a, b = classes
    return np.where(labels == a, b, np.where(labels == b, a, labels))


def ic_err(logits: np.ndarray, labels: np.ndarray, classes: tuple[int, int] | list[int]) -> float:
    """Fraction (0-1) of the examples of the confused classes predicted as any other class."""
    confused = np.isin(labels, classes)
    if not confused.any():
        return float("nan")
    return float((logits[confused].argmax(1) != labels[confused]).mean())


def fgt_err(logits: np.ndarray, labels: np.ndarray, classes: tuple[int, int] | list[int]) -> int:
    """Number of class-a examples predicted as b plus class-b examples predicted as a."""
    a, b = classes
    predicted = logits.argmax(1)
    return int(((labels == a) & (predicted == b)).sum() + ((labels == b) & (predicted == a)).sum())


def confusion_metrics(arrays: dict[str, np.ndarray], classes: tuple[int, int] | list[int]) -> dict[str, float]:
    """Forget_Err and IC_ERR / FGT_ERR on the retain and test splits, from an evaluation's arrays (``<split>_logits``,
    ``<split>_labels``; the forget labels are the swapped training labels)."""
    true_forget = swap_labels(arrays["forget_labels"], classes)
    out = {"Forget_Err": float((arrays["forget_logits"].argmax(1) != true_forget).mean() * 100.0)}
    for split in ("retain", "test"):  # Table 2's Retain Err / Test Err (= 100 - RA / 100 - TA)
        out[f"{split.title()}_Err"] = float((arrays[f"{split}_logits"].argmax(1) != arrays[f"{split}_labels"]).mean()
                                            * 100.0)
    for split in ("retain", "test"):
        logits, labels = arrays[f"{split}_logits"], arrays[f"{split}_labels"]
        out[f"IC_ERR_{split}"] = ic_err(logits, labels, classes)
        out[f"FGT_ERR_{split}"] = float(fgt_err(logits, labels, classes))
    return out
