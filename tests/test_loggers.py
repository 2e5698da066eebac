import json

import pytest

from tests.conftest import compose_config
from unlearn_bench.loggers import log_run


def test_none_logger_needs_nothing(tmp_path):
    log_run(compose_config(["logger=none"]).logger, {"a": 1}, {"UA": 1.0}, str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_wandb_logger_offline_writes_a_local_run(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_SILENT", "true")
    log_run(compose_config(["logger=wandb"]).logger, {"method": "salun"}, {"UA": 3.0}, str(tmp_path))
    assert list((tmp_path / "wandb").glob("offline-run-*"))


def test_unknown_logger_names_the_allowed_ones(tmp_path):
    cfg = compose_config(["logger=none"]).logger
    cfg.name = "tensorboard"
    with pytest.raises(ValueError, match="none, wandb"):
        log_run(cfg, {}, {}, str(tmp_path))


def test_report_logs_tables_and_figures_to_an_offline_wandb_run(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    from tests.report.test_report import write_two_seeds
    from unlearn_bench.report.cli import main

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    write_two_seeds(tmp_path / "runs")
    assert main([str(tmp_path / "runs"), "--reference", "salun:1", "--figures", str(tmp_path / "figs"),
                 "--wandb", "unlearn_bench_test"]) == 0
    (run_dir,) = (tmp_path / "wandb").glob("offline-run-*")
    media = run_dir / "files" / "media"
    (table,) = (media / "table" / "table").glob("digits-small-cnn-random10-none*.table.json")
    assert "Avg. Gap" in json.loads(table.read_text())["columns"]
    (paper,) = (media / "table" / "paper").glob("digits-small-cnn-random10-none-salun-1-random10*.table.json")
    logged = json.loads(paper.read_text())
    assert "ours_mean" in logged["columns"] and "salun" in str(logged["data"])
    assert list((media / "images" / "figures").glob("unlink_fig1_digits-small-cnn-random10-none*.png"))
