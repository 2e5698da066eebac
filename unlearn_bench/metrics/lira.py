"""U-LiRA's per-example statistics (Hayes et al., "Inexact Unlearning Needs More Careful Evaluations to Avoid a False
Sense of Privacy", arXiv 2403.01218, adapting LiRA, Carlini et al. 2022, "Membership Inference Attacks From First
Principles", IEEE S&P 2022) and generic attack summaries. No model training here: the
inputs are phi values of shadow and target models. Summaries are in percent (50 = chance for AUC and balanced
accuracy)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import logsumexp


def logit_scaled_confidence(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """phi = log p_y - log(1 - p_y) of softmax(logits) (LiRA's logit scaling; ecosystem §6 step 3), over the last axis.

    Computed exactly as z_y - logsumexp_{j != y} z_j, which needs no probabilities. The reference code
    (google-deepmind/unlearning_evaluation `compute_logit_scaled_confidence`, from LiRA `score.py`) adds 1e-45 inside
    both logs, so it saturates near |phi| = 103; the two agree below that. `logits` is (..., n, K) (e.g. models x
    examples x classes) and `labels` (n,) or broadcastable to logits.shape[:-1]; returns logits.shape[:-1]."""
    logits = np.asarray(logits, dtype=np.float64)
    index = np.broadcast_to(np.asarray(labels), logits.shape[:-1])[..., None]
    true_logit = np.take_along_axis(logits, index, axis=-1)[..., 0]
    others = logits.copy()
    np.put_along_axis(others, index, -np.inf, axis=-1)
    return true_logit - logsumexp(others, axis=-1)


def _gaussian_fit(phi: np.ndarray, fix_variance: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per-example location and scale of a (n_shadow x n_examples) population, as LiRA `plot.py::generate_ours`:
    median as the location (Carlini et al.'s Algorithm 1 writes the mean; the code's median is robust to outliers),
    population std (ddof 0) as the scale, + 1e-30 against zero variance. With `fix_variance`, one scale per population:
    the root of the mean per-example variance. (The reference code instead takes `np.std` of the whole raw
    "in" array, spread between examples included, and uses it for both populations.)"""
    location = np.median(phi, axis=0)
    scale = np.sqrt(phi.var(axis=0).mean()) if fix_variance else phi.std(axis=0)
    return location, scale + 1e-30


def ulira_scores(unlearned_phi: np.ndarray, retrained_phi: np.ndarray, target_phi: np.ndarray,
                 fix_variance: bool = False) -> np.ndarray:
    """Per-example Gaussian likelihood-ratio test of U-LiRA (online LiRA with "unlearned" as the IN side).

    `unlearned_phi` and `retrained_phi` are (n_shadow x n_examples): phi of each example under shadow models that
    trained on it and then unlearned it, and under shadow models retrained without it. `target_phi` is
    (n_examples,) or (n_targets x n_examples). Returns log N(phi; mu_u, sigma_u^2) - log N(phi; mu_r, sigma_r^2), the
    shape of `target_phi`: higher = the target looks unlearned rather than retrained (label 1 for the summaries).
    `fix_variance` shares one variance over examples per population (LiRA's fixed-variance variant, for few shadows)."""
    unlearned_loc, unlearned_scale = _gaussian_fit(np.asarray(unlearned_phi, np.float64), fix_variance)
    retrained_loc, retrained_scale = _gaussian_fit(np.asarray(retrained_phi, np.float64), fix_variance)
    from scipy.stats import norm  # lazy: keeps the command line's start fast

    return (norm.logpdf(target_phi, unlearned_loc, unlearned_scale)
            - norm.logpdf(target_phi, retrained_loc, retrained_scale))


def attack_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve of `scores` (higher = positive) against binary `labels`, in percent."""
    from sklearn.metrics import roc_auc_score  # lazy: keeps the command line's start fast

    return float(roc_auc_score(np.ravel(labels), np.ravel(scores)) * 100.0)


def _roc(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.metrics import roc_curve  # lazy: keeps the command line's start fast

    fpr, tpr, _ = roc_curve(np.ravel(labels), np.ravel(scores), drop_intermediate=False)
    return fpr, tpr


def attack_balanced_accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Best balanced accuracy over all thresholds, max (TPR + TNR) / 2, in percent (LiRA `plot.py::sweep`)."""
    fpr, tpr = _roc(scores, labels)
    return float(np.max(1.0 - (fpr + (1.0 - tpr)) / 2.0) * 100.0)


def tpr_at_fpr(scores: np.ndarray, labels: np.ndarray,
               fpr_levels: Sequence[float] = (0.001, 0.01)) -> dict[float, float]:
    """TPR (%) at each FPR level given as a fraction (0.001 = 0.1 %): the highest TPR among thresholds whose FPR is
    strictly below the level, as LiRA `plot.py::do_plot` (`tpr[np.where(fpr < .001)[0][-1]]`)."""
    fpr, tpr = _roc(scores, labels)
    return {level: float(tpr[np.flatnonzero(fpr < level)[-1]] * 100.0) for level in fpr_levels}
