"""``python -m unlearn_bench.bench``: bad input refused before any run, the new method's seeds paired with the
committed baselines' rows of the same seeds, the tuned values reaching the held-out runs, overrides passed through."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from unlearn_bench import bench, benchmark
from unlearn_bench.errors import DatasetNotFoundError
from unlearn_bench.stats import holm, sign_flip_p

COMMITTED = pd.read_csv(benchmark.seed_rows_path("random10"))


def committed_metrics(method: str, seed: int) -> dict[str, float]:
    row = COMMITTED[(COMMITTED["method"] == method) & (COMMITTED["seed"] == seed)].iloc[0]
    return {k: float(row[k]) for k in benchmark.GAP_COLUMNS}


@pytest.mark.parametrize("argv, named", [
    (["settings=[random10]"], "method=<name> is required"),
    (["method=ft", "settings=[random10,foo]"], "unknown setting foo; allowed: random10, classwise"),
    (["method=ft", "seeds=[1,2]"], "seeds=[1,2]"),
    (["method=ft", "tune=maybe"], "tune=maybe"),
    (["method=ft", "workers=0"], "workers=0"),
    (["method=ft", "seed=5"], "seed=5: the benchmark fixes seed"),
    (["method=ft", "+data.train_subset=100"], "+data.train_subset=100: the benchmark fixes data"),
])
def test_bad_input_exits_2_with_one_line_before_any_run(argv, named, capsys, monkeypatch):
    monkeypatch.setattr(benchmark, "run_one", lambda *a: pytest.fail("a run started"))
    assert bench.main(argv) == 2
    err = capsys.readouterr().err
    assert named in err and err.count("\n") == 1


@pytest.fixture
def fake_runs(monkeypatch):
    """Runs in this process: the new method scores as committed ft on each seed, except that seed 4's Retrain
    differs from the committed one; every run's overrides are kept."""
    calls = []

    def run_one(overrides: list[str], output_dir: str) -> dict:
        calls.append(overrides)
        seed = int(next(o for o in overrides if o.startswith("seed=")).removeprefix("seed="))
        lr = float(next((o for o in overrides if o.startswith("method.lr=")), "method.lr=0.01").split("=")[1])
        if seed in benchmark.TUNE_SEEDS:  # a tuning run: the objective is smallest at lr = 1e-2
            return {"status": "ok", "avg_gap": abs(math.log10(lr) + 2), "objective": abs(math.log10(lr) + 2)}
        retrain = committed_metrics("retrain", seed)
        return {"status": "ok", "metrics": committed_metrics("ft", seed), "rte_s": 1.0, "data_access": "retain",
                "training_free": False, "original_metrics": committed_metrics("original", seed),
                "retrain_metrics": {**retrain, "TA": retrain["TA"] + (1.0 if seed == 4 else 0.0)}}

    monkeypatch.setattr(benchmark, "run_one", run_one)
    monkeypatch.setattr(benchmark, "worker_pool", lambda jobs, workdir=None: ThreadPoolExecutor(1))
    return calls


def test_the_new_method_is_paired_with_the_committed_rows_of_the_same_seeds(fake_runs, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench, "check", lambda request: {"random10": {}})
    seeds = [2, 3, 4, 5, 6]
    assert bench.main(["method=ft", "tune=false", "settings=[random10]", f"seeds={seeds}", f"out={tmp_path}",
                       "some.override=1"]) == 0
    assert all(call.count("some.override=1") == 1 and "method=ft" in call and "method.batch_size=32" in call
               for call in fake_runs)
    mine = pd.read_csv(tmp_path / "seeds" / "random10.csv")
    assert mine["seed"].tolist() == seeds and mine["references_match"].tolist() == [s != 4 for s in seeds]
    table = bench.comparison("ft", mine, COMMITTED).set_index("Method")
    # ft's own committed rows: the same numbers on every paired seed, whatever the order of the seeds
    assert table.loc["ft", "new − it"] == "+0.00" and table.loc["ft", "pairs"] == 4
    # rl by hand over the seeds whose references match
    paired = [s for s in seeds if s != 4]
    gap = {m: dict(zip(g["seed"], g["avg_gap"])) for m, g in COMMITTED.groupby("method")}
    others = sorted(set(COMMITTED["method"]) - {"retrain"})
    raw = {m: sign_flip_p([gap["ft"][s] - gap[m][s] for s in paired]) for m in others}
    adjusted = dict(zip(others, holm([raw[m] for m in others])))
    diff = sum(gap["ft"][s] - gap["rl"][s] for s in paired) / len(paired)
    assert table.loc["rl", "new − it"] == f"{diff:+.2f}" and table.loc["rl", "p (Holm)"] == f"{adjusted['rl']:.3g}"
    assert "Original" in table.index and "retrain" not in table.index
    collapsed = bench.comparison("ft", mine.assign(status="collapsed"), COMMITTED).set_index("Method")
    assert collapsed.loc["rl", "reading"] == "no pairs" and collapsed.loc["rl", "p (Holm)"] == ""
    out = capsys.readouterr().out
    assert "## random10" in out and "on seeds [4]" in out and (tmp_path / "bench.md").read_text().count("| rl ") == 1


def test_the_best_trial_s_values_run_on_the_held_out_seeds(fake_runs, tmp_path, monkeypatch):
    from unlearn_bench.tune import search_space

    monkeypatch.setattr(bench, "check", lambda request: {"random10": search_space("ft")})
    assert bench.main(["method=ft", "settings=[random10]", "seeds=[2]", f"out={tmp_path}"]) == 0
    trials = pd.read_csv(tmp_path / "tuning" / "random10.csv")
    assert len(trials) == benchmark.TRIALS
    best = benchmark.best_params(trials)["method.lr"]
    held_out = [call for call in fake_runs if "seed=2" in call]
    assert held_out == [[*benchmark.base_overrides("random10", "ft"), f"method.lr={best!r}", "seed=2"]]


@pytest.mark.slow
def test_the_committed_ft_preset_reproduces_its_committed_row(tmp_path, monkeypatch):
    """End to end on one seed: the original and Retrain trained here, ft's committed random10 preset run; where the
    references equal the committed ones (same CPU arithmetic, one thread) ft's row must equal its committed row."""
    monkeypatch.chdir(tmp_path)
    try:
        code = bench.main(["method=fmnist/random10/ft", "tune=false", "settings=[random10]", "seeds=[2]",
                           "workers=1", f"cache_dir={tmp_path / 'cache'}"])
    except DatasetNotFoundError:
        pytest.skip("Fashion-MNIST files not found")
    assert code == 0
    row = pd.read_csv(tmp_path / "outputs" / "bench" / "fmnist_random10_ft" / "seeds" / "random10.csv").iloc[0]
    if not row["references_match"]:
        pytest.skip("this machine's original or Retrain differs from the committed one (another CPU's arithmetic)")
    assert row["status"] == "ok"
    assert {k: row[k] for k in benchmark.GAP_COLUMNS} == pytest.approx(committed_metrics("ft", 2), abs=1e-6)

    # An outside method (examples/my_method.py) through the same command and references, paired with the baselines
    example = Path(__file__).parents[1] / "examples" / "my_method.py"
    assert bench.main([f"plugins=[{example}]", "method=my_rl", "method.lr=0.002", "tune=false",
                       "settings=[random10]", "seeds=[2]", "workers=1", f"cache_dir={tmp_path / 'cache'}"]) == 0
    table = (tmp_path / "outputs" / "bench" / "my_rl" / "bench.md").read_text()
    assert "**my_rl** (new)" in table and "| ft " in table and "| salun " in table
    mine = pd.read_csv(tmp_path / "outputs" / "bench" / "my_rl" / "seeds" / "random10.csv").iloc[0]
    assert mine["references_match"] and mine["status"] == "ok"


def test_a_search_space_that_is_missing_or_malformed_is_named(tmp_path):
    bad = tmp_path / "space.yaml"
    bad.write_text("bayes: {method.lr: 'interval(0.1, 1)'}\n")  # tune: left out
    with pytest.raises(bench.ConfigError, match=r"space=.*space.yaml: Missing key tune"):
        bench.search_space(bench.Request(method="mine", space=bad), "mine")
    with pytest.raises(bench.ConfigError, match="no search space mine.yaml.*give space=FILE"):
        bench.search_space(bench.Request(method="mine"), "mine")
    bad.write_text("tune: {bayes: {method.lr: 'interval(0.1, 1)'}}\n")
    assert set(bench.search_space(bench.Request(method="mine", space=bad), "mine")) == {"method.lr"}
