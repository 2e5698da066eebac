"""One CPU run per scenario type on the bundled digits data: every kind of forget set and evaluation shift the five
papers use, end to end (original, Retrain, method, metrics), with the table printed and written to --out.

    python scripts/scenarios_cpu.py [--method salun] [--seed 0] [--out outputs/scenarios_cpu]

Sub-class forgetting needs super-classes, which digits lacks: it runs on data=fashion_mnist5 (real Fashion-MNIST
in 5 garment super-classes) in the jit_table3a_cpu, jit_table11_cpu, unlink_table3_cpu and unlink_table9_cpu
presets (results/cpu/), and on a fake CIFAR-20 copy in tests/test_subclass_run.py.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from unlearn_bench.compose import data_preset
from unlearn_bench.results import RECORD_FILE, load_records, read_record

# (label, the paper setting it stands in for, overrides)
SETTINGS = [
    ("random 10%", "SalUn T1, A6 (10-50%)", ["scenario=random10"]),
    ("random 50%", "SalUn T1, A6", ["scenario=random50"]),
    ("random, 100 examples", "JiT, SURE (fixed size)", ["scenario=random_n100"]),
    ("random, 10 examples", "JiT, SURE (fixed size)", ["scenario=random_n10"]),
    ("class-wise", "SalUn A2, Unlink T2, JiT T2, FV T1", ["scenario=classwise", "scenario.class_index=3"]),
    ("multi-class", "Unlink T11", ["scenario=multiclass", "scenario.classes=[3,8]"]),
    ("partial class, 50 examples", "SURE T1", ["scenario=partial_class", "scenario.class_index=3",
                                               "scenario.size=50"]),
    ("worst case, 50 examples", "JiT T6", ["scenario=worst_case", "scenario.class_index=1"]),
    *[(f"iterative 5x10%, round {k}", "SalUn A3", ["scenario=iterative", f"scenario.round={k}"]) for k in range(1, 6)],
    ("resolving confusion (10% of 0/1, 30-epoch original)", "SURE T2",
     ["scenario=confusion", "scenario.ratio=0.1", "train.epochs=30"]),
    ("random 10%, eval under GN1", "FV T1/T2 (Gaussian noise 0.08)", ["scenario=random10", "eval=gn1"]),
    ("random 10%, eval under ET1", "FV T1/T2 (elastic)", ["scenario=random10", "eval=et1"]),
    ("random 10%, eval under PGD", "FV T1 (7-step PGD, 8/255)", ["scenario=random10", "eval=pgd"]),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", default="salun")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="outputs/scenarios_cpu")
    args = parser.parse_args()
    out = Path(args.out)
    rows = []
    for k, (label, paper, overrides) in enumerate(SETTINGS):
        run_dir = out / f"{k:02d}"
        start = time.perf_counter()
        method = data_preset("digits", args.method)
        subprocess.run([sys.executable, "-m", "unlearn_bench", "data=digits", f"method={method}",
                        f"seed={args.seed}", "progress=false", f"hydra.run.dir={run_dir}", *overrides],
                       check=True, stdout=subprocess.DEVNULL)
        record = load_records(run_dir).iloc[0]
        forget_size = read_record(run_dir / RECORD_FILE).forget_size
        extra = ", ".join(f"{m} {record[m]:.1f}" for m in ("CTA", "Forget_Err", "IC_ERR_test")
                          if m in record and pd.notna(record[m]))
        rows.append({"setting": label, "stands in for": paper, "scenario": record["scenario"],
                     "shift": record["shift"], "|D_f|": forget_size, "status": record["status"],
                     "UA": record["UA"], "Retrain UA": record["retrain_UA"], "RA": record["RA"], "TA": record["TA"],
                     "MIA": record.get("MIA"), "Avg. Gap": record["avg_gap"], "other": extra,
                     "s": time.perf_counter() - start})
        print(pd.DataFrame(rows[-1:]).to_markdown(index=False, floatfmt=".2f"), flush=True)
    table = pd.DataFrame(rows).to_markdown(index=False, floatfmt=".2f")
    (out / "table.md").write_text(table + "\n")
    print(f"\n{args.method} on digits, seed {args.seed}, one run per scenario type:\n\n{table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
