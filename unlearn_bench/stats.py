"""Statistics over seeds: the Student-t interval of a mean, the exact paired sign-flip test and Holm's correction.

Every method of a seed shares that seed's original, Retrain and forget set, so two methods are compared on the
per-seed *differences* of their Avg. Gaps (a paired test), not on two independent intervals: the shared noise of
a seed cancels in the difference.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Mapping, Sequence

import numpy as np

EXACT_MAX_PAIRS = 20  # 2^20 sign vectors: enumerated exactly up to here


def seed_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the two-sided ``level`` Student-t interval of the mean over seeds (n - 1 degrees of
    freedom); low = high = mean for a single seed, whose spread is unknown. NaN values (a failed seed) are left out."""
    from scipy import stats

    x = np.asarray([v for v in values if np.isfinite(v)], dtype=float)
    if len(x) == 0:
        return (float("nan"),) * 3
    mean = float(x.mean())
    if len(x) < 2:
        return mean, mean, mean
    half = float(stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return mean, mean - half, mean + half


def sign_flip_p(differences: Sequence[float]) -> float:
    """Two-sided p-value of the exact paired sign-flip permutation test of "the mean difference is 0": under the null
    each per-seed difference is as likely to have either sign, so the p-value is the share of the 2^n sign
    assignments whose |mean| is at least the observed |mean| (the observed one included, so p >= 2^-n; n <= 20).
    All-zero differences give 1. The smallest two-sided p with n pairs is 2 / 2^n: 0.25 for 3 seeds, 0.002 for 10."""
    d = np.asarray(differences, dtype=float)
    if not np.isfinite(d).all():
        raise ValueError(f"paired differences must be finite, got {d.tolist()}")
    if len(d) == 0:
        return float("nan")
    if len(d) > EXACT_MAX_PAIRS:
        raise ValueError(f"{len(d)} pairs: the exact test enumerates 2^n sign vectors, at most n={EXACT_MAX_PAIRS}")
    signs = np.array(list(itertools.product((1.0, -1.0), repeat=len(d))))
    flipped = np.abs(signs @ d)
    observed = abs(d.sum())
    # Ties within rounding count as "at least as extreme" (sums of the same numbers in another order).
    return float(np.mean(flipped >= observed - 1e-9 * max(1.0, np.abs(d).sum())))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment (Holm, "A simple sequentially rejective multiple test procedure", Scand. J.
    Statist. 1979): the i-th smallest of m p-values is multiplied by m - i + 1, made monotone, capped at 1; rejecting
    where the adjusted p < alpha controls the family-wise error at alpha. Returned in the input's order."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p, kind="stable")
    adjusted = np.empty_like(p)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()


def paired(a: Mapping[Hashable, float], b: Mapping[Hashable, float]) -> tuple[float, int, float]:
    """(mean of a - b, pairs, two-sided sign-flip p) over the seeds where both have a finite value."""
    seeds = sorted(s for s in a.keys() & b.keys() if np.isfinite(a[s]) and np.isfinite(b[s]))
    d = [a[s] - b[s] for s in seeds]
    return (float(np.mean(d)) if d else float("nan")), len(d), sign_flip_p(d)


def versus(candidate: Mapping[Hashable, float], others: Mapping[str, Mapping[Hashable, float]]
           ) -> dict[str, tuple[float, int, float]]:
    """``candidate`` against each of ``others`` (per-seed values ``{seed: value}``): (mean paired difference
    candidate - other, pairs, Holm-adjusted p over these comparisons)."""
    tests = {name: paired(candidate, values) for name, values in others.items()}
    adjusted = holm([p for _, _, p in tests.values()]) if tests else []
    return {name: (diff, n, p) for (name, (diff, n, _)), p in zip(tests.items(), adjusted)}


def versus_best(values: Mapping[str, Mapping[Hashable, float]]) -> dict[str, tuple[float, int, float]]:
    """Each name against the one with the lowest mean (per-seed values ``{name: {seed: value}}``): (mean paired
    difference, pairs, Holm-adjusted p over these comparisons); the best itself is left out."""
    means = {name: np.nanmean(list(v.values())) for name, v in values.items() if v}
    if not means:
        return {}
    best = min(means, key=means.get)
    compared = versus(values[best], {name: values[name] for name in means if name != best})
    return {name: (-diff, n, p) for name, (diff, n, p) in compared.items()}  # the sign test is symmetric in d, -d


def paired_groups(values: Mapping[str, Mapping[Hashable, float]], alpha: float = 0.05) -> dict[str, int]:
    """Groups of names the paired tests cannot separate, numbered from the lowest mean: group 1 is the name with the
    lowest mean and every name whose ``versus_best`` Holm-adjusted p against it is at least ``alpha``; group 2 the
    same among the names left; and so on. A name is in the first group whose best it is not separated from."""
    left = {name: v for name, v in values.items() if v}
    groups: dict[str, int] = {}
    number = 0
    while left:
        number += 1
        compared = versus_best(left)
        tied = [name for name in left if name not in compared or compared[name][2] >= alpha]
        for name in tied:
            groups[name] = number
            del left[name]
    return groups
