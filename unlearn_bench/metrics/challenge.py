"""The NeurIPS 2023 Machine Unlearning Challenge score (Triantafillou et al., "Are we making progress in unlearning?",
arXiv 2406.09073), ported to numpy from the official evaluation code
google-deepmind/unlearning_evaluation (`metric.py`, `main.py`; the reference runs its threshold search in torch on
CUDA). Inputs are logit-scaled confidences phi (see `lira.logit_scaled_confidence`) of every forget example under N
unlearned and N retrained models. Scores are in [0, 1] as in the challenge, not percent."""

from __future__ import annotations

import numpy as np

DELTA = 1e-5
EPSILON_CAP = 50.0
THRESHOLDS_PER_UNIT = 100
BUCKET_WIDTH = 0.5
_BUFFER = 2.0  # `_get_double_threshold_rates`: how far the window edges are swept beyond the peaky population
_PEAKY_RATIO = 0.01  # a population whose phi range is < 1 % of the other's gets epsilon = cap


def _share_in_window(sorted_values: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Fraction of the values in [left, right] for each threshold pair (0 where left > right)."""
    inside = np.searchsorted(sorted_values, right, side="right") - np.searchsorted(sorted_values, left, side="left")
    return np.maximum(inside, 0) / len(sorted_values)


def _single_threshold_rates(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(TPR, FPR) of "positive when phi >= t", 100 thresholds per unit of phi over the pooled range."""
    low, high = min(pos[0], neg[0]), max(pos[-1], neg[-1])
    left = np.linspace(low, high, int(np.ceil((high - low) * THRESHOLDS_PER_UNIT)))
    right = np.full_like(left, np.inf)
    return _share_in_window(pos, left, right), _share_in_window(neg, left, right)


def _double_threshold_rates(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(TPR, FPR) of "positive when t_l <= phi <= t_r"; for this family "positive" is the peakier population (the
    smaller range, `neg` on a tie); the right edge sweeps +-2 around that population's maximum, the left edge +-2
    around right - width (width = its range)."""
    if np.ptp(pos) >= np.ptp(neg):
        pos, neg = neg, pos
    width = np.ptp(pos)
    low, high = pos[0] + width - _BUFFER, pos[-1] + _BUFFER
    right = np.linspace(low, high, int(np.ceil((high - low) * THRESHOLDS_PER_UNIT)))
    num_left = int(np.ceil(2 * _BUFFER * THRESHOLDS_PER_UNIT))
    left = np.linspace(right - width - _BUFFER, right - width + _BUFFER, num_left, axis=1).ravel()
    right = np.repeat(right, num_left)
    return _share_in_window(pos, left, right), _share_in_window(neg, left, right)


def _example_epsilon(pos: np.ndarray, neg: np.ndarray, delta: float) -> float:
    """Best epsilon over both threshold families for one example; `pos` = the population with the larger median."""
    ranges = sorted([np.ptp(pos), np.ptp(neg)])
    if ranges[0] < _PEAKY_RATIO * ranges[1]:
        return EPSILON_CAP
    pos, neg = np.sort(pos), np.sort(neg)
    rates = [family(pos, neg) for family in (_double_threshold_rates, _single_threshold_rates)]
    tpr, fpr = (np.concatenate(rate) for rate in zip(*rates))
    fnr = 1.0 - tpr
    perfect = (fpr == 0) & (fnr == 0)
    usable = perfect | ((fpr > 0) & (fnr > 0))  # one rate at 0 alone: "an indication of insufficient samples"
    with np.errstate(divide="ignore", invalid="ignore"):
        epsilon = np.fmax(np.log(1 - delta - fpr) - np.log(fnr), np.log(1 - delta - fnr) - np.log(fpr))
    epsilon = np.where(perfect, np.inf, np.maximum(epsilon, 0.0))[usable]
    epsilon = epsilon[~np.isnan(epsilon)]
    if epsilon.size == 0:
        raise ValueError("no threshold gave a usable (FPR, FNR) pair; are the populations degenerate?")
    return float(min(epsilon.max(), EPSILON_CAP))


def per_example_epsilons(unlearned_phi: np.ndarray, retrained_phi: np.ndarray, delta: float = DELTA) -> np.ndarray:
    """Per-example epsilon of the challenge (reference `_get_epsilons`), from (n_models x n_examples) phi arrays.

    For each example the population with the larger median is "positive"; epsilon is the largest, over a
    single-threshold family (phi >= t) and a double-threshold family (t_l <= phi <= t_r around the peakier
    population), 100 thresholds per unit of phi, of max(log(1 - delta - FPR) - log FNR, log(1 - delta - FNR) - log FPR)
    clipped at 0. Thresholds with FPR = FNR = 0 give infinity; those with exactly one of them 0 are discarded. If one
    population's phi range is under 1 % of the other's, epsilon is the cap. Each epsilon is in [0, 50]. The rates are
    empirical frequencies, no Clopper-Pearson interval (the reference code has none)."""
    unlearned_phi, retrained_phi = np.asarray(unlearned_phi, np.float64), np.asarray(retrained_phi, np.float64)
    if unlearned_phi.shape[1] != retrained_phi.shape[1]:
        raise ValueError("both populations must cover the same examples (columns)")
    epsilons = []
    for unlearned, retrained in zip(unlearned_phi.T, retrained_phi.T):
        retrain_is_positive = np.median(retrained) > np.median(unlearned)
        pos, neg = (retrained, unlearned) if retrain_is_positive else (unlearned, retrained)
        epsilons.append(_example_epsilon(pos, neg, delta))
    return np.array(epsilons)


def forget_score_from_epsilons(epsilons: np.ndarray, num_models: int) -> float:
    """Mean bucket points: epsilon in [k/2, (k+1)/2) earns 2/2^(k+1) (1 point below 0.5, then halving), for the
    buckets that end at or below ceil(log(num_models - 1)) (the most epsilon N models can resolve); beyond: 0."""
    if num_models < 2:
        raise ValueError("the forget score needs at least 2 models per population")
    num_buckets = int(np.ceil(np.log(num_models - 1)) / BUCKET_WIDTH)
    bucket = np.floor(np.asarray(epsilons, np.float64) / BUCKET_WIDTH)
    return float(np.mean(np.where(bucket < num_buckets, 2.0 ** -bucket, 0.0)))


def forget_score(unlearned_phi: np.ndarray, retrained_phi: np.ndarray, delta: float = DELTA) -> float:
    """The challenge's forget score F in [0, 1] (reference `compute_forget_score_from_confs`): 1 = every forget
    example indistinguishable from Retrain. N for the bucket range is the number of unlearned models, as there."""
    epsilons = per_example_epsilons(unlearned_phi, retrained_phi, delta)
    return forget_score_from_epsilons(epsilons, len(unlearned_phi))


def final_score(forget: float, unlearned_retain_acc: float | np.ndarray, retrained_retain_acc: float | np.ndarray,
                unlearned_test_acc: float | np.ndarray, retrained_test_acc: float | np.ndarray) -> float:
    """F x (RA_unlearned / RA_retrained) x (TA_unlearned / TA_retrained) (reference `main.py`). Each accuracy may be
    one value or one per model (averaged first, as there); any consistent unit, percent included."""
    retain_ratio = np.mean(unlearned_retain_acc) / np.mean(retrained_retain_acc)
    test_ratio = np.mean(unlearned_test_acc) / np.mean(retrained_test_acc)
    return float(forget * retain_ratio * test_ratio)
