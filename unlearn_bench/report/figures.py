"""The papers' figure views, drawn from run records (``python -m unlearn_bench.report DIR --figures OUTDIR``).

Each figure is saved as PNG and PDF; one file per (data, model, scenario, shift) group unless said otherwise.

- ``unlink_fig1_<group>``: Unlink Figure 1's view: the mean of UA, RA, TA and MIA-Efficacy (higher is better)
  against RTE in minutes, one point per method (Retrain at its training time; the Original is not an unlearning
  method and is left out). The paper plots one point per method and dataset; its values are not published.
  Chosen here: mean over seeds on both axes, a log x axis when the RTEs span a factor of 10 or more.
- ``salun_fig2a_<data>_<model>_<shift>``: SalUn Figure 2a's view: the gap to Retrain averaged over UA, RA, TA and
  MIA (SalUn's Avg. Gap, per seed, then mean ± std over seeds as error bars) against the forgetting ratio, one line
  per method, from the random-forgetting records (``scenario.ratio``; at least two ratios needed).
- ``forget_vector_fig3_<group>``: Forget Vector Figure 3's view: heat maps of ``forget_vector_compositional``
  runs over the two method parameters those records vary, each cell the mean over seeds, printed as an integer
  (%) as in the paper. Fixed coefficients ``method.weights.<a>`` x ``method.weights.<b>`` (Fig. 3: w_1, w_2 of two
  class vectors, conf/experiment/forget_vector_fig3*.yaml): UA on class a, UA on class b (from ``arrays.npz``),
  TA and their average. Any other pair (e.g. ``method.lambda1`` x ``method.lambda2``, Fig. A3): UA, RA, TA,
  MIA-Efficacy and their average.
- ``relearn_<group>``: relearning curves (``eval.relearn``, unlearn_bench/attacks/; Siddiqui et al. 2025): the
  forget accuracy before and after each fine-tuning step, on D_r (left) and on k examples of D_f (right), one line
  per method (mean over seeds), Retrain dashed and the Original dotted (their curves travel with every record).
  Drawn only for groups whose records ran the attack.
- ``per_class_<group>``: per-class accuracy bars on D_f and on the whole test set (the forgotten classes' test
  images included), one bar per method and class, mean over seeds, computed from the logits in ``arrays.npz``
  beside each record (``unlearn_bench.results.ARRAYS_FILE``). Retrain's bars come from its own runs
  (``method=retrain`` in the sweep).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from unlearn_bench.metrics.distances import per_class_accuracy  # noqa: E402
from unlearn_bench.metrics.gap import GAP_METRICS  # noqa: E402
from unlearn_bench.report.tables import GROUP_KEYS, method_labels, model_rows, slug  # noqa: E402
from unlearn_bench.results import ARRAYS_FILE, RECORD_FILE  # noqa: E402

FORMATS = ("png", "pdf")


def rte_score_figure(group: pd.DataFrame) -> Figure | None:
    """Unlink Fig. 1 view of one group of records (None if no model row has all of UA, RA, TA, MIA)."""
    rows = model_rows(group)
    rows = rows[rows["method"] != "Original"]
    if not all(m in rows for m in GAP_METRICS):
        return None
    rows = rows.assign(score=rows[list(GAP_METRICS)].mean(axis=1, skipna=False)).dropna(subset=["score"])
    if rows.empty:
        return None
    points = rows.groupby("method", sort=False)[["rte_min", "score"]].mean()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.scatter(points["rte_min"], points["score"])
    for label, point in points.iterrows():
        ax.annotate(label, (point["rte_min"], point["score"]), textcoords="offset points", xytext=(4, 4), fontsize=8)
    if (points["rte_min"] > 0).all() and points["rte_min"].max() >= 10 * points["rte_min"].min():
        ax.set_xscale("log")
    ax.set_xlabel("RTE (min)")
    ax.set_ylabel("mean of UA, RA, TA, MIA (%)")
    ax.set_title(", ".join(f"{k}={v}" for k, v in zip(GROUP_KEYS, group[GROUP_KEYS].iloc[0])), fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _record_config(path: str) -> dict:
    return json.loads((Path(path) / RECORD_FILE).read_text())["config"]


def gap_vs_ratio_figure(records: pd.DataFrame) -> Figure | None:
    """SalUn Fig. 2a view of one (data, model, shift) set of records (None with fewer than two random ratios)."""
    ratios = pd.to_numeric(records["path"].map(lambda p: _record_config(p).get("scenario", {}).get("ratio")))
    records = records.assign(ratio=ratios * 100).dropna(subset=["ratio"])
    records = records[records["method"] != "retrain"]
    if records["ratio"].nunique() < 2:
        return None
    records = records.assign(label=method_labels(records))
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for label, runs in records.groupby("label"):
        stats = runs.groupby("ratio")["avg_gap"].agg(["mean", lambda v: v.std(ddof=0)])
        ax.errorbar(stats.index, stats["mean"], yerr=stats.iloc[:, 1], marker="o", capsize=3, label=label)
    ax.set_xlabel("forgetting ratio (%)")
    ax.set_ylabel("gap to Retrain, mean over UA, RA, TA, MIA")
    first = records.iloc[0]
    ax.set_title(f"data={first['data']}, model={first['model']}, shift={first['shift']}", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _flat(params: dict, prefix: str = "") -> dict:
    """Nested method parameters as dotted keys (``weights.1``), as a Hydra override names them."""
    out = {}
    for key, value in params.items():
        out.update(_flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return out


def _coefficient_cells(runs: pd.DataFrame, params: list[dict], x_key: str,
                       y_key: str) -> tuple[pd.DataFrame, list[str]]:
    """One row per record with its cell (x, y) and the panels' values. Fixed coefficients (``weights.<a>`` x
    ``weights.<b>``, Fig. 3): UA on class a and on class b (from arrays.npz), TA (the other classes' test images
    in a class-level scenario) and their average. Any other pair (Fig. A3): UA, RA, TA, MIA and their average.
    ``params``: each run's flattened method parameters."""
    cells = runs.assign(x=[p[x_key] for p in params], y=[p[y_key] for p in params])
    if x_key.startswith("weights.") and y_key.startswith("weights."):
        classes = [int(k.removeprefix("weights.")) for k in (x_key, y_key)]
        panels = [f"UA class {k}" for k in classes]
        forget_acc = [per_class_accuracies(path)["D_f"] for path in runs["path"]]
        for k, panel in zip(classes, panels):
            cells[panel] = [100.0 - acc.get(k, np.nan) for acc in forget_acc]
        panels.append("TA")
    else:
        panels = list(GAP_METRICS)
    return cells.assign(Average=cells[panels].mean(axis=1, skipna=False)), [*panels, "Average"]


def coefficient_heatmap_figure(group: pd.DataFrame) -> tuple[Figure | None, str]:
    """Forget Vector Fig. 3 view of the ``forget_vector_compositional`` records of one group; (None, why) when
    they do not vary exactly two method parameters, (None, "") when there are none."""
    runs = group[group["method"] == "forget_vector_compositional"]
    if runs.empty:
        return None, ""
    params = [_flat(json.loads(text)) for text in runs["method_params"]]
    varying = sorted(k for k in set().union(*params) if len({json.dumps(p.get(k)) for p in params}) > 1)
    if len(varying) != 2:
        return None, (f"forget_vector_compositional records vary {varying or 'no'} method parameters; the heat "
                      "map needs exactly two (e.g. -m method.lambda1=1,2,3 method.lambda2=0,1,2, or Fig. 3's grid: "
                      "experiment=forget_vector_fig3)")
    x_key, y_key = varying
    # a record without both (e.g. an Eq. 5 run, weights=null, beside a Fig. 3 grid) has no cell
    has_cell = [p.get(x_key) is not None and p.get(y_key) is not None for p in params]
    runs, params = runs[has_cell], [p for p, keep in zip(params, has_cell) if keep]
    if x_key.startswith("weights.") and not runs["path"].map(_has_logits).all():
        return None, f"the {x_key} x {y_key} heat map needs each record's logits ({ARRAYS_FILE}; eval.save_arrays)"
    cells, panels = _coefficient_cells(runs, params, x_key, y_key)
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.2))
    for ax, panel in zip(axes, panels):
        grid = cells.pivot_table(index="y", columns="x", values=panel, aggfunc="mean").sort_index(ascending=False)
        image = ax.imshow(grid.to_numpy(dtype=float), cmap="viridis", aspect="auto")
        for (i, j), value in np.ndenumerate(grid.to_numpy(dtype=float)):
            if np.isfinite(value):
                ax.text(j, i, f"{value:.0f}", ha="center", va="center", color="w", fontsize=8)
        ax.set_xticks(range(grid.shape[1]), [f"{v:g}" for v in grid.columns])
        ax.set_yticks(range(grid.shape[0]), [f"{v:g}" for v in grid.index])
        ax.set_xlabel(f"method.{x_key}")
        ax.set_ylabel(f"method.{y_key}")
        ax.set_title(panel)
        fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig, ""


def whole_test(arrays: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(logits, labels) of the whole test set from a record's arrays: the forgotten classes' test images
    (``forget_test``) added back where the scenario held them out of ``test``."""
    held_out = len(arrays["forget_test_labels"]) > 0 and not arrays["test_in_forget_class"].any()
    if not held_out:
        return arrays["test_logits"], arrays["test_labels"]
    return (np.concatenate([arrays["test_logits"], arrays["forget_test_logits"]]),
            np.concatenate([arrays["test_labels"], arrays["forget_test_labels"]]))


def per_class_accuracies(record_dir: str | Path) -> dict[str, dict[int, float]]:
    """Per-class accuracy (%) of the unlearned model on D_f and on the whole test set, from the record's
    ``arrays.npz``: the forgotten classes' test images (``forget_test``) are added back to ``test`` when the
    scenario held them out of it, as evaluation.py does for JiT_MIA."""
    with np.load(Path(record_dir) / ARRAYS_FILE) as a:
        test_logits, test_labels = whole_test(a)
        return {"D_f": per_class_accuracy(a["forget_logits"], a["forget_labels"]),
                "test": per_class_accuracy(test_logits, test_labels)}


def _has_logits(record_dir: str | Path) -> bool:
    """Whether the record's arrays hold a classifier's per-split logits (a generation record's hold images)."""
    path = Path(record_dir) / ARRAYS_FILE
    if not path.is_file():
        return False
    with np.load(path) as arrays:
        return "forget_logits" in arrays.files


def per_class_figure(group: pd.DataFrame) -> Figure | None:
    """Per-class bars of one group (None if no record has a classifier's logits in its arrays)."""
    runs = group[group["path"].map(_has_logits)]
    if runs.empty:
        return None
    runs = runs.assign(label=method_labels(runs).replace({"retrain": "Retrain"}))
    splits = {"D_f": {}, "test": {}}
    for label, by_label in runs.groupby("label", sort=True):
        per_seed = [per_class_accuracies(p) for p in by_label["path"]]
        for split in splits:
            splits[split][label] = pd.DataFrame([acc[split] for acc in per_seed]).mean()
    fig, axes = plt.subplots(len(splits), 1, figsize=(max(6.0, 0.6 * len(splits["test"]) + 4), 6), squeeze=False,
                             layout="constrained")
    colors = plt.get_cmap("tab20")  # one colour per method up to 20 (the default cycle repeats after 10)
    for ax, (split, by_label) in zip(axes[:, 0], splits.items()):
        table = pd.DataFrame(by_label).sort_index()
        width = 0.8 / max(len(table.columns), 1)
        for i, label in enumerate(table.columns):
            ax.bar(np.arange(len(table)) + i * width, table[label], width, label=label, color=colors(i % colors.N))
        ax.set_xticks(np.arange(len(table)) + 0.4 - width / 2, [str(c) for c in table.index])
        ax.set_ylabel(f"accuracy on {split} (%)")
        ax.set_ylim(0, 100)
    axes[0, 0].set_title(", ".join(f"{k}={v}" for k, v in zip(GROUP_KEYS, group[GROUP_KEYS].iloc[0])), fontsize=9)
    axes[-1, 0].set_xlabel("class")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), fontsize=7, loc="outside right upper")
    return fig


RELEARN_PANELS = {"relearn_dr_curve": "fine-tuned on D_r", "relearn_df_curve": "fine-tuned on k examples of D_f"}


def _relearn_curves(paths: list[str], key: str) -> np.ndarray | None:
    """Mean over the records of the curve ``key`` in their arrays.npz (cut to the shortest), None if none has it."""
    curves = []
    for path in paths:
        file = Path(path) / ARRAYS_FILE
        if file.is_file():
            with np.load(file) as arrays:
                if key in arrays.files:
                    curves.append(arrays[key])
    if not curves:
        return None
    steps = min(len(c) for c in curves)
    return np.mean([c[:steps] for c in curves], axis=0)


def relearn_figure(group: pd.DataFrame) -> Figure | None:
    """Relearning curves of one group (None if no record has them)."""
    runs = group[group["method"] != "retrain"]
    runs = runs.assign(label=method_labels(runs))
    per_seed = group.drop_duplicates("seed")["path"].tolist()  # every record carries its seed's reference curves
    if _relearn_curves(group["path"].tolist(), "retrain_relearn_dr_curve") is None:
        return None
    fig, axes = plt.subplots(1, len(RELEARN_PANELS), figsize=(10, 4), sharey=True, squeeze=False)
    for ax, (key, title) in zip(axes[0], RELEARN_PANELS.items()):
        steps = _relearn_curves(per_seed, key.replace("_curve", "_steps"))  # records before the steps: 0, 1, ...
        for label, by_label in runs.groupby("label", sort=True):
            curve = _relearn_curves(by_label["path"].tolist(), key)
            if curve is not None:
                ax.plot(np.arange(len(curve)) if steps is None else steps[:len(curve)], curve, marker=".",
                        label=label)
        for prefix, label, style in (("retrain_", "Retrain", "--"), ("original_", "Original", ":")):
            curve = _relearn_curves(per_seed, prefix + key)
            if curve is not None:
                ax.plot(np.arange(len(curve)) if steps is None else steps[:len(curve)], curve, style,
                        color="black" if prefix == "retrain_" else "grey", label=label)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("fine-tuning step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(-2, 102)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("forget accuracy (%)")
    axes[0, -1].legend(fontsize=7)
    fig.suptitle(", ".join(f"{k}={v}" for k, v in zip(GROUP_KEYS, group[GROUP_KEYS].iloc[0])), fontsize=9)
    fig.tight_layout()
    return fig


def _save(fig: Figure, folder: Path, name: str) -> list[Path]:
    paths = [folder / f"{name}.{fmt}" for fmt in FORMATS]
    for path in paths:  # no creation date in the PDF: regenerating an unchanged figure gives the same file
        fig.savefig(path, dpi=150, metadata={"CreationDate": None} if path.suffix == ".pdf" else None)
    plt.close(fig)
    return paths


def save_figures(frame: pd.DataFrame, outdir: str | Path) -> tuple[list[Path], list[str]]:
    """Every figure the records support, into ``outdir``: (written files, why each other figure was not drawn).
    ``frame`` is ``load_records`` output with status ok."""
    folder = Path(outdir)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    skipped: list[str] = []
    for key, group in frame.groupby(GROUP_KEYS, sort=True):
        name = slug(*key)
        fig = rte_score_figure(group)
        if fig is None:
            skipped.append(f"unlink_fig1 {name}: no model has all of {', '.join(GAP_METRICS)}")
        else:
            written += _save(fig, folder, f"unlink_fig1_{name}")
        fig = per_class_figure(group)
        if fig is None:
            skipped.append(f"per_class {name}: no classifier logits in an {ARRAYS_FILE} beside the records "
                           "(a generation sweep, or eval.save_arrays=false)")
        else:
            written += _save(fig, folder, f"per_class_{name}")
        fig = relearn_figure(group)
        if fig is not None:
            written += _save(fig, folder, f"relearn_{name}")
        fig, why = coefficient_heatmap_figure(group)
        if fig is not None:
            written += _save(fig, folder, f"forget_vector_fig3_{name}")
        elif why:
            skipped.append(f"forget_vector_fig3 {name}: {why}")
    for key, records in frame.groupby(["data", "model", "shift"], sort=True):
        fig = gap_vs_ratio_figure(records)
        if fig is not None:
            written += _save(fig, folder, f"salun_fig2a_{slug(*key)}")
        elif records["scenario"].str.fullmatch(r"random\d+").any():
            skipped.append(f"salun_fig2a {slug(*key)}: the records hold one forgetting ratio; it needs two or more")
    return written, skipped
