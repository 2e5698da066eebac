"""KLoM, the KL divergence of margins (Georgiev, Rinberg, Park, Garg, Ilyas, Madry, Neel, "Attribute-to-Delete: Machine
Unlearning via Datamodel Matching", arXiv 2410.23232, 2024, App. E.1), as the Easy Data Unlearning Bench computes it
(Rinberg et al., "Data Unlearning Beyond Uniform Forgetting via Diffusing the Forget Set", 2026, and its reference code
RoyRin/data-unlearning-bench ``klom.py``): per example, the KL divergence from the distribution of an ensemble of
Retrains' margins to that of the unlearned models' margins, over the randomness of training and unlearning.

Two estimators of the per-example KL divergence, ``ESTIMATORS``:

- ``binned`` (the reference code's, the default): margins clipped to [-100, 100]; 20 equal-width bins over the range
  both samples span together; KL(unlearned || Retrain) between the two histograms, where an empty Retrain bin that
  the unlearned sample occupies counts as probability 1e-5. No shape assumption, but it needs many models (EasyDUB
  uses 100 per side): with a few, every unlearned model tends to sit in a bin without a Retrain, and even two
  samples of one distribution score near log(1 / (N 1e-5)) (~10 nats at N = 4).
- ``gaussian`` (our choice for small populations): a normal distribution fitted to each sample (mean, unbiased
  variance, floored at ``VAR_FLOOR``) and their closed-form KL divergence. Two samples of one distribution score
  O(1/N); a deterministic model (all N margins equal, e.g. the original as a method that does nothing) gets the
  floor variance, so its score grows with how far its margin lies from Retrain's in Retrain's standard deviations.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

BINS = 20  # reference code: bin_count=20
FLOOR = 1e-5  # reference code: eps=1e-5, the probability given to an empty Retrain bin
CLIP = 100.0  # reference code: margins clipped to [-100, 100]
VAR_FLOOR = 1e-2  # gaussian: variance floor (margins in logit units), so a deterministic sample has a finite KL
ESTIMATORS = ("binned", "gaussian")


def margins(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-example margin of the datamodels line of work (Ilyas et al. 2022; the reference code's
    ``compute_margins``): the correct-class logit minus the log-sum-exp of the other logits (a smooth version of
    "minus the largest other logit"); > 0 exactly when the example is classified correctly with some confidence."""
    logits = np.asarray(logits, np.float64)
    rows = np.arange(len(labels))
    others = logits.copy()
    others[rows, labels] = -np.inf
    return logits[rows, labels] - logsumexp(others, axis=1)


def binned_kl(p_samples: np.ndarray, q_samples: np.ndarray, bins: int = BINS, floor: float = FLOOR,
              clip: float = CLIP) -> float:
    """KL(P || Q) in nats between the histograms of two 1-D samples on shared bins (module docstring)."""
    p = np.clip(np.asarray(p_samples, np.float64), -clip, clip)
    q = np.clip(np.asarray(q_samples, np.float64), -clip, clip)
    low, high = min(p.min(), q.min()), max(p.max(), q.max())
    edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
    p_prob = np.histogram(p, edges)[0] / len(p)
    q_prob = np.histogram(q, edges)[0] / len(q)
    used = p_prob > 0
    return float(np.sum(p_prob[used] * np.log(p_prob[used] / np.maximum(q_prob[used], floor))))


def gaussian_kl(mean_p: np.ndarray, var_p: np.ndarray, mean_q: np.ndarray, var_q: np.ndarray) -> np.ndarray:
    """KL(N(mean_p, var_p) || N(mean_q, var_q)) in nats, elementwise."""
    return 0.5 * (np.log(var_q / var_p) + (var_p + (mean_p - mean_q) ** 2) / var_q - 1.0)


def gaussian_fit_kl(p_samples: np.ndarray, q_samples: np.ndarray, axis: int = 0) -> np.ndarray:
    """KL between normal fits (mean, unbiased variance floored at ``VAR_FLOOR``) of two samples along ``axis``."""
    p, q = np.asarray(p_samples, np.float64), np.asarray(q_samples, np.float64)
    if p.shape[axis] < 2 or q.shape[axis] < 2:
        raise ValueError("a variance needs at least 2 models per side")
    var_p, var_q = (np.maximum(x.var(axis=axis, ddof=1), VAR_FLOOR) for x in (p, q))
    return gaussian_kl(p.mean(axis=axis), var_p, q.mean(axis=axis), var_q)


def klom(unlearned_margins: np.ndarray, retrain_margins: np.ndarray, estimator: str = "binned",
         bins: int = BINS) -> np.ndarray:
    """Per-example KLoM from (models x examples) margin arrays of the unlearned and the Retrain ensembles (the two
    may have different numbers of models): KL(unlearned || Retrain) of each column by ``estimator`` (module
    docstring). 0 = the unlearned models' margins are distributed as Retrain's on that example."""
    unlearned_margins, retrain_margins = np.atleast_2d(unlearned_margins), np.atleast_2d(retrain_margins)
    if unlearned_margins.shape[1] != retrain_margins.shape[1]:
        raise ValueError("both ensembles must cover the same examples (columns)")
    if estimator == "gaussian":
        return gaussian_fit_kl(unlearned_margins, retrain_margins)
    if estimator != "binned":
        raise ValueError(f"estimator {estimator!r} is not supported; allowed: {', '.join(ESTIMATORS)}")
    return np.array([binned_kl(u, r, bins) for u, r in zip(unlearned_margins.T, retrain_margins.T)])


def summarize(values: np.ndarray) -> dict[str, float]:
    """Mean, median and 95th percentile of the per-example values (EasyDUB reports the distribution over D_f)."""
    values = np.asarray(values, np.float64)
    if values.size == 0:
        return dict.fromkeys(("mean", "p50", "p95"), float("nan"))
    return {"mean": float(values.mean()), "p50": float(np.percentile(values, 50)),
            "p95": float(np.percentile(values, 95))}
