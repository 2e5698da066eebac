"""KLoM, the KL divergence of margins (Georgiev, Rinberg, Park, Garg, Ilyas, Madry, Neel, "Attribute-to-Delete: Machine
Unlearning via Datamodel Matching", ICLR 2025, App. E.1), as the Easy Data Unlearning Bench computes it (Rinberg et
al., "Easy Data Unlearning Bench", 2026; reference code RoyRin/data-unlearning-bench, ``unlearning_bench/eval.py``
and ``unlearning_bench/run.py``): per example, the KL divergence between the distribution of an ensemble of
Retrains' margins and that of the unlearned models' margins, over the randomness of training and unlearning.

The estimator is the reference's ``compute_binned_KL_div`` (eval.py:80-130): margins clipped to [-100, 100]; 20
equal-width bins (``np.linspace``) over the range both samples span together; each sample assigned with
``np.digitize``, which puts a value equal to the top edge in an index past the last bin, so the samples at the common
maximum are dropped (eval.py:106-113) and each histogram is normalised by the samples it kept; where the first
distribution has mass and the second has none, the second gets probability 1e-5 (eval.py:126-127); the result is
``scipy.stats.entropy``, which renormalises both histograms to sum 1 (eval.py:130).

Direction: KL(Retrain || unlearned). The reference's ``kl_from_margins(all_unlearned_margins, all_oracle_margins)``
(eval.py:133) passes its first argument as P (eval.py:147), and its driver calls it as
``kl_from_margins(oracle_margins, margins)`` (run.py:142), so what EasyDUB reports is KL(oracle || unlearned); this
is also the order of the definition (the divergence "between the distribution of margins of oracle models and
[that] of the unlearned models", EasyDUB's data card, after Georgiev et al. App. E.1). Retrain is P: an unlearned
population that misses a mode of Retrain's margins is charged log(1 / 1e-5), one that spreads where Retrain has no
mass is not.

Populations (unlearn_bench/attacks/): N independently trained originals, each unlearned once (run.py:98-122 loops
over the pretrained checkpoints), against N Retrains. With few models per side (EasyDUB uses 100) the estimate is
coarse: two samples of one distribution already score a few nats at N = 4.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

BINS = 20  # eval.py:83, bin_count=20
FLOOR = 1e-5  # eval.py:84, eps: the probability given to an empty bin of the second distribution
CLIP = 100.0  # eval.py:85-86, margins clipped to [-100, 100]


def margins(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-example margin of the datamodels line of work (Ilyas et al. 2022; eval.py:27-39): the correct-class logit
    minus the log-sum-exp of the other logits; > 0 exactly when the example is classified correctly with some
    confidence."""
    logits = np.asarray(logits, np.float64)
    rows = np.arange(len(labels))
    others = logits.copy()
    others[rows, labels] = -np.inf
    return logits[rows, labels] - logsumexp(others, axis=1)


def binned_kl(p_samples: np.ndarray, q_samples: np.ndarray, bins: int = BINS, floor: float = FLOOR,
              clip: float = CLIP) -> float:
    """KL(P || Q) in nats between the histograms of two 1-D samples on shared bins, as the reference computes it
    (module docstring: ``np.digitize`` drops the samples at the common maximum). NaN where P keeps no sample (every
    P sample at the maximum while Q spans a wider range below it), as the reference's ``stats.entropy`` of zeros."""
    p = np.clip(np.asarray(p_samples, np.float64), -clip, clip)
    q = np.clip(np.asarray(q_samples, np.float64), -clip, clip)
    low, high = min(p.min(), q.min()), max(p.max(), q.max())
    edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
    # np.histogram's last bin is closed (it would keep the maximum); bins 1..bins of np.digitize are half-open.
    p_count, q_count = (np.bincount(np.digitize(x, edges), minlength=bins + 2)[1:bins + 1] for x in (p, q))
    if p_count.sum() == 0:
        return float("nan")
    p_prob = p_count / p_count.sum()
    q_prob = q_count / q_count.sum() if q_count.sum() > 0 else np.zeros(bins)
    q_safe = np.where(p_prob > 0, np.maximum(q_prob, floor), q_prob)
    from scipy.stats import entropy  # lazy: keeps the command line's start fast

    return float(entropy(p_prob, q_safe))


def klom(unlearned_margins: np.ndarray, retrain_margins: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Per-example KLoM from (models x examples) margin arrays of the unlearned and the Retrain ensembles (the two
    may have different numbers of models): KL(Retrain || unlearned) of each column (module docstring). 0 = the
    unlearned models' margins fall in Retrain's bins in Retrain's proportions on that example."""
    unlearned_margins, retrain_margins = np.atleast_2d(unlearned_margins), np.atleast_2d(retrain_margins)
    if unlearned_margins.shape[1] != retrain_margins.shape[1]:
        raise ValueError("both ensembles must cover the same examples (columns)")
    return np.array([binned_kl(r, u, bins) for u, r in zip(unlearned_margins.T, retrain_margins.T)])


def summarize(values: np.ndarray) -> dict[str, float]:
    """Mean, median and 95th percentile of the per-example values over the examples where it is defined (EasyDUB
    reports the distribution over D_f)."""
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return dict.fromkeys(("mean", "p50", "p95"), float("nan"))
    return {"mean": float(values.mean()), "p50": float(np.percentile(values, 50)),
            "p95": float(np.percentile(values, 95))}
