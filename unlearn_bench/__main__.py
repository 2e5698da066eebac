"""``python -m unlearn_bench [overrides]``: compose the config with Hydra and run it."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from unlearn_bench.config import register_configs

register_configs()


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> float:
    from unlearn_bench.runner import run

    return run(cfg).avg_gap  # returned to Hydra sweepers as the objective


if __name__ == "__main__":
    main()
