"""Forget-set builders. Each returns the sorted indices (into the train split) of the forget set D_f.

Indices depend only on the scenario, the labels and the seed, so every method of a seed sees the same
D_f, and they are saved with every run record.
"""

from __future__ import annotations

import numpy as np

from unlearn_bench.config import ScenarioConfig
from unlearn_bench.errors import ConfigError

SCENARIO_KINDS = ("random", "classwise")


def validate_scenario(cfg: ScenarioConfig, num_classes: int) -> None:
    """Raise ValueError naming the bad key before any data is touched or model trained."""
    if cfg.kind not in SCENARIO_KINDS:
        raise ConfigError(f"scenario.kind={cfg.kind!r} is not supported; allowed: {list(SCENARIO_KINDS)}")
    if cfg.kind == "random" and (cfg.ratio is None or not 0.0 < cfg.ratio < 1.0):
        raise ConfigError(f"scenario.ratio={cfg.ratio!r} must be in (0, 1) for random forgetting")
    if cfg.kind == "classwise" and (cfg.class_index is None or not 0 <= cfg.class_index < num_classes):
        raise ConfigError(f"scenario.class_index={cfg.class_index!r} must be in [0, {num_classes - 1}]")


def forget_indices(cfg: ScenarioConfig, train_y: np.ndarray, num_classes: int, seed: int) -> np.ndarray:
    validate_scenario(cfg, num_classes)
    if cfg.kind == "random":
        # SalUn repo: n indices of the train split without replacement (n = 4,500 = 10% of 45,000).
        n_forget = int(round(cfg.ratio * len(train_y)))
        if n_forget == 0:
            raise ConfigError(f"scenario.ratio={cfg.ratio} selects no example of {len(train_y)}")
        idx = np.random.RandomState(seed).choice(len(train_y), size=n_forget, replace=False)
    else:  # classwise: every training example of the class
        idx = np.flatnonzero(train_y == cfg.class_index)
    return np.sort(idx).astype(np.int64)


def forgotten_classes(cfg: ScenarioConfig) -> list[int]:
    """Classes removed entirely from the train split; their test images are excluded from TA."""
    return [cfg.class_index] if cfg.kind == "classwise" else []
