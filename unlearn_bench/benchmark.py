"""The Fashion-MNIST benchmark's protocol: its settings, tuning budget and seeds, the tuning loop, the per-seed rows
and the report. ``scripts/reproduce_fmnist.py`` drives it for every baseline (results/fmnist/);
``python -m unlearn_bench.bench`` puts one more method through it beside the committed rows.

The regime (results/fmnist/README.md): ``data=fmnist_bench`` (a fixed 4,000-image subset, the full test set) and
``model=lenet5``, trained 60 epochs without augmentation, memorise their training images, so the original and
Retrain differ and a method can beat doing nothing.

The protocol, per setting (random10, classwise, random50, random30, subclass, in that order: the claims' settings
first):
1. tune: every method gets the same search: TPE (optuna, seeded, 3 random start-up trials) over its space in
   conf/tune/<method>.yaml (``tune.bayes``: the papers' ranges, widened where an optimum sat on an edge), TRIALS
   trials, each scored by the mean Avg. Gap to Retrain over the tuning seeds 0 and 1 (a collapsed, diverged or
   failed run scores 100).
2. eval: Retrain and every method's best trial on the held-out seeds 2..11 (each seed its own original, Retrain and
   forget set); one row per (method, seed).
3. report: from the per-seed rows alone: tables with Student-t intervals and paired sign-flip tests, Holm-adjusted.

Every run has one intra-op thread (thread count changes results); runs go to worker processes that import the
package once.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import pandas as pd

from unlearn_bench.metrics.gap import GAP_METRICS

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "fmnist"
PRESETS = ROOT / "conf" / "method" / "fmnist"
REGIME = {data: [f"data={data}", "model=lenet5"] for data in ("fmnist_bench", "fmnist5_bench")}
METHODS = ("ft", "rl", "ga", "l1_sparse", "salun", "neggrad_plus", "iu", "bs", "be", "scrub", "ssd", "unlink", "jit",
           "forget_vector", "sure")
# The paper option each setting's search starts from where the method has one per kind of forgetting.
RANDOM_OPTION = {"jit": "jit_random", "forget_vector": "forget_vector_random", "ssd": "ssd_random"}
# 3,600 training images, 1/12.5 of the papers' CIFAR-10 45,000: the SalUn-family methods' batch 256 would leave
# them an eighth of the paper's optimiser steps per epoch (2 per epoch on a random 10% D_f); 32 restores them.
SMALL_BATCH = {"ft", "rl", "ga", "l1_sparse", "salun"}
# Setting -> (data, base options, overrides); the order is the order they run in.
SETTINGS = {
    "random10": ("fmnist_bench", RANDOM_OPTION, ["scenario=random10"]),
    "classwise": ("fmnist_bench", {}, ["scenario=classwise"]),
    "random50": ("fmnist_bench", RANDOM_OPTION, ["scenario=random50"]),
    "random30": ("fmnist_bench", RANDOM_OPTION, ["scenario=random30"]),
    "subclass": ("fmnist5_bench", {"jit": "jit_subclass"},
                 ["scenario=subclass", "scenario.subclass=sneaker"]),
}
# Evaluated under a shift with another setting's presets: name -> (setting, eval option, methods).
SHIFTED = {"classwise_gn1": ("classwise", "gn1", ("ft", "rl", "ga"))}
TUNE_SEEDS = (0, 1)
HELD_OUT_SEEDS = tuple(range(2, 12))
TRIALS = 6
STARTUP_TRIALS = 3
TPE_SEED = 0
PROTOCOL = (f"protocol: TPE (seed {TPE_SEED}, {STARTUP_TRIALS} random start-up trials), {TRIALS} trials, objective "
            f"the mean Avg. Gap over tuning seeds {', '.join(map(str, TUNE_SEEDS))}")
PAGE_TITLE = "unlearn_bench: the Fashion-MNIST benchmark (LeNet-5, 4,000 images, held-out seeds 2-11)"
PAGE_SOURCE = "the committed per-seed rows results/fmnist/seeds/*.csv and seed 2's examples results/fmnist/examples/"
GAP_COLUMNS = list(GAP_METRICS)
SEED_COLUMNS = ["setting", "method", "seed", "status", *GAP_COLUMNS, *(f"gap_{k}" for k in GAP_COLUMNS), "avg_gap",
                "rte_s", "data_access", "training_free", "preset", "preset_sha"]


# --- worker side: one process per job slot, the package imported once -----------------------------------------------

def _init_worker(workdir: str | None) -> None:
    import torch

    torch.set_num_threads(1)
    if workdir is not None:
        os.chdir(workdir)


def run_one(overrides: list[str], output_dir: str) -> dict:
    """One run through ``runner.run`` (skips a recorded run): its status, metrics, gaps, objective and timings."""
    from unlearn_bench.compose import compose_config
    from unlearn_bench.runner import run
    from unlearn_bench.tune import objective

    cfg = compose_config([*overrides, "progress=false"])
    record = run(cfg, output_dir=output_dir)
    return {"status": record.status, "metrics": record.metrics, "gaps": record.gaps, "avg_gap": record.avg_gap,
            "objective": objective(record.status, record.gaps, cfg.tune), "rte_s": record.rte_s,
            "wall_s": record.wall_s, "data_access": ",".join(record.data_access),
            "training_free": record.training_free, "original_metrics": record.original_metrics,
            "retrain_metrics": record.retrain_metrics, "original_train_s": record.original_train_s,
            "retrain_train_s": record.retrain_train_s}


# --- driver side -------------------------------------------------------------------------------------------------

def worker_pool(jobs: int, workdir: str | Path | None = None) -> ProcessPoolExecutor:
    """``jobs`` spawned worker processes of one intra-op thread each (OMP_NUM_THREADS=1, inherited), in ``workdir``
    (the current folder if None)."""
    os.environ["OMP_NUM_THREADS"] = "1"
    return ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker,
                               initargs=(None if workdir is None else str(workdir),))


class Progress:
    """Runs done out of the whole invocation's plan, with an ETA from the mean wall time per finished run so far
    (a run found in the cache counts, and takes a fraction of a second)."""

    def __init__(self, total: int) -> None:
        self.start, self.done, self.total, self.lock = time.perf_counter(), 0, total, threading.Lock()

    def tick(self, what: str) -> None:
        with self.lock:
            self.done += 1
            elapsed = time.perf_counter() - self.start
            eta = elapsed / self.done * max(self.total - self.done, 0)
            print(f"[{self.done}/{self.total}] {what}; {elapsed / 60:.1f} min, ETA {eta / 60:.1f} min", flush=True)


def submit(pool: Any, progress: Progress, what: str, overrides: list[str], out: Path) -> Future:
    future = pool.submit(run_one, overrides, str(out))
    future.add_done_callback(lambda f: progress.tick(f"{what}: {'error' if f.exception() else f.result()['status']}"))
    return future


def write_csv(frame: pd.DataFrame, path: Path, order: list[str]) -> None:
    """``frame`` sorted by ``order`` into ``path`` through a temporary file and a rename: an interrupted write
    leaves the last complete file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    frame.sort_values(order).to_csv(temporary, index=False)
    temporary.replace(path)


def setting_overrides(setting: str) -> list[str]:
    data, _, overrides = SETTINGS[setting]
    return [*REGIME[data], *overrides]


def option(setting: str, method: str) -> str:
    """The method option a search in ``setting`` starts from."""
    return SETTINGS[setting][1].get(method, method)


def base_overrides(setting: str, method: str) -> list[str]:
    batch = ["method.batch_size=32"] if method in SMALL_BATCH else []
    return [*setting_overrides(setting), f"method={option(setting, method)}", *batch]


def value_text(value: object) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def search(pool: Any, progress: Progress, setting: str, method: str, base: list[str], space: Mapping[str, Any],
           outputs: Path) -> pd.DataFrame:
    """TRIALS TPE trials over ``space`` (optuna distributions by override key), each run as ``base`` plus the
    trial's values and scored by the mean objective over TUNE_SEEDS; one row per trial."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(
        seed=TPE_SEED, n_startup_trials=STARTUP_TRIALS))
    rows = []
    for number in range(TRIALS):
        trial = study.ask(dict(space))
        params = [f"{key}={value_text(value)}" for key, value in trial.params.items()]
        runs = {seed: submit(pool, progress, f"tune {setting} {method} trial {number} seed {seed}",
                             [*base, *params, f"seed={seed}"],
                             outputs / setting / "tune" / method / f"trial{number}_seed{seed}")
                for seed in TUNE_SEEDS}
        results = {seed: run.result() for seed, run in runs.items()}
        value = sum(r["objective"] for r in results.values()) / len(results)
        study.tell(trial, value)
        rows.append({"setting": setting, "method": method, "trial": number, "params": json.dumps(trial.params),
                     **{f"seed{s}_avg_gap": r["avg_gap"] for s, r in results.items()},
                     **{f"seed{s}_status": r["status"] for s, r in results.items()}, "objective": value})
    return pd.DataFrame(rows)


def best_params(trials: pd.DataFrame) -> dict[str, Any]:
    """The searched values of the trial with the smallest objective (the first one on a tie)."""
    return json.loads(trials.loc[trials["objective"].idxmin(), "params"])


def write_preset(setting: str, method: str, trials: pd.DataFrame) -> Path:
    """The best trial as conf/method/fmnist/<setting>/<method>.yaml: it extends the method's option and sets the
    searched keys, each with its source (the search, its score on the tuning seeds)."""
    from unlearn_bench.tune import search_source

    best = trials.loc[trials["objective"].idxmin()]
    start = option(setting, method)
    source = (f"tuned: best of {len(trials)} TPE trials on {setting}, mean Avg. Gap {best['objective']:.2f} over "
              f"seeds {', '.join(map(str, TUNE_SEEDS))}")
    lines = [f"# {method} for the Fashion-MNIST benchmark's {setting} setting: the values of a search against Retrain;"
             f" the rest is method={start}.", f"# Search space: {search_source(method)}.",
             f"# {PROTOCOL}. Written by scripts/reproduce_fmnist.py.", f"defaults: [/method/{start}@_here_, _self_]"]
    lines += [f"{key.removeprefix('method.')}: {json.dumps(value)}  # {source}"
              for key, value in best_params(trials).items()]
    if method in SMALL_BATCH:
        lines.append("batch_size: 32  # set for the benchmark: 3,600 training images (scripts/reproduce_fmnist.py)")
    path = PRESETS / setting / f"{method}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def tuned(setting: str, method: str) -> bool:
    """Whether the committed preset and trials already come from this protocol."""
    path, trials = PRESETS / setting / f"{method}.yaml", RESULTS / "tuning" / f"{setting}.csv"
    return (path.exists() and PROTOCOL in path.read_text() and trials.exists()
            and (pd.read_csv(trials)["method"] == method).any())


def tune_stage(pool: Any, progress: Progress, setting: str, outputs: Path) -> int:
    """Every baseline's search in ``setting`` not yet committed from this protocol; its trials to
    results/fmnist/tuning/<setting>.csv and its best trial to conf/method/fmnist/<setting>/<method>.yaml."""
    from unlearn_bench.tune import search_space

    todo = [m for m in METHODS if not tuned(setting, m)]
    if not todo:
        return 0
    path, lock = RESULTS / "tuning" / f"{setting}.csv", threading.Lock()

    def search_and_write(method: str) -> None:
        trials = search(pool, progress, setting, method, base_overrides(setting, method), search_space(method),
                        outputs)
        with lock:  # each search's trials and preset land as soon as it ends: an interrupted stage keeps them
            old = pd.read_csv(path) if path.exists() else pd.DataFrame(columns=["method"])
            write_csv(pd.concat([old[old["method"] != method], trials], ignore_index=True), path, ["method", "trial"])
            write_preset(setting, method, trials)

    with ThreadPoolExecutor(len(todo)) as threads:  # every search at once: the workers never idle
        list(threads.map(search_and_write, todo))
    return len(todo) * TRIALS * len(TUNE_SEEDS)


def preset_sha(setting: str, method: str) -> str:
    if method == "retrain":
        return ""
    return hashlib.sha256((PRESETS / setting / f"{method}.yaml").read_bytes()).hexdigest()[:12]


def seed_rows(setting: str, method: str, seed: int, result: dict, preset: str, sha: str) -> list[dict]:
    """The CSV rows of one run: the method's; for Retrain's run also the Original's and Retrain's."""
    from unlearn_bench.metrics.gap import GAP_METRICS, avg_gap, gaps

    def row(name: str, metrics: dict, status: str, rte_s: float, access: str, free: bool, preset: str = preset,
            sha: str = "") -> dict:
        gap = gaps(metrics, result["retrain_metrics"])
        return {"setting": setting, "method": name, "seed": seed, "status": status, **metrics,
                **{f"gap_{k}": v for k, v in gap.items()},
                "avg_gap": avg_gap(gap) if len(gap) == len(GAP_METRICS) else float("nan"), "rte_s": rte_s,
                "data_access": access, "training_free": free, "preset": preset, "preset_sha": sha}

    if method != "retrain":
        return [row(method, result["metrics"], result["status"], result["rte_s"], result["data_access"],
                    result["training_free"], preset, sha)]
    return [row("original", result["original_metrics"], "ok", result["original_train_s"], "D", False, "", ""),
            row("retrain", result["retrain_metrics"], "ok", result["retrain_train_s"], "retain", False)]


def seed_rows_path(name: str, results: Path = RESULTS) -> Path:
    return results / "seeds" / f"{name}.csv"


def eval_jobs(name: str) -> list[tuple[str, int]]:
    """The (method, seed) runs of a setting's eval stage not yet in its CSV with the current preset; Retrain's
    first: each builds its seed's original and Retrain, so no method waits on another's lock. Every run where a
    preset is not written yet (its tune stage pending)."""
    setting, _, methods = SHIFTED.get(name, (name, None, METHODS))
    every = sorted(((m, s) for s in HELD_OUT_SEEDS for m in ("retrain", *methods)), key=lambda job: job[0] != "retrain")
    path = seed_rows_path(name)
    if not path.exists() or not all((PRESETS / setting / f"{m}.yaml").exists() for m in methods):
        return every
    have = {(r.method, int(r.seed), "" if pd.isna(r.preset_sha) else str(r.preset_sha))
            for r in pd.read_csv(path).itertuples()}
    return [(m, s) for m, s in every if ("original" if m == "retrain" else m, s, preset_sha(setting, m)) not in have]


def planned_runs(settings: list[str], stages: list[str]) -> int:
    tune = sum(TRIALS * len(TUNE_SEEDS) for name in settings if name in SETTINGS and "tune" in stages
               for m in METHODS if not tuned(name, m))
    return tune + (sum(len(eval_jobs(name)) for name in settings) if "eval" in stages else 0)


def write_seed_rows(path: Path, old: pd.DataFrame, rows: list[dict], columns: list[str] = SEED_COLUMNS) -> None:
    """``old`` with the (method, seed) rows in ``rows`` replaced by them."""
    new = {(row["method"], row["seed"]) for row in rows}
    keep = old[[(m, int(s)) not in new for m, s in zip(old["method"], old["seed"])]] if len(old) else old
    write_csv(pd.concat([keep, pd.DataFrame(rows)], ignore_index=True)[columns], path, ["method", "seed"])


def eval_stage(pool: Any, progress: Progress, name: str, outputs: Path) -> int:
    """Retrain (with the Original) and every preset on the held-out seeds; rows already in the CSV with the same
    preset are kept, so an interrupted stage resumes."""
    setting, shift, _ = SHIFTED.get(name, (name, None, METHODS))
    path = seed_rows_path(name)
    old = pd.read_csv(path) if path.exists() else pd.DataFrame(columns=SEED_COLUMNS)
    jobs = eval_jobs(name)
    if not jobs:
        return 0
    preset = {m: "retrain" if m == "retrain" else f"fmnist/{setting}/{m}" for m, _ in jobs}
    futures = {(m, seed): submit(pool, progress, f"eval {name} {m} seed {seed}",
                                 [*setting_overrides(setting), f"method={preset[m]}",
                                  *([f"eval={shift}"] if shift else []), f"seed={seed}"],
                                 outputs / name / f"seed{seed}" / m) for m, seed in jobs}
    keys, rows = {future: key for key, future in futures.items()}, []
    for count, future in enumerate(as_completed(keys), 1):
        method, seed = keys[future]
        rows += seed_rows(name, method, seed, future.result(), preset[method], preset_sha(setting, method))
        if count % 16 == 0 or count == len(keys):  # rows land as they come: an interrupted stage keeps them
            write_seed_rows(path, old, rows)
    return len(jobs)


# --- report: from the per-seed CSVs alone ---------------------------------------------------------------------------

def on_edge(value: object, distribution: object) -> bool:
    """Whether a tuned value lies in the outer 5% of its range (on the log scale for a log range)."""
    low, high = getattr(distribution, "low", None), getattr(distribution, "high", None)
    if low is None or not isinstance(value, (int, float)):
        return False
    if type(distribution).__name__.startswith("Int"):
        return value in (low, high)
    scale = math.log if "Log" in type(distribution).__name__ else float
    position = (scale(value) - scale(low)) / (scale(high) - scale(low))
    return position < 0.05 or position > 0.95


def describe_params(params: Mapping[str, Any], space: Mapping[str, Any]) -> str:
    """``lr=0.02694, epochs=7 (edge)``: searched values, marked where on an edge of their range."""
    return ", ".join(f"{k.removeprefix('method.')}={f'{v:.4g}' if isinstance(v, float) else v}"
                     + (" (edge)" if on_edge(v, space[k]) else "") for k, v in params.items())


def tuning_table(results: Path = RESULTS) -> pd.DataFrame:
    """Per setting and method: trials, trials ok on both tuning seeds, the best values (marked where on an edge of
    the range), their mean Avg. Gap over the tuning seeds and the preset."""
    from unlearn_bench.tune import search_space

    out = []
    for path in sorted((results / "tuning").glob("*.csv"), key=lambda p: list(SETTINGS).index(p.stem)):
        for method, trials in pd.read_csv(path).groupby("method", sort=False):
            best = trials.loc[trials["objective"].idxmin()]
            ok = trials[[f"seed{s}_status" for s in TUNE_SEEDS]].eq("ok").all(axis=1)
            out.append({"setting": path.stem, "method": method, "trials": len(trials),
                        "ok on both seeds": int(ok.sum()), "best": describe_params(best_params(trials),
                                                                                   search_space(method)),
                        "mean Avg. Gap (tuning seeds)": f"{best['objective']:.2f}",
                        "preset": f"fmnist/{path.stem}/{method}"})
    return pd.DataFrame(out)


def write_report(results: Path = RESULTS) -> None:
    """<results>/<setting>.md, overview.md, tuning.md, claims.md and claims.csv from its per-seed CSVs."""
    from unlearn_bench.report.claims import claims_frame, claims_markdown, load_seed_tables, seed_table
    from unlearn_bench.report.page import sections_from_benchmark, write_page
    from unlearn_bench.stats import seed_interval

    tables = load_seed_tables(results)
    seeds_note = (f"held-out seeds {HELD_OUT_SEEDS[0]}..{HELD_OUT_SEEDS[-1]}; cells mean ± std (gap to Retrain) over "
                  "the ok seeds; Avg. Gap with its Student-t 95% interval; paired vs closest: the mean paired "
                  "difference to the model with the lowest Avg. Gap, exact sign-flip p, Holm-adjusted over the table")
    for name, rows in tables.items():
        (results / f"{name}.md").write_text(f"# {name}\n\n{seeds_note}.\n\n"
                                            + seed_table(rows).to_markdown(index=False) + "\n")
    overview = {}
    for name, rows in tables.items():
        for method, g in rows.groupby("method"):
            ok = g.loc[g["status"] == "ok", "avg_gap"].tolist()
            mean, low, high = seed_interval(ok)
            bad = len(g) - len(ok)
            overview.setdefault(name, {})[method] = (f"{mean:.2f} [{low:.2f}, {high:.2f}]" if ok else "") + (
                f" ({bad} not ok)" if bad else "")
    columns = [name for name in [*SETTINGS, *SHIFTED] if name in overview]
    frame = pd.DataFrame(overview)[columns].fillna("")
    frame = frame.loc[["original", "retrain", *sorted(set(frame.index) - {"original", "retrain"})]]
    (results / "overview.md").write_text("# Avg. Gap to Retrain, mean [95% interval] over the "
                                         f"{seeds_note.split(';')[0]}\n\n" + frame.to_markdown() + "\n")
    (results / "tuning.md").write_text(f"# Tuning against Retrain\n\n{PROTOCOL}; every method the same number of "
                                       "trials in every setting. (edge): the value lies in the outer 5% of its "
                                       "range.\n\n"
                                       + tuning_table(results).to_markdown(index=False) + "\n")
    claims = claims_frame(tables)
    claims.to_csv(results / "claims.csv", index=False)
    (results / "claims.md").write_text("# The papers' claims on the Fashion-MNIST benchmark\n\n"
                                       + claims[["paper", "setting", "verdict"]].to_markdown(index=False) + "\n\n"
                                       + claims_markdown(claims))
    print(claims[["paper", "setting", "verdict"]].to_markdown(index=False))
    write_page(sections_from_benchmark(results), results / "index.html", PAGE_TITLE, PAGE_SOURCE)
