"""A/B of the paper-vs-repo options of RL / SalUn / BE on real Fashion-MNIST.

Each option is run in both arms, paper default (A) and the SalUn repo's behaviour (B), on the same seeds, through
the harness (``python -m unlearn_bench -m ...``, one Hydra multirun per option and scenario with a fixed
``hydra.sweep.dir`` under ``--out``). The original and Retrain are cached by the harness, so both arms of a seed
share them. Then the records are read back and ``results/ab/<option>.md`` gets, per arm, mean ± std (ddof 0) over
seeds of UA, RA, TA, MIA and Avg. Gap, and the per-seed paired difference B - A.

    OMP_NUM_THREADS=1 python scripts/ab_options.py --seeds 0,1,2 --out outputs/ab --results results/ab

Options (method presets: the digits ones, whose lr / batch size were chosen for a small training set; the
Fashion-MNIST subset here is of that size):
- layout (SalUn): ``passes`` (SalUn repo, CIFAR-10 / SVHN path) vs ``mixed`` (repo, CIFAR-100 / Tiny-ImageNet);
- relabel (RL): ``fixed`` (SalUn Eq. 6, y' != y, drawn once) vs ``per_batch`` (repo, ``randint`` per batch);
- keep_shadow_unit (BE): ``false`` (K outputs) vs ``true`` (repo: the K+1-output model is evaluated).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from unlearn_bench.results import load_records

OPTIONS = {
    "layout": {"method": "digits/salun", "values": ("passes", "mixed"), "extra": ["method.epochs=5"]},
    "relabel": {"method": "digits/rl", "values": ("fixed", "per_batch"), "extra": ["method.epochs=5"]},
    "keep_shadow_unit": {"method": "digits/be", "values": ("false", "true"), "extra": []},
}
METRICS = ("UA", "RA", "TA", "MIA")


def command(option: str, scenario: str, seeds: str, out: Path, common: list[str]) -> list[str]:
    spec = OPTIONS[option]
    return [sys.executable, "-m", "unlearn_bench", "-m", *common, f"scenario={scenario}",
            f"method={spec['method']}", *spec["extra"], f"method.{option}={','.join(spec['values'])}",
            f"seed={seeds}", "progress=false", f"hydra.sweep.dir={out / option / scenario}"]


def arm_of(params: str, option: str) -> str:
    value = json.loads(params)[option]
    return str(value).lower() if isinstance(value, bool) else str(value)


def table(frame: pd.DataFrame, option: str) -> str:
    a, b = OPTIONS[option]["values"]
    frame = frame.assign(arm=[arm_of(p, option) for p in frame["method_params"]])
    cols = [*METRICS, "avg_gap"]
    names = [*METRICS, "Avg. Gap"]
    lines = ["| Arm | Seeds | " + " | ".join(names) + " |", "|:--|--:|" + "--:|" * len(cols)]
    for arm in (a, b):
        part = frame[frame["arm"] == arm]
        cells = [f"{part[c].mean():.2f} ± {part[c].std(ddof=0):.2f}" for c in cols]
        lines.append(f"| {option}={arm} | {len(part)} | " + " | ".join(cells) + " |")
    ref = frame.drop_duplicates("seed").sort_values("seed")
    for label, prefix in (("Original", "original_"), ("Retrain", "retrain_")):
        cells = [f"{ref[prefix + c].mean():.2f} ± {ref[prefix + c].std(ddof=0):.2f}" for c in METRICS]
        lines.append(f"| {label} | {len(ref)} | " + " | ".join(cells) + " | |")
    pivot = frame.pivot_table(index="seed", columns="arm", values=cols)
    lines += ["", f"Per-seed paired difference ({option}={b}) - ({option}={a}):", "",
              "| Seed | " + " | ".join(names) + " |", "|--:|" + "--:|" * len(cols)]
    diffs = pd.DataFrame({c: pivot[(c, b)] - pivot[(c, a)] for c in cols})
    for seed, row in diffs.iterrows():
        lines.append(f"| {seed} | " + " | ".join(f"{row[c]:+.2f}" for c in cols) + " |")
    lines.append("| mean ± std | " + " | ".join(f"{diffs[c].mean():+.2f} ± {diffs[c].std(ddof=0):.2f}"
                                                for c in cols) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--options", default=",".join(OPTIONS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--scenarios", default="random10", help="comma-separated; BE also accepts classwise")
    parser.add_argument("--out", default="outputs/ab")
    parser.add_argument("--results", default="results/ab")
    parser.add_argument("--overrides", default="data=fashion_mnist data.train_subset=3000 train.epochs=5",
                        help="space-separated overrides for every run")
    parser.add_argument("--report-only", action="store_true", help="read existing records, run nothing")
    args = parser.parse_args()
    out, results = Path(args.out), Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    for option in args.options.split(","):
        sections = []
        for scenario in args.scenarios.split(","):
            cmd = command(option, scenario, args.seeds, out, args.overrides.split())
            start = time.perf_counter()
            if not args.report_only:
                subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
            wall = time.perf_counter() - start
            frame = load_records(out / option / scenario)
            frame = frame[frame["status"] == "ok"]
            shown = " ".join(shlex.quote(c) for c in ["OMP_NUM_THREADS=1", "python", *cmd[1:]])
            sections.append(f"## scenario={scenario}\n\n{table(frame, option)}\n\nCommand:\n\n```\n{shown}\n```\n\n"
                            f"Wall time of this command: {wall:.0f} s (one process, one torch thread; includes "
                            "building the cached original and Retrain of each seed when not cached yet)."
                            if not args.report_only else f"## scenario={scenario}\n\n{table(frame, option)}")
        a, b = OPTIONS[option]["values"]
        head = (f"# A/B: method.{option} ({a} = paper / harness default, {b} = SalUn repo) on Fashion-MNIST\n\n"
                f"Method preset `{OPTIONS[option]['method']}` ({' '.join(OPTIONS[option]['extra']) or 'as is'}), "
                f"overrides `{args.overrides}`, seeds {args.seeds}. Written by scripts/ab_options.py; metrics in %, "
                "mean ± std over seeds (ddof 0); Avg. Gap = mean |metric - Retrain's| over UA, RA, TA, MIA.\n")
        (results / f"{option}.md").write_text(head + "\n" + "\n\n".join(sections) + "\n")
        print(f"wrote {results / f'{option}.md'}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
