"""Our numbers beside the papers' (``--reference``): the published rows of ``results/reference/*.csv`` (or another
CSV, or a table the user names) matched to each table group of records, one ``Comparison`` block per paper table."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from unlearn_bench.errors import ConfigError
from unlearn_bench.report.summary import POOLED_REFERENCE
from unlearn_bench.report.tables import GROUP_KEYS, model_rows
from unlearn_bench.results import shift_label

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "results" / "reference"
REFERENCE_COLUMNS = ["paper", "table", "data", "model", "scenario", "method", "metric", "mean", "std"]
# A preset name: <paper>_table<label>[_<variant>], e.g. salun_table1_cpu, salun_tablea6, jit_table2b.
PRESET_PATTERN = re.compile(r"^(?P<paper>[a-z_]+?)_table(?P<table>a?\d+[a-z]?)(?:_|$)")
# The paper's column for a metric measured under an evaluation shift (Forget Vector Table 2: UA on D_f under GN1 /
# ET1; conf/eval/gn1.yaml, et1.yaml).
SHIFT_SUFFIXES = {shift_label({"kind": "gaussian", "sigma": 0.08}): "_gn1",
                  shift_label({"kind": "elastic", "smoothing": 170.8}): "_et1"}
# Columns of a comparison beyond the record metrics: our name -> the reference CSV's.
SUMMARY_METRICS = {"avg_gap": "avg_gap", "rte_min": "rte_min"}


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
