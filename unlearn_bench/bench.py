"""``python -m unlearn_bench.bench method=<name> [options] [overrides]``: one method through the Fashion-MNIST
benchmark's protocol (``unlearn_bench.benchmark``: its settings, tuning budget and held-out seeds), its Avg. Gap
beside every committed baseline's on the same seeds (results/fmnist/seeds/), with paired sign-flip tests,
Holm-adjusted over the baselines of a setting. The baselines are not rerun; the original and Retrain of each seed
come from the run cache where their keys match (run from the repository root to share its cache).

Options (the rest are overrides passed unchanged to every run, e.g. ``method.lr=0.01`` or a plugin's; seed, data,
model, scenario, train and eval are the protocol's and refused):
  method=<option>       the method (any option ``python -m unlearn_bench method=...`` takes); required
  settings=[a,b]        of random10, classwise, random50, random30, subclass (default: all five)
  seeds=[2,3]           a subset of the held-out seeds 2..11 for a quick look (default: all ten)
  tune=true|false       true: the protocol's search (TPE, 6 trials on seeds 0 and 1) over conf/tune/<method>.yaml
                        or space=FILE; false: the method as given, with your own values as overrides
  space=FILE            a search space for tune=true: a YAML with ``tune.bayes`` as in conf/tune/
  workers=2             worker processes, one intra-op thread each (the protocol's, as the committed rows)
  out=DIR               output folder (default outputs/bench/<method>)

    python -m unlearn_bench.bench method=ft settings=[random10]
    python -m unlearn_bench.bench method=fmnist/random10/ft tune=false settings=[random10]   # the committed preset

Exit status: 0 done, 2 bad input (one line, before any run).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from hydra.errors import CompactHydraException
from omegaconf.errors import OmegaConfBaseException

from unlearn_bench import benchmark
from unlearn_bench.benchmark import GAP_COLUMNS, HELD_OUT_SEEDS, SEED_COLUMNS, SETTINGS
from unlearn_bench.errors import ConfigError
from unlearn_bench.report.claims import not_ok

OPTIONS = ("method", "settings", "seeds", "tune", "space", "workers", "out")
# What the protocol fixes: the committed rows were made with these, so an override of one compares nothing.
FIXED = ("seed", "data", "model", "scenario", "train", "eval")
EXTRA_COLUMNS = ["references_match"]  # whether the run's original and Retrain metrics equal the committed ones
ALPHA = 0.05
USAGE_ERRORS = (CompactHydraException, OmegaConfBaseException)  # Hydra's and OmegaConf's: a bad override or file
NUMERIC = ("Avg. Gap", "new − it", "pairs", "p (Holm)")  # formatted here: tabulate would drop a "+" and zeros


@dataclass
class Request:
    method: str
    settings: list[str] = field(default_factory=lambda: list(SETTINGS))
    seeds: list[int] = field(default_factory=lambda: list(HELD_OUT_SEEDS))
    tune: bool = True
    space: Path | None = None
    workers: int = 2
    out: Path | None = None
    overrides: list[str] = field(default_factory=list)

    @property
    def folder(self) -> Path:
        return self.out or Path("outputs") / "bench" / re.sub(r"[^\w.-]+", "_", self.method)


def _items(key: str, value: str) -> list[str]:
    items = [v.strip() for v in value.strip().removeprefix("[").removesuffix("]").split(",") if v.strip()]
    if not items:
        raise ConfigError(f"{key}={value!r}: give at least one, e.g. {key}=[{'random10' if key == 'settings' else 2}]")
    return items


def parse(argv: list[str]) -> Request:
    """The options of ``argv`` (``key=value``) into a Request; every other argument is an override for the runs."""
    given, overrides = {}, []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if sep and key in OPTIONS:
            given[key] = value
        else:
            overrides.append(arg)
    for arg in overrides:
        key = arg.partition("=")[0].lstrip("+~")
        if any(key == k or key.startswith(k + ".") for k in FIXED):
            raise ConfigError(f"{arg}: the benchmark fixes {key.split('.')[0]} (its settings, seeds and recipes made "
                              "the committed rows); choose settings=[...] and seeds=[...] instead")
    if not given.get("method"):
        raise ConfigError("method=<name> is required: the method to benchmark (e.g. method=ft, or a plugin's name)")
    request = Request(method=given["method"], overrides=overrides)
    if "settings" in given:
        request.settings = _items("settings", given["settings"])
        unknown = [s for s in request.settings if s not in SETTINGS]
        if unknown:
            raise ConfigError(f"settings={given['settings']}: unknown setting {', '.join(unknown)}; allowed: "
                              f"{', '.join(SETTINGS)}")
    if "seeds" in given:
        items = _items("seeds", given["seeds"])
        if not all(s.isdigit() and int(s) in HELD_OUT_SEEDS for s in items):
            raise ConfigError(f"seeds={given['seeds']}: the committed baselines have the held-out seeds "
                              f"{HELD_OUT_SEEDS[0]}..{HELD_OUT_SEEDS[-1]}; give a subset of them")
        request.seeds = sorted({int(s) for s in items})
    if "tune" in given:
        if given["tune"].lower() not in ("true", "false"):
            raise ConfigError(f"tune={given['tune']}: allowed true (the protocol's search) or false (your values)")
        request.tune = given["tune"].lower() == "true"
    if "space" in given:
        request.space = Path(given["space"])
        if not request.space.is_file():
            raise ConfigError(f"space={given['space']}: no such file (a YAML with tune.bayes, as conf/tune/*.yaml)")
    if "workers" in given:
        if not given["workers"].isdigit() or int(given["workers"]) < 1:
            raise ConfigError(f"workers={given['workers']}: a positive whole number of worker processes")
        request.workers = int(given["workers"])
    if "out" in given:
        request.out = Path(given["out"])
    return request


def method_overrides(request: Request, setting: str) -> list[str]:
    """What every run of the method in ``setting`` gets before the trial's values and the seed: the setting, the
    method's option as the protocol starts it (a baseline's per-setting option and batch size), the user's
    overrides."""
    return [*benchmark.base_overrides(setting, request.method), *request.overrides]


def search_space(request: Request, method_name: str) -> dict[str, Any]:
    """The space tune=true searches: space=FILE, else conf/tune/<method name>.yaml."""
    from unlearn_bench.tune import search_space as space_of

    try:
        return space_of(method_name, request.space)
    except ConfigError as err:
        raise ConfigError(f"{err}; for method={request.method} give space=FILE (a YAML with tune.bayes) or tune=false "
                          "with your values as overrides (method.lr=...)") from None
    except USAGE_ERRORS as err:
        raise ConfigError(f"space={request.space}: {one_line(err)} (expected tune.bayes as in conf/tune/*.yaml)"
                          ) from None


def one_line(err: Exception) -> str:
    """Hydra's or OmegaConf's message on one line, without the config search path Hydra appends."""
    return " ".join(str(err).split("Config search path")[0].split())


def check(request: Request) -> dict[str, dict[str, Any]]:
    """Every check that needs no data, for every setting, before any run: the config composes (method, overrides)
    and validates, and with tune=true a search space exists. Returns each setting's search space (empty for
    tune=false). Raises ConfigError with one line."""
    from unlearn_bench.compose import compose_config
    from unlearn_bench.runner import validate

    spaces = {}
    for setting in request.settings:
        try:
            cfg = compose_config([*method_overrides(request, setting), f"seed={request.seeds[0]}"])
            validate(cfg)
        except USAGE_ERRORS as err:
            raise ConfigError(one_line(err)) from None
        spaces[setting] = search_space(request, cfg.method.name) if request.tune else {}
    return spaces


def committed_rows(setting: str) -> pd.DataFrame:
    return pd.read_csv(benchmark.seed_rows_path(setting))


def references_match(rows: pd.DataFrame, seed: int, result: dict) -> bool:
    """Whether the run's original and Retrain have the committed rows' UA, RA, TA and MIA on ``seed``: only then do
    the committed baselines' gaps share the new method's reference, so the pair is a pair."""
    for name, metrics in (("original", result["original_metrics"]), ("retrain", result["retrain_metrics"])):
        row = rows[(rows["method"] == name) & (rows["seed"] == seed)]
        if row.empty or any(abs(float(row[k].iloc[0]) - metrics.get(k, float("nan"))) > 1e-6 for k in GAP_COLUMNS):
            return False  # NaN (a metric missing) compares False above: a missing metric is no match either
    return True


def comparison(label: str, mine: pd.DataFrame, committed: pd.DataFrame) -> pd.DataFrame:
    """The table of one setting: the new method's mean Avg. Gap and 95% interval over its ok seeds whose references
    match, then each committed model (Retrain aside) on the same seeds: its mean, the paired difference (new minus
    it, negative: the new method is closer to Retrain), pairs and the Holm-adjusted sign-flip p."""
    from unlearn_bench.stats import seed_interval, versus

    usable = mine[(mine["status"] == "ok") & mine["references_match"].astype(bool)]
    candidate = dict(zip(usable["seed"].astype(int), usable["avg_gap"].astype(float)))
    ok = committed[(committed["status"] == "ok") & committed["seed"].isin(mine["seed"])]
    others = {m: dict(zip(g["seed"].astype(int), g["avg_gap"].astype(float)))
              for m, g in ok.groupby("method") if m != "retrain"}
    compared = versus(candidate, others)
    mean, low, high = seed_interval(list(candidate.values()))
    rows = [{"Method": f"**{label}** (new)", "Avg. Gap": f"{mean:.2f}", "95% CI": f"[{low:.2f}, {high:.2f}]",
             "new − it": "", "pairs": len(candidate), "p (Holm)": "", "reading": not_ok(mine)}]
    for name in sorted(others, key=lambda m: (pd.Series(others[m]).mean(), m)):
        diff, n, p = compared[name]
        its_mean, its_low, its_high = seed_interval(list(others[name].values()))
        reading = ("no pairs" if not n else "not separated" if not p < ALPHA else "new closer to Retrain"
                   if diff < 0 else f"{name} closer to Retrain")
        rows.append({"Method": "Original" if name == "original" else name, "Avg. Gap": f"{its_mean:.2f}",
                     "95% CI": f"[{its_low:.2f}, {its_high:.2f}]", "new − it": f"{diff:+.2f}" if n else "",
                     "pairs": n, "p (Holm)": f"{p:.3g}" if n else "", "reading": reading})
    return pd.DataFrame(rows)


def run_setting(pool: Any, progress: benchmark.Progress, request: Request, setting: str,
                space: dict[str, Any]) -> tuple[pd.DataFrame, str]:
    """Tune (or not), then the held-out seeds; the per-seed rows (with ``references_match``) and a line saying
    which values ran."""
    folder, base = request.folder, method_overrides(request, setting)
    params: list[str] = []
    ran = "your values: " + (" ".join(base[len(benchmark.setting_overrides(setting)):]) or "the method's defaults")
    if request.tune:
        trials = benchmark.search(pool, progress, setting, request.method, base, space, folder / "runs")
        benchmark.write_csv(trials, folder / "tuning" / f"{setting}.csv", ["trial"])
        best = benchmark.best_params(trials)
        params = [f"{key}={benchmark.value_text(value)}" for key, value in best.items()]
        ran = (f"tuned: {benchmark.describe_params(best, space)}, mean Avg. Gap "
               f"{trials['objective'].min():.2f} over tuning seeds {', '.join(map(str, benchmark.TUNE_SEEDS))}")
    futures = {seed: benchmark.submit(pool, progress, f"bench {setting} {request.method} seed {seed}",
                                      [*base, *params, f"seed={seed}"], folder / "runs" / setting / f"seed{seed}")
               for seed in request.seeds}
    committed, preset, rows = committed_rows(setting), " ".join([*base, *params]), []
    for seed, future in futures.items():
        result = future.result()
        row, = benchmark.seed_rows(setting, request.method, seed, result, preset, "")
        rows.append({**row, "references_match": references_match(committed, seed, result)})
    frame = pd.DataFrame(rows, columns=[*SEED_COLUMNS, *EXTRA_COLUMNS])
    benchmark.write_csv(frame, folder / "seeds" / f"{setting}.csv", ["seed"])
    return frame, ran


def section(request: Request, setting: str, mine: pd.DataFrame, ran: str) -> str:
    """One setting's Markdown: what ran, the reference check, the table."""
    mismatch = mine.loc[~mine["references_match"].astype(bool), "seed"].tolist()
    lines = [f"## {setting}", "", f"{request.method} ({ran}); held-out seeds "
             f"{', '.join(map(str, request.seeds))}; Avg. Gap to Retrain, mean and Student-t 95% interval; new − it: "
             f"mean paired difference over the shared ok seeds (negative: the new method is closer to Retrain), "
             f"exact sign-flip p, Holm-adjusted over the {setting} baselines."]
    if mismatch:
        lines += ["", f"**Warning**: on seeds {mismatch} the run's original or Retrain differ from the committed ones "
                      "(another code version, thread count or data): those seeds are left out of every pair."]
    committed = committed_rows(setting)
    table = comparison(request.method, mine, committed)
    align = ["right" if column in NUMERIC else "left" for column in table]
    return "\n".join([*lines, "", table.to_markdown(index=False, disable_numparse=True, colalign=align), ""])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return 0
    try:
        request = parse(argv)
        spaces = check(request)
    except ConfigError as err:
        print(f"bench: {err}", file=sys.stderr)
        return 2
    folder = request.folder
    folder.mkdir(parents=True, exist_ok=True)
    per_setting = (benchmark.TRIALS * len(benchmark.TUNE_SEEDS) if request.tune else 0) + len(request.seeds)
    progress = benchmark.Progress(per_setting * len(request.settings))
    sections = []
    with benchmark.worker_pool(request.workers) as pool:
        for setting in request.settings:
            mine, ran = run_setting(pool, progress, request, setting, spaces[setting])
            sections.append(section(request, setting, mine, ran))
            print("\n" + sections[-1], flush=True)
    (folder / "bench.md").write_text(f"# {request.method} on the Fashion-MNIST benchmark\n\n"
                                     f"`python -m unlearn_bench.bench {' '.join(argv)}` (one thread per run)\n\n"
                                     + "\n".join(sections))
    print(f"written: {folder / 'bench.md'}, {folder / 'seeds'}" + (f", {folder / 'tuning'}" if request.tune else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
