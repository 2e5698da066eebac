"""Digits image-generation unlearning demo (task=generation): train the class-conditional DDPM and Retrain, forget
one class with each method, print the UA / FID / Acc_gen table, write a comparison grid (rows = models, columns =
classes, same noise per class: SalUn Fig. 3/4 style) and the wall and CPU time of every phase.

    python scripts/run_generation_digits.py                       # retrain ft rl ga esd salun, class 0, seed 0
    python scripts/run_generation_digits.py --methods salun,esd --class-index 3 --out outputs/gen_digits
    python scripts/run_generation_digits.py --threads 1 -- task.train.iterations=400   # extra Hydra overrides

Equivalent one-line sweep through the CLI (then ``python -m unlearn_bench.report DIR --metrics UA,FID_classifier,
Acc_gen``): ``python -m unlearn_bench -m task=generation method=generation/retrain,generation/ft,...``.
The cache (``--cache``, default ``<out>/cache``) holds the classifier, DDPM original and Retrain: a second call
trains nothing.
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

from unlearn_bench.compose import compose_config, data_preset
from unlearn_bench.generation.grids import save_image_table
from unlearn_bench.report.render import render
from unlearn_bench.report.summary import summarize
from unlearn_bench.results import ARRAYS_FILE, load_records
from unlearn_bench.runner import run

DEFAULT_METHODS = "retrain,ft,rl,ga,esd,salun"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def comparison_grid(out: Path, runs: dict[str, Path], class_names: list[str], forgotten: int) -> Path:
    """Row per model (Original, Retrain, each method), column per class: each model's first sample of the class."""
    first_run = np.load(next(iter(runs.values())) / ARRAYS_FILE)
    rows = {"Original": first_run["original_grid"][:, 0], "Retrain": first_run["retrain_grid"][:, 0]}
    for method, folder in runs.items():
        if method != "retrain":
            rows[method] = np.load(folder / ARRAYS_FILE)["generated_images"][:, 0]
    columns = [f"{name}\n(forgotten)" if k == forgotten else name for k, name in enumerate(class_names)]
    return save_image_table(np.stack(list(rows.values())), list(rows), columns, out / "comparison_grid.png",
                            "digits DDPM + CFG: first sample per class (same noise per class across models)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default=DEFAULT_METHODS, help=f"comma-separated (default {DEFAULT_METHODS})")
    parser.add_argument("--class-index", type=int, default=0, help="the digit to forget")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="outputs/generation_digits")
    parser.add_argument("--cache", default=None, help="cache folder (default <out>/cache)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's); 1 is much faster on an oversubscribed machine")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides, after --")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    cache = args.cache or str(out / "cache")
    wall_start, cpu_start = time.perf_counter(), cpu_seconds()
    runs, phases = {}, []
    for method in args.methods.split(","):
        choice = data_preset("digits", f"generation/{method}")
        cfg = compose_config(["task=generation", "data=digits", f"method={choice}",
                              f"scenario.class_index={args.class_index}", f"seed={args.seed}", f"cache_dir={cache}",
                              "progress=false", *args.overrides])
        wall, cpu = time.perf_counter(), cpu_seconds()
        record = run(cfg, output_dir=out / method)
        if record.status != "ok":
            print(f"{method}: {record.status}: {record.error}", file=sys.stderr)
            continue
        runs[method] = out / method
        phases.append((method, time.perf_counter() - wall, cpu_seconds() - cpu, record))
    if not runs:
        return 1
    frame = load_records(out)
    frame = frame[frame["status"] == "ok"]
    print(render(summarize(frame, ("UA", "FID_classifier", "Acc_gen")), "md"))
    first = phases[0][3]
    task_names = [str(k) for k in range(10)]
    grid = comparison_grid(out, runs, task_names, args.class_index)
    print(f"\ncomparison grid: {grid}")
    print(f"per-run grids: {out}/<method>/samples_<model>.png")
    print("\ntimings (s; wall = this process's elapsed time, CPU = its user + system time):")
    print(f"  DDPM original training {first.original_train_s:.1f} wall, Retrain training {first.retrain_train_s:.1f}"
          " wall (the first run builds both, with the classifier original)")
    for method, wall, cpu, record in phases:
        print(f"  {method:10s} run {wall:7.1f} wall {cpu:7.1f} CPU | unlearn (RTE) {record.rte_s:7.1f} | "
              f"sampling + metrics {record.eval_s:6.1f}")
    print(f"  total {time.perf_counter() - wall_start:.1f} wall, {cpu_seconds() - cpu_start:.1f} CPU "
          f"({torch.get_num_threads()} torch threads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
