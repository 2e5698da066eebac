"""A/B of ``method.fidelity=paper`` vs ``official`` on the Fashion-MNIST benchmark (scripts/reproduce_fmnist.py): every
benchmark method with a departure of its official code (``Method.official`` non-empty) at its tuned preset, in the
class-wise and random 10% settings, on held-out seeds of the benchmark. One row per (setting, method, fidelity, seed)
in results/ab/fidelity.csv (with the Original and Retrain of each seed), a table per setting in
results/ab/fidelity.md: mean ± std over the seeds of UA, RA, TA, MIA and Avg. Gap to Retrain, and official - paper
of the Avg. Gap, paired by seed. Finished runs are found in the run cache, so a rerun only writes the tables again.

    OMP_NUM_THREADS=1 python scripts/ab_fidelity.py --seeds 2,3 --jobs 2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from unlearn_bench import benchmark as bench
from unlearn_bench.methods import method_class

RESULTS = bench.ROOT / "results" / "ab"
SETTINGS = ("classwise", "random10")
FIDELITIES = ("paper", "official")
COLUMNS = ["UA", "RA", "TA", "MIA", "avg_gap"]


def methods_with_departures() -> list[str]:
    return [m for m in bench.METHODS if method_class(m).official]


def jobs(seeds: list[int]) -> list[tuple[str, str, str, int]]:
    """(setting, method, fidelity, seed); Retrain first per seed (it builds the seed's original and Retrain)."""
    return [(s, "retrain", "paper", seed) for s in SETTINGS for seed in seeds] + [
        (s, m, f, seed) for s in SETTINGS for m in methods_with_departures() for f in FIDELITIES for seed in seeds]


def run_job(job: tuple[str, str, str, int], outputs: Path) -> list[dict]:
    """The rows of one run: the method's; for Retrain's run the Original's and Retrain's (``fidelity`` empty)."""
    setting, method, fidelity, seed = job
    preset = "retrain" if method == "retrain" else f"fmnist/{setting}/{method}"
    overrides = [*bench.setting_overrides(setting), f"method={preset}", f"seed={seed}",
                 *([f"method.fidelity={fidelity}"] if method != "retrain" else [])]
    result = bench.run_one(overrides, str(outputs / setting / f"seed{seed}" / f"{method}_{fidelity}"))
    rows = bench.seed_rows(setting, method, seed, result, preset, "")
    return [{"setting": setting, "method": row["method"], "fidelity": "" if method == "retrain" else fidelity,
             "seed": seed, "status": row["status"], **{k: row[k] for k in COLUMNS}} for row in rows]


def table(frame: pd.DataFrame, command: str) -> str:
    seeds = ", ".join(map(str, sorted(frame["seed"].unique())))
    parts = [f"# A/B: method.fidelity (paper = default, official = every departure of the official code)\n\n"
             f"The Fashion-MNIST benchmark's tuned presets (conf/method/fmnist/<setting>/), held-out seeds {seeds}; "
             "metrics in %, mean ± std (ddof 1) over the seeds; Avg. Gap to Retrain as SalUn's. What `official` "
             "changes per method: its recipe cards (conf/cards/) and `Method.official`. Made by:\n\n    "
             + command + "\n"]
    for setting, group in frame.groupby("setting", sort=False):
        rows = []
        for (method, fidelity), runs in group.fillna({"fidelity": ""}).groupby(["method", "fidelity"], sort=False):
            cells = {c: f"{runs[c].mean():.2f} ± {runs[c].std(ddof=1):.2f}" for c in COLUMNS}
            rows.append({"method": method, "fidelity": fidelity, **cells, "seeds": len(runs)})
        paired = group[group["fidelity"].isin(FIDELITIES)].pivot_table(index=["method", "seed"], columns="fidelity",
                                                                        values="avg_gap")
        diff = (paired["official"] - paired["paper"]).groupby("method").agg(["mean", "min", "max"])
        parts.append(f"## {setting}\n\n{pd.DataFrame(rows).to_markdown(index=False)}\n\nAvg. Gap, official - paper "
                     f"(paired by seed):\n\n{diff.round(2).to_markdown()}\n")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="2,3", help="held-out seeds of the benchmark (2..11)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (one thread each)")
    parser.add_argument("--outputs", default="outputs/ab", help="run folders (relative to the repo root)")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    outputs = bench.ROOT / args.outputs
    command = f"OMP_NUM_THREADS=1 python scripts/ab_fidelity.py --seeds {args.seeds} --jobs {args.jobs}"
    rows: list[dict] = []
    progress = bench.Progress(sum(job[1] != "retrain" for job in jobs(seeds)))
    with bench.worker_pool(args.jobs, bench.ROOT) as pool:
        for seed in seeds:  # the tables are written after each seed: a stopped sweep keeps the seeds it finished
            todo = jobs([seed])
            references = [row for f in [pool.submit(run_job, j, outputs) for j in todo if j[1] == "retrain"]
                          for row in f.result()]
            futures = [pool.submit(run_job, j, outputs) for j in todo if j[1] != "retrain"]
            for job, future in zip([j for j in todo if j[1] != "retrain"], futures):
                rows.extend(future.result())
                progress.tick(" ".join(map(str, job)))
            rows[:0] = references
            frame = pd.DataFrame(rows)
            RESULTS.mkdir(parents=True, exist_ok=True)
            frame.to_csv(RESULTS / "fidelity.csv", index=False)
            (RESULTS / "fidelity.md").write_text(table(frame, command))
    print(table(frame, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
