"""Transcribe the papers' result tables from the specs (the implementers' notes on each paper, one markdown file per
paper named ``*_<paper>.md``, kept outside this repository) into tidy CSVs under ``results/reference/``.

    python scripts/transcribe_reference.py --spec-dir <folder of the specs> [--out results/reference]

``--spec-dir`` defaults to the environment variable ``UNLEARN_BENCH_SPEC_DIR``.

One row per printed number: ``paper,table,data,model,scenario,method,metric,mean,std`` (std empty where the
paper prints no ``±``). A cell ``a±b (g)`` gives the row ``metric`` (mean a, std b) and the row ``gap_<metric>``
(mean g): the gap to Retrain exactly as printed, which the papers sometimes get wrong (flagged † in the spec).

The parser is strict: every cell of every table it reads must be a number, a number with ``±`` and/or a
``(gap)``, an empty/"—" cell, or one of the annotations listed in ``ANNOTATIONS`` / ``SKIPPED`` below (each quoted
from the spec). Anything else raises, so a change in a spec fails loudly instead of producing a wrong row.
Names follow the harness (conf/data, conf/model, scenario names as the harness prints them, registered methods);
results/reference/README.md gives every convention and every cell that is left out.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
from collections.abc import Iterable
from pathlib import Path

COLUMNS = ["paper", "table", "data", "model", "scenario", "method", "metric", "mean", "std"]

NUM = r"(?:\d+(?:\.\d*)?|\.\d+)"
CELL = re.compile(rf"^(?P<mean>{NUM})(?:\s*±\s*(?P<std>{NUM}))?(?:\s*\((?P<gap>{NUM})\))?\s*(?P<rest>.*)$")
# Text after a number that is only a note (the number itself is what the paper prints).
ANNOTATIONS = {
    "",
    "†",  # forget_vector: printed gap inconsistent with |value - Retrain| (kept as printed)
    "⚠",  # salun A1/A6 RL 50% (repeats the RL 10% values: kept as printed)
    '⚠ printed "99.52_{±4.53}^{-}"',  # salun Table 1 l1-sparse 50% RA
    '⚠ (printed "(00 (0 10)" with "6.22(0.42)" on the next line)',  # salun A6 30% SalUn UA
    "(printed on its own line)",  # salun A10 10% RL Avg. Gap
    '(printed "99,99")',  # salun A10 30% Retrain RA
}
# Whole cells that carry no usable number: left out (listed in the README).
SKIPPED = {
    "",
    "—",
    "-",
    "⚠ missing",
    "⚠ unreadable",
    "⚠ missing (Table 1: 99.52 (0.48))",  # salun A6 50% l1-sparse RA: not printed in A6
    "2.±2.53 *(sic; malformed: a digit is missing after \"2.\")*",  # sure Table 1 SCRUB top-1 gap UA
}
# Cells replaced by the value the spec identifies (README: typos).
REPLACED = {
    "**90/78 (typo; probably 90.78)**": "90.78",  # unlink Table 16 CIFAR-100 GA MIA; the row's Avg.Gap confirms it
}


class SpecError(ValueError):
    pass


def number(text: str) -> str:
    """The printed number as a plain decimal string (".46" -> "0.46", "01.94" -> "1.94"); digits unchanged."""
    text = text.strip()
    if text.startswith("."):
        text = "0" + text
    if text.endswith("."):
        raise SpecError(f"truncated number {text!r}")
    text = re.sub(r"^0+(?=\d)", "", text)
    float(text)
    return text


def parse_cell(raw: str, where: str, unreliable_warning: bool = False) -> tuple[str, str, str | None] | None:
    """(mean, std, gap) of a cell, or None when the cell holds no usable number."""
    text = REPLACED.get(raw.strip(), raw.strip())
    if text in SKIPPED or text.startswith("⚠ row") or text.startswith("⚠ missing"):
        return None
    match = CELL.match(text)
    if match is None:
        raise SpecError(f"{where}: cannot parse cell {raw!r}")
    rest = match["rest"].strip()
    if rest == "…":  # truncated at the page edge (salun A9 RTE): the last digits are lost
        return None
    if unreliable_warning and rest.startswith("⚠"):  # read from garbled stacked text (salun A9)
        return None
    if rest not in ANNOTATIONS:
        raise SpecError(f"{where}: unexpected text {rest!r} in cell {raw!r}")
    std = number(match["std"]) if match["std"] else ""
    gap = number(match["gap"]) if match["gap"] else None
    return number(match["mean"]), std, gap


# ----------------------------------------------------------------------------------------------- markdown


def section(text: str, heading: str) -> list[str]:
    """Lines under the one heading matching the regex ``heading`` up to the next heading of the same or a
    higher level."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("#") and re.search(heading, line)]
    if len(starts) != 1:
        raise SpecError(f"heading {heading!r}: {len(starts)} matches")
    start = starts[0]
    level = len(lines[start]) - len(lines[start].lstrip("#"))
    end = start + 1
    while end < len(lines):
        line = lines[end]
        if line.startswith("#") and not line.startswith("#" * (level + 1)):
            break
        end += 1
    return lines[start + 1:end]


def md_tables(lines: list[str]) -> list[list[list[str]]]:
    """Markdown tables (runs of lines starting with '|') as rows of stripped cells, separator row dropped."""
    tables, current = [], []
    for line in lines + [""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def csv_blocks(lines: list[str]) -> list[list[dict[str, str]]]:
    blocks, inside, current = [], False, []
    for line in lines:
        if line.strip() == "```csv":
            inside, current = True, []
        elif line.strip() == "```" and inside:
            inside = False
            blocks.append(list(csv.DictReader(current)))
        elif inside:
            current.append(line)
    return blocks


def expect(tables: list, n: int, where: str) -> list:
    if len(tables) != n:
        raise SpecError(f"{where}: expected {n} table(s), found {len(tables)}")
    return tables


# ----------------------------------------------------------------------------------------------- rows

METRICS = {
    "UA": "UA", "RA": "RA", "TA": "TA", "MIA": "MIA", "MIA-Efficacy": "MIA", "Avg. Gap": "avg_gap",
    "Avg.Gap": "avg_gap", "RTE": "rte_min", "FID": "FID", "D_r acc.": "JiT_Dr", "D_f acc.": "JiT_Df",
}
NON_NUMERIC_COLUMNS = {"Train-Free", "D_r-Free", "Train-free", "D_r-free", "ZS"}


def metric_name(header: str) -> str | None:
    h = re.sub(r"\s*(↑|↓|\(↑\)|\(↓\)|\(min\.\)|\(Mins\))\s*", "", header).strip()
    if h in NON_NUMERIC_COLUMNS:
        return None
    if h not in METRICS:
        raise SpecError(f"unknown column {header!r}")
    return METRICS[h]


class Rows:
    def __init__(self, paper: str):
        self.paper = paper
        self.rows: list[dict[str, str]] = []

    def add(self, table: str, data: str, model: str, scenario: str, method: str, metric: str, mean: str,
            std: str = "") -> None:
        self.rows.append(dict(paper=self.paper, table=table, data=data, model=model, scenario=scenario,
                              method=method, metric=metric, mean=mean, std=std))

    def cell(self, table: str, data: str, model: str, scenario: str, method: str, metric: str, raw: str,
             unreliable_warning: bool = False, gaps: bool = True) -> None:
        where = f"{self.paper} table {table} {data}/{scenario}/{method}/{metric}"
        parsed = parse_cell(raw, where, unreliable_warning)
        if parsed is None:
            return
        mean, std, gap = parsed
        self.add(table, data, model, scenario, method, metric, mean, std)
        if gap is not None:
            if not gaps:
                raise SpecError(f"{where}: unexpected gap in {raw!r}")
            self.add(table, data, model, scenario, method, f"gap_{metric}", gap)

    def method_table(self, table: str, rows: list[list[str]], methods: dict[str, str], data: str, model: str,
                     scenario: str, metric_override: dict[str, str] | None = None, key_columns: int = 1,
                     context=None, unreliable_warning: bool = False, method_column: int | None = None) -> None:
        """A table with a method column (the last of the ``key_columns`` leading columns unless
        ``method_column``) and one metric per further column. ``context(row)`` may return (data, model,
        scenario) per row from the leading columns."""
        header, body = rows[0], rows[1:]
        mcol = key_columns - 1 if method_column is None else method_column
        metrics = [metric_name(h) for h in header[key_columns:]]
        metrics = [(metric_override or {}).get(m, m) if m else None for m in metrics]
        for row in body:
            if len(row) != len(header):
                raise SpecError(f"{self.paper} table {table}: row {row} has {len(row)} cells, header {len(header)}")
            label = row[mcol]
            if all(not c or c.startswith("⚠ row") for c in row[key_columns:]):  # a row missing from the text
                continue
            method = method_of(label, methods, f"{self.paper} table {table}")
            if method is None:
                continue
            d, mo, sc = context(row) if context else (data, model, scenario)
            for metric, raw in zip(metrics, row[key_columns:]):
                if metric is not None:
                    self.cell(table, d, mo, sc, method, metric, raw, unreliable_warning)


def method_of(label: str, methods: dict[str, str], where: str) -> str | None:
    clean = re.sub(r"^\*\*R\*\*\s*", "", label).strip()
    clean = re.sub(r"\s*\([^)]*et al\.[^)]*\)$", "", clean)  # citations in forget_vector Table A1
    if clean.startswith("⚠"):
        return None
    if clean not in methods:
        raise SpecError(f"{where}: unknown method label {label!r}")
    return methods[clean]


# ----------------------------------------------------------------------------------------------- SalUn

SALUN_METHODS = {
    "Retrain": "retrain", "FT": "ft", "RL": "rl", "GA": "ga", "IU": "iu", "BE": "be", "BS": "bs",
    "ℓ1-sparse": "l1_sparse", "SalUn": "salun", "SalUn-soft": "salun_soft", "FT + m_S": "ft_ms",
    "RL + m_S": "rl_ms", "GA + m_S": "ga_ms", "IU + m_S": "iu_ms", "ESD": "esd", "FMN": "fmn",
}
IMAGENETTE = {  # imagenette2 class folders sorted by wnid (the harness's class order)
    "tench": "0", "englishspringer": "1", "cassetteplayer": "2", "chainsaw": "3", "church": "4",
    "frenchhorn": "5", "garbagetruck": "6", "gaspump": "7", "golfball": "8", "parachute": "9", "average": "avg",
}


def imagenette_scenario(label: str) -> str:
    return f"classwise_{IMAGENETTE[label.replace(' ', '').lower()]}"


def generation_table(rows: Rows, table: str, body: list[list[str]], data: str, model: str,
                     methods: dict[str, str]) -> None:
    header = body[0]
    columns = []
    for h in header[1:]:
        m = re.match(r"^(\S+) (UA|FID)", h)
        if m is None:
            raise SpecError(f"{rows.paper} table {table}: column {h!r}")
        columns.append((methods[m[1]], m[2]))
    for row in body[1:]:
        scenario = imagenette_scenario(row[0])
        for (method, metric), raw in zip(columns, row[1:]):
            rows.cell(table, data, model, scenario, method, metric, raw)


def salun(text: str) -> list[dict[str, str]]:
    r = Rows("salun")
    c10 = ("cifar10", "resnet18")
    t1 = expect(md_tables(section(text, r"^### Table 1 \[")), 2, "salun Table 1")
    for scenario, tab in zip(["random10", "random50"], t1):
        r.method_table("1", tab, SALUN_METHODS, *c10, scenario)
    # Table 2: Stable Diffusion on Imagenette, one forgotten class per row.
    (t2,) = expect(md_tables(section(text, r"^### Table 2 \[")), 1, "salun Table 2")
    generation_table(r, "2", t2, "imagenette", "sd", SALUN_METHODS)
    # Table A1: 10% and 50% side by side.
    (a1,) = expect(md_tables(section(text, r"^### Table A1 \[")), 1, "salun Table A1")
    header = a1[0]
    if not (header[1].startswith("10%:") and header[7].startswith("50%:")):
        raise SpecError(f"salun Table A1 header {header}")
    names = [metric_name(h.split(":")[-1]) for h in header[1:]]
    for row in a1[1:]:
        method = method_of(row[0], SALUN_METHODS, "salun A1")
        for i, (metric, raw) in enumerate(zip(names, row[1:])):
            r.cell("A1", *c10, "random10" if i < 6 else "random50", method, metric, raw)
    (a2,) = expect(md_tables(section(text, r"^### Table A2 \[")), 1, "salun Table A2")
    r.method_table("A2", a2, SALUN_METHODS, *c10, "classwise")
    (a3,) = expect(md_tables(section(text, r"^### Table A3 \[")), 1, "salun Table A3")
    r.method_table("A3", a3, SALUN_METHODS, *c10, "", key_columns=2,
                   context=lambda row: (*c10, f"iterative5x0.1_round{int(row[0])}"))
    (a4,) = expect(md_tables(section(text, r"^### Table A4 \[")), 1, "salun Table A4")
    r.method_table("A4", a4, SALUN_METHODS, "tiny_imagenet", "resnet18", "random10")
    (a5,) = expect(md_tables(section(text, r"^### Table A5 \[")), 1, "salun Table A5")
    r.method_table("A5", a5, SALUN_METHODS, "cifar10", "ddpm", "classwise")
    # Table A6: the 10% block is printed as Table 1's 10% means without ± (spec: "10% block = Table 1 10%
    # means ... with these printed differences"); Retrain's gaps are not printed there, its Avg. Gap is "0".
    t1_10 = [row for row in r.rows if row["table"] == "1" and row["scenario"] == "random10"]
    a6_diff = {("ft", "gap_MIA"): "10.18", ("rl", "gap_MIA"): "24.48", ("ga", "gap_UA"): "4.55",
               ("be", "gap_TA"): "0.41", ("bs", "gap_UA"): "3.46", ("bs", "gap_MIA"): "3.92",
               ("bs", "avg_gap"): "2.66", ("l1_sparse", "gap_UA"): "1.05", ("salun_soft", "gap_UA"): "1.05",
               ("salun_soft", "gap_TA"): "0.82", ("retrain", "avg_gap"): "0"}
    for row in t1_10:
        if row["method"] == "retrain" and row["metric"].startswith("gap_"):
            continue
        mean = a6_diff.get((row["method"], row["metric"]), row["mean"])
        r.add("A6", row["data"], row["model"], "random10", row["method"], row["metric"], mean)
    ratio = lambda row: (*c10, f"random{int(row[0])}")  # noqa: E731
    (a6,) = expect(md_tables(section(text, r"^### Table A6 \[")), 1, "salun Table A6")
    r.method_table("A6", a6, SALUN_METHODS, *c10, "", key_columns=2, context=ratio)
    for table, data, model in (("A7", "svhn", "resnet18"), ("A8", "cifar100", "resnet18"),
                               ("A9", "cifar10", "vgg16_bn"), ("A10", "cifar10", "swin_t")):
        (tab,) = expect(md_tables(section(text, rf"^### Table {table} \[")), 1, f"salun Table {table}")
        r.method_table(table, tab, SALUN_METHODS, data, model, "", key_columns=2,
                       context=lambda row, d=data, m=model: (d, m, f"random{int(row[0])}"),
                       unreliable_warning=table == "A9")
    return r.rows


# ----------------------------------------------------------------------------------------------- Forget Vector

FV_METHODS = {
    "Retrain": "retrain", "FT": "ft", "RL": "rl", "GA": "ga", "NegGrad+": "neggrad_plus", "SalUn": "salun",
    "SCRUB": "scrub", "Ours": "forget_vector", "FV": "forget_vector", "CU-FV": "forget_vector_compositional",
}
FV_DATA = {"CIFAR-10": ("cifar10", "resnet18"), "ImageNet-10": ("imagenet10", "vgg16_bn")}


def forget_vector(text: str) -> list[dict[str, str]]:
    r = Rows("forget_vector")
    t1 = expect(md_tables(section(text, r"^### 6\.1 Table 1")), 4, "forget_vector Table 1")
    for tab, (data, scenario) in zip(t1, [("CIFAR-10", "classwise_all"), ("ImageNet-10", "classwise_all"),
                                          ("CIFAR-10", "random10"), ("ImageNet-10", "random10")]):
        r.method_table("1", tab, FV_METHODS, *FV_DATA[data], scenario)
    (t2,) = expect(md_tables(section(text, r"^### 6\.2 Table 2")), 1, "forget_vector Table 2")
    columns = [("classwise_all", "UA_forget_test"), ("random10", "UA_gn1"), ("random10", "UA_et1")]
    if not ("Class-wise" in t2[0][1] and "GN1" in t2[0][2] and "ET1" in t2[0][3]):
        raise SpecError(f"forget_vector Table 2 header {t2[0]}")
    for row in t2[1:]:
        method = method_of(row[0], FV_METHODS, "forget_vector Table 2")
        for (scenario, metric), raw in zip(columns, row[1:]):
            r.cell("2", "cifar10", "resnet18", scenario, method, metric, raw)
    (t3,) = expect(md_tables(section(text, r"^### 6\.3 Table 3")), 1, "forget_vector Table 3")
    r.method_table("3", t3, FV_METHODS, "", "", "", key_columns=2,
                   context=lambda row: (*FV_DATA[row[0]], "random10"))
    (a1,) = expect(md_tables(section(text, r"^### 6\.4 Table A1")), 1, "forget_vector Table A1")
    settings = []
    for h in a1[0][1:]:
        data, kind = h.split(" ", 1)
        settings.append((*FV_DATA[data], {"Class-wise": "classwise_all", "Random Data": "random10"}[kind]))
    for row in a1[1:]:
        method = method_of(row[0], FV_METHODS, "forget_vector Table A1")
        for (data, model, scenario), raw in zip(settings, row[1:]):
            r.cell("A1", data, model, scenario, method, "rte_min", raw, gaps=False)
    return r.rows


# ----------------------------------------------------------------------------------------------- Unlink

UNLINK_METHODS = {
    "Original": "original", "Retrain": "retrain", "FT": "ft", "RL": "rl", "GA": "ga", "IU": "iu", "BE": "be",
    "BS": "bs", "ℓ1-sparse": "l1_sparse", "SCRUB": "scrub", "SalUn": "salun", "JiT": "jit", "SSD": "ssd",
    "GF": "gf", "Unlink": "unlink", "Unlink†": "unlink_dagger", "FMN": "fmn", "ESD": "esd",
}
UNLINK_DATA = {"CIFAR-10": "cifar10", "CIFAR-100": "cifar100", "SVHN": "svhn"}
SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")


def sci(text: str) -> str:
    """'1×10⁻²' -> '0.01'; plain numbers unchanged."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)×10([⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)", text.strip())
    if m:
        return repr(float(m[1]) * 10 ** int(m[2].translate(SUPERSCRIPT)))
    return number(text)


def unlink(text: str) -> list[dict[str, str]]:
    r = Rows("unlink")
    (t2,) = expect(md_tables(section(text, r"^### 6\.2 Table 2:")), 1, "unlink Table 2")
    r.method_table("2", t2, UNLINK_METHODS, "cifar100", "resnet18", "classwise")
    # Table 3: per-sub-class accuracy (columns "beaver 0", ..., "shrew 83") when forgetting beaver.
    (t3,) = expect(md_tables(section(text, r"^### 6\.3 Table 3:")), 1, "unlink Table 3")
    subclasses = [h.split()[0] for h in t3[0][1:7]]
    if subclasses != ["beaver", "dolphin", "otter", "seal", "whale", "shrew"]:
        raise SpecError(f"unlink Table 3 header {t3[0]}")
    for row in t3[1:]:
        method = method_of(row[0], UNLINK_METHODS, "unlink Table 3")
        for sub, raw in zip(subclasses, row[1:7]):
            r.cell("3", "cifar20", "resnet18", "subclass_beaver", method, f"acc_{sub}", raw, gaps=False)
    (t4,) = expect(md_tables(section(text, r"^### 6\.4 Table 4:")), 1, "unlink Table 4")
    generation_table(r, "4", t4, "imagenette", "sd", UNLINK_METHODS)
    # Table 5: the method column is lost; the spec infers the groups (GA?, SalUn?, Unlink).
    (t5,) = expect(md_tables(section(text, r"^### 6\.5 Table 5:")), 1, "unlink Table 5")
    groups = {"A (GA?)": "ga_inferred", "B (SalUn?)": "salun_inferred", "C (Unlink)": "unlink_inferred"}
    r.method_table("5", t5, groups, "", "", "", key_columns=2, method_column=0,
                   context=lambda row: ("cifar100", "resnet18", f"classwise_{int(row[1])}"))
    (t6,) = expect(md_tables(section(text, r"^### 6\.6 Table 6:")), 1, "unlink Table 6")
    for row in t6[1:]:
        method = f"unlink_nshot{int(row[0])}_k{int(row[1])}"
        for h, raw in zip(t6[0][2:], row[2:]):
            r.cell("6", "cifar100", "resnet18", "classwise", method, metric_name(h), raw, gaps=False)
    (t7,) = expect(md_tables(section(text, r"^### 6\.7 Table 7:")), 1, "unlink Table 7")
    for row in t7[1:]:
        method = "unlink_" + row[0].split()[0]
        for h, raw in zip(t7[0][1:], row[1:]):
            r.cell("7", "cifar10", "resnet18", "classwise_0", method, metric_name(h), raw, gaps=False)
    (t8,) = expect(md_tables(section(text, r"^### 6\.8 Table 8:")), 1, "unlink Table 8")
    for row in t8[1:]:
        for h, raw in zip(t8[0][1:], row[1:]):
            r.cell("8", "cifar100", "vgg16_bn", "classwise", f"unlink_layer{int(row[0])}", metric_name(h), raw,
                   gaps=False)
    simple = {"9": ("cifar20", "resnet18", "subclass_all"), "10": ("cifar10", "resnet18", "random10"),
              "11": ("cifar100", "resnet18", "multiclass10_all"), "12": ("oxford_pets", "clip_vit_b32",
                                                                          "multiclass_2-3-29"),
              "13": ("tiny_imagenet", "resnet18", "classwise"), "14": ("cifar10", "swin_t", "classwise_all")}
    for table, (data, model, scenario) in simple.items():
        (tab,) = expect(md_tables(section(text, rf"^### 6\.\d+ Table {table}:")), 1, f"unlink Table {table}")
        r.method_table(table, tab, UNLINK_METHODS, data, model, scenario)
    for table, model in (("15", "resnet18"), ("16", "resnet50"), ("17", "vgg16_bn")):
        (tab,) = expect(md_tables(section(text, rf"^### 6\.\d+ Table {table}:")), 1, f"unlink Table {table}")
        r.method_table(table, tab, UNLINK_METHODS, "", model, "", key_columns=2,
                       context=lambda row, m=model: (UNLINK_DATA[row[0]], m, "classwise"))
    # Table 19 (hyper-parameter search ranges) is transcribed in the spec's §3.2.
    (t19,) = expect(md_tables(section(text, r"^### 3\.2 Baseline hyper-parameters")), 1, "unlink Table 19")
    hp_names = {"α": "alpha", "γ": "gamma", "λ": "lambda", "α_r": "alpha_r", "α_f": "alpha_f",
                "# vectors": "num_vectors"}
    t19_methods = dict(UNLINK_METHODS, retrain="retrain", **{"Unlink (Ours)": "unlink"})
    for method_label, epoch, lr, others in t19[1:]:
        method = method_of(method_label, t19_methods, "unlink Table 19")
        ranges = []
        if lr.startswith("["):
            ranges.append(("lr", lr))
        for name, rng in re.findall(r"([^,:\[\]]+):\s*(\[[^\]]*\])", others):
            ranges.append((hp_names[name.strip()], rng))
        if others and not ranges:
            raise SpecError(f"unlink Table 19: cannot parse {others!r}")
        if re.fullmatch(r"\d+", epoch):
            r.add("19", "all", "all", "all", method, "hp_epochs", epoch)
        elif epoch not in ("-", "") and not epoch.startswith("**unreadable**"):
            raise SpecError(f"unlink Table 19: epoch cell {epoch!r}")
        for name, rng in ranges:
            lo, hi = rng.strip("[]").split(",")
            r.add("19", "all", "all", "all", method, f"hp_{name}_min", sci(lo))
            r.add("19", "all", "all", "all", method, f"hp_{name}_max", sci(hi))
    return r.rows


# ----------------------------------------------------------------------------------------------- JiT

JIT_METHODS = {
    "BSLN": "original", "Baseline": "original", "RTRN": "retrain", "Retrain": "retrain", "FNTN": "ft",
    "Finetune": "ft", "AMN": "amnesiac", "Amnesiac": "amnesiac", "SCRUB": "scrub", "SSD": "ssd",
    "BT": "bad_teacher", "Teacher": "bad_teacher", "UNSIR": "unsir", "GKT": "gkt", "EMMN": "emmn",
    "BDSH": "bs", "BDSAHA": "bs", "OURS": "jit", "Ours": "jit",
}
CIFAR100_INDEX = {"baby": 2, "lamp": 40, "mushroom": 51, "rocket": 69, "sea": 71}
JIT_MAIN = {
    "1": ("pins", "vgg11_bn", "classwise_1"),
    "2(a)": ("cifar100", "vit_b16", "classwise_69"),
    "2(b)": ("cifar100", "vgg11_bn", "classwise_69"),
    "3(a)": ("cifar20", "vgg11_bn", "subclass_rocket"),
    "3(b)": ("cifar20", "vit_b16", "subclass_rocket"),
    "4(a)": ("cifar10", "vgg11_bn", "random_n100"),
    "4(b)": ("cifar10", "vit_b16", "random_n100"),
    "5(a)": ("imagenet", "vit_l", "classwise"),
    "5(b)": ("cifar10", "resnet18", "random"),
    "6": ("cifar100", "vgg11_bn", "worst_case69_n50"),
}
JIT_BREAKDOWN = {  # table: (data, model, scenario of a forget_class cell)
    "7": ("cifar100", "vit_b16", lambda c: f"classwise_{CIFAR100_INDEX[c]}"),
    "8": ("cifar20", "vit_b16", lambda c: f"subclass_{c}"),
    "9": ("cifar100", "vgg11_bn", lambda c: f"classwise_{CIFAR100_INDEX[c]}"),
    "10": ("pins", "vgg11_bn", lambda c: f"classwise_{int(float(c))}"),
    "11": ("cifar20", "vgg11_bn", lambda c: f"subclass_{c}"),
}


def jit(text: str) -> list[dict[str, str]]:
    r = Rows("jit")
    for label, (data, model, scenario) in JIT_MAIN.items():
        (tab,) = expect(md_tables(section(text, rf"^### Table {re.escape(label)}:")), 1, f"jit Table {label}")
        r.method_table(label.replace("(", "").replace(")", ""), tab, JIT_METHODS, data, model, scenario,
                       metric_override={"MIA": "JiT_MIA"})
    for table, (data, model, scenario_of) in JIT_BREAKDOWN.items():
        (block,) = expect(csv_blocks(section(text, rf"^#### Table {table}:")), 1, f"jit Table {table}")
        for row in block:
            method = method_of(row["method"], JIT_METHODS, f"jit Table {table}")
            scenario = scenario_of(row["forget_class"])
            for metric, key in (("JiT_Dr", "dr"), ("JiT_Df", "df"), ("JiT_MIA", "mia"), ("runtime_s", "runtime")):
                mean = row[f"{key}_mean"]
                if mean.endswith("."):  # "1." (Table 7 GKT/sea D_r): garbled, digits lost -> left out
                    continue
                r.add(table, data, model, scenario, method, metric, number(mean), number(row[f"{key}_std"]))
    return r.rows


# ----------------------------------------------------------------------------------------------- SURE

SURE_METHODS = {
    "SURE": "sure", "L1Sparse": "l1_sparse", "SCRUB": "scrub", "RL": "rl", "FineTune": "ft", "BE+": "be+",
    "BS+": "bs+", "NegGrad+": "neggrad_plus", "BTeacher": "bad_teacher", "Bteach": "bad_teacher",
}
SURE_T1_METRICS = {"ΔRA": "gap_RA", "ΔUA": "gap_UA", "ΔUtility": "gap_TA", "ΔCTA": "gap_CTA"}
SURE_T2_METRICS = {
    "Retain Err": "Retain_Err", "Forget Err": "Forget_Err", "Test Err": "Test_Err", "IC Retain": "IC_ERR_retain",
    "FGT Retain": "FGT_ERR_retain", "IC Test": "IC_ERR_test", "FGT Test": "FGT_ERR_test",
}
SURE_HP = {"rl *(sic; = lr)*": "hp_lr", "lr": "hp_lr", "α": "hp_alpha", "fbatch size": "hp_fbatch_size",
           "lr decay": "hp_lr_decay_epoch"}


def sure(text: str) -> list[dict[str, str]]:
    r = Rows("sure")
    (t1,) = expect(md_tables(section(text, r"^### 6\.1 Table 1")), 1, "sure Table 1")
    columns = []
    for h in t1[0][1:]:
        m = re.fullmatch(r"(\S+) \((Top-1|Top-5)\)", h)
        if m is None:
            raise SpecError(f"sure Table 1 column {h!r}")
        columns.append((SURE_METHODS[m[1]], m[2].replace("-", "").lower()))
    for row in t1[1:]:
        metric = SURE_T1_METRICS[row[0]]
        for (method, top), raw in zip(columns, row[1:]):
            r.cell("1", "cifar10", "resnet18", "not_stated", method, f"{metric}_{top}", raw, gaps=False)
    (t2,) = expect(md_tables(section(text, r"^### 6\.2 Table 2")), 1, "sure Table 2")
    metrics = [SURE_T2_METRICS[h] for h in t2[0][1:]]
    for row in t2[1:]:
        method = method_of(row[0], SURE_METHODS, "sure Table 2")
        for metric, raw in zip(metrics, row[1:]):
            r.cell("2", "cifar10", "resnet18", "confusion0-1_r0.01", method, metric, raw, gaps=False)
    hp = expect(md_tables(section(text, r"^### 2\.6 Appendix G")), 2, "sure Tables 3/4")
    for table, tab, scenario in (("3", hp[0], "random_n5000"), ("4", hp[1], "partial_class5_n500")):
        methods = [SURE_METHODS[h] for h in tab[0][1:]]
        for row in tab[1:]:
            for method, raw in zip(methods, row[1:]):
                r.cell(table, "cifar10", "resnet18", scenario, method, SURE_HP[row[0]], raw, gaps=False)
    return r.rows


PARSERS = {"salun": salun, "forget_vector": forget_vector, "unlink": unlink, "jit": jit, "sure": sure}


def spec_file(spec_dir: Path, paper: str) -> Path:
    """The one spec in ``spec_dir`` whose name ends with ``_<paper>.md``."""
    found = sorted(spec_dir.glob(f"*_{paper}.md"))
    if len(found) != 1:
        raise SpecError(f"{spec_dir}: expected one *_{paper}.md, found {[p.name for p in found]}")
    return found[0]


def transcribe(spec_dir: Path) -> dict[str, list[dict[str, str]]]:
    out = {}
    for paper, parser in PARSERS.items():
        rows = parser(spec_file(spec_dir, paper).read_text(encoding="utf-8"))
        keys = [tuple(row[c] for c in COLUMNS[:7]) for row in rows]
        dupes = {k for k in keys if keys.count(k) > 1}
        if dupes:
            raise SpecError(f"{paper}: duplicate keys {sorted(dupes)[:5]}")
        out[paper] = rows
    return out


def write(rows: Iterable[dict[str, str]], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    env = os.environ.get("UNLEARN_BENCH_SPEC_DIR")
    parser.add_argument("--spec-dir", type=Path, default=Path(env) if env else None, required=not env,
                        help="folder of the specs (default: $UNLEARN_BENCH_SPEC_DIR)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "results" / "reference")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for paper, rows in transcribe(args.spec_dir).items():
        write(rows, args.out / f"{paper}.csv")
        print(f"{paper}: {len(rows)} rows -> {args.out / f'{paper}.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
