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


# A model within a tenth of the way from chance (100/K) to perfect accuracy has lost what it learned: 19% for
# K=10 classes, 28% for 5, 55% for 2. Scale-free in K; far below any working model of the benchmark (Retrain's TA
# is 84 on Fashion-MNIST and 95+ on digits), and far above chance's sampling noise (0.3 points on 10,000 test images).
COLLAPSE_FRACTION = 0.1


def collapse_threshold(num_classes: int) -> float:
    """The accuracy (percent) at or below which a model counts as collapsed to chance."""
    chance = 100.0 / num_classes
    return chance + COLLAPSE_FRACTION * (100.0 - chance)


def collapsed(metrics: dict[str, float], num_classes: int, original: dict[str, float] | None = None,
              keys: tuple[str, ...] = ("RA", "TA")) -> str | None:
    """Why the model counts as collapsed (its RA or TA fell to chance level: ``collapse_threshold``), or None. With
    ``original`` (the original model's metrics), a metric counts only where the original was above that level: a
    model that was never better than chance did not fall to it."""
    limit = collapse_threshold(num_classes)
    low = [f"{k} {metrics[k]:.1f}" for k in keys if k in metrics and metrics[k] <= limit
           and (original is None or original.get(k, 100.0) > limit)]
    return (f"collapsed to chance: {', '.join(low)} <= {limit:.1f} (chance {100 / num_classes:.1f} "
            f"+ {COLLAPSE_FRACTION:g} of the way to 100)") if low else None
