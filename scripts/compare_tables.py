"""Whether two reproductions of the CPU tables (``scripts/reproduce_cpu.py --results DIR``) hold the same numbers:
every cell of each ``table.csv`` (one or more stacked tables, each under its own header row) but the wall times (the
``RTE`` column and the ``rte_min`` rows of the comparison with the paper). For a change that must not move a number
(a refactor), run the presets from a cold cache before and after it:

    UNLEARN_BENCH_CACHE=.cache/before python scripts/reproduce_cpu.py --presets salun_table1_cpu --results before
    UNLEARN_BENCH_CACHE=.cache/after python scripts/reproduce_cpu.py --presets salun_table1_cpu --results after
    python scripts/compare_tables.py before after --presets salun_table1_cpu

Exit status 0 when every table is identical, 1 otherwise (the first differing rows are printed).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path


def comparable_rows(path: Path) -> list[list[str]]:
    """The rows of a table.csv without its wall times."""
    out, drop = [], []
    with path.open() as f:
        for row in csv.reader(f):
            if row and row[0] == "Method":
                drop = [i for i, c in enumerate(row) if c.startswith("RTE")]
            if "rte_min" not in row:
                out.append([c for i, c in enumerate(row) if i not in drop])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--presets", default="salun_table1_cpu,unlink_table2_cpu,salun_tablea5_cpu")
    args = parser.parse_args(argv)
    identical = True
    for preset in args.presets.split(","):
        a = comparable_rows(args.before / preset / "table.csv")
        b = comparable_rows(args.after / preset / "table.csv")
        diffs = [(i, x, y) for i, (x, y) in enumerate(zip(a, b)) if x != y]
        same = len(a) == len(b) and not diffs
        identical &= same
        print(f"{preset}: {len(a)} rows, {sum(len(r) for r in a)} cells compared (wall times left out): "
              f"{'identical' if same else 'DIFFERENT'}")
        for i, x, y in diffs[:5]:
            print(f"  row {i}: {x}\n  row {i}: {y}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
