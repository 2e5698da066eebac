"""Tuning against Retrain (tune=<method>, unlearn_bench/tune.py) and per-epoch metrics (eval.every_epoch)."""

from __future__ import annotations

import json
import math
import re

import pytest
from omegaconf import OmegaConf

from tests.test_launchers import TINY, run_cli, sweep_records
from unlearn_bench.compose import compose_config, register_configs
from unlearn_bench.conf_local import CONF_LOCAL_ENV
from unlearn_bench.config import CONF_DIR, check_tune
from unlearn_bench.errors import ConfigError
from unlearn_bench.metrics.gap import select_epochs
from unlearn_bench.tune import WORST_GAP, load_trials, main, objective, preset_path, search_space

TUNE_FILES = sorted(p.stem for p in (CONF_DIR / "tune").glob("*.yaml"))
AVG = {"mode": "bayes", "objective": "avg_gap", "weights": {}, "n_trials": 3}


def test_objective_is_avg_gap_or_weighted_sum():
    gaps = {"UA": 1.0, "RA": 2.0, "TA": 3.0, "MIA": 6.0}
    assert objective("ok", gaps, AVG) == pytest.approx(3.0)
    weighted = {**AVG, "objective": "weighted", "weights": {"UA": 2.0, "MIA": 0.5}}
    assert objective("ok", gaps, weighted) == pytest.approx(2.0 * 1.0 + 0.5 * 6.0)


@pytest.mark.parametrize("status,gaps", [("diverged", {}), ("failed", {}), ("ok", {"UA": 1.0, "RA": 1.0})])
def test_a_bad_trial_scores_the_worst_objective(status, gaps):
    assert objective(status, gaps, AVG) == WORST_GAP
    weighted = {**AVG, "objective": "weighted", "weights": {"UA": 1.0, "TA": 3.0}}
    assert objective(status, gaps, weighted) == 4 * WORST_GAP


@pytest.mark.parametrize("tune,match", [
    ({**AVG, "objective": "auc"}, "tune.objective='auc'.*avg_gap, weighted"),
    ({**AVG, "objective": "weighted"}, "needs tune.weights"),
    ({**AVG, "objective": "weighted", "weights": {"UA": -1.0}}, "finite and >= 0"),
    ({**AVG, "n_trials": 0}, "tune.n_trials=0"),
    ({**AVG, "mode": "random"}, "tune.mode='random'.*bayes, grid"),
])
def test_bad_tune_settings_are_refused(tune, match):
    with pytest.raises(ConfigError, match=match):
        check_tune(tune)


@pytest.mark.parametrize("name", TUNE_FILES)
def test_every_search_space_composes_with_its_method(name):
    cfg = compose_config([f"tune={name}"])
    assert cfg.method.name == name
    bayes, grid = cfg.tune.bayes, cfg.tune.grid
    assert set(bayes) == set(grid) and bayes, "the Bayesian and the grid space must vary the same keys"
    for key in bayes:  # a typo'd key would make the sweeper add a new, unused config value
        assert key.startswith("method.") and OmegaConf.select(cfg, key) is not None, key
        assert re.fullmatch(r"(tag\(log, )?(interval|range|choice)\(.*\)\)?", bayes[key]), bayes[key]
        assert re.fullmatch(r"(choice|range)\(.*\)", grid[key]), grid[key]
    assert cfg.tune.source


def test_the_sweeper_reads_the_space_and_sampler_of_the_mode():
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["tune=salun", "tune.mode=grid", "tune.seed=7"], return_hydra_config=True)
    sweeper = cfg.hydra.sweeper
    assert dict(sweeper.params) == dict(cfg.tune.grid)
    assert sweeper.sampler._target_ == "unlearn_bench.tune.sampler" and sweeper.sampler.mode == "grid"
    assert sweeper.sampler.seed == 7 and sweeper.direction == "minimize"


def test_best_and_top5_epochs_match_a_hand_computation():
    retrain = {"UA": 10.0, "RA": 100.0, "TA": 90.0, "MIA": 20.0}
    # Avg. Gaps to Retrain: epoch 1: 5, 2: 1, 3: 3, 4: 0.5, 5: 4, 6: 2, 7: 6
    offsets = {1: 5.0, 2: 1.0, 3: 3.0, 4: 0.5, 5: 4.0, 6: 2.0, 7: 6.0}
    epochs = [{"epoch": e, "UA": 10.0 + d, "RA": 100.0 - d, "TA": 90.0 + d, "MIA": 20.0 - d}
              for e, d in offsets.items()]
    best, chosen = select_epochs(epochs, retrain, "best")
    assert chosen == [4] and best["UA"] == 10.5
    top5, chosen = select_epochs(epochs, retrain, "top5")
    assert chosen == [4, 2, 6, 3, 5]
    assert top5["UA"] == pytest.approx(10.0 + (0.5 + 1 + 2 + 3 + 4) / 5)
    assert top5["RA"] == pytest.approx(100.0 - 2.1)
    final, chosen = select_epochs(epochs, retrain, "final")
    assert chosen == [7] and final["MIA"] == 14.0
    with pytest.raises(ValueError, match="every_epoch"):
        select_epochs([], retrain, "best")
    tied = [{"epoch": 0, "UA": 11.0}, {"epoch": 1, "UA": 9.0}]  # the same gap: the earlier epoch (SURE's Top-1)
    assert select_epochs(tied, retrain, "best")[1] == [0]


@pytest.mark.slow
def test_every_epoch_records_each_epoch_and_the_last_is_the_final_model(tmp_path):
    from unlearn_bench.runner import run

    cfg = compose_config(["data=digits", "train.epochs=2", "model.width=8", "method=ft", "method.epochs=3",
                          "eval.every_epoch=true", "progress=false", f"cache_dir={tmp_path / 'cache'}"])
    record = run(cfg, tmp_path / "out")
    assert [m["epoch"] for m in record.epoch_metrics] == [1, 2, 3]
    last = {k: v for k, v in record.epoch_metrics[-1].items() if k != "epoch"}
    assert last == pytest.approx(record.metrics)


@pytest.mark.slow
def test_a_search_trains_original_and_retrain_once_and_its_preset_reproduces_the_best_trial(tmp_path, monkeypatch):
    cache, sweep = tmp_path / "cache", tmp_path / "sweep"
    args = ["tune=ga", "method=digits/ga", "tune.n_trials=6", "tune.seed=3", *TINY[:-2], "train.epochs=4",
            "method.epochs=3", "progress=false", f"hydra.sweep.dir={sweep}"]
    done = run_cli(args, cache)
    assert done.returncode == 0, done.stderr[-3000:]
    records = sweep_records(sweep)
    assert len(records) == 6
    assert sum(not r["extra"]["original_cached"] for r in records) == 1
    assert sum(not r["extra"]["retrain_cached"] for r in records) == 1
    results = OmegaConf.load(sweep / "optimization_results.yaml")

    # Rerun: the seeded sampler proposes the same trials, each found finished in the cache (nothing re-run).
    again = run_cli(args, cache)
    assert again.returncode == 0, again.stderr[-3000:]
    assert [r["created"] for r in sweep_records(sweep)] == [r["created"] for r in records]
    assert OmegaConf.load(sweep / "optimization_results.yaml") == results

    trials = load_trials(sweep)
    assert trials["objective"].min() == pytest.approx(results.best_value)
    worst = trials["objective"].max()
    assert worst > trials["objective"].min(), "the GA range must matter on digits for this test to mean anything"

    monkeypatch.setenv(CONF_LOCAL_ENV, str(tmp_path / "conf_local"))  # the CLI runs below see it too
    preset = preset_path(records[0])
    assert main([str(sweep)]) == 0 and preset.is_relative_to(tmp_path / "conf_local")
    assert (sweep / "tune_trials.png").stat().st_size > 0
    tuned = OmegaConf.load(preset)
    assert tuned.lr == pytest.approx(results.best_params["method.lr"])
    assert tuned.tuned.value == pytest.approx(results.best_value) and tuned.tuned.seed == 0

    # Rerun the preset from scratch (skip_existing=false): the same Avg. Gap as the best trial, up to noise.
    rerun = run_cli([f"method=tuned/{preset.stem}", *TINY[:-2], "train.epochs=4", "progress=false",
                     "skip_existing=false", f"hydra.run.dir={tmp_path / 'rerun'}"], cache)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    record = json.loads((tmp_path / "rerun" / "record.json").read_text())
    assert record["config"]["method"]["tuned"]["value"] == pytest.approx(results.best_value)
    assert record["avg_gap"] <= results.best_value + 0.5
    assert record["avg_gap"] < worst
    assert record["extra"]["original_cached"] and record["extra"]["retrain_cached"]


@pytest.mark.slow
def test_grid_mode_visits_every_point_once(tmp_path):
    sweep = tmp_path / "sweep"
    done = run_cli(["tune=ga", "tune.mode=grid", *TINY, f"hydra.sweep.dir={sweep}"], tmp_path / "cache")
    assert done.returncode == 0, done.stderr[-3000:]
    lrs = sorted(r["config"]["method"]["lr"] for r in sweep_records(sweep))
    grid = compose_config(["tune=ga"]).tune.grid["method.lr"]
    expected = sorted(float(v) for v in re.fullmatch(r"choice\((.*)\)", grid).group(1).split(","))
    assert lrs == pytest.approx(expected)


def test_the_trials_table_scores_a_diverged_trial_worst(tmp_path):
    """A diverged trial scores the worst objective (as the sweeper was told), not NaN."""
    trial = tmp_path / "0_ga_seed0"
    trial.mkdir()
    record = {"status": "diverged", "seed": 0, "gaps": {}, "avg_gap": math.nan,
              "config": {"tune": {**AVG, "bayes": {"method.lr": "interval(0, 1)"}},
                         "method": {"lr": 50.0}}}
    (trial / "record.json").write_text(json.dumps(record))
    trials = load_trials(tmp_path)
    assert trials.loc[0, "objective"] == WORST_GAP and trials.loc[0, "method.lr"] == 50.0


def test_tuned_provenance_is_not_part_of_the_run_key():
    from unlearn_bench.keys import method_key

    plain = compose_config(["method=ga"])
    tuned = compose_config(["method=ga"])
    tuned.method.tuned = {"value": 1.0, "seed": 0}
    assert method_key(plain.method) == method_key(tuned.method)


def test_a_preset_tuned_on_a_training_subset_says_so_in_its_name():
    record = {"data": "fashion_mnist", "model": "small_cnn", "scenario": "random10", "method": "ga",
              "config": {"data": {"train_subset": 5000}}}
    assert preset_path(record).name == "fashion_mnist-n5000_small_cnn_random10_ga.yaml"
    record["config"]["data"]["train_subset"] = None
    assert preset_path(record).name == "fashion_mnist_small_cnn_random10_ga.yaml"


def test_a_data_preset_sets_the_swept_and_command_line_values_with_their_source_and_composes(tmp_path):
    """--data-preset: the best trial's swept keys plus the values its command line changed, each with a source,
    extending the paper option; composing it gives the best trial's method config."""
    paper = OmegaConf.to_container(compose_config(["method=ga"]).method, resolve=True)
    space = {**AVG, "mode": "grid", "grid": {"method.lr": "choice(1e-4, 1e-3)"}, "source": "SalUn App. C.1"}
    for trial, (lr, gap) in enumerate([(1e-4, 5.0), (1e-3, 2.0)]):
        folder = tmp_path / f"{trial}_ga_seed0"
        folder.mkdir()
        record = {"status": "ok", "seed": 0, "method": "ga", "model": "lenet5", "scenario": "random10",
                  "avg_gap": gap, "gaps": dict.fromkeys(("UA", "RA", "TA", "MIA"), gap),
                  "extra": {"options": {"method": "ga"}},
                  "config": {"tune": space, "data": {"name": "fashion_mnist", "train_subset": 4000},
                             "method": {**paper, "lr": lr, "batch_size": 32}}}
        (folder / "record.json").write_text(json.dumps(record))
    out = CONF_DIR / "method" / "test_only_data_preset.yaml"
    try:
        assert main([str(tmp_path), "--data-preset", str(out)]) == 0
        lines = out.read_text().splitlines()
        # as an absolute path (relative to the working directory it may pass through it: ../../tmp/...)
        absolute = re.compile(r"(?<!\.\.)" + re.escape(str(tmp_path)))
        assert not absolute.search(out.read_text()), "the committed preset names a folder of this machine"
        assert "defaults: [/method/ga@_here_, _self_]" in lines
        assert ("lr: 0.001  # tuned: best of 2 grid trials on fashion_mnist (train_subset 4000) / lenet5 / random10, "
                "seed 0, avg_gap 2.00") in lines
        assert any(line.startswith("batch_size: 32  # set for the search") for line in lines)
        assert not any(line.startswith(("epochs:", "momentum:")) for line in lines)  # the paper's, left to ga.yaml
        method = compose_config(["method=test_only_data_preset"]).method
        assert (method.lr, method.batch_size, method.epochs) == (1e-3, 32, paper["epochs"])
    finally:
        out.unlink(missing_ok=True)


def test_the_benchmark_search_space_is_the_sweepers_bayes_space():
    space = search_space("salun")
    assert set(space) == {"method.lr", "method.sparsity"}
    assert (space["method.lr"].low, space["method.lr"].high) == (1e-4, 5e-2)  # widened from the paper's 5e-4
    assert type(space["method.lr"]).__name__ == "LogUniformDistribution"
    assert (space["method.sparsity"].low, space["method.sparsity"].high) == (0.1, 0.9)
    with pytest.raises(ConfigError, match="tune=nope"):
        search_space("nope")
