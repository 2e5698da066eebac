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
