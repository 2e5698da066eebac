"""Composing a run's config outside Hydra's job machinery (scripts, tests, the tune and cards CLIs): every schema and
every registered method family stored in Hydra's ConfigStore, then ``compose``."""

from __future__ import annotations

from omegaconf import DictConfig

from unlearn_bench import pipelines  # noqa: F401  (registers every pipeline and method family with its schemas)
from unlearn_bench.conf_local import quiet_missing_default
from unlearn_bench.config import CONF_DIR, store_schemas


def register_configs() -> None:
    """The schemas of every group (``config.store_schemas``); method schemas were stored when their families were
    imported (``methods.base.register_method``). Called before Hydra composes (entry point, scripts and tests)."""
    store_schemas()


def compose_config(overrides: list[str] | None = None) -> DictConfig:
    """The config ``python -m unlearn_bench <overrides>`` would run, without Hydra's job machinery (for
    scripts and tests), plugins imported first; the user's config folder (unlearn_bench/conf_local.py) and the
    plugins' are on its search path too."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from unlearn_bench import plugins

    plugins.load_all(overrides or [])
    register_configs()
    quiet_missing_default()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=list(overrides or []))


def data_preset(data: str, method: str) -> str:
    """The method option of a data set's preset where conf/method ships one, else ``method`` itself:
    ``data_preset("digits", "salun") == "digits/salun"``, ``data_preset("digits", "generation/salun") ==
    "generation/digits/salun"``. A data preset is always chosen by name (``method=digits/salun``), never
    implicitly, so the values a run uses are the option it names."""
    family, _, name = method.rpartition("/")
    choice = "/".join(p for p in (family, data, name) if p)
    return choice if (CONF_DIR / "method" / f"{choice}.yaml").exists() else method
