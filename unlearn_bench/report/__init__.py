"""Reporting: everything that reads run records and writes tables, figures and pages, above the runs (the runner
imports none of it). ``python -m unlearn_bench.report DIR`` (``cli.py``) prints the paper-style tables: ``tables.py``
(a table's rows), ``summary.py`` (its cells), ``papers.py`` (the papers' numbers beside ours), ``render.py`` (md,
csv, tex), ``figures.py`` (the papers' figure views), ``page.py`` / ``page_template.py`` (the HTML results page),
``claims.py`` (the papers' claims tested on a benchmark's per-seed rows); ``meta.py`` (rank correlations between
metrics: ``python -m unlearn_bench.report.meta``) and ``cards.py`` (recipe cards: ``python -m
unlearn_bench.report.cards``)."""
