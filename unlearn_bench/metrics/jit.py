"""JiT's evaluation (Foster, Fogarty, Schoepf, Dugue, Öztireli, Brintrup, "An Information Theoretic Approach to Machine
Unlearning", TMLR, arXiv 2402.01401, 2024): the logistic-regression MIA on output entropy (§5.1, "the same logistic
regression MIA evaluation as Chundawat et al. (2023a) and Foster et al. (2023)") and the §4.2 "Entropy Similarity"
comparison of an unlearned model with Retrain on D_f (Wilcoxon signed-rank test)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.special import log_softmax

from unlearn_bench.metrics.mia import softmax

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression


def output_entropy(logits: np.ndarray) -> np.ndarray:
    """Shannon entropy H = -sum_k p_k log p_k (nats) of softmax(logits), one value per row.

    Computed from log-softmax, so 0 log 0 = 0 without a p > 0 mask (the repo's `entropy` masks p > 0 instead)."""
    logits = np.asarray(logits, dtype=np.float64)
    return -(softmax(logits) * log_softmax(logits, axis=1)).sum(1)


def jit_mia(retain_logits: np.ndarray, test_logits: np.ndarray, forget_logits: np.ndarray) -> float:
    """JiT's MIA score in percent: share of D_f predicted MEMBER (lower = more forgotten; Retrain is the target).

    Paper §5.1 names the attack but not its features or data; this follows the authors' code
    (jwf40/Information-Theoretic-Unlearning `src/metrics.py::get_membership_attack_prob`, spec Appendix A.2):
    feature = entropy of the softmax output; members (label 1) = the D_r training examples passed in (the repo
    passes ALL of D_r), non-members (label 0) = the test set; `LogisticRegression(class_weight="balanced",
    solver="lbfgs")` so the class sizes need not match; score = mean prediction on the D_f training examples x 100.
    The repo also sets `multi_class="multinomial"`, which scikit-learn >= 1.7 no longer accepts; for two classes
    the binary fit differs from it only in the effective L2 strength, negligible on one scalar feature.
    Labels are not needed: entropy ignores them."""
    attack = entropy_attack(retain_logits, test_logits)
    return float(attack.predict(output_entropy(forget_logits)[:, None]).mean() * 100.0)


def entropy_attack(member_logits: np.ndarray, nonmember_logits: np.ndarray) -> LogisticRegression:
    """JiT's attack model: balanced logistic regression of member (1) vs non-member (0) on output entropy."""
    from sklearn.linear_model import LogisticRegression  # lazy: keeps the CLI's start fast

    features = np.concatenate([output_entropy(member_logits), output_entropy(nonmember_logits)])[:, None]
    is_member = np.concatenate([np.ones(len(member_logits)), np.zeros(len(nonmember_logits))])
    return LogisticRegression(class_weight="balanced", solver="lbfgs").fit(features, is_member)


def entropy_similarity(unlearned_logits: np.ndarray, retrain_logits: np.ndarray) -> tuple[float, float]:
    """Wilcoxon signed-rank test of per-example output entropies on the same D_f examples (paper §4.2, Fig. 4).

    Returns (statistic, p-value) of `scipy.stats.wilcoxon` on the paired entropies (row i of both arrays is the same
    example). The paper calls the models similar when p > 0.10 ("no statistically significant difference ... for
    p = 0.10"). Sidedness is not stated: two-sided, scipy's default; the authors' notebook
    (`src/Bonus Experiments.ipynb`) calls `scipy.stats.wilcoxon` on the two per-sample entropy lists. The two-sided
    statistic is min(W+, W-)."""
    if len(unlearned_logits) != len(retrain_logits):
        raise ValueError("the entropy comparison is paired: both models must be evaluated on the same examples")
    from scipy.stats import wilcoxon  # lazy: keeps the command line's start fast

    result = wilcoxon(output_entropy(unlearned_logits), output_entropy(retrain_logits))
    return float(result.statistic), float(result.pvalue)
