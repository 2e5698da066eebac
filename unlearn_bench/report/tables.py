"""Rows of the report's tables, shared by the report and the figures (which the report draws): one module
below both, so neither imports the other for them.
"""

from __future__ import annotations

import json
import re

import pandas as pd

from unlearn_bench.metrics.gap import avg_gap
from unlearn_bench.stats import versus_best

GROUP_KEYS = ["data", "model", "scenario", "shift"]  # shift: the evaluation shift (eval=gn1, ...)
REFERENCE_METHOD = {"Original": "original", "Retrain": "retrain"}


def slug(*parts: object) -> str:
    """File- and key-safe name of a group: ``digits-small-cnn-random10-none``."""
    return re.sub(r"[^A-Za-z0-9.=]+", "-", "-".join(map(str, parts))).strip("-")


def _reference_rows(group: pd.DataFrame) -> pd.DataFrame:
    """Original and Retrain rows, one per seed (every record of a seed carries the same two models), and per class
    under ``--pool-classes`` (each class has its own Retrain and forget set)."""
    per_seed = group.drop_duplicates(["seed", "pooled_from"] if "pooled_from" in group else "seed")
    rows = []
    for label, prefix, seconds in (("Original", "original_", "original_train_s"),
                                   ("Retrain", "retrain_", "retrain_train_s")):
        for _, rec in per_seed.iterrows():
            row = {"method": label, "method_name": REFERENCE_METHOD[label], "seed": rec["seed"],
                   "rte_s": rec[seconds], "data_access": "D" if label == "Original" else "retain",
                   "training_free": False, "path": rec["path"]}
            metrics = {m: rec[prefix + m] for m in rec["metric_names"].split(",")
                       if pd.notna(rec.get(prefix + m))}
            gap = {m: abs(v - rec["retrain_" + m]) for m, v in metrics.items()
                   if pd.notna(rec.get("retrain_" + m))}
            row.update(metrics)
            row.update({"gap_" + m: g for m, g in gap.items()})
            row["avg_gap"] = avg_gap(gap)
            rows.append(row)
    return pd.DataFrame(rows)


def method_labels(methods: pd.DataFrame) -> pd.Series:
    """The method name, plus the hyper-parameters that differ between its runs: a sweep over
    ``method.lr=...`` gives one row per value instead of pooling them as if they were seeds."""
    labels = methods["method"].copy()
    for _, runs in methods.groupby("method"):
        params = runs["method_params"].map(json.loads)
        varying = sorted(k for k in set().union(*params) if len({json.dumps(p.get(k)) for p in params}) > 1)
        if varying:
            suffix = [" (" + ", ".join(f"{k}={p.get(k)}" for k in varying) + ")" for p in params]
            labels[runs.index] = runs["method"] + suffix
    return labels


def model_rows(group: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, seed) of a table: Original and Retrain (from every record), then the methods' runs
    (Retrain's own runs are its row already). ``method`` is the row label (with the hyper-parameters that vary),
    ``method_name`` the registered name; ``rte_min`` the run time in minutes."""
    methods = group[group["method"] != "retrain"]
    methods = methods.assign(method_name=methods["method"], method=method_labels(methods))
    methods = methods.sort_values("method", kind="stable")
    rows = pd.concat([_reference_rows(group), methods], ignore_index=True)
    return rows.assign(rte_min=rows["rte_s"] / 60)


def paired_cell(method: str, per_seed: dict[str, dict[str, float]], alpha: float = 0.05) -> str:
    """``closest`` for the model with the lowest mean Avg. Gap, else its mean paired difference to that model, the
    pairs, the Holm-adjusted sign-flip p and whether the seeds separate the two at ``alpha``."""
    compared = versus_best({m: v for m, v in per_seed.items() if m != "Retrain"})
    if method not in compared:
        return "closest" if method != "Retrain" else ""
    diff, n, p = compared[method]
    return f"{diff:+.2f} ({n} pairs, p={p:.3g}{'' if p < alpha else ', not separated'})"
