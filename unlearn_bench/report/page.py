"""The results page: one self-contained HTML file (no CDN, no request at view time) from a folder of run records
(``python -m unlearn_bench.report DIR --format html --output page.html``) or from a benchmark's committed per-seed
rows (``python -m unlearn_bench.report.page benchmark results/fmnist``).

Per setting: the table (mean ± std (gap to Retrain), Avg. Gap with its Student-t 95% interval, the paired test
against the closest model) with its paired-test group (``stats.paired_groups``); every seed's Avg. Gap as a dot
beside its mean; where recorded, relearning curves (``eval.relearn``) and ROC curves: U-LiRA's (``eval.ulira``, its
per-example scores) and a confidence attack's on D_f against the test set (one seed, from the per-example logits);
then the papers' claims (``unlearn_bench.report.claims``) with the quoted sentence and the verdict; and a per-example
view of the forget set: for the method chosen in a menu, every forget image framed by what SalUn's MIA-Efficacy attack
(the same SVC, ``metrics.mia.svc_member``, fit on that model's own D_r and test outputs) decides for it, beside
what the same attack decides for Retrain: "still a member" where the method's attack calls it a member and
Retrain's a non-member.

The per-example view needs per-example arrays: the ``arrays.npz`` and ``forget_idx.npy`` that a run writes beside
its record (``eval.save_arrays``, on by default; a Retrain run of the same seed for the Retrain side). From a
records folder they are read directly (one seed per setting: the smallest with a Retrain run); for a benchmark whose
committed outputs are per-seed CSVs, ``python -m unlearn_bench.report.page examples RUNS OUT.npz`` condenses one seed's
records into ``<benchmark>/examples/<setting>.npz`` (decisions, confidences, ROC points and the forget images).
Plots are matplotlib SVG written into the page; the page is a jinja2 template (``unlearn_bench.report.page_template``).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import roc_auc_score, roc_curve  # noqa: E402

from unlearn_bench.metrics.gap import GAP_METRICS  # noqa: E402
from unlearn_bench.metrics.mia import svc_member, true_label_confidence  # noqa: E402
from unlearn_bench.report.claims import NOT_RUN, claims_frame, load_seed_tables, seed_table  # noqa: E402
from unlearn_bench.report.figures import relearn_figure, whole_test  # noqa: E402
from unlearn_bench.report.tables import GROUP_KEYS, model_rows, slug  # noqa: E402
from unlearn_bench.results import ARRAYS_FILE, FORGET_IDX_FILE, RECORD_FILE, load_records  # noqa: E402
from unlearn_bench.stats import paired_groups  # noqa: E402

ROC_POINTS = np.linspace(0.0, 1.0, 101)  # the FPR grid a ROC curve is kept on (a page holds 101 points per curve)
REFERENCE_LABELS = {"Original": "original", "Retrain": "retrain"}
REVERSE = {v: k for k, v in REFERENCE_LABELS.items()}
plt.rcParams["svg.hashsalt"] = "unlearn_bench"  # the same figure gives the same SVG ids: a page diff shows changes
plt.rcParams["svg.fonttype"] = "none"  # text as text: smaller, and searchable in the page


@dataclass
class Examples:
    """One seed's forget set: per model (``retrain`` included), the attack's member decision and the true-label
    confidence of every forget example, and the confidence attack's ROC (D_f positive, test negative)."""

    setting: str
    seed: int
    labels: np.ndarray
    images: np.ndarray  # uint8, N x H x W x C
    member: dict[str, np.ndarray] = field(default_factory=dict)
    confidence: dict[str, np.ndarray] = field(default_factory=dict)
    roc: dict[str, np.ndarray] = field(default_factory=dict)  # TPR on ROC_POINTS
    auc: dict[str, float] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"labels": self.labels, "images": self.images, "meta": np.array(json.dumps(
            {"setting": self.setting, "seed": self.seed, "auc": self.auc}))}
        for name in self.member:
            arrays.update({f"member/{name}": self.member[name], f"confidence/{name}": self.confidence[name],
                           f"roc/{name}": self.roc[name]})
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: Path) -> Examples:
        with np.load(path) as stored:
            meta = json.loads(str(stored["meta"]))
            found = cls(meta["setting"], int(meta["seed"]), stored["labels"], stored["images"], auc=meta["auc"])
            for key in stored.files:
                kind, _, name = key.partition("/")
                if name:
                    getattr(found, kind)[name] = stored[key]
        return found


def model_examples(arrays: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(member decision, confidence per forget example, ROC TPR on ``ROC_POINTS``, AUC in %) of one model from its
    run arrays. The ROC is the true-label confidence's, D_f positive against the test images of D_f's classes. The
    decision is MIA-Efficacy's attack (shadow members: the first n of D_r, n = min(|D_r|, |test|), as
    evaluation.MIAEfficacy), so the share of non-members is the record's MIA."""
    n = min(len(arrays["test_labels"]), len(arrays["retain_labels"]))
    member = svc_member(arrays["retain_logits"][:n], arrays["retain_labels"][:n], arrays["test_logits"][:n],
                        arrays["test_labels"][:n], arrays["forget_logits"], arrays["forget_labels"])
    forget = true_label_confidence(arrays["forget_logits"], arrays["forget_labels"])
    # negatives: the test images of D_f's classes (a forgotten class's held-out test images included), so a
    # class-wise D_f is set against unseen images of its own class, and a random one against the whole test set
    logits, labels = whole_test(arrays)
    same = np.isin(labels, arrays["forget_labels"])
    test = true_label_confidence(logits[same], labels[same])
    scores, truth = np.concatenate([forget, test]), np.concatenate([np.ones(len(forget)), np.zeros(len(test))])
    fpr, tpr, _ = roc_curve(truth, scores)
    return member, forget, np.interp(ROC_POINTS, fpr, tpr), float(roc_auc_score(truth, scores) * 100.0)


def _forget_images(record_dir: Path, labels: np.ndarray) -> np.ndarray:
    """The run's forget images (uint8, N x H x W x C), from its dataset and ``forget_idx.npy``; their labels must be
    ``labels`` (the arrays' ``forget_labels``), or the dataset on this machine is not the one the run used."""
    import torch
    from omegaconf import OmegaConf

    from unlearn_bench.config import RunConfig
    from unlearn_bench.data.task import make_task

    config = json.loads((record_dir / RECORD_FILE).read_text())["config"]
    cfg = OmegaConf.merge(OmegaConf.structured(RunConfig), {k: config[k] for k in ("data", "scenario", "train")},
                          {"seed": config["seed"]})
    # a forget set the original chooses (worst_case) is read from the record, so any member_prob does
    task = make_task(cfg.data, cfg.scenario, cfg.train, cfg.seed, "cpu",
                     member_prob=lambda t: np.zeros(len(t.train_y)))
    forget_idx = torch.from_numpy(np.load(record_dir / FORGET_IDX_FILE))
    if not np.array_equal(task.train_y[forget_idx].numpy(), labels):
        raise ValueError(f"{record_dir}: the labels of its forget_idx in data={cfg.data.name} here differ from the "
                         "run's forget_labels: not the dataset the run used")
    return task.train_x[forget_idx].permute(0, 2, 3, 1).numpy()


def examples_from_records(runs: pd.DataFrame, setting: str) -> Examples | None:
    """The per-example view of one setting's records (``load_records`` rows): the smallest seed with a Retrain run
    whose arrays hold a classifier's logits; None if no seed has one."""
    has_logits = runs["path"].map(lambda p: (Path(p) / ARRAYS_FILE).is_file()
                                  and "forget_logits" in np.load(Path(p) / ARRAYS_FILE).files)
    runs = runs[has_logits & (runs["status"] == "ok")]
    seeds = sorted(runs.loc[runs["method"] == "retrain", "seed"].unique())
    if not seeds:
        return None
    mine = runs[runs["seed"] == seeds[0]].drop_duplicates("method")
    first = Path(mine["path"].iloc[0])
    with np.load(first / ARRAYS_FILE) as arrays:
        labels = arrays["forget_labels"]
    found = Examples(setting, int(seeds[0]), labels, _forget_images(first, labels))
    for method, path in zip(mine["method"], mine["path"]):
        with np.load(Path(path) / ARRAYS_FILE) as arrays:
            found.member[method], found.confidence[method], found.roc[method], found.auc[method] = (
                model_examples(dict(arrays)))
    return found


# --- plots --------------------------------------------------------------------------------------------------------

def svg(fig: Figure) -> str:
    """The figure as an inline ``<svg>`` element (no XML header, no creation date)."""
    out = io.StringIO()
    fig.savefig(out, format="svg", metadata={"Date": None})
    plt.close(fig)
    text = out.getvalue()
    return text[text.index("<svg"):]


def seed_dots_figure(rows: pd.DataFrame, order: list[str], groups: dict[str, int]) -> Figure:
    """Every ok seed's Avg. Gap as a dot, the mean as a bar, one line per model in the table's order; colour =
    paired-test group."""
    ok = rows[rows["status"] == "ok"]
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(order) + 1.0))
    colors = plt.get_cmap("tab10")
    for y, method in enumerate(order):
        values = ok.loc[ok["method"] == method, "avg_gap"].to_numpy(dtype=float)
        color = colors((groups.get(method, 0)) % 10) if method in groups else "black"
        spread = np.linspace(-0.18, 0.18, len(values)) if len(values) > 1 else np.zeros(len(values))
        ax.scatter(values, y + spread, s=12, color=color, alpha=0.75, linewidths=0)
        if len(values):
            ax.plot([values.mean()] * 2, [y - 0.32, y + 0.32], color="black", linewidth=1.6)
    ax.set_yticks(range(len(order)), [REVERSE.get(m, m) for m in order], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("Avg. Gap to Retrain (each dot a seed, bar the mean; colour: paired-test group)", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def roc_figure(curves: dict[str, np.ndarray], auc: dict[str, float], title: str) -> Figure:
    """ROC curves on ``ROC_POINTS`` (Retrain dashed, black), a log-free linear plot with the chance line."""
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    colors = plt.get_cmap("tab20")
    for i, (name, tpr) in enumerate(sorted(curves.items())):
        reference = name == "retrain"
        ax.plot(ROC_POINTS, tpr, "--" if reference else "-", color="black" if reference else colors(i % 20),
                linewidth=1.6 if reference else 1.0, label=f"{REVERSE.get(name, name)} ({auc[name]:.1f})")
    ax.plot([0, 1], [0, 1], ":", color="grey", linewidth=0.8)
    ax.set_xlabel("false positive rate", fontsize=8)
    ax.set_ylabel("true positive rate", fontsize=8)
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=6, ncol=2, title="model (AUC %)", title_fontsize=6)
    fig.tight_layout()
    return fig


def ulira_curves(runs: pd.DataFrame) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """U-LiRA's ROC per method (unlearned target vs Retrain target over D_f, its recorded scores), the mean TPR over
    the seeds that recorded it, and the record's mean ``ULiRA_AUC``."""
    curves: dict[str, list[np.ndarray]] = {}
    for method, path in zip(runs["method"], runs["path"]):
        file = Path(path) / ARRAYS_FILE
        if not file.is_file():
            continue
        with np.load(file) as arrays:
            if "ulira_scores" not in arrays.files:
                continue
            scores = arrays["ulira_scores"]
        truth = np.stack([np.ones(scores.shape[1]), np.zeros(scores.shape[1])])
        fpr, tpr, _ = roc_curve(truth.ravel(), scores.ravel())
        curves.setdefault(method, []).append(np.interp(ROC_POINTS, fpr, tpr))
    auc = runs.groupby("method")["ULiRA_AUC"].mean().to_dict() if "ULiRA_AUC" in runs else {}
    return {m: np.mean(c, axis=0) for m, c in curves.items()}, {m: auc.get(m, float("nan")) for m in curves}


# --- page data ----------------------------------------------------------------------------------------------------

@dataclass
class Section:
    """One setting of the page: its per-(model, seed) rows and what else it holds."""

    name: str
    rows: pd.DataFrame  # method (original / retrain / the methods), seed, status, UA.., gap_.., avg_gap, rte_s, ...
    examples: Examples | None = None
    figures: dict[str, str] = field(default_factory=dict)  # title -> inline SVG


def sections_from_records(root: str | Path) -> list[Section]:
    """One section per (data, model, scenario, shift) group of the records under ``root``."""
    frame = load_records(root)
    if frame.empty:
        return []
    out = []
    for key, group in frame.groupby(GROUP_KEYS, sort=True):
        if not set(GAP_METRICS) <= set(group.columns):
            print(f"page: {slug(*key)} left out: its records have no {', '.join(GAP_METRICS)} (a generation sweep; "
                  "--format md shows it)", file=sys.stderr)
            continue
        ok = group[group["status"] == "ok"]
        rows = model_rows(ok) if len(ok) else ok
        rows = pd.concat([rows.assign(status="ok"), group[group["status"] != "ok"]], ignore_index=True)
        rows["method"] = rows["method"].replace(REFERENCE_LABELS)
        section = Section(slug(*key), rows, examples_from_records(group, slug(*key)))
        if len(ok) and (fig := relearn_figure(ok)) is not None:
            section.figures["Relearning curves (eval.relearn; mean over seeds)"] = svg(fig)
        curves, auc = ulira_curves(ok)
        if curves:
            section.figures["U-LiRA ROC (unlearned vs Retrain target over D_f; mean over seeds)"] = svg(
                roc_figure(curves, auc, "U-LiRA: unlearned (positive) vs Retrain (negative) on D_f"))
        out.append(section)
    return out


def sections_from_benchmark(folder: str | Path) -> list[Section]:
    """One section per per-seed CSV of a benchmark (``<folder>/seeds/<setting>.csv``), with its examples from
    ``<folder>/examples/<setting>.npz`` where present."""
    folder = Path(folder)
    out = []
    for name, rows in load_seed_tables(folder).items():
        stored = folder / "examples" / f"{name}.npz"
        out.append(Section(name, rows, Examples.load(stored) if stored.is_file() else None))
    return out


def png_uri(image: np.ndarray) -> str:
    """A data URI of one uint8 H x W x C image (grey for one channel)."""
    from PIL import Image  # matplotlib's own dependency; an 8-bit grey PNG is a quarter of imsave's RGBA one

    out = io.BytesIO()
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(out, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def example_payload(found: Examples) -> dict:
    """What the page's script needs for one setting's per-example view."""
    return {"seed": found.seed, "labels": found.labels.tolist(), "images": [png_uri(i) for i in found.images],
            "methods": sorted(m for m in found.member if m != "retrain"),
            "member": {m: "".join("1" if v else "0" for v in d) for m, d in found.member.items()},
            "confidence": {m: np.round(d, 3).tolist() for m, d in found.confidence.items()},
            "has_retrain": "retrain" in found.member}


def section_context(section: Section) -> dict:
    ok = section.rows[section.rows["status"] == "ok"]
    per_seed = {m: dict(zip(g["seed"], g["avg_gap"])) for m, g in ok.groupby("method") if m != "retrain"}
    groups = paired_groups(per_seed)
    table = seed_table(section.rows)
    table.insert(1, "Group", [str(groups.get(REFERENCE_LABELS.get(m, m), "")) for m in table["Method"]])
    order = [REFERENCE_LABELS.get(m, m) for m in table["Method"]]
    figures = {"Avg. Gap per seed": svg(seed_dots_figure(section.rows, order, groups)), **section.figures}
    if section.examples is not None and section.examples.roc:
        found = section.examples
        figures[f"MIA ROC, seed {found.seed}"] = svg(roc_figure(found.roc, found.auc, (
            f"true-label confidence: D_f (positive) vs test images of its classes, seed {found.seed}")))
    return {"name": section.name, "anchor": slug(section.name), "table": table, "figures": figures,
            "seeds": int(ok["seed"].nunique()),
            "examples": example_payload(section.examples) if section.examples is not None else None}


def render_page(sections: list[Section], title: str, source: str) -> str:
    """The page as one HTML string."""
    import jinja2

    from unlearn_bench.report.page_template import TEMPLATE

    claims = claims_frame({s.name: s.rows for s in sections})
    claims = claims[claims["verdict"] != NOT_RUN]
    contexts = [section_context(s) for s in sections]
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return environment.from_string(TEMPLATE).render(
        title=title, source=source, sections=contexts, claims=claims.to_dict("records"),
        examples=json.dumps({c["anchor"]: c["examples"] for c in contexts if c["examples"]}).replace("</", "<\\/"))


def write_page(sections: list[Section], path: str | Path, title: str, source: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_page(sections, title, source))
    return path


def html_main(root: str, output: str | None) -> int:
    """``python -m unlearn_bench.report ROOT --format html [--output FILE]``: the page of a records folder, to FILE
    or stdout."""
    sections = sections_from_records(root)
    if not sections:
        print(f"no record.json with UA, RA, TA and MIA found under {root}", file=sys.stderr)
        return 1
    source = f"the run records under {Path(root).name}/"
    if output:
        print(write_page(sections, output, f"Results: {Path(root).name}", source))
    else:
        print(render_page(sections, f"Results: {Path(root).name}", source))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    bench = commands.add_parser("benchmark", help="the page of a benchmark folder (seeds/*.csv, examples/*.npz)")
    bench.add_argument("folder")
    bench.add_argument("--output", help="default: <folder>/index.html")
    bench.add_argument("--title", default=None)
    ex = commands.add_parser("examples", help="condense one seed's run records into an examples .npz")
    ex.add_argument("runs", help="folder of one setting's run records (searched recursively)")
    ex.add_argument("output", help="the .npz to write (a benchmark's examples/<setting>.npz)")
    ex.add_argument("--setting", required=True, help="the setting's name on the page")
    ex.add_argument("--seed", type=int, help="the seed to condense (default: the smallest with a Retrain run)")
    args = parser.parse_args(argv)
    if args.command == "benchmark":
        sections = sections_from_benchmark(args.folder)
        if not sections:
            print(f"benchmark: no seeds/*.csv under {args.folder}", file=sys.stderr)
            return 2
        output = args.output or str(Path(args.folder) / "index.html")
        write_page(sections, output, args.title or f"Results: {Path(args.folder).name}",
                   f"the per-seed rows of {Path(args.folder).name}/seeds/")
        print(output)
        return 0
    runs = load_records(args.runs)
    if runs.empty:
        print(f"examples: no record.json under {args.runs}", file=sys.stderr)
        return 2
    if args.seed is not None:
        runs = runs[runs["seed"] == args.seed]
    found = examples_from_records(runs, args.setting)
    if found is None:
        print(f"examples: --seed={args.seed}: no ok Retrain run with arrays under {args.runs}", file=sys.stderr)
        return 2
    found.save(Path(args.output))
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
