"""Where one benchmark run's time goes: process start-up, then, per warm run (original and Retrain cached), config
composition, data, reference loading, unlearning, forward passes, the MIA fit, writing the record and the rest.

The start-up is a fresh interpreter importing the runner (what each ``python -m unlearn_bench`` process pays once);
the phases are the wall times of the functions that do them (each wrapped in a timer wherever the package holds
it; a profiler would inflate the Python-heavy phases), over ``--runs`` warm runs through ``runner.run`` in one
process (what a worker of scripts/reproduce_fmnist.py does), divided by the runs. Example (the Fashion-MNIST
benchmark's regime, one thread):

    OMP_NUM_THREADS=1 python scripts/bench_run.py --runs 5 method=ft method.batch_size=32 scenario=random10

Trailing arguments are config overrides; ``data=fmnist_bench model=lenet5`` unless given.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Phase -> (module, attribute) of the function that does it; ``Class.method`` for a method.
PHASES = {
    "compose config": ("unlearn_bench.compose", "compose_config"),
    "data (setup)": ("unlearn_bench.pipelines.classification", "ClassificationPipeline.setup"),
    "reference loading": ("unlearn_bench.pipelines.classification", "ClassificationPipeline.references"),
    "unlearning": ("unlearn_bench.pipelines.base", "timed_unlearning"),
    "forward passes": ("unlearn_bench.evaluation", "predict"),
    "MIA fit": ("unlearn_bench.metrics.mia", "svc_mia_efficacy"),
    "write record": ("unlearn_bench.results", "write_record"),
    "print table": ("unlearn_bench.report.cli", "print_run"),
}


def time_phases(seconds: dict[str, float]) -> None:
    """Wrap each phase's function, in every unlearn_bench module that holds it, in a timer adding to ``seconds``."""
    for phase, (module, name) in PHASES.items():
        owner = importlib.import_module(module)
        cls_name, _, attr = name.rpartition(".")
        if cls_name:
            owner = getattr(owner, cls_name)
        original = getattr(owner, attr)

        def timed(*args, _fn=original, _phase=phase, **kwargs):
            start = time.perf_counter()
            try:
                return _fn(*args, **kwargs)
            finally:
                seconds[_phase] += time.perf_counter() - start

        functools.update_wrapper(timed, original)
        if cls_name:
            setattr(owner, attr, timed)
            continue
        for mod in [m for n, m in sys.modules.items() if n.startswith("unlearn_bench") and m is not None]:
            for key, value in list(vars(mod).items()):
                if value is original:
                    setattr(mod, key, timed)


def startup_seconds() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import unlearn_bench.runner, unlearn_bench.compose"], check=True)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args(argv)
    from unlearn_bench.compose import compose_config
    from unlearn_bench.report.cli import print_run
    from unlearn_bench.runner import run
    from unlearn_bench.runtime import provenance

    print(provenance())
    startup = startup_seconds()
    regime = [o for o in ("data=fmnist_bench", "model=lenet5")
              if not any(x.startswith(o.split("=")[0] + "=") for x in args.overrides)]
    overrides = [*regime, *args.overrides, "progress=false"]
    with tempfile.TemporaryDirectory() as tmp:
        run(compose_config(overrides), output_dir=Path(tmp) / "warm-up")  # builds or loads the references
        seconds = dict.fromkeys(PHASES, 0.0)
        time_phases(seconds)
        import unlearn_bench.compose

        start = time.perf_counter()
        for i in range(args.runs):
            run(unlearn_bench.compose.compose_config([*overrides, "skip_existing=false"]),
                output_dir=Path(tmp) / f"run{i}")
            print_run(Path(tmp) / f"run{i}")  # as the command line does after each run
        wall = (time.perf_counter() - start) / args.runs
    seconds = {phase: s / args.runs for phase, s in seconds.items()}
    # predict and the MIA fit run inside the evaluation, which is not unlearning: no phase contains another here
    print(f"\n{' '.join(overrides)}; {args.runs} warm runs\n")
    print("| phase | seconds per run | share |\n|---|---:|---:|")
    print(f"| process start-up (once per process) | {startup:.2f} | |")
    for phase, s in seconds.items():
        print(f"| {phase} | {s:.2f} | {s / wall:.0%} |")
    print(f"| other | {wall - sum(seconds.values()):.2f} | {(wall - sum(seconds.values())) / wall:.0%} |")
    print(f"| **run wall** | {wall:.2f} | 100% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
