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


EPOCH_SELECTIONS = ("final", "best", "top5")


def select_epochs(epoch_metrics: list[Mapping[str, float]], retrain: Mapping[str, float], how: str,
                  k: int = 5) -> tuple[dict[str, float], list[int]]:
    """Metrics of the chosen unlearning epochs (``eval.every_epoch``), ranked by Avg. Gap to Retrain: ``best`` = the
    epoch with the smallest Avg. Gap (SURE Table 1 "Top-1"; the earlier epoch on a tie), ``top5`` = each metric's
    mean over the ``k`` epochs with the smallest Avg. Gap (SURE's "Top-5"; all epochs when there are fewer),
    ``final`` = the last epoch. Returns the metrics and the chosen epoch numbers."""
    if how not in EPOCH_SELECTIONS:
        raise ValueError(f"epoch selection {how!r} is not supported; allowed: {', '.join(EPOCH_SELECTIONS)}")
    if not epoch_metrics:
        raise ValueError("no per-epoch metrics: run with eval.every_epoch=true")
    if how == "final":
        chosen = [epoch_metrics[-1]]
    else:
        ranked = sorted(epoch_metrics, key=lambda m: avg_gap(gaps(m, retrain)))  # sorted() is stable
        chosen = ranked[:1] if how == "best" else ranked[:k]
    names = [n for n in chosen[0] if n != "epoch"]
    return {n: sum(m[n] for m in chosen) / len(chosen) for n in names}, [m["epoch"] for m in chosen]

