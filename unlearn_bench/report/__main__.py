"""``python -m unlearn_bench.report DIR``: the tables of a folder of run records (``cli.py``)."""

import sys

from unlearn_bench.report.cli import main

if __name__ == "__main__":
    sys.exit(main())
