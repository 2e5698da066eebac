"""Shared fixtures: Hydra compose API on the repo's conf/ and a session-wide model cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from unlearn_bench.config import register_configs

CONF_DIR = str(Path(__file__).resolve().parents[1] / "conf")
register_configs()


def compose_config(overrides: list[str] | None = None):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("config", overrides=list(overrides or []))


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    """One cache for the whole session, so digits originals and Retrains are trained once."""
    return tmp_path_factory.mktemp("cache")
