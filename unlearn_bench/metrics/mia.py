"""MIA-Efficacy, the SalUn protocol (official code `Classification/evaluation/SVC_MIA.py`, confidence
feature): an RBF SVC (C=3, gamma="auto") is fit on the softmax probability of the true label of shadow
members (D_r, sized like the test set, label 1) vs non-members (test set, label 0); efficacy is the share
of D_f predicted non-member, in percent. Higher = D_f looks less like training data."""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def true_label_confidence(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return softmax(logits.astype(np.float64))[np.arange(len(labels)), labels]


def svc_member(
    member_logits: np.ndarray, member_labels: np.ndarray,
    nonmember_logits: np.ndarray, nonmember_labels: np.ndarray,
    target_logits: np.ndarray, target_labels: np.ndarray,
) -> np.ndarray:
    """The attack's decision per target example: True where it calls the example a member (the per-example view of
    the results page shows them; MIA-Efficacy is the share of False)."""
    features = np.concatenate([true_label_confidence(member_logits, member_labels),
                               true_label_confidence(nonmember_logits, nonmember_labels)])[:, None]
    is_member = np.concatenate([np.ones(len(member_labels)), np.zeros(len(nonmember_labels))])
    from sklearn.svm import SVC  # lazy: keeps the command line's start fast

    attack = SVC(C=3, gamma="auto", kernel="rbf").fit(features, is_member)
    return attack.predict(true_label_confidence(target_logits, target_labels)[:, None]) == 1.0


def svc_mia_efficacy(
    member_logits: np.ndarray, member_labels: np.ndarray,
    nonmember_logits: np.ndarray, nonmember_labels: np.ndarray,
    target_logits: np.ndarray, target_labels: np.ndarray,
) -> float:
    member = svc_member(member_logits, member_labels, nonmember_logits, nonmember_labels, target_logits, target_labels)
    return float((1.0 - member).mean() * 100.0)
