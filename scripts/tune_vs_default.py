"""Default vs tuned hyper-parameters, scored on held-out seeds (issue: tuning against Retrain).

For each scenario and method: tune on one seed (``tune=<method>``, TPE, ``--trials`` trials), write the best trial
as a preset (in the user's config folder, <conf-local>/method/tuned/: unlearn_bench/conf_local.py), then run the
default and the tuned method on the held-out seeds and print the Avg. Gap of both (mean ± std over those seeds) with
the tuning-seed objective beside them.

    python scripts/tune_vs_default.py --data digits --scenarios random10,classwise --methods ft,ga,rl,iu,salun \\
        --trials 8 --tune-seed 0 --seeds 1,2,3 --out outputs/tune_vs_default [--overrides data.train_subset=10000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from unlearn_bench.results import load_records
from unlearn_bench.tune import best_trial, load_trials, write_preset


def unlearn_bench(*overrides: str) -> None:
    subprocess.run([sys.executable, "-m", "unlearn_bench", *overrides, "progress=false"], check=True,
                   stdout=subprocess.DEVNULL)


def cell(values: pd.Series) -> str:
    return f"{values.mean():.2f} ± {values.std(ddof=0):.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="digits")
    parser.add_argument("--scenarios", default="random10,classwise")
    parser.add_argument("--methods", default="ft,ga,rl,iu,salun")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--tune-seed", type=int, default=0, help="the run seed the trials are scored on")
    parser.add_argument("--seeds", default="1,2,3", help="held-out seeds")
    parser.add_argument("--out", default="outputs/tune_vs_default")
    parser.add_argument("--overrides", default="", help="space-separated overrides for every run (data.train_subset=N)")
    args = parser.parse_args()
    out = Path(args.out)
    rows = []
    for scenario in args.scenarios.split(","):
        for method in args.methods.split(","):
            start = time.perf_counter()
            common = [f"data={args.data}", f"scenario={scenario}", *args.overrides.split()]
            sweep = out / "tune" / scenario / method
            unlearn_bench("-m", f"tune={method}", *common, f"seed={args.tune_seed}", f"tune.n_trials={args.trials}",
                          f"hydra.sweep.dir={sweep}")
            trials = load_trials(sweep)
            preset = write_preset(trials, sweep)
            for label, choice in (("default", f"method={method}"), ("tuned", f"method=tuned/{preset.stem}")):
                unlearn_bench("-m", choice, *common, f"seed={args.seeds}",
                              f"hydra.sweep.dir={out / 'heldout' / scenario / method / label}")
            held = {label: load_records(out / "heldout" / scenario / method / label)
                    for label in ("default", "tuned")}
            best = best_trial(trials)
            rows.append({"scenario": scenario, "method": method,
                         "default (held-out)": cell(held["default"]["avg_gap"]),
                         "tuned (held-out)": cell(held["tuned"]["avg_gap"]),
                         f"tuned (seed {args.tune_seed})": f"{best['objective']:.2f}",
                         "trials": len(trials), "preset": preset.stem, "minutes": (time.perf_counter() - start) / 60})
            print(pd.DataFrame(rows[-1:]).to_markdown(index=False, floatfmt=".1f"), flush=True)
    table = pd.DataFrame(rows).to_markdown(index=False, floatfmt=".1f")
    (out / "table.md").write_text(table + "\n")
    print(f"\nAvg. Gap to Retrain on {args.data}, held-out seeds {args.seeds}:\n\n{table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
