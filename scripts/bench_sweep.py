"""Wall time of a k-method x s-seed sweep with the model cache vs. retraining the original and Retrain per run.

Runs the same runs twice through ``unlearn_bench.runner.run`` (in-process, no Hydra launcher):

  cached:   one cache for the sweep: the original and Retrain of each seed are trained once, reused by
            every method (what ``python -m unlearn_bench -m ...`` does);
  uncached: a fresh cache per run: every run trains its own original and Retrain (a harness without a cache).

and prints the wall time of each, the speed-up, and the share of time spent training (original + Retrain),
unlearning (the method's RTE), evaluating (UA/RA/TA/MIA of the three models) and the rest (data loading,
config, records). Example (digits, 4 methods x 2 seeds):

    python scripts/bench_sweep.py --methods ft,ga,rl,salun --seeds 0,1 data=digits scenario=random10

Trailing arguments are config overrides, as on the command line of ``python -m unlearn_bench``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from unlearn_bench.compose import compose_config
from unlearn_bench.runner import run


def sweep(methods: list[str], seeds: list[int], overrides: list[str], root: Path, shared_cache: bool) -> dict:
    totals = {"training": 0.0, "unlearning": 0.0, "evaluation": 0.0, "wall": 0.0, "trainings": 0}
    for seed in seeds:
        for method in methods:
            cache = root / "cache" if shared_cache else root / f"cache_{method}_{seed}"
            cfg = compose_config([*overrides, f"method={method}", f"seed={seed}", f"cache_dir={cache}",
                                  "skip_existing=false", "progress=false"])
            start = time.perf_counter()
            record = run(cfg, output_dir=root / "runs" / f"{method}_seed{seed}")
            totals["wall"] += time.perf_counter() - start
            for name in ("original", "retrain"):
                if not record.extra[f"{name}_cached"]:
                    totals["training"] += getattr(record, f"{name}_train_s")
                    totals["trainings"] += 1
            totals["unlearning"] += record.rte_s if method != "retrain" else 0.0
            totals["evaluation"] += record.eval_s
    return totals


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default="ft,ga,rl,salun")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. data=fashion_mnist scenario=classwise")
    args = parser.parse_args(argv)
    methods, seeds = args.methods.split(","), [int(s) for s in args.seeds.split(",")]
    print(f"sweep: {len(methods)} methods x {len(seeds)} seeds, overrides {args.overrides or '(defaults)'}")
    results = {}
    for label, shared in (("cached", True), ("uncached", False)):
        with tempfile.TemporaryDirectory() as tmp:
            results[label] = r = sweep(methods, seeds, args.overrides, Path(tmp), shared)
        rest = r["wall"] - r["training"] - r["unlearning"] - r["evaluation"]
        shares = "  ".join(f"{k} {100 * r[k] / r['wall']:.0f}%" for k in ("training", "unlearning", "evaluation"))
        print(f"{label:9s} wall {r['wall']:7.1f} s  trainings {r['trainings']:3d}  {shares}  "
              f"other {100 * rest / r['wall']:.0f}%")
    print(f"speed-up from caching: {results['uncached']['wall'] / results['cached']['wall']:.2f}x")


if __name__ == "__main__":
    main()
