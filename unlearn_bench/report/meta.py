"""Meta-evaluation of a sweep: which metrics agree on how far each method is from Retrain.

``python -m unlearn_bench.report.meta SWEEP_DIR [--format md|csv] [--output FILE]``

Per (data, model, scenario, shift) group of records, each metric becomes a distance to Retrain (lower = closer; a
method's mean over its seeds), then, for every pair of metrics, the Spearman and Kendall rank correlations of those
distances across the methods that have both. 1 = the two metrics rank the methods alike, -1 = in reverse order.
Retrain itself is left out (it is the reference: every distance is ~0 by construction and would inflate agreement);
so is a metric no run of the group holds. A correlation needs 3 methods to mean anything; with 2 it is +-1, and it is
empty where a metric does not vary across the methods.

Distances (``META_METRICS``): SalUn's Avg. Gap; U-LiRA's |AUC - 50| (50 = indistinguishable from Retrain); the
challenge's 1 - forget score; KLoM on D_f (already a divergence from Retrain); the gap to Retrain of the relearning
attacks' mean forget accuracy (on D_r and few-shot on D_f); 1 - linear CKA with Retrain on D_f. Not the L2 weight
distance to Retrain: without alignment it measures the distance between two initialisations (unlearn_bench/attacks/,
``weight_distance_to_original``). Rank correlations: Spearman's rho and Kendall's tau-b (scipy.stats).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, spearmanr

from unlearn_bench.report.tables import GROUP_KEYS, method_labels
from unlearn_bench.results import load_records

# name -> (the record column it needs, its distance to Retrain from the records' frame)
META_METRICS: dict[str, tuple[str, Callable[[pd.DataFrame], pd.Series]]] = {
    "Avg. Gap": ("avg_gap", lambda f: f["avg_gap"]),
    "U-LiRA |AUC-50|": ("ULiRA_AUC", lambda f: (f["ULiRA_AUC"] - 50.0).abs()),
    "1-Challenge": ("Challenge_Forget", lambda f: 1.0 - f["Challenge_Forget"]),
    "KLoM": ("KLoM_f", lambda f: f["KLoM_f"]),
    "Relearn D_r gap": ("gap_Relearn_Dr_AUC", lambda f: f["gap_Relearn_Dr_AUC"]),
    "Relearn k-shot gap": ("gap_Relearn_Df_AUC", lambda f: f["gap_Relearn_Df_AUC"]),
    "1-CKA": ("CKA_f", lambda f: 1.0 - f["CKA_f"]),
}
FORMATS = ("md", "csv")


def method_scores(frame: pd.DataFrame) -> dict[tuple, pd.DataFrame]:
    """Per group: one row per method (label with the hyper-parameters that vary), one column per meta metric the
    records hold, each the method's mean distance to Retrain over its seeds. ``frame``: ``load_records`` output."""
    frame = frame[(frame["status"] == "ok") & (frame["method"] != "retrain")]
    out = {}
    for key, group in frame.groupby(GROUP_KEYS, sort=True):
        group = group.assign(label=method_labels(group))
        scores = pd.DataFrame({name: distance(group) for name, (column, distance) in META_METRICS.items()
                               if column in group and group[column].notna().any()})
        out[key] = scores.groupby(group["label"]).mean().rename_axis("method")
    return out


def rank_correlations(scores: pd.DataFrame) -> pd.DataFrame:
    """For each pair of columns of ``scores`` (methods x metrics): the number of methods with both values and the
    Spearman and Kendall rank correlations of the two columns over them (NaN with < 2 methods or a constant column)."""
    rows = []
    for a, b in itertools.combinations(scores.columns, 2):
        both = scores[[a, b]].dropna()
        varies = len(both) >= 2 and both[a].nunique() > 1 and both[b].nunique() > 1
        rho = spearmanr(both[a], both[b]).statistic if varies else np.nan
        tau = kendalltau(both[a], both[b]).statistic if varies else np.nan
        rows.append({"metric_a": a, "metric_b": b, "methods": len(both), "spearman": float(rho),
                     "kendall": float(tau)})
    return pd.DataFrame(rows, columns=["metric_a", "metric_b", "methods", "spearman", "kendall"])


def render(frame: pd.DataFrame, fmt: str = "md") -> str:
    """Per group: the methods' distances, then the rank correlations (md); or one tidy CSV of the correlations
    with the group's columns."""
    if fmt not in FORMATS:
        raise ValueError(f"--format {fmt!r} is not supported; allowed: {', '.join(FORMATS)}")
    parts = []
    for key, scores in method_scores(frame).items():
        correlations = rank_correlations(scores)
        if fmt == "csv":
            parts.append(correlations.assign(**dict(zip(GROUP_KEYS, key))).to_csv(index=False))
            continue
        title = ", ".join(f"{k}={v}" for k, v in zip(GROUP_KEYS, key))
        parts.append(f"### {title}\n\nDistance to Retrain per method (mean over seeds; lower = closer)\n\n"
                     + scores.to_markdown(floatfmt=".3f"))
        parts.append("Rank correlation between metrics across methods\n\n"
                     + (correlations.to_markdown(index=False, floatfmt=".2f") if len(correlations)
                        else "_fewer than two metrics in these records_"))
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", help="folder searched recursively for record.json files (e.g. a sweep dir)")
    parser.add_argument("--format", default="md", choices=list(FORMATS))
    parser.add_argument("--output", help="write the tables to this file instead of stdout")
    args = parser.parse_args(argv)
    frame = load_records(args.root)
    if frame.empty:
        print(f"no record.json found under {args.root}", file=sys.stderr)
        return 1
    text = render(frame, args.format)
    if not text:
        print(f"no finished run of a method other than retrain under {args.root}", file=sys.stderr)
        return 1
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
