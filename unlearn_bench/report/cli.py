"""Paper-style tables from a folder of run records: ``python -m unlearn_bench.report DIR --format md``.

One table per (data, model, scenario, evaluation shift). Rows: Original, Retrain, then each method. Cells are
``mean±std (gap)`` over seeds, where the gap is |method - Retrain| computed per seed (against that seed's
Retrain) and then averaged; Avg. Gap is SalUn's mean of the UA/RA/TA/MIA gaps, averaged over seeds; RTE
is in minutes (Retrain: its training time). Note: SalUn's own tables print the gap of the means, which
can differ from the mean per-seed gap when seeds disagree in sign.

``--metrics`` picks the metric columns (default ``auto``: UA,RA,TA,MIA; UA, FID, Acc_gen for generation
records): any metric the records hold (CTA, JiT_MIA, MIA-I, MIARS-I, KL_f, ... see unlearn_bench/evaluation.py)
and AEG, SURE's Average Error Gap (mean of the UA, TA, RA, CTA and MIARS-I gaps; blank where one is missing, e.g.
CTA under random forgetting); ``deep``:
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
import logging
import os
import sys
from pathlib import Path

import pandas as pd

from unlearn_bench.errors import ConfigError
from unlearn_bench.metrics.gap import GAP_METRICS
from unlearn_bench.report.papers import Comparison, compare, parse_reference
from unlearn_bench.report.render import comparison_table, recipe_cards, render
from unlearn_bench.report.summary import (
    DEEP_METRICS,
    EPOCH_LABELS,
    default_metrics,
    pool_classes,
    reading,
    select_epoch_rows,
    summarize,
)
from unlearn_bench.report.tables import slug
from unlearn_bench.results import load_records

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", help="folder searched recursively for record.json files (e.g. a sweep dir)")
    parser.add_argument("--format", default="md", choices=["md", "csv", "tex", "html"],
                        help="html: one self-contained results page (unlearn_bench/report/page.py); the other "
                             "options but --output do not apply to it")
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
        from unlearn_bench.report.page import html_main  # here: jinja2 and the plots load only for the page

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
        from unlearn_bench.report.figures import save_figures  # here: matplotlib loads only when figures are asked for

        figures, skipped = save_figures(frame, args.figures)
        for reason in skipped:
            print(f"figure not drawn: {reason}", file=sys.stderr)
    if args.wandb:
        from unlearn_bench.loggers import log_report

        log_report(args.wandb, args.wandb_mode, _wandb_tables(tables, comparisons), figures, args.wandb_dir)
    return 0


def print_run(folder: str | Path) -> None:
    """Log the table of one run's output folder, as ``python -m unlearn_bench`` prints it after each run (the default
    columns of its records, and the line that reads it), or its status when the run did not finish ok."""
    frame = load_records(folder)
    ok = frame[frame["status"] == "ok"] if not frame.empty else frame
    if ok.empty:
        log.warning("run finished with status %s: %s", frame["status"].iloc[0] if not frame.empty else "none", folder)
        return
    known = {name for names in ok["metric_names"] for name in names.split(",") if name}
    tables = summarize(ok, default_metrics(known, set(ok["scenario"])))
    readings = [line for table in tables.values() if (line := reading(table))]
    log.info("\n%s%s", render(tables, "md"), "".join(f"\n{line}" for line in readings))


def _wandb_tables(tables: dict[tuple, pd.DataFrame], comparisons: dict[tuple, list[Comparison] | str]
                  ) -> dict[str, pd.DataFrame]:
    """Every table under a key naming its group (``table/digits-small-cnn-random10-none``) and every comparison
    block under ``paper/<group>-<paper>-<table>-<paper's scenario>``."""
    out = {}
    for key, table in tables.items():
        out[f"table/{slug(*key)}"] = table
        found = comparisons.get(key, [])
        for block in [] if isinstance(found, str) else found:
            out[f"paper/{slug(*key, block.paper, block.table, block.setting[2])}"] = comparison_table(block, "csv")
    return out
