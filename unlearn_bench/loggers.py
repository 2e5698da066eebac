"""Optional experiment loggers. ``logger=none`` (default) logs nothing; ``logger=wandb`` imports wandb
lazily, so wandb is never needed unless asked for, and works offline (``logger.mode=offline``). ``log_report``
logs the report's tables and figures (``python -m unlearn_bench.report DIR --wandb PROJECT``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from unlearn_bench.config import LoggerConfig
from unlearn_bench.errors import ConfigError


def _wandb():
    try:
        import wandb
    except ImportError as err:
        raise ImportError("logger=wandb needs the wandb package: pip install 'unlearn_bench[wandb]'") from err
    return wandb


def log_run(cfg: LoggerConfig, config: dict[str, Any], summary: dict[str, Any], output_dir: str) -> None:
    if cfg.name == "none":
        return
    if cfg.name != "wandb":
        raise ConfigError(f"logger={cfg.name!r} is not supported; allowed: none, wandb")
    run = _wandb().init(project=cfg.project, entity=cfg.entity, mode=cfg.mode, config=config, dir=output_dir,
                        reinit=True)
    run.summary.update(summary)
    run.finish()


def log_report(project: str, mode: str, tables: dict[str, pd.DataFrame], figures: list[Path],
               output_dir: str) -> None:
    """One wandb run (job type ``report``) holding the report's tables as ``wandb.Table`` (one key per table) and
    each PNG figure as ``wandb.Image`` under ``figures/<file stem>`` (``python -m unlearn_bench.report DIR --wandb
    PROJECT``); wandb writes its run folder under ``output_dir``."""
    wandb = _wandb()
    run = wandb.init(project=project, mode=mode, job_type="report", dir=output_dir, reinit=True)
    logged = {key: wandb.Table(dataframe=table.astype(str)) for key, table in tables.items()}
    logged.update({f"figures/{path.stem}": wandb.Image(str(path)) for path in figures if path.suffix == ".png"})
    run.log(logged)
    run.finish()
