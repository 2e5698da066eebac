"""How long the command line takes to answer before any work: ``--help``, a misspelt option, a preset's ``--cfg job``
and config errors, each as a fresh process (median of ``--repeats``). Compare two checkouts by running it with
``--repo`` on each (e.g. a ``git worktree`` of an older commit):

    OMP_NUM_THREADS=1 python scripts/startup_time.py --repo . --label after --out results/cli/startup.md
    git worktree add ../before <rev>
    OMP_NUM_THREADS=1 python scripts/startup_time.py --repo ../before --label before --out results/cli/startup.md

Each call appends its rows (with the load average and thread count: a loaded machine is slower) to ``--out``."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = {
    "--help": ["--help"],
    "option typo": ["method=salon"],
    "preset --cfg job": ["experiment=salun_table1", "--cfg", "job"],
    "unknown key (+method.lr_typo)": ["+method.lr_typo=0.1"],
    "value out of range": ["scenario=classwise", "scenario.class_index=12"],
}


def time_command(repo: Path, args: list[str], repeats: int) -> tuple[float, int]:
    """Median wall seconds of ``python -m unlearn_bench args`` with ``repo`` first on the path, and its exit code."""
    env = {**os.environ, "PYTHONPATH": str(repo.resolve()), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    times, code = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            start = time.perf_counter()
            # Overrides first: Hydra's argument parser takes none after a flag such as --cfg.
            done = subprocess.run([sys.executable, "-m", "unlearn_bench", f"hydra.run.dir={tmp}/{i}",
                                   f"cache_dir={tmp}/cache", *args], cwd=tmp, env=env, capture_output=True)
            times.append(time.perf_counter() - start)
            code = done.returncode
    return statistics.median(times), code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=Path("."), help="the checkout whose unlearn_bench is timed")
    parser.add_argument("--label", default="this checkout")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, help="append the rows to this Markdown file")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rows = []
    for name, command in COMMANDS.items():
        seconds, code = time_command(args.repo, command, args.repeats)
        rows.append(f"| {args.label} | {name} | {seconds:.2f} | {code} | {load:.1f} | "
                    f"{os.environ.get('OMP_NUM_THREADS', 'unset')} |")
        print(rows[-1], flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        header = ("| checkout | command | median s | exit | load avg (1 min) at start | OMP_NUM_THREADS |\n"
                  "|---|---|---:|---:|---:|---|\n")
        text = args.out.read_text() if args.out.exists() else header
        args.out.write_text(text + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
