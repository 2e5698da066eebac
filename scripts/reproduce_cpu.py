"""Run the ``*_cpu`` paper presets and write their tables and figures into results/cpu/<preset>/ (``make
reproduce-cpu``).

For each preset: the sweep (``python -m unlearn_bench experiment=<preset>``, sweep folder under ``--outputs``; the
content-addressed cache makes a rerun skip finished runs), then ``python -m unlearn_bench.report`` into
``results/cpu/<preset>/table.md`` and ``table.csv`` with the paper table the preset stands in for beside ours
(``--reference <paper>:<table>:<data>:<model>``, the data and model of the full-scale preset ``<preset minus
_cpu>``; the block is titled "stand-in": digits are not CIFAR), and its figures into ``figures/`` (PNG and PDF).
``meta.json`` there holds the commands, the reference and the sweep's wall time; ``results/cpu/README.md`` is
rewritten from every ``meta.json`` present, and lists the ``*_cpu`` presets that have not been run.

    python scripts/reproduce_cpu.py                              # the default presets (main-text tables first)
    python scripts/reproduce_cpu.py --presets sure_table1_cpu    # one preset
    python scripts/reproduce_cpu.py --report-only                # tables and figures again, from the sweeps
    UNLEARN_BENCH_CACHE=.cache/cpu python scripts/reproduce_cpu.py --outputs outputs/cpu_sweeps
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from unlearn_bench.compose import compose_config
from unlearn_bench.config import CONF_DIR
from unlearn_bench.errors import ConfigError
from unlearn_bench.report.papers import load_reference, parse_reference, preset_table
from unlearn_bench.report.summary import POOLED_SCENARIOS
from unlearn_bench.results import RECORD_FILE

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "cpu"
DEFAULT_PRESETS = ["salun_table1_cpu", "unlink_table2_cpu", "jit_table2b_cpu", "sure_table1_cpu",
                   "forget_vector_table1_random_cpu", "forget_vector_table1_classwise_cpu", "salun_tablea6_cpu"]


# Paper presets with no *_cpu twin, and why; the twin named shows the same scenario and methods on a CNN.
_VIT = ("ViT-B/16 fine-tuned from an ImageNet checkpoint, which is not available offline; a ViT trained from "
        "scratch on 1,437 digits is not that setting. The same scenario on VGG: ")
_SWIN = "Swin-T, pretraining not stated; a from-scratch Swin-T on digits is not that setting. The same scenario: "
_SD = ("Stable Diffusion v1.4 weights are not available offline (task.pipeline=tiny builds a random pipeline whose "
       "UA and FID mean nothing). Class-wise forgetting in a DDPM on digits: ")
NO_STAND_IN = {
    "jit_table2a": _VIT + "`jit_table2b_cpu`", "jit_table3b": _VIT + "`jit_table3a_cpu`",
    "jit_table4b": _VIT + "`jit_table4a_cpu`", "jit_table7": _VIT + "`jit_table9_cpu`",
    "jit_table8": _VIT + "`jit_table11_cpu`", "salun_tablea10": _SWIN + "`salun_tablea6_cpu`",
    "unlink_table14": _SWIN + "`unlink_table2_cpu`", "salun_table2": _SD + "`salun_tablea5_cpu`",
    "unlink_table4": _SD + "`salun_tablea5_cpu`",
}


def cpu_presets() -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / "experiment").glob("*_cpu.yaml"))


def stand_in_reference(preset: str) -> str | None:
    """``<paper>:<table>:<data>:<model>`` of the table a ``*_cpu`` preset stands in for: the table named by the
    preset, at the data and model of the full-scale preset; None (with a message) if the reference CSVs have no
    such rows."""
    paper, table = preset_table(preset) or (None, None)
    if paper is None:
        print(f"{preset}: the name names no paper table; no reference", file=sys.stderr)
        return None
    full = compose_config([f"experiment={preset.removesuffix('_cpu')}"])
    if full.task.name != "classification":  # generation: the diffusion model (ddpm, sd), not the classifier
        model = full.task.model
    else:
        model = full.data.default_model if full.model.name == "auto" else full.model.name
    try:
        choice = parse_reference(f"{paper}:{table}:{full.data.name}:{model}")
    except ConfigError as err:
        print(f"{preset}: no stand-in reference ({err})", file=sys.stderr)
        return None
    return f"{choice.paper}:{choice.table}:{choice.data}:{choice.model}"


def run(command: list[str]) -> None:
    print("+", shlex.join(command), flush=True)
    subprocess.run(command, check=True, cwd=ROOT)


def reproduce(preset: str, outputs: Path, results: Path, overrides: list[str], report_only: bool = False) -> dict:
    """Sweep one preset (with extra Hydra ``overrides``), then its tables and figures; returns (and writes) its
    meta.json. ``report_only``: remake the tables and figures from the sweep already in ``outputs``, keeping the
    sweep's wall time from the existing meta.json."""
    sweep_dir = outputs / preset
    sweep = ["python", "-m", "unlearn_bench", f"experiment={preset}", "progress=false",
             f"hydra.sweep.dir={sweep_dir}/${{scenario.name}}", *overrides]
    folder = results / preset
    folder.mkdir(parents=True, exist_ok=True)
    reference = stand_in_reference(preset) or "none"
    report = ["python", "-m", "unlearn_bench.report", str(sweep_dir), "--reference", reference]
    if report_only:
        if not (folder / "meta.json").is_file() or not (ROOT / sweep_dir).is_dir():
            raise SystemExit(f"--report-only: {preset} has no earlier sweep ({sweep_dir}) or meta.json; run it first")
        earlier = json.loads((folder / "meta.json").read_text())
        wall_s, sweep_rev = earlier["wall_s"], earlier.get("sweep_git_rev", earlier["git_rev"])
    else:
        start = time.perf_counter()
        run([sys.executable, *sweep[1:]])
        wall_s = time.perf_counter() - start
    for stale in folder.glob("table_pooled.*"):
        stale.unlink()
    run([sys.executable, *report[1:], "--format", "md", "--output", str(folder / "table.md"),
         "--figures", str(folder / "figures")])
    run([sys.executable, *report[1:], "--format", "csv", "--output", str(folder / "table.csv")])
    pooled = per_class_sweeps(ROOT / sweep_dir) > 1
    if pooled:  # one class / sub-class per folder: also their mean, as the papers' averaged rows
        for fmt in ("md", "csv"):
            run([sys.executable, *report[1:], "--pool-classes", "--format", fmt,
                 "--output", str(folder / f"table_pooled.{fmt}")])
    copy_sample_grids(ROOT / sweep_dir, folder / "figures")
    paper, table = preset_table(preset) or ("", "")
    meta = {"preset": preset, "paper": paper, "table": reference.split(":")[1] if reference != "none" else table,
            "reference": reference, "sweep": shlex.join(sweep), "report": shlex.join(report), "pooled": pooled,
            "wall_s": round(wall_s, 1), "date": time.strftime("%Y-%m-%d"),
            "git_rev": subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                                      cwd=ROOT).stdout.strip()}
    if report_only:
        meta["sweep_git_rev"] = sweep_rev
    (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def per_class_sweeps(sweep_dir: Path) -> int:
    """How many of a preset's sweep folders hold the runs of one class or sub-class (``classwise_<k>``,
    ``subclass_<name>``); Hydra also leaves its multirun.yaml in a folder named after the base config's class."""
    return sum(1 for d in sweep_dir.iterdir() if d.is_dir() and any(d.glob(f"*/{RECORD_FILE}"))
               and any(re.fullmatch(pattern, d.name) for pattern in POOLED_SCENARIOS))


def copy_sample_grids(sweep_dir: Path, figures: Path) -> None:
    """A generation sweep's per-class sample grids (SalUn Fig. 4's view, ``samples_<model>.png`` beside each record)
    into ``figures/``, replacing older copies: each method's once, the original's and Retrain's once (the same in
    every run of a scenario)."""
    copied = set()
    for grid in sorted(sweep_dir.glob("*/*/samples_*.png")):
        target = figures / f"{grid.parent.parent.name}_{grid.name}"
        if target not in copied:
            figures.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(grid, target)
            copied.add(target)


def paper_table_label(preset: str) -> str:
    """``salun Table A6`` for ``salun_tablea6[_cpu]``: the table's label as the reference CSVs print it;
    ``forget_vector Fig. 3`` for a figure preset (``forget_vector_fig3``)."""
    figure = re.match(r"^(?P<paper>[a-z_]+?)_fig(?P<figure>\w+?)(?:_cpu)?$", preset)
    if figure:
        return f"{figure['paper']} Fig. {figure['figure'].upper()}"
    paper, table = preset_table(preset) or (preset, "")
    labels = load_reference().query("paper == @paper")["table"].unique()
    return f"{paper} Table {next((t for t in labels if t.lower() == table), table)}"


def write_readme(results: Path) -> None:
    """results/cpu/README.md: every paper-table preset with its CPU stand-in and, where one ran (a
    ``<preset>/meta.json``), its tables, figures, commands and wall time."""
    metas = {m["preset"]: m for m in (json.loads(p.read_text()) for p in sorted(results.glob("*/meta.json")))}
    lines = [
        "# CPU reproductions: what the harness outputs, on digits and Fashion-MNIST",
        "",
        "Each `*_cpu` preset runs the methods and scenario type of a paper table on the bundled digits data (small",
        "CNN, 3 seeds unless its command says otherwise) on a shared 2-core CPU; the sub-class tables (JiT 3a, 11,",
        "Unlink 3, 9) run on real Fashion-MNIST grouped into 5 garment super-classes (`data=fashion_mnist5`, a",
        "3,000-image training subset). `table.md` / `table.csv` hold our",
        "table and, under it, the paper table the preset stands in for (`--reference <paper>:<table>:<data>:<model>`,",
        "titled \"stand-in\"): data and model differ, so `Ours − Paper` shows how our data differ from the paper's",
        "setting, not whether the paper was reproduced. RTE and wall times were measured on a loaded shared machine:",
        "read them as rough. Regenerate with `make reproduce-cpu` (scripts/reproduce_cpu.py; models are cached in",
        "`UNLEARN_BENCH_CACHE`, so a rerun only evaluates). `figures/`: `unlink_fig1_*` (mean of UA, RA, TA, MIA vs",
        "RTE), `per_class_*` (per-class accuracy on D_f and the test set), `salun_fig2a_*` (gap to Retrain vs",
        "forgetting ratio), `forget_vector_fig3_*` (heat maps over two swept forget_vector_compositional parameters);",
        "see unlearn_bench/report/figures.py. `table_pooled.md` (sweeps over several classes or sub-classes): the runs",
        "pooled per method (`report --pool-classes`), as the papers' averaged rows.",
        "One run per scenario type (every forget-set kind and evaluation shift):",
        "[scenarios.md](scenarios.md), from scripts/scenarios_cpu.py.",
        "",
        "| paper table | preset (paper setting) | CPU stand-in | CPU tables and figures | sweep wall time |",
        "|---|---|---|---|---|",
    ]
    cpu = set(cpu_presets())
    presets = [p.stem for p in (CONF_DIR / "experiment").glob("*.yaml") if not p.stem.endswith("_cpu")]
    for preset in sorted(presets, key=lambda name: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]):
        twin = f"{preset}_cpu" if f"{preset}_cpu" in cpu else None
        meta = metas.get(twin or "")
        figures = f", [figures]({twin}/figures/)" if meta and any((results / twin / "figures").glob("*.png")) else ""
        pooled = f", [pooled]({twin}/table_pooled.md)" if meta and meta.get("pooled") else ""
        ran = (f"[table]({twin}/table.md), [csv]({twin}/table.csv){pooled}{figures}" if meta
               else "not run" if twin else "")
        wall = f"{meta['wall_s'] / 60:.1f} min" if meta else ""
        stand_in = f"`{twin}`" if twin else f"— ({NO_STAND_IN[preset]})" if preset in NO_STAND_IN else "—"
        lines.append(f"| {paper_table_label(preset)} | `{preset}` | {stand_in} | {ran} | {wall} |")
    lines += ["", "## Commands that made these files", ""]
    for meta in metas.values():
        swept = f"; swept at git {meta['sweep_git_rev']}" if "sweep_git_rev" in meta else ""
        lines += [f"`{meta['preset']}` ({meta['date']}, git {meta['git_rev']}{swept}):", "",
                  f"    {meta['sweep']}", f"    {meta['report']} --format md --output table.md --figures figures",
                  f"    {meta['report']} --format csv --output table.csv"]
        if meta.get("pooled"):
            lines += [f"    {meta['report']} --pool-classes --format {fmt} --output table_pooled.{fmt}"
                      for fmt in ("md", "csv")]
        lines += [""]
    (results / "README.md").write_text("\n".join(lines).rstrip() + "\n")


def repo_relative(path: str) -> Path:
    """``path`` relative to the repo root (where the sweeps run), as meta.json and README.md record the commands: an
    absolute --outputs would otherwise put a folder of this machine into committed files."""
    return Path(os.path.relpath(path, ROOT)) if Path(path).is_absolute() else Path(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", default=",".join(DEFAULT_PRESETS),
                        help="comma-separated *_cpu presets (default: the main-text tables, then salun_tablea6_cpu)")
    parser.add_argument("--outputs", default="outputs/reproduce_cpu",
                        help="sweep folders (records, arrays; not committed); a relative path is below the repo root")
    parser.add_argument("--results", default=str(RESULTS), help="where tables, figures and README.md go")
    parser.add_argument("--override", action="append", default=[], dest="overrides",
                        help="extra Hydra override for every sweep, e.g. hydra.sweeper.params.seed=0 (repeatable)")
    parser.add_argument("--report-only", action="store_true",
                        help="remake tables and figures from the sweeps already in --outputs (no training)")
    args = parser.parse_args(argv)
    presets = args.presets.split(",")
    unknown = [p for p in presets if p not in cpu_presets()]
    if unknown:
        print(f"--presets: {unknown} are not *_cpu presets; allowed: {cpu_presets()}", file=sys.stderr)
        return 2
    results = Path(args.results)
    for preset in presets:
        reproduce(preset, repo_relative(args.outputs), results, args.overrides, args.report_only)
        write_readme(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
