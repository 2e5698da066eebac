"""Tuning against Retrain: the objective a trial returns to the Hydra sweeper, and ``python -m unlearn_bench.tune
DIR`` (trials table, objective-vs-parameter plot, the best trial as a method preset).

SalUn (Fan et al. 2024, §4.5/App. C.1) keeps, per baseline, the hyper-parameters with the smallest Avg. Gap to
Retrain; SURE (App. G) runs Bayesian optimisation over lr, alpha, forget batch size and lr-decay epoch.
``python -m unlearn_bench -m tune=<method>`` runs such a search (conf/tune/); every trial is an ordinary run
(cached original and Retrain, a record per trial).

Where presets go: a tuned preset is the user's, not the package's: by default
``<conf-local>/method/tuned/<data>_<model>_<scenario>_<method>.yaml``, where <conf-local> is
``$UNLEARN_BENCH_CONF_LOCAL`` if set, else ``conf_local/`` in the working directory (unlearn_bench/conf_local.py;
it is on Hydra's search path, so ``method=tuned/<name>`` runs it); ``--out FILE`` writes elsewhere. ``--data-preset
OUT`` writes the benchmark's committed presets (conf/method/fmnist/...) where it is told. Paths written into a
preset are relative to the working directory, so a committed preset names no folder of the machine that made it.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import OmegaConf

from unlearn_bench.cache import atomic_write_bytes
from unlearn_bench.compose import compose_config
from unlearn_bench.conf_local import CONF_LOCAL_ENV, DEFAULT_CONF_LOCAL, conf_local_dir
from unlearn_bench.config import CONF_DIR, check_tune_mode
from unlearn_bench.errors import ConfigError
from unlearn_bench.metrics.gap import GAP_METRICS, avg_gap
from unlearn_bench.results import RECORD_FILE

WORST_GAP = 100.0  # the largest gap a percentage metric can have: what a diverged or failed trial scores


def objective(status: str, gaps: Mapping[str, float], tune: Mapping) -> float:
    """What a trial minimises: SalUn's Avg. Gap (mean |gap| over UA, RA, TA, MIA) or ``sum_k weights[k] * gap_k``.
    A run that is not ``ok`` (diverged, failed) or lacks a gap the objective needs scores the worst value
    (every gap at 100), so the search records it and moves on instead of crashing."""
    if tune["objective"] == "weighted":
        weights = tune["weights"]
        worst = WORST_GAP * sum(weights.values())
        if status != "ok" or any(k not in gaps or not math.isfinite(gaps[k]) for k in weights):
            return worst
        return sum(w * gaps[k] for k, w in weights.items())
    if status != "ok" or any(k not in gaps or not math.isfinite(gaps[k]) for k in GAP_METRICS):
        return WORST_GAP
    return avg_gap(gaps)


def sampler(mode: str, seed: int) -> Any:
    """The optuna sampler of ``tune.mode`` (hydra/sweeper/sampler=tune): TPE seeded by ``tune.seed``, or the grid
    sampler as a partial, which hydra-optuna-sweeper fills with the ``choice(...)`` grid and runs each point once."""
    import optuna

    check_tune_mode(mode)
    if mode == "grid":
        return functools.partial(optuna.samplers.GridSampler)
    return optuna.samplers.TPESampler(seed=seed)


def _tune_file(method: str, path: Path | None = None) -> Any:
    if path is None:
        path = CONF_DIR / "tune" / f"{method}.yaml"
        if not path.exists():
            raise ConfigError(f"tune={method}: no search space {path.name} in conf/tune/")
    return OmegaConf.load(path).tune


def search_space(method: str, path: Path | None = None) -> dict[str, Any]:
    """The Bayesian search space of conf/tune/<method>.yaml (or of the YAML at ``path``; its ``tune.bayes`` node) as
    optuna distributions, parsed as hydra-optuna-sweeper parses it for ``tune=<method> tune.mode=bayes``: the same
    space either way."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra_plugins.hydra_optuna_sweeper._impl import create_optuna_distribution_from_override

    parser = OverridesParser.create()
    return {key: create_optuna_distribution_from_override(parser.parse_override(f"{key}={value}"))
            for key, value in _tune_file(method, path).bayes.items()}


def search_source(method: str) -> str:
    """Where conf/tune/<method>.yaml's ranges come from (its ``tune.source``)."""
    return _tune_file(method).source


def swept_keys(tune: Mapping) -> list[str]:
    """The overrides a search varies (``method.lr``, ...): the keys of its space in ``tune.mode``."""
    return list(tune.get(tune["mode"]) or {})


def _lookup(config: Mapping, dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        node = node[part]
    return node


def load_trials(sweep_dir: str | Path) -> pd.DataFrame:
    """One row per trial record under ``sweep_dir``: trial (Hydra job number), status, each swept parameter,
    objective (recomputed from the record's gaps and its ``tune`` config), Avg. Gap and the four gaps."""
    rows = []
    for path in sorted(Path(sweep_dir).rglob(RECORD_FILE)):
        rec = json.loads(path.read_text())
        config = rec["config"]
        tune = config["tune"]
        job = path.parent.name.split("_")[0]  # Hydra's job folder: <job number>_<method>_seed<seed>
        row = {"trial": int(job) if job.isdigit() else path.parent.name, "status": rec["status"], "seed": rec["seed"]}
        row.update({key: _lookup(config, key) for key in swept_keys(tune)})
        row["objective"] = objective(rec["status"], rec["gaps"], tune)
        row["avg_gap"] = rec["avg_gap"]
        row.update({f"gap_{k}": rec["gaps"].get(k, float("nan")) for k in GAP_METRICS})
        row["record"] = str(path)
        rows.append(row)
    if not rows:
        raise FileNotFoundError(f"no trial record ({RECORD_FILE}) under {sweep_dir}")
    return pd.DataFrame(rows).sort_values("trial", key=lambda t: t.astype(str).str.zfill(9), ignore_index=True)


def best_trial(trials: pd.DataFrame) -> pd.Series:
    """The trial with the smallest objective (the first one on a tie)."""
    return trials.loc[trials["objective"].idxmin()]


def preset_path(record: Mapping) -> Path:
    """<conf-local>/method/tuned/<data>_<model>_<scenario>_<method>.yaml (<data> = e.g. ``fashion_mnist-n10000`` when
    tuned on a ``data.train_subset``): in the user's config folder, never the package's conf/."""
    subset = record["config"]["data"].get("train_subset")
    data = record["data"] if subset is None else f"{record['data']}-n{subset}"
    name = "_".join([data, *(record[k] for k in ("model", "scenario", "method"))])
    return conf_local_dir() / "method" / "tuned" / f"{name}.yaml"


def _portable(path: str | Path) -> str:
    """``path`` relative to the working directory (the repository root when run as documented): a preset that is
    committed names no folder of the machine that made it."""
    return os.path.relpath(Path(path).resolve(), Path.cwd())


def write_preset(trials: pd.DataFrame, sweep_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the best trial's whole method config as a preset (``method=tuned/<file stem>`` when it lies in
    <conf-local>/method/tuned/, the default): every value of the method, not only the swept ones, so later changes
    to the method's defaults do not change what the preset runs; ``tuned`` records how it was chosen."""
    best = best_trial(trials)
    record = json.loads(Path(best["record"]).read_text())
    config, tune = record["config"], record["config"]["tune"]
    method = {k: v for k, v in config["method"].items() if k != "tuned"}
    method["tuned"] = {"objective": tune["objective"], **({"weights": tune["weights"]} if tune["weights"] else {}),
                       "value": float(best["objective"]), "seed": record["seed"], "tune_seed": tune["seed"],
                       "mode": tune["mode"], "trials": len(trials), "best_trial": str(best["trial"]),
                       "sweep_dir": _portable(sweep_dir)}
    path = Path(out) if out is not None else preset_path(record)
    overrides = [f"data={config['data']['name']}", f"scenario={config['scenario']['name']}"]
    if config["data"].get("train_subset") is not None:
        overrides.append(f"data.train_subset={config['data']['train_subset']}")
    if config["model"]["name"] != "auto":
        overrides.append(f"model={config['model']['name']}")
    header = [
        f"# Tuned {record['method']} on {record['data']} / {record['model']} / {record['scenario']}: best of "
        f"{len(trials)} trials ({tune['mode']}, tune.seed={tune['seed']}) on seed {record['seed']},",
        f"# {tune['objective']} = {best['objective']:.3f}. Search space: {tune['source'] or 'conf/tune/'}.",
        f"# Written by `python -m unlearn_bench.tune {_portable(sweep_dir)}`. Run it (on other seeds to check for "
        "overfitting):",
        f"#   python -m unlearn_bench method=tuned/{path.stem} {' '.join(overrides)} seed=1",
    ]
    body = OmegaConf.to_yaml({"defaults": [f"/method/base_{record['method']}@_here_", "_self_"], **method})
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, lambda f: f.write(("\n".join(header) + "\n" + body).encode()))
    return path


def write_data_preset(trials: pd.DataFrame, sweep_dir: str | Path, out: str | Path) -> Path:
    """Write the best trial as a data preset (as conf/method/digits/): it extends the method's paper option and sets
    only the swept keys, each with its source as a trailing comment (the search, its setting and its score), so the
    recipe cards and the citation test read where every value came from."""
    best = best_trial(trials)
    record = json.loads(Path(best["record"]).read_text())
    config, tune = record["config"], record["config"]["tune"]
    subset = config["data"].get("train_subset")
    setting = (f"{config['data']['name']}{'' if subset is None else f' (train_subset {subset})'} / {record['model']}"
               f" / {record['scenario']}, seed {record['seed']}")
    source = (f"tuned: best of {len(trials)} {tune['mode']} trials on {setting}, {tune['objective']} "
              f"{best['objective']:.2f}")
    option = record.get("extra", {}).get("options", {}).get("method", record["method"])  # the option it extends
    lines = [f"# {record['method']}: the values of a search against Retrain ({tune['objective']}); the rest is "
             f"method={option}.",
             f"# Search space: {tune['source'] or 'conf/tune/' + record['method'] + '.yaml'}.",
             f"# Written by `python -m unlearn_bench.tune {_portable(sweep_dir)} --data-preset {_portable(out)}`.",
             f"defaults: [/method/{option}@_here_, _self_]"]
    for key in swept_keys(tune):
        lines.append(f"{key.removeprefix('method.')}: {json.dumps(_lookup(config, key))}  # {source}")
    # Values the search ran with that its option does not set (given on the search's command line) stay too.
    option_values = OmegaConf.to_container(compose_config([f"method={option}"]).method, resolve=True)
    swept = {k.removeprefix("method.") for k in swept_keys(tune)}
    for key, value in config["method"].items():
        if key not in swept and key != "tuned" and option_values.get(key) != value:
            lines.append(f"{key}: {json.dumps(value)}  # set for the search ({setting}; its command line)")
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, lambda f: f.write(("\n".join(lines) + "\n").encode()))
    return path


def plot_trials(trials: pd.DataFrame, keys: list[str], path: Path) -> Path:
    """Objective vs each swept parameter, one panel per parameter (log axis for positive values spanning > 20x)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.2), squeeze=False)
    ok = trials["status"] == "ok"
    for ax, key in zip(axes[0], keys):
        values = pd.to_numeric(trials[key], errors="coerce")
        ax.scatter(values[ok], trials["objective"][ok], label="ok")
        if (~ok).any():
            ax.scatter(values[~ok], trials["objective"][~ok], marker="x", color="red", label="diverged/failed")
        if (values > 0).all() and values.max() / values.min() > 20:
            ax.set_xscale("log")
        best = best_trial(trials)
        ax.scatter([best[key]], [best["objective"]], marker="*", s=200, color="green", label="best")
        ax.set_xlabel(key)
        ax.set_ylabel("objective")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Trials of a tuning sweep (tune=<method>): table, plot, preset. The preset goes to the user's "
                    f"config folder, ${{{CONF_LOCAL_ENV}}} if set, else ./{DEFAULT_CONF_LOCAL}/ (on Hydra's search "
                    "path: method=tuned/<name> runs it), never into the package's conf/.")
    parser.add_argument("sweep_dir", help="the sweep folder (hydra.sweep.dir) of a tune=<method> search")
    parser.add_argument("--out", help="where to write the preset (default <config folder>/method/tuned/<data>_"
                                      "<model>_<scenario>_<method>.yaml)")
    parser.add_argument("--no-preset", action="store_true", help="print the table and plot only")
    parser.add_argument("--data-preset", metavar="OUT", help="write the best trial as a data preset instead: the swept "
                                                             "keys only, extending the method's option, with sources")
    args = parser.parse_args(argv)
    try:
        trials = load_trials(args.sweep_dir)
    except FileNotFoundError as err:
        print(err, file=sys.stderr)
        return 1
    tune = json.loads(Path(trials["record"].iloc[0]).read_text())["config"]["tune"]
    keys = swept_keys(tune)
    print(trials.drop(columns="record").to_markdown(index=False, floatfmt=".4g"))
    best = best_trial(trials)
    print(f"\nbest: trial {best['trial']}, {tune['objective']} = {best['objective']:.4g}, "
          + ", ".join(f"{k}={best[k]}" for k in keys))
    if keys:
        print("plot:", plot_trials(trials, keys, Path(args.sweep_dir) / "tune_trials.png"))
    if args.data_preset:
        print("data preset:", write_data_preset(trials, args.sweep_dir, args.data_preset))
    elif not args.no_preset:
        path = write_preset(trials, args.sweep_dir, args.out)
        print("preset:", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
