"""Representation-level similarity to Retrain (Kim, Cha, Kim, "Are We Truly Forgetting? A Critical Re-examination of
Machine Unlearning Evaluation Protocols", Engineering Applications of Artificial Intelligence, 2026; arXiv 2503.06991):
linear CKA between the penultimate features of two models on the same examples, and a k-NN probe on a model's
features. Pure functions of feature arrays (n examples x d features)."""

from __future__ import annotations

import numpy as np


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear centred kernel alignment (Kornblith, Norouzi, Lee, Hinton, "Similarity of Neural Network
    Representations Revisited", ICML 2019, Eq. 5 with linear kernels): with column-centred X (n x p) and Y (n x q),
    ``||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)``. 1 = the same representation up to an orthogonal transform and
    isotropic scaling, 0 = unrelated. Rows are examples; both arrays must hold the same examples in the same order.
    NaN when one representation is constant over the examples (no variance to align)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.ndim != 2 or y.ndim != 2 or len(x) != len(y):
        raise ValueError(f"need two (n x d) arrays over the same n examples, got {x.shape} and {y.shape}")
    x, y = x - x.mean(0), y - y.mean(0)
    # The n x n Gram form would cost O(n^2); the feature-space form is the same number (Kornblith et al. §3).
    norm = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    return float(np.linalg.norm(y.T @ x) ** 2 / norm) if norm > 0 else float("nan")


def knn_probe_accuracy(train_feats: np.ndarray, train_labels: np.ndarray, query_feats: np.ndarray,
                       query_labels: np.ndarray, k: int = 5) -> float:
    """Accuracy (%) of a k-nearest-neighbour classifier (cosine distance, as Kim et al.'s k-NN evaluation; majority
    vote; scikit-learn's ``KNeighborsClassifier``) fitted on ``train_feats`` / ``train_labels`` and applied to
    ``query_feats``: how much class information the representation of the query examples still carries, whatever the
    model's head says."""
    if not 1 <= k <= len(train_feats):
        raise ValueError(f"k={k} must be between 1 and the number of fitted examples ({len(train_feats)})")
    from sklearn.neighbors import KNeighborsClassifier  # lazy: keeps the command line's start fast

    probe = KNeighborsClassifier(n_neighbors=k, metric="cosine").fit(np.asarray(train_feats), np.asarray(train_labels))
    return float((probe.predict(np.asarray(query_feats)) == np.asarray(query_labels)).mean() * 100.0)
