"""Output-distribution distances to Retrain and per-class accuracy: KL/JS divergence of the unlearned vs the retrained
model's output distributions on forget/test, and per-class accuracy for class-wise scenarios. Harness additions (none
of the five implemented papers reports them); divergences are in nats, per example then averaged; accuracies in
percent."""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax

from unlearn_bench.metrics.accuracy import accuracy


def _row_kl(log_p: np.ndarray, log_q: np.ndarray) -> np.ndarray:
    """KL(P || Q) of each row from log-probabilities; terms with p = 0 contribute 0."""
    return (np.exp(log_p) * (log_p - log_q)).sum(1)


def kl_divergence(p_logits: np.ndarray, q_logits: np.ndarray) -> float:
    """Mean over examples of KL(softmax(p) || softmax(q)) in nats; row i of both arrays is the same example.

    The direction is not fixed by the spec: pass (model, Retrain) for KL(model || Retrain), the reverse for the
    other. Computed from log-softmax, so it stays finite for saturated logits."""
    return float(_row_kl(log_softmax(np.asarray(p_logits, np.float64), axis=1),
                         log_softmax(np.asarray(q_logits, np.float64), axis=1)).mean())


def js_divergence(p_logits: np.ndarray, q_logits: np.ndarray) -> float:
    """Mean over examples of the Jensen-Shannon divergence between softmax(p) and softmax(q), in nats:
    JS = KL(P || M) / 2 + KL(Q || M) / 2 with M = (P + Q) / 2. Symmetric, 0 iff equal, at most log 2."""
    log_p = log_softmax(np.asarray(p_logits, np.float64), axis=1)
    log_q = log_softmax(np.asarray(q_logits, np.float64), axis=1)
    log_m = np.logaddexp(log_p, log_q) - np.log(2.0)
    return float((0.5 * _row_kl(log_p, log_m) + 0.5 * _row_kl(log_q, log_m)).mean())


def per_class_accuracy(logits: np.ndarray, labels: np.ndarray, num_classes: int | None = None) -> dict[int, float]:
    """Top-1 accuracy (%) on the examples of each true class: {class: accuracy}. With `num_classes`, every class
    0..num_classes-1 is a key and a class without examples gets NaN (as `accuracy` on an empty split); otherwise the
    keys are the classes present in `labels`."""
    classes = range(num_classes) if num_classes is not None else np.unique(labels)
    return {int(c): accuracy(logits[labels == c], labels[labels == c]) for c in classes}
