"""``python -m unlearn_bench [overrides]``: compose the config with Hydra and run it."""

from __future__ import annotations

import logging
import sys

import hydra
from omegaconf import DictConfig

from unlearn_bench.config import register_configs
from unlearn_bench.errors import UserInputError

register_configs()
log = logging.getLogger("unlearn_bench")


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> float:
    from unlearn_bench.runner import run

    try:
        return run(cfg).avg_gap  # returned to Hydra sweepers as the objective
    except UserInputError as err:  # bad input: one clear message, no traceback
        log.error("%s: %s", type(err).__name__, err)
        sys.exit(2)


if __name__ == "__main__":
    main()
