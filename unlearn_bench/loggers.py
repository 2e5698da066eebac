"""Optional experiment loggers. ``logger=none`` (default) logs nothing; ``logger=wandb`` imports wandb
lazily, so wandb is never needed unless asked for, and works offline (``logger.mode=offline``)."""

from __future__ import annotations

from typing import Any

from unlearn_bench.config import LoggerConfig
from unlearn_bench.errors import ConfigError


def log_run(cfg: LoggerConfig, config: dict[str, Any], summary: dict[str, Any], output_dir: str) -> None:
    if cfg.name == "none":
        return
    if cfg.name != "wandb":
        raise ConfigError(f"logger={cfg.name!r} is not supported; allowed: none, wandb")
    try:
        import wandb
    except ImportError as err:
        raise ImportError("logger=wandb needs the wandb package: pip install 'unlearn_bench[wandb]'") from err
    run = wandb.init(project=cfg.project, entity=cfg.entity, mode=cfg.mode, config=config, dir=output_dir,
                     reinit=True)
    run.summary.update(summary)
    run.finish()
