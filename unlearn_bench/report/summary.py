"""A report table's cells from run records: one table per (data, model, scenario, shift), a row per model, cells
``mean±std (gap)`` over seeds, Avg. Gap with its seed interval and the paired test against the closest model, and the
line that reads it; which columns a table shows by default; ``--pool-classes`` and ``--epoch``."""

from __future__ import annotations

import json
from collections.abc import Collection

import pandas as pd

from unlearn_bench.metrics.gap import GAP_METRICS, avg_gap, gaps, select_epochs
from unlearn_bench.metrics.sure import AEG_KEYS
from unlearn_bench.report.tables import GROUP_KEYS, model_rows, paired_cell
from unlearn_bench.stats import seed_interval

# --pool-classes: per-class scenario names -> the pooled name, and the paper's names for a pooled scenario.
POOLED_SCENARIOS = {r"classwise_\d+": "classwise_all", r"subclass_.+": "subclass_all"}
POOLED_REFERENCE = {"classwise_all": ("classwise_all", "classwise_avg"), "subclass_all": ("subclass_all",)}
def _cell(values: pd.Series, gap_values: pd.Series | None) -> str:
    values = values.dropna()
    if values.empty:
        return ""
    mean, std = values.mean(), values.std(ddof=0) if len(values) > 1 else 0.0
    text = f"{mean:.2f}±{std:.2f}"
    return f"{text} ({gap_values.mean():.2f})" if gap_values is not None else text


def select_epoch_rows(frame: pd.DataFrame, how: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``--epoch``: each run's metrics at the epochs ``how`` picks from its per-epoch record (``eval.every_epoch``;
    ``metrics.gap.select_epochs``): ``best`` = the epoch with the smallest Avg. Gap (SURE's "Top-1"), ``top5`` = the
    mean over the five best epochs (SURE's "Top-5"; gaps are the mean of those epochs' gaps). ``final`` leaves the
    frame as it is. Returns (rows, runs without per-epoch metrics, left out rather than shown at their final epoch;
    Retrain's runs, which only repeat the Retrain row, are kept)."""
    if how == "final":
        return frame, frame.iloc[:0]
    rows, missing = [], []
    for _, rec in frame.iterrows():
        epochs = json.loads(rec["epoch_metrics"])
        if not epochs:
            (rows if rec["method"] == "retrain" else missing).append(rec)
            continue
        retrain = {m: rec["retrain_" + m] for m in rec["metric_names"].split(",")
                   if m and pd.notna(rec.get("retrain_" + m))}
        metrics, chosen = select_epochs(epochs, retrain, how)
        chosen_gaps = [gaps(e, retrain, keys=tuple(metrics)) for e in epochs if e["epoch"] in chosen]
        rec = rec.copy()
        for name, value in metrics.items():
            rec[name] = value
            if name in retrain:
                rec["gap_" + name] = sum(g[name] for g in chosen_gaps) / len(chosen_gaps)
        rec["avg_gap"] = sum(avg_gap(g) for g in chosen_gaps) / len(chosen_gaps)
        rec["epochs"] = ",".join(map(str, chosen))
        rows.append(rec)
    return pd.DataFrame(rows, columns=frame.columns.union(["epochs"], sort=False)), pd.DataFrame(missing)


EPOCH_LABELS = {"final": "final epoch", "best": "best epoch by Avg. Gap to Retrain (SURE Top-1)",
                "top5": "mean of the 5 best epochs by Avg. Gap to Retrain (SURE Top-5)"}


def dr_free(runs: pd.DataFrame) -> str:
    """The D_r-free cell of a method's runs: ``shown`` where every run was sandboxed (``method_isolation=sandbox``:
    the parent sent only the splits in ``data_read``) and none read D_r; ``declared`` where the method declares no D_r
    but a run was not sandboxed (its access is as declared and as its view saw it, not shown); else ``no``."""
    reads = runs["data_access"].iloc[0]
    if "retain" in reads.split(",") or reads == "D":
        return "no"
    sandboxed = runs.get("isolation", pd.Series("none", index=runs.index)) == "sandbox"
    read = runs.get("data_read", pd.Series("", index=runs.index)).astype(str)
    return "shown" if bool(sandboxed.all()) and not read.str.contains("retain").any() else "declared"


def summarize(frame: pd.DataFrame, metrics: tuple[str, ...] = GAP_METRICS) -> dict[tuple, pd.DataFrame]:
    """One table per (data, model, scenario, shift): a row per model with formatted cells, one column per
    name in ``metrics``."""
    tables = {}
    for key, group in frame.groupby(GROUP_KEYS, sort=True):
        out, per_seed = [], {}
        # SalUn's Avg. Gap needs all four of its metrics; a generation record's avg_gap is its UA gap alone
        salun_gap = set(GAP_METRICS) <= {n for names in group["metric_names"] for n in names.split(",")}
        for method, g in model_rows(group).groupby("method", sort=False):
            row = {"Method": method}
            for m in metrics:
                if m == "AEG":  # SURE's five gaps or none: a mean of fewer is another number (no CTA: random)
                    five = [f"gap_{k}" for k in AEG_KEYS]
                    row[m] = f"{g[five].mean(axis=1).mean():.2f}" if set(five) <= set(g) and g[five].notna().all(
                        axis=None) else ""
                elif m in g:
                    row[m] = _cell(g[m], g.get("gap_" + m))
            row["Avg. Gap"] = f"{g['avg_gap'].mean():.2f}" if salun_gap else ""
            if salun_gap:
                _, low, high = seed_interval(g["avg_gap"].tolist())
                # pairs are seeds (and, under --pool-classes, each class of a seed: its own Retrain and forget set)
                units = g["seed"].astype(str) + ("/" + g["pooled_from"].astype(str) if "pooled_from" in g else "")
                per_seed[method] = dict(zip(units, g["avg_gap"]))
                row["Avg. Gap 95% CI"] = f"[{low:.2f}, {high:.2f}]" if g["seed"].nunique() > 1 else ""
            row["RTE (min)"] = f"{g['rte_min'].mean():.2f}"
            # Data access, as the Unlink paper's Table 1: what the method reads, training-free, D_r-free.
            reads = g["data_access"].iloc[0]
            row["Reads"] = reads
            row["Training-free"] = "yes" if bool(g["training_free"].iloc[0]) else "no"
            row["D_r-free"] = dr_free(g)
            row["Seeds"] = g["seed"].nunique()
            # A tuned preset (<conf-local>/method/tuned/): its objective on the tuning seed, beside these (held-out)
            # seeds.
            provenance = [t for t in g.get("tuned", pd.Series(dtype=object)).dropna() if t]
            tuned = json.loads(provenance[0]) if provenance else None
            row["Tuned on"] = f"seed {tuned['seed']}: {tuned['objective']} {tuned['value']:.2f}" if tuned else ""
            out.append(row)
        table = pd.DataFrame(out)
        if per_seed and (table["Seeds"] > 1).any():
            # Every model of a seed shares its original, Retrain and forget set: each is compared with the closest
            # one by the paired test on per-seed Avg. Gaps (Holm-adjusted over the table), not by interval overlap.
            table["Paired vs closest"] = [paired_cell(m, per_seed) for m in table["Method"]]
        else:
            table = table.drop(columns="Avg. Gap 95% CI", errors="ignore")
        tables[key] = table if table["Tuned on"].any() else table.drop(columns="Tuned on")
    return tables


def reading(table: pd.DataFrame) -> str:
    """One line under a table: the model closest to Retrain by Avg. Gap and how far doing nothing (the Original)
    is, so a reader sees at once whether unlearning beat leaving the model as it was."""
    if "Avg. Gap" not in table:
        return ""
    gaps_ = pd.to_numeric(table.set_index("Method")["Avg. Gap"], errors="coerce").drop("Retrain", errors="ignore")
    gaps_ = gaps_.dropna()
    if "Original" not in gaps_ or len(gaps_) == 1:  # no method beside the references (a method=retrain job)
        return ""
    best, original = gaps_.idxmin(), gaps_["Original"]
    if best == "Original":
        return (f"Reading: no method beats doing nothing here: the Original is closest to Retrain "
                f"(Avg. Gap {original:.2f}).")
    return (f"Reading: closest to Retrain is {best} (Avg. Gap {gaps_[best]:.2f}); the Original, no unlearning, is at "
            f"{original:.2f}: {best} is {original - gaps_[best]:.2f} points closer.")


# --- Beside the paper ------------------------------------------------------------------------------------


# --metrics deep: SalUn's four, then the eval=deep metrics and costs (unlearn_bench/attacks/) the records hold.
DEEP_METRICS = ("Relearn_Dr", "Relearn_Df", "Relearn_Df_AUC", "W_dist_original", "CKA_f",
                "CKA_test", "kNN_f", "KLoM_f", "KLoM_f_p95", "KLoM_test", "Relearn_s", "Representation_s", "KLoM_s")


# The generation runners' table columns (generation/runner.py, generation/sd/runner.py), in this order.
GENERATION_METRICS = ("UA", "FID_inception", "FID_classifier", "Acc_gen", "NudeNet_total")


def default_metrics(known: set[str], scenarios: Collection[str] = ()) -> tuple[str, ...]:
    """``--metrics auto``: SalUn's four for classification records, then, when all of them forget one and the same
    sub-class, the test accuracy of it and of its siblings (``acc_<sub>``, Unlink Table 3's view); for generation
    records (no RA/TA/MIA) the generation metrics they hold."""
    if set(GAP_METRICS) <= known:
        (scenario,) = scenarios if len(scenarios) == 1 else ("",)
        if not scenario.startswith("subclass_") or scenario in POOLED_REFERENCE:  # pooled: siblings differ
            return tuple(GAP_METRICS)
        forgotten = f"acc_{scenario.removeprefix('subclass_')}"
        siblings = sorted(m for m in known if m.startswith("acc_") and m != forgotten)
        return (*GAP_METRICS, *([forgotten] if forgotten in known else []), *siblings)
    return tuple(m for m in GENERATION_METRICS if m in known) or tuple(GAP_METRICS)


def pool_classes(frame: pd.DataFrame) -> pd.DataFrame:
    """``--pool-classes``: every per-class scenario of the records renamed to its pooled scenario (the class's own
    in ``pooled_from``)."""
    scenario = frame["scenario"]
    for pattern, pooled in POOLED_SCENARIOS.items():
        scenario = scenario.mask(scenario.str.fullmatch(pattern), pooled)
    return frame.assign(scenario=scenario, pooled_from=frame["scenario"])
