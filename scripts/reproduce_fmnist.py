"""The CPU benchmark on real Fashion-MNIST (``make reproduce-fmnist``): tune every method against Retrain in every
setting, report it on ten held-out seeds, and test each paper's claim by paired tests. Lands in results/fmnist/.

The protocol (settings, budget, seeds, search, rows, report) is ``unlearn_bench.benchmark``; this drives it for
every baseline, each stage resumable (the run cache skips finished runs; the committed outputs skip finished work):
1. ``tune``: the best of each search becomes conf/method/fmnist/<setting>/<method>.yaml; every trial goes to
   results/fmnist/tuning/<setting>.csv.
2. ``eval``: Retrain and every preset on the held-out seeds; one row per (method, seed) in
   results/fmnist/seeds/<setting>.csv. ``classwise_gn1``: Retrain, FT, RL and GA (Forget Vector Fig. 2 / A1) under
   Gaussian noise on the class-wise presets.
3. ``report``: from the per-seed CSVs alone: one table per setting, overview.md, tuning.md and claims.md.

Runs go to two worker processes (``--jobs``) of one intra-op thread each, each importing the package once.

    python scripts/reproduce_fmnist.py                              # all stages, every setting
    python scripts/reproduce_fmnist.py --settings random10 --stages tune,eval
    python scripts/reproduce_fmnist.py --stages report              # tables and claims from the committed CSVs
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from unlearn_bench.benchmark import (
    RESULTS,
    ROOT,
    SETTINGS,
    SHIFTED,
    Progress,
    eval_stage,
    planned_runs,
    tune_stage,
    worker_pool,
    write_report,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stages", default="tune,eval,report", help="comma-separated: tune, eval, report")
    parser.add_argument("--settings", default=",".join([*SETTINGS, *SHIFTED]),
                        help=f"comma-separated, run in this order; of {', '.join([*SETTINGS, *SHIFTED])}")
    parser.add_argument("--outputs", default="outputs/fmnist", help="run folders (relative to the repo root)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (one thread each)")
    args = parser.parse_args(argv)
    stages, settings = args.stages.split(","), args.settings.split(",")
    unknown = [s for s in settings if s not in SETTINGS and s not in SHIFTED]
    if unknown or not set(stages) <= {"tune", "eval", "report"}:
        parser.error(f"--settings {unknown} / --stages {stages}: allowed settings {[*SETTINGS, *SHIFTED]}, "
                     "stages tune, eval, report")
    outputs = ROOT / args.outputs
    meta_path = RESULTS / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    walls = meta.setdefault("wall_s", {})
    if {"tune", "eval"} & set(stages):
        progress = Progress(planned_runs(settings, stages))
        with worker_pool(args.jobs, ROOT) as pool:
            for name in settings:
                for stage in ("tune", "eval"):
                    if stage in stages and (stage == "eval" or name in SETTINGS):
                        start = time.perf_counter()
                        runs = (tune_stage if stage == "tune" else eval_stage)(pool, progress, name, outputs)
                        if runs:  # a stage that found its work done keeps the time it took when it ran
                            walls[f"{stage} {name}"] = {"s": round(time.perf_counter() - start, 1), "runs": runs}
                            meta.update(jobs=args.jobs, threads_per_job=1)
                            meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    if "report" in stages:
        start = time.perf_counter()
        write_report()
        walls["report"] = round(time.perf_counter() - start, 1)
        meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
