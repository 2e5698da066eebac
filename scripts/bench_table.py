"""Wall time of one full CPU table, split into references, unlearning, evaluation and attacks, with a cold cache
(everything trained) and then a warm one (originals, Retrains, shadows and reference evaluations cached).

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_table.py            # the Fashion-MNIST table (expensive)
    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_table.py --quick    # tiny subset, three methods

Default table: the Fashion-MNIST benchmark's (data=fmnist_bench model=lenet5, results/fmnist/), scenario=random10,
methods retrain, ft, ga, rl, salun (their tuned presets fmnist/random10/<method> where they exist), seed 0, the
default evaluation (MIA inside it) plus U-LiRA with 4 shadows as the attack.
Per phase, from the run records: references = original + Retrain training (only where this run built them), unlearning
= ``rte_s`` (Retrain's own row: its training, counted under references), evaluation = ``eval_s`` (original, Retrain,
unlearned model; MIA included), attacks = ``ULiRA_s`` + ``Challenge_s``; other = the rest of ``wall_s`` (data, cache).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from unlearn_bench.compose import compose_config, data_preset
from unlearn_bench.runner import run
from unlearn_bench.runtime import provenance

PHASES = ("references", "unlearning", "evaluation", "attacks", "other")


def breakdown(record) -> dict[str, float]:
    refs = sum(s for s, cached in ((record.original_train_s, record.extra.get("original_cached")),
                                   (record.retrain_train_s, record.extra.get("retrain_cached"))) if not cached)
    unlearning = 0.0 if record.method == "retrain" else record.rte_s
    attacks = sum(record.metrics.get(k, 0.0) for k in ("ULiRA_s", "Challenge_s"))
    out = {"references": refs, "unlearning": unlearning, "evaluation": record.eval_s, "attacks": attacks}
    out["other"] = record.wall_s - sum(out.values())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000-image subset, 3 methods, "
                        "3 epochs, 4 shadows")
    parser.add_argument("--methods", nargs="+", default=None)
    parser.add_argument("--cache", default=None, help="cache folder (default: a new temp folder = cold)")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    print(provenance(), flush=True)
    logging.basicConfig(level=logging.WARNING)
    methods = args.methods or (["retrain", "ft", "ga"] if args.quick else ["retrain", "ft", "ga", "rl", "salun"])
    base = ["data=fmnist_bench", "model=lenet5", "scenario=random10", "seed=0", "progress=false", "eval=ulira",
            "eval.ulira.num_shadows=4"]
    if args.quick:
        base += ["data.train_subset=2000", "train.epochs=3"]
    cache = args.cache or tempfile.mkdtemp(prefix="bench_table_")
    out_root = Path(tempfile.mkdtemp(prefix="bench_table_runs_"))
    totals = {}
    for phase_name in ("cold", "warm"):
        rows, start = [], time.perf_counter()
        for method in methods:
            # the benchmark's tuned random10 preset (conf/method/fmnist/random10/) where there is one
            cfg = compose_config([*base, f"method={data_preset('fmnist/random10', method)}", f"cache_dir={cache}",
                                  "skip_existing=false", *args.overrides])
            record = run(cfg, out_root / phase_name / method)
            if record.status != "ok":
                print(f"  {method}: status {record.status} ({record.error})")
            rows.append((method, breakdown(record), record.wall_s))
        wall = time.perf_counter() - start
        print(f"\n{phase_name} cache ({cache}), {len(methods)} methods, {wall:.1f} s wall")
        print(f"  {'method':10s} " + " ".join(f"{p:>11s}" for p in PHASES) + f" {'wall':>9s}")
        for method, parts, run_wall in rows:
            print(f"  {method:10s} " + " ".join(f"{parts[p]:10.1f}s" for p in PHASES) + f" {run_wall:8.1f}s")
        total = {p: sum(parts[p] for _, parts, _ in rows) for p in PHASES}
        print(f"  {'total':10s} " + " ".join(f"{total[p]:10.1f}s" for p in PHASES) + f" {wall:8.1f}s", flush=True)
        totals[phase_name] = total
    print(f"\nwarm / cold wall: {sum(totals['warm'].values()) / sum(totals['cold'].values()):.2f}")


if __name__ == "__main__":
    main()
