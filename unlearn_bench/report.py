"""Paper-style tables from a folder of run records: ``python -m unlearn_bench.report DIR --format md``.

One table per (data, model, scenario, evaluation shift). Rows: Original, Retrain, then each method. Cells are
``mean±std (gap)`` over seeds, where the gap is |method - Retrain| computed per seed (against that seed's
Retrain) and then averaged; Avg. Gap is SalUn's mean of the UA/RA/TA/MIA gaps, averaged over seeds; RTE
is in minutes (Retrain: its training time). Note: SalUn's own tables print the gap of the means, which
can differ from the mean per-seed gap when seeds disagree in sign.

``--metrics`` picks the metric columns (default UA,RA,TA,MIA): any metric the records hold (CTA, JiT_MIA,
MIA-I, MIARS-I, KL_f, ... see unlearn_bench/evaluation.py) and AEG, SURE's Average Error Gap (mean of the UA,
TA, RA, CTA and MIARS-I gaps that the records hold). A cell is empty where a model has no such value.
"""

from __future__ import annotations

import argparse
import json
import sys

import pandas as pd

from unlearn_bench.metrics.gap import GAP_METRICS, avg_gap
from unlearn_bench.metrics.sure import AEG_KEYS
from unlearn_bench.results import load_records

GROUP_KEYS = ["data", "model", "scenario", "shift"]  # shift: the evaluation shift (eval=gn1, ...)


def _cell(values: pd.Series, gap_values: pd.Series | None) -> str:
    values = values.dropna()
    if values.empty:
        return ""
    mean, std = values.mean(), values.std(ddof=0) if len(values) > 1 else 0.0
    text = f"{mean:.2f}±{std:.2f}"
    return f"{text} ({gap_values.mean():.2f})" if gap_values is not None else text


def _reference_rows(group: pd.DataFrame) -> pd.DataFrame:
    """Original and Retrain rows, one per seed (every record of a seed carries the same two models)."""
    per_seed = group.drop_duplicates("seed")
    rows = []
    for label, prefix, seconds in (("Original", "original_", "original_train_s"),
                                   ("Retrain", "retrain_", "retrain_train_s")):
        for _, rec in per_seed.iterrows():
            row = {"method": label, "seed": rec["seed"], "rte_s": rec[seconds],
                   "data_access": "D" if label == "Original" else "retain", "training_free": False}
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


def summarize(frame: pd.DataFrame, metrics: tuple[str, ...] = GAP_METRICS) -> dict[tuple, pd.DataFrame]:
    """One table per (data, model, scenario, shift): a row per model with formatted cells, one column per
    name in ``metrics``."""
    tables = {}
    for key, group in frame.groupby(GROUP_KEYS, sort=True):
        methods = group[group["method"] != "retrain"]  # the Retrain row already shows it
        methods = methods.assign(method=method_labels(methods)).sort_values("method", kind="stable")
        rows = pd.concat([_reference_rows(group), methods], ignore_index=True)
        out = []
        for method, g in rows.groupby("method", sort=False):
            row = {"Method": method}
            for m in metrics:
                if m == "AEG":
                    present = [f"gap_{k}" for k in AEG_KEYS if f"gap_{k}" in g]
                    row[m] = f"{g[present].mean(axis=1).mean():.2f}" if present else ""
                elif m in g:
                    row[m] = _cell(g[m], g.get("gap_" + m))
            row["Avg. Gap"] = f"{g['avg_gap'].mean():.2f}"
            row["RTE (min)"] = f"{g['rte_s'].mean() / 60:.2f}"
            # Data access, as the Unlink paper's Table 1: what the method reads, training-free, D_r-free.
            reads = g["data_access"].iloc[0]
            row["Reads"] = reads
            row["Training-free"] = "yes" if bool(g["training_free"].iloc[0]) else "no"
            row["D_r-free"] = "yes" if "retain" not in reads.split(",") and reads != "D" else "no"
            row["Seeds"] = g["seed"].nunique()
            out.append(row)
        tables[key] = pd.DataFrame(out)
    return tables


def render(tables: dict[tuple, pd.DataFrame], fmt: str = "md") -> str:
    parts = []
    for key, table in tables.items():
        title = ", ".join(f"{k}={v}" for k, v in zip(GROUP_KEYS, key))
        if fmt == "md":
            parts.append(f"### {title}\n\n" + table.to_markdown(index=False))
        elif fmt == "csv":
            parts.append(table.assign(**dict(zip(GROUP_KEYS, key))).to_csv(index=False))
        elif fmt == "tex":
            parts.append(f"% {title}\n" + table.to_latex(index=False, escape=True))
        else:
            raise ValueError(f"--format {fmt!r} is not supported; allowed: md, csv, tex")
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", help="folder searched recursively for record.json files (e.g. a sweep dir)")
    parser.add_argument("--format", default="md", choices=["md", "csv", "tex"])
    parser.add_argument("--output", help="write the table to this file instead of stdout")
    parser.add_argument("--metrics", default=",".join(GAP_METRICS),
                        help="comma-separated metric columns, e.g. UA,RA,TA,MIA,CTA,JiT_MIA,MIARS-I,KL_f,AEG")
    args = parser.parse_args(argv)
    frame = load_records(args.root)
    if frame.empty:
        print(f"no record.json found under {args.root}", file=sys.stderr)
        return 1
    failed = frame[frame["status"] != "ok"]
    frame = frame[frame["status"] == "ok"]
    columns = tuple(args.metrics.split(","))
    known = {name for names in frame["metric_names"] for name in names.split(",") if name} | {"AEG"}
    unknown = [m for m in columns if m not in known]
    if unknown:
        print(f"--metrics: {unknown} not in these records; available: {sorted(known)}", file=sys.stderr)
        return 2
    text = render(summarize(frame, columns), args.format)
    if len(failed):
        text += "\n\nNot in the table (status != ok): " + ", ".join(
            f"{r.method}/seed{r.seed}: {r.status}" for r in failed.itertuples())
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
