"""SURE's evaluation (anonymous authors, "Selective Unlearning via Representation Erasure using Domain Adversarial
Training", double-blind submission on OpenReview, 2024): output-space MIA-I/MIA-II (§3.2), representation-space
MIARS-I/II with a KNN (§3.2), the L2 weight distance to the oracle (§3.2, Fig. 5a), the Average Error Gap (§5.2) and the
"Top-1"/"Top-5" epoch summaries of Table 1 (§5.2). SURE names no code; where it is silent the cited attack's official
code decides, as each docstring says. Attack outputs are in percent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import logsumexp

from unlearn_bench.metrics.gap import avg_gap, gaps
from unlearn_bench.metrics.mia import svc_mia_efficacy

if TYPE_CHECKING:
    from sklearn.base import ClassifierMixin

# §5.2: "UA, Utility, RA, CTA, and MIARS-I"; Utility is the harness's TA (test accuracy).
AEG_KEYS = ("UA", "TA", "RA", "CTA", "MIARS-I")


def per_example_loss(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Cross-entropy of each example in nats, logsumexp(z) - z_y (finite for any logits)."""
    logits = np.asarray(logits, dtype=np.float64)
    return logsumexp(logits, axis=1) - logits[np.arange(len(labels)), labels]


def _balanced_cv_accuracy(member_features: np.ndarray, nonmember_features: np.ndarray,
                          attack: ClassifierMixin, seed: int) -> float:
    """Kurmanji et al.'s protocol (meghdadk/SCRUB `membership_inference_attack`): subsample the larger set to the size
    of the smaller, then mean accuracy over `StratifiedShuffleSplit(n_splits=5)` (10 % held out per split), x 100."""
    rng = np.random.RandomState(seed)
    n = min(len(member_features), len(nonmember_features))
    members = member_features[rng.choice(len(member_features), n, replace=False)]
    nonmembers = nonmember_features[rng.choice(len(nonmember_features), n, replace=False)]
    features = np.concatenate([nonmembers, members])
    is_member = np.concatenate([np.zeros(n), np.ones(n)])
    from sklearn.model_selection import (  # lazy: keeps the command line's start fast
        StratifiedShuffleSplit,
        cross_val_score,
    )

    cv = StratifiedShuffleSplit(n_splits=5, random_state=seed)
    return float(cross_val_score(attack, features, is_member, cv=cv, scoring="accuracy").mean() * 100.0)


def mia_i(forget_logits: np.ndarray, forget_labels: np.ndarray, test_logits: np.ndarray, test_labels: np.ndarray,
          seed: int = 0) -> float:
    """MIA-I (§3.2, from Kurmanji et al. 2024): accuracy (%) of a classifier separating D_f from D_test by the
    per-example loss; 50 = chance, higher = D_f still recognisable. Compare with the same attack on the oracle.

    SURE does not give the classifier, balancing or split; this is SCRUB's official attack: default
    `LogisticRegression`, losses clipped to [-100, 100], classes balanced by subsampling, 5 stratified shuffle splits.
    For class-wise forgetting SCRUB keeps only test examples of the forgotten classes: pass those as the test set."""
    losses = [np.clip(per_example_loss(logits, labels), -100.0, 100.0)[:, None]
              for logits, labels in ((forget_logits, forget_labels), (test_logits, test_labels))]
    from sklearn.linear_model import LogisticRegression  # lazy: keeps the command line's start fast

    return _balanced_cv_accuracy(*losses, LogisticRegression(), seed)


def miars_i(forget_embeddings: np.ndarray, test_embeddings: np.ndarray, n_neighbors: int = 5, seed: int = 0) -> float:
    """MIARS-I (§3.2): MIA-I's protocol with a KNN on representations (n x d arrays, e.g. the backbone's output).

    Not stated in SURE: k, the metric, scaling and splits. Here: scikit-learn's default k = 5 Euclidean neighbours on
    raw embeddings, balanced and cross-validated exactly as `mia_i`. Accuracy in %, 50 = chance."""
    from sklearn.neighbors import KNeighborsClassifier  # lazy: keeps the command line's start fast

    return _balanced_cv_accuracy(np.asarray(forget_embeddings), np.asarray(test_embeddings),
                                 KNeighborsClassifier(n_neighbors=n_neighbors), seed)


def mia_ii(train_logits: np.ndarray, train_labels: np.ndarray, test_logits: np.ndarray, test_labels: np.ndarray,
           forget_logits: np.ndarray, forget_labels: np.ndarray) -> float:
    """MIA-II (§3.2, from Liu et al. 2024 / Jia et al. 2023 / Song & Mittal 2021): a confidence attack trained on
    training (member) vs test (non-member) examples, then applied to D_f; returns the share of D_f classified as test,
    in % (higher = more forgotten).

    This is the cited code's attack, i.e. `svc_mia_efficacy` (SalUn's MIA-Efficacy: true-label softmax confidence,
    RBF SVC). SURE says the attacker sees "D"; Liu et al.'s code uses the first |test| retain examples, so pass
    those as the training set (D_f excluded)."""
    return svc_mia_efficacy(train_logits, train_labels, test_logits, test_labels, forget_logits, forget_labels)


def miars_ii(train_embeddings: np.ndarray, test_embeddings: np.ndarray, forget_embeddings: np.ndarray,
             n_neighbors: int = 5) -> float:
    """MIARS-II (§3.2): a KNN trained on training (member) vs test (non-member) representations, then applied to D_f.

    Returns the share of D_f classified as test, in %, the same direction as `mia_ii` (the paper plots only the gap
    to the oracle, which is the same for either direction). Not stated in SURE: k, metric, set sizes; here k = 5
    Euclidean on raw embeddings, and the training set is sized like the test set as for `mia_ii`."""
    from sklearn.neighbors import KNeighborsClassifier  # lazy: keeps the command line's start fast

    features = np.concatenate([train_embeddings, test_embeddings])
    is_member = np.concatenate([np.ones(len(train_embeddings)), np.zeros(len(test_embeddings))])
    attack = KNeighborsClassifier(n_neighbors=n_neighbors).fit(features, is_member)
    return float((1.0 - attack.predict(forget_embeddings)).mean() * 100.0)


def weight_distance(params: Mapping[str, np.ndarray] | Sequence[np.ndarray],
                    oracle_params: Mapping[str, np.ndarray] | Sequence[np.ndarray]) -> float:
    """Euclidean (L2) distance between the flattened, concatenated parameters of a model and of the oracle (§3.2:
    "Weights are then compared using Euclidean distance"; Fig. 5a uses the penultimate layer's weights).

    Takes two dicts (matched by name) or two sequences (matched by position) of arrays of equal shapes. SURE first
    aligns the models with Git Re-Basin (Ainsworth et al. 2022; ``match_units``): the caller passes the chosen layer's
    already-aligned weights. Units are those of the parameters."""
    if isinstance(params, Mapping) != isinstance(oracle_params, Mapping):
        raise TypeError("pass two dicts or two sequences of arrays")
    if isinstance(params, Mapping):
        if params.keys() != oracle_params.keys():
            raise ValueError(f"parameter names differ: {sorted(set(params) ^ set(oracle_params))}")
        pairs = [(params[name], oracle_params[name]) for name in params]
    else:
        if len(params) != len(oracle_params):
            raise ValueError(f"{len(params)} vs {len(oracle_params)} parameter arrays")
        pairs = list(zip(params, oracle_params))
    squared = 0.0
    for mine, oracle in pairs:
        if np.shape(mine) != np.shape(oracle):
            raise ValueError(f"shape mismatch {np.shape(mine)} vs {np.shape(oracle)}")
        squared += float(np.sum((np.asarray(mine, np.float64) - np.asarray(oracle, np.float64)) ** 2))
    return float(np.sqrt(squared))


def match_units(features: np.ndarray, oracle_features: np.ndarray) -> np.ndarray:
    """Git Re-Basin's activation matching of one layer (Ainsworth et al., "Git Re-Basin: Merging Models modulo
    Permutation Symmetries", ICLR 2023, §3.1): the permutation ``perm`` of the model's units (columns of the n x d
    ``features``) that minimises ||Z_oracle - Z[:, perm]||_F over the same n inputs, i.e. maximises
    sum_i <Z_oracle[:, i], Z[:, perm[i]]>, a linear assignment problem; ``features[:, perm]`` lines up with the
    oracle's."""
    from scipy.optimize import linear_sum_assignment  # lazy: keeps the command line's start fast

    if features.shape != oracle_features.shape:
        raise ValueError(f"activations of shape {features.shape} vs {oracle_features.shape}")
    similarity = np.asarray(oracle_features, np.float64).T @ np.asarray(features, np.float64)  # d x d
    _, perm = linear_sum_assignment(similarity, maximize=True)
    return perm


def average_error_gap(metrics: Mapping[str, float], oracle: Mapping[str, float]) -> float:
    """Average Error Gap (§5.2): mean of |model - oracle| over UA, Utility (TA), RA, CTA and MIARS-I, in the
    metrics' own units (percent). All five must be present (CTA exists only for class-wise forgetting). SURE's UA is
    forget accuracy, the harness's is 100 - forget accuracy: the absolute gap is the same."""
    missing = [key for key in AEG_KEYS if key not in metrics or key not in oracle]
    if missing:
        raise KeyError(f"Average Error Gap needs {missing} for both the model and the oracle")
    return avg_gap(gaps(metrics, oracle, AEG_KEYS), AEG_KEYS)
