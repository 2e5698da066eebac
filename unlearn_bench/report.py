"""Paper-style tables from a folder of run records: ``python -m unlearn_bench.report DIR --format md``.

One table per (data, model, scenario, evaluation shift). Rows: Original, Retrain, then each method. Cells are
``mean±std (gap)`` over seeds, where the gap is |method - Retrain| computed per seed (against that seed's
Retrain) and then averaged; Avg. Gap is SalUn's mean of the UA/RA/TA/MIA gaps, averaged over seeds; RTE
is in minutes (Retrain: its training time). Note: SalUn's own tables print the gap of the means, which
can differ from the mean per-seed gap when seeds disagree in sign.

``--metrics`` picks the metric columns (default ``auto``: UA,RA,TA,MIA; UA, FID, Acc_gen for generation
records): any metric the records hold (CTA, JiT_MIA, MIA-I, MIARS-I, KL_f, ... see unlearn_bench/evaluation.py)
and AEG, SURE's Average Error Gap (mean of the UA, TA, RA, CTA and MIARS-I gaps that the records hold); ``deep``:
UA,RA,TA,MIA and the ``eval=deep`` metrics the records hold (``DEEP_METRICS``). A cell is empty where a model has no
such value.

Beside the paper (``--reference``): under each table, one block per published table that has rows for it, one
row per (model, metric) that both hold: ours mean±std over seeds, the paper's mean±std, ours − paper. The block's
title names the paper, its table and the paper's data / model / scenario, so every number says where it comes
from. Metrics compared: every metric the paper table prints that the records hold (UA, RA, TA, MIA, their
``gap_*`` to Retrain, JiT_Dr, ...), Avg. Gap (``avg_gap``) and RTE in minutes (``rte_min``; different hardware).
Under an evaluation shift the paper's shifted column is used (``eval=gn1`` / ``eval=et1``: Forget Vector
Table 2 ``UA_gn1`` / ``UA_et1``).

- ``auto`` (default): rows of ``results/reference/*.csv`` with the records' data, model, scenario and method
  (Original/Retrain as ``original``/``retrain``). If the records were made by a preset
  (``experiment=<paper>_table<label>[...]``, read from the Hydra job folder's ``.hydra/hydra.yaml``), only that
  paper table; otherwise every table with matching rows, each in its own block.
- ``<file>.csv``: the same matching against another CSV with the reference columns.
- ``<paper>:<table>[:<data>:<model>]`` (e.g. ``salun:1``): that table only, whatever the records' data and model.
  This is how a ``*_cpu`` sweep (digits) is compared with the table it stands in for: the block is titled
  "stand-in" when the data or model differ, because such differences say how the small setting differs, not
  whether the paper was reproduced. Scenarios are matched by name; a class-wise run ``classwise_<k>`` also
  matches the paper's ``classwise`` / ``classwise_all``, and a table with a single scenario matches any run.
  ``auto`` never does this: a digits run has no paper row unless the user names one.
- ``none``: no comparison.

``--pool-classes``: the per-class sweeps of a table that averages over classes (Forget Vector Table 1's
class-wise rows, Unlink Tables 9/14, the "Average" rows of SalUn Table 2 / Unlink Table 4, JiT's breakdowns)
become one table: ``classwise_<k>`` runs are pooled as ``classwise_all`` and ``subclass_<name>`` runs as
``subclass_all``, each (class, seed) run one sample of the mean ± std, its gaps taken against its own Retrain.
The pooled rows are compared with the paper's ``classwise_all`` / ``classwise_avg`` / ``subclass_all`` rows.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from unlearn_bench.errors import ConfigError
from unlearn_bench.metrics.gap import GAP_METRICS, avg_gap, gaps, select_epochs
from unlearn_bench.metrics.sure import AEG_KEYS
from unlearn_bench.results import load_records, shift_label
from unlearn_bench.stats import seed_interval
from unlearn_bench.tables import GROUP_KEYS, model_rows, paired_cell, slug

# --pool-classes: per-class scenario names -> the pooled name, and the paper's names for a pooled scenario.
POOLED_SCENARIOS = {r"classwise_\d+": "classwise_all", r"subclass_.+": "subclass_all"}
POOLED_REFERENCE = {"classwise_all": ("classwise_all", "classwise_avg"), "subclass_all": ("subclass_all",)}
REFERENCE_DIR = Path(__file__).resolve().parents[1] / "results" / "reference"
REFERENCE_COLUMNS = ["paper", "table", "data", "model", "scenario", "method", "metric", "mean", "std"]
# A preset name: <paper>_table<label>[_<variant>], e.g. salun_table1_cpu, salun_tablea6, jit_table2b.
PRESET_PATTERN = re.compile(r"^(?P<paper>[a-z_]+?)_table(?P<table>a?\d+[a-z]?)(?:_|$)")
# The paper's column for a metric measured under an evaluation shift (Forget Vector Table 2: UA on D_f under GN1 /
# ET1; conf/eval/gn1.yaml, et1.yaml).
SHIFT_SUFFIXES = {shift_label({"kind": "gaussian", "sigma": 0.08}): "_gn1",
                  shift_label({"kind": "elastic", "smoothing": 170.8}): "_et1"}
# Columns of a comparison beyond the record metrics: our name -> the reference CSV's.
SUMMARY_METRICS = {"avg_gap": "avg_gap", "rte_min": "rte_min"}


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
                if m == "AEG":
                    present = [f"gap_{k}" for k in AEG_KEYS if f"gap_{k}" in g]
                    row[m] = f"{g[present].mean(axis=1).mean():.2f}" if present else ""
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


@dataclass(frozen=True)
class ReferenceChoice:
    """What ``--reference`` asked for: ``mode`` none | auto (``rows`` from results/reference or a CSV) | table
    (``paper``/``table`` and optionally ``data``/``model`` named by the user)."""

    mode: str
    rows: pd.DataFrame | None = None
    paper: str | None = None
    table: str | None = None
    data: str | None = None
    model: str | None = None


@dataclass
class Comparison:
    """One block: our numbers beside one paper table's for one group of records."""

    title: str
    paper: str
    table: str
    setting: tuple[str, str, str]  # the paper's data, model, scenario
    stand_in: bool
    frame: pd.DataFrame  # method, metric, ours_mean, ours_std, seeds, paper_mean, paper_std, diff


def load_reference(path: str | Path = REFERENCE_DIR) -> pd.DataFrame:
    """A reference CSV, or every ``*.csv`` in a folder, as one frame with the columns ``REFERENCE_COLUMNS``
    (``table`` as text: ``1``, ``A6``, ``2b``)."""
    path = Path(path)
    files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    frames = [pd.read_csv(f, dtype={"table": str}) for f in files]
    for f, frame in zip(files, frames):
        missing = [c for c in REFERENCE_COLUMNS if c not in frame.columns]
        if missing:
            raise ConfigError(f"--reference {f}: columns {missing} are missing; a reference CSV has "
                              f"{REFERENCE_COLUMNS}")
    if not frames:
        raise ConfigError(f"--reference {path}: no *.csv file there")
    return pd.concat(frames, ignore_index=True)[REFERENCE_COLUMNS]


def parse_reference(value: str, reference_dir: str | Path = REFERENCE_DIR) -> ReferenceChoice:
    """``--reference``: ``auto``, ``none``, a CSV file, or ``<paper>:<table>[:<data>:<model>]``."""
    if value == "none":
        return ReferenceChoice("none")
    if value == "auto":
        return ReferenceChoice("auto", load_reference(reference_dir))
    if Path(value).is_file():
        return ReferenceChoice("auto", load_reference(value))
    parts = value.split(":")
    if len(parts) not in (2, 4):
        raise ConfigError(f"--reference {value!r} is not understood; allowed: auto, none, a CSV file, "
                          "<paper>:<table> (e.g. salun:1) or <paper>:<table>:<data>:<model>")
    rows = load_reference(reference_dir)
    paper, table = parts[0], parts[1]
    if paper not in set(rows["paper"]):
        raise ConfigError(f"--reference {value!r}: paper {paper!r} is not in {reference_dir}; "
                          f"allowed: {sorted(rows['paper'].unique())}")
    tables = rows.loc[rows["paper"] == paper, "table"].unique()
    match = [t for t in tables if t.lower() == table.lower()]
    if not match:
        raise ConfigError(f"--reference {value!r}: {paper} has no table {table!r}; allowed: {sorted(tables)}")
    rows = rows[(rows["paper"] == paper) & (rows["table"] == match[0])]
    data, model = parts[2:] if len(parts) == 4 else (None, None)
    settings = sorted(set(zip(rows["data"], rows["model"])))
    if data is None and len(settings) > 1:
        raise ConfigError(f"--reference {value!r}: {paper} table {match[0]} has several data/model settings; name "
                          "one: " + ", ".join(f"{paper}:{match[0]}:{d}:{m}" for d, m in settings))
    if data is not None and (data, model) not in settings:
        raise ConfigError(f"--reference {value!r}: {paper} table {match[0]} has no data={data} model={model}; "
                          "allowed: " + ", ".join(f"{paper}:{match[0]}:{d}:{m}" for d, m in settings))
    return ReferenceChoice("table", rows, paper, match[0], *(settings[0] if data is None else (data, model)))


def preset_table(preset: str) -> tuple[str, str] | None:
    """(paper, table label in lower case) of a preset name such as ``salun_tablea6_cpu``; None otherwise."""
    match = PRESET_PATTERN.match(preset)
    return (match["paper"], match["table"]) if match else None


def record_preset(record_dir: str | Path) -> str | None:
    """The ``experiment=`` preset a run was launched with, from its Hydra job folder (None if not a preset)."""
    hydra_file = Path(record_dir) / ".hydra" / "hydra.yaml"
    if not hydra_file.is_file():
        return None
    return OmegaConf.select(OmegaConf.load(hydra_file), "hydra.runtime.choices.experiment")


# Our metric -> the papers' name where they differ. Only Inception FID is the papers' FID: FID_classifier (the
# harness classifier's features, generation/metrics.py) is on another scale and is never set beside it.
PAPER_METRIC = {"FID_inception": "FID"}


def _paper_metric(metric: str, shift: str) -> str | None:
    if shift == "none":
        return PAPER_METRIC.get(metric, metric)
    return metric + SHIFT_SUFFIXES[shift] if shift in SHIFT_SUFFIXES else None


def _scenario_candidates(scenario: str, table_scenarios: set[str]) -> list[str]:
    """The paper's scenario(s) a run's scenario stands for when the user names the table (see the module doc)."""
    if scenario in table_scenarios:
        return [scenario]
    pooled = [s for s in POOLED_REFERENCE.get(scenario, ()) if s in table_scenarios]
    if pooled:
        return pooled[:1]
    if scenario.startswith("classwise_"):
        found = [s for s in ("classwise", "classwise_all") if s in table_scenarios]
        if found:
            return found[:1]
    return sorted(table_scenarios) if len(table_scenarios) == 1 else []


def _metric_columns(group: pd.DataFrame) -> list[str]:
    """Every metric a group of records holds, with its gap to Retrain, then Avg. Gap and RTE (min)."""
    names = sorted({n for names in group["metric_names"] for n in names.split(",") if n})
    return [*names, *(f"gap_{n}" for n in names), *SUMMARY_METRICS]


def _block(rows: pd.DataFrame, paper_rows: pd.DataFrame, metrics: list[str], shift: str) -> pd.DataFrame:
    """Per (model row, metric) in the paper's order: ours and the paper's numbers and their difference."""
    by_paper_name = {_paper_metric(m, shift): m for m in metrics if m in rows}
    out = []
    for label, runs in rows.groupby("method", sort=False):
        printed = paper_rows[paper_rows["method"] == runs["method_name"].iloc[0]]
        for ref in printed.itertuples():
            values = runs[by_paper_name[ref.metric]].dropna() if ref.metric in by_paper_name else ()
            if len(values) == 0:
                continue
            mean = values.mean()
            out.append({"method": label, "metric": ref.metric, "ours_mean": mean,
                        "ours_std": values.std(ddof=0) if len(values) > 1 else 0.0,
                        "seeds": runs.loc[values.index, "seed"].nunique(), "paper_mean": ref.mean,
                        "paper_std": ref.std, "diff": mean - ref.mean})
    return pd.DataFrame(out)


def compare(frame: pd.DataFrame, choice: ReferenceChoice) -> dict[tuple, list[Comparison] | str]:
    """Per (data, model, scenario, shift) group: the comparison blocks, or a note saying why there is none
    (empty for ``--reference none``)."""
    if choice.mode == "none":
        return {}
    out: dict[tuple, list[Comparison] | str] = {}
    for key, group in frame.groupby(GROUP_KEYS, sort=True):
        data, model, scenario, shift = key
        rows = model_rows(group)
        metrics = _metric_columns(group)
        presets = sorted({p for p in map(record_preset, group["path"]) if p})
        reference = choice.rows
        if choice.mode == "table":
            reference = reference[(reference["data"] == choice.data) & (reference["model"] == choice.model)]
            candidates = _scenario_candidates(scenario, set(reference["scenario"]))
            reference = reference[reference["scenario"].isin(candidates)]
        else:
            reference = reference[(reference["data"] == data) & (reference["model"] == model)
                                  & reference["scenario"].isin(POOLED_REFERENCE.get(scenario, (scenario,)))]
            tables = {preset_table(p) for p in presets}
            if len(presets) == 1 and None not in tables:
                paper, table = tables.pop()
                reference = reference[(reference["paper"] == paper) & (reference["table"].str.lower() == table)]
        blocks = []
        for (paper, table, ref_data, ref_model, ref_scenario), printed in reference.groupby(
                ["paper", "table", "data", "model", "scenario"], sort=False):
            block = _block(rows, printed, metrics, shift)
            if block.empty:
                continue
            stand_in = (ref_data, ref_model) != (data, model)
            title = (f"{'Stand-in for' if stand_in else 'Beside'} {paper} Table {table} "
                     f"({ref_data} / {ref_model} / {ref_scenario})")
            if stand_in:
                title += f": our {data} / {model} / {scenario} runs, not a reproduction of these numbers"
            elif (paper, str(table).lower()) not in {preset_table(p) for p in presets}:
                title += (": our runs were not made with this table's preset (experiment=...), so their recipe "
                          "(epochs, learning rates, seeds) may differ from the paper's")
            blocks.append(Comparison(title, paper, table, (ref_data, ref_model, ref_scenario), stand_in, block))
        out[key] = blocks or _no_reference_note(choice, scenario, presets, reference)
    return out


def _no_reference_note(choice: ReferenceChoice, scenario: str, presets: list[str], matched: pd.DataFrame) -> str:
    """Why a group has no comparison: the paper's rows hold other metrics or methods, or there are none."""
    if not matched.empty:
        tables = ", ".join(sorted(set(matched["paper"] + " Table " + matched["table"])))
        return (f"Nothing to compare: the matching rows of {tables} print {sorted(matched['metric'].unique())} for "
                f"{sorted(matched['method'].unique())}; these records hold none of those metrics for those methods.")
    if choice.mode == "table":
        return (f"No row of {choice.paper} Table {choice.table} ({choice.data} / {choice.model}) for scenario "
                f"{scenario}.")
    note = "No paper row for this data / model / scenario."
    for preset in presets:
        paper, table = preset_table(preset) or (None, None)
        labels = choice.rows.loc[(choice.rows["paper"] == paper) & (choice.rows["table"].str.lower() == table),
                                 "table"].unique()
        if preset.endswith("_cpu") and len(labels):
            note += (f" Preset {preset} stands in for {paper} Table {labels[0]}: --reference {paper}:{labels[0]} "
                     "compares with it.")
    return note


def _comparison_table(block: Comparison, fmt: str) -> pd.DataFrame:
    """The block as printed: numbers as text for md/tex, numeric columns for csv."""
    frame = block.frame
    if fmt == "csv":
        paper_data, paper_model, paper_scenario = block.setting
        return frame.assign(paper=block.paper, table=block.table, paper_data=paper_data, paper_model=paper_model,
                            paper_scenario=paper_scenario, stand_in=block.stand_in)

    def pm(mean: float, std: float) -> str:
        return f"{mean:.2f}" if pd.isna(std) else f"{mean:.2f}±{std:.2f}"

    return pd.DataFrame({
        "Method": frame["method"], "Metric": frame["metric"],
        "Ours": [pm(m, s) for m, s in zip(frame["ours_mean"], frame["ours_std"])],
        "Seeds": frame["seeds"],
        "Paper": [pm(m, s) for m, s in zip(frame["paper_mean"], frame["paper_std"])],
        "Ours − Paper": [f"{d:+.2f}" for d in frame["diff"]],
    })


def recipe_cards(frame: pd.DataFrame) -> dict[tuple, list[str]]:
    """Per table group, the recipe cards (conf/cards/<preset>.yaml, every value and its source) of the presets its
    runs were launched with."""
    return {key: [f"conf/cards/{p}.yaml" for p in sorted({p for p in map(record_preset, group["path"]) if p})]
            for key, group in frame.groupby(GROUP_KEYS, sort=True)}


def render(tables: dict[tuple, pd.DataFrame], fmt: str = "md",
           comparisons: dict[tuple, list[Comparison] | str] | None = None,
           cards: dict[tuple, list[str]] | None = None) -> str:
    """The tables (and under each, the recipe card its preset runs, then its comparison blocks or the note why
    there is none) as md, csv or tex."""
    if fmt not in ("md", "csv", "tex"):
        raise ValueError(f"--format {fmt!r} is not supported; allowed: md, csv, tex")
    comparisons = comparisons or {}
    parts = []
    for key, table in tables.items():
        title = ", ".join(f"{k}={v}" for k, v in zip(GROUP_KEYS, key))
        group_columns = dict(zip(GROUP_KEYS, key))
        if fmt == "md":
            parts.append(f"### {title}\n\n" + table.to_markdown(index=False))
        elif fmt == "csv":
            parts.append(table.assign(**group_columns).to_csv(index=False))
        else:
            parts.append(f"% {title}\n" + table.to_latex(index=False, escape=True))
        if (cards or {}).get(key):
            note = "Recipe card: " + ", ".join(cards[key]) + " (every hyper-parameter and its source)"
            parts.append(f"_{note}_" if fmt == "md" else ("# " if fmt == "csv" else "% ") + note)
        found = comparisons.get(key, [])
        if isinstance(found, str):
            parts.append(f"_{found}_" if fmt == "md" else ("# " if fmt == "csv" else "% ") + found)
            continue
        for block in found:
            shown = _comparison_table(block, fmt)
            if fmt == "md":
                parts.append(f"#### {block.title}\n\n" + shown.to_markdown(index=False, disable_numparse=True))
            elif fmt == "csv":
                parts.append(shown.assign(**group_columns).to_csv(index=False))
            else:
                parts.append(f"% {block.title}\n" + shown.to_latex(index=False, escape=True))
    return "\n\n".join(parts)


# --metrics deep: SalUn's four, then the eval=deep metrics and costs (unlearn_bench/attacks.py) the records hold.
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", help="folder searched recursively for record.json files (e.g. a sweep dir)")
    parser.add_argument("--format", default="md", choices=["md", "csv", "tex", "html"],
                        help="html: one self-contained results page (unlearn_bench/page.py); the other options but "
                             "--output do not apply to it")
    parser.add_argument("--output", help="write the table to this file instead of stdout")
    parser.add_argument("--metrics", default="auto",
                        help="comma-separated metric columns, e.g. UA,RA,TA,MIA,CTA,JiT_MIA,MIARS-I,KL_f,AEG; auto: "
                             "UA,RA,TA,MIA for classifiers (and acc_<sub> of the forgotten sub-class and its "
                             "siblings when every record forgets the same one), UA, FID, Acc_gen (and "
                             "NudeNet_total) for generation; deep: UA,RA,TA,MIA and the eval=deep metrics "
                             "(relearning, CKA, k-NN, KLoM, weight distances) and their costs in seconds")
    parser.add_argument("--reference", default="auto",
                        help="paper numbers beside ours: auto (default), none, a CSV file, or <paper>:<table>"
                             "[:<data>:<model>] (e.g. salun:1; a stand-in comparison for *_cpu runs)")
    parser.add_argument("--epoch", default="final", choices=list(EPOCH_LABELS),
                        help="which unlearning epoch each run shows (best/top5 need runs with eval.every_epoch=true)")
    parser.add_argument("--pool-classes", action="store_true",
                        help="pool classwise_<k> runs as classwise_all and subclass_<name> runs as subclass_all "
                             "(a paper table's mean over classes)")
    parser.add_argument("--figures", metavar="OUTDIR", help="also write the figures (PNG and PDF) into OUTDIR")
    parser.add_argument("--wandb", metavar="PROJECT", help="log the tables and figures to this wandb project")
    parser.add_argument("--wandb-mode", default="offline", choices=["offline", "online", "disabled"])
    parser.add_argument("--wandb-dir", default=os.environ.get("WANDB_DIR", "."),
                        help="where wandb writes its run folder (default: $WANDB_DIR, else the current directory)")
    args = parser.parse_args(argv)
    if args.format == "html":
        from unlearn_bench.page import html_main  # here: jinja2 and the plots load only for the page

        return html_main(args.root, args.output)
    frame = load_records(args.root)
    if frame.empty:
        print(f"no record.json found under {args.root}", file=sys.stderr)
        return 1
    if args.pool_classes:
        frame = pool_classes(frame)
    failed = frame[frame["status"] != "ok"]
    frame = frame[frame["status"] == "ok"]
    known = {name for names in frame["metric_names"] for name in names.split(",") if name} | {"AEG"}
    columns = (default_metrics(known, set(frame["scenario"])) if args.metrics == "auto"
               else (*GAP_METRICS, *(m for m in DEEP_METRICS if m in known)) if args.metrics == "deep"
               else tuple(args.metrics.split(",")))
    unknown = [m for m in columns if m not in known]
    if unknown:
        print(f"--metrics: {unknown} not in these records; available: {sorted(known)}", file=sys.stderr)
        return 2
    try:
        choice = parse_reference(args.reference)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    frame, no_epochs = select_epoch_rows(frame, args.epoch)
    if frame.empty:
        print(f"--epoch {args.epoch}: no run under {args.root} has per-epoch metrics (eval.every_epoch=true)",
              file=sys.stderr)
        return 1
    tables = summarize(frame, columns)
    comparisons = compare(frame, choice)
    text = render(tables, args.format, comparisons, recipe_cards(frame))
    if args.epoch != "final":
        text = f"Methods at the {EPOCH_LABELS[args.epoch]}.\n\n" + text
    if len(no_epochs):
        text += "\n\nNot in the table (no per-epoch metrics; rerun with eval.every_epoch=true): " + ", ".join(
            f"{r.method}/seed{r.seed}" for r in no_epochs.itertuples())
    if len(failed):
        text += "\n\nNot in the table (status != ok): " + ", ".join(
            f"{r.method}/seed{r.seed}: {r.status}" for r in failed.itertuples())
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    figures = []
    if args.figures:
        from unlearn_bench.figures import save_figures  # here: matplotlib loads only when figures are asked for

        figures, skipped = save_figures(frame, args.figures)
        for reason in skipped:
            print(f"figure not drawn: {reason}", file=sys.stderr)
    if args.wandb:
        from unlearn_bench.loggers import log_report

        log_report(args.wandb, args.wandb_mode, _wandb_tables(tables, comparisons), figures, args.wandb_dir)
    return 0


def _wandb_tables(tables: dict[tuple, pd.DataFrame], comparisons: dict[tuple, list[Comparison] | str]
                  ) -> dict[str, pd.DataFrame]:
    """Every table under a key naming its group (``table/digits-small-cnn-random10-none``) and every comparison
    block under ``paper/<group>-<paper>-<table>-<paper's scenario>``."""
    out = {}
    for key, table in tables.items():
        out[f"table/{slug(*key)}"] = table
        found = comparisons.get(key, [])
        for block in [] if isinstance(found, str) else found:
            out[f"paper/{slug(*key, block.paper, block.table, block.setting[2])}"] = _comparison_table(block, "csv")
    return out


if __name__ == "__main__":
    sys.exit(main())
