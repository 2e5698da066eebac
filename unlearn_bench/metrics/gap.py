"""Gaps to Retrain and SalUn's Avg. Gap (Table 1 caption: mean of |Method - Retrain| over UA, RA, TA, MIA)."""

from __future__ import annotations

from collections.abc import Mapping

GAP_METRICS = ("UA", "RA", "TA", "MIA")


def gaps(metrics: Mapping[str, float], retrain: Mapping[str, float],
         keys: tuple[str, ...] = GAP_METRICS) -> dict[str, float]:
    return {k: abs(metrics[k] - retrain[k]) for k in keys if k in metrics and k in retrain}


def avg_gap(gap: Mapping[str, float], keys: tuple[str, ...] = GAP_METRICS) -> float:
    values = [gap[k] for k in keys if k in gap]
    return sum(values) / len(values) if values else float("nan")
