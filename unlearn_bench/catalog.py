"""``python -m unlearn_bench --list``: everything registered (methods, metric groups, scenarios, datasets, models)
and where each comes from: the package or a plugin (``unlearn_bench.plugins``), with its version."""

from __future__ import annotations

from tabulate import tabulate

from unlearn_bench import plugins
from unlearn_bench.data.datasets import DATASETS
from unlearn_bench.data.scenarios import SCENARIOS
from unlearn_bench.evaluation import GROUPS
from unlearn_bench.methods.base import METHODS, option
from unlearn_bench.models import MODELS


def catalog() -> list[dict[str, str]]:
    """One row per registered thing: kind, the name to select it by, origin, version."""
    import unlearn_bench

    entries = [("method", option(task, name), cls.__module__) for (task, name), cls in sorted(METHODS.items())]
    entries += [("metric group", name, type(group).__module__) for name, group in GROUPS.items()]
    entries += [("scenario kind", kind, cls.__module__) for kind, cls in SCENARIOS.items()]
    entries += [("dataset", name, fn.__module__) for name, fn in DATASETS.items()]
    entries += [("model", name, fn.__module__) for name, fn in MODELS.items()]
    rows = []
    for kind, name, module in entries:
        origin = plugins.origin(module)
        version = (unlearn_bench.__version__ if origin == plugins.PACKAGE
                   else plugins.distribution_version(module) or "not installed")
        rows.append({"kind": kind, "name": name, "origin": origin, "version": version})
    return rows


def render_catalog() -> str:
    rows = catalog()
    loaded = [f"{p.module} ({p.source}{', ' + p.version if p.version else ''})" for p in plugins.LOADED.values()]
    header = f"plugins loaded: {', '.join(loaded) if loaded else 'none'}\n"
    return header + tabulate(rows, headers="keys", tablefmt="github")
