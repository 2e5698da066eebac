from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException as HydraCompositionError
from omegaconf.errors import ValidationError

from unlearn_bench.compose import compose_config, register_configs
from unlearn_bench.config import CONF_DIR, check_ranges

GROUPS = ["data", "model", "method", "scenario", "train", "eval", "logger"]


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (Path(CONF_DIR) / group).glob("*.yaml"))


def nested_options(group: str) -> list[str]:
    """Options with their sub-folder (``generation/salun``, ``sd/esd``), as a sweep names them."""
    root = Path(CONF_DIR) / group
    return sorted(p.relative_to(root).with_suffix("").as_posix() for p in root.rglob("*.yaml"))


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS for o in options(g)])
def test_every_group_option_composes(group, option):
    cfg = compose_config([f"{group}={option}"])
    assert cfg[group] is not None
    if group in ("data", "method", "train", "logger"):
        assert cfg[group].name  # every option names itself
    check_ranges(cfg)  # every shipped value lies in its schema's range (config.RANGES)


@pytest.mark.slow  # ~1 min: composes every preset of the sub-folders
@pytest.mark.parametrize("option", [o for o in nested_options("method") if "/" in o])
def test_every_nested_method_preset_is_in_range(option):
    check_ranges(compose_config([f"method={option}"]))


def test_train_recipe_follows_data():
    assert compose_config(["data=cifar10"]).train.epochs == 182
    assert compose_config(["data=cifar10"]).train.milestones == [91, 136]
    assert compose_config(["data=cifar10", "train=salun_cosine"]).train.schedule == "cosine"
    assert compose_config(["data=digits"]).train.name == "digits"


def test_typo_in_key_fails_naming_it():
    with pytest.raises(HydraCompositionError, match="lrr"):
        compose_config(["method.lrr=0.1"])


def test_wrong_type_fails_naming_key():
    with pytest.raises((HydraCompositionError, ValidationError), match="epochs"):
        compose_config(["train.epochs=many"])


def test_unknown_group_option_lists_allowed():
    with pytest.raises(HydraCompositionError, match="salun"):
        compose_config(["method=does_not_exist"])


def test_method_config_is_typed():
    cfg = compose_config(["method=salun", "method.sparsity=0.3"])
    assert cfg.method.sparsity == 0.3
    with pytest.raises((HydraCompositionError, ValidationError), match="sparsity"):
        compose_config(["method=ft", "method.sparsity=0.3"])  # ft has no sparsity


def sweep_values(experiment: str) -> dict[str, list[str]]:
    """The preset's ``hydra.sweeper.params`` as Hydra's sweeper expands them: key -> values."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    params = OmegaConf.load(Path(CONF_DIR) / "experiment" / f"{experiment}.yaml").hydra.sweeper.params
    parsed = OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in params.items()])
    return {o.get_key_element(): list(o.sweep_string_iterator()) if o.is_sweep_override()
            else [o.get_value_element_as_str()] for o in parsed}


@pytest.mark.parametrize("experiment", options("experiment"))
def test_every_experiment_composes(experiment):
    """Each preset composes as its first sweep job and passes the runner's pre-run checks; every swept group
    value is an option of its group (a typo'd method in a 30-job sweep fails here, not in job 17)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from unlearn_bench.runner import validate

    register_configs()
    values = sweep_values(experiment)
    for group in ("data", "method", "scenario"):
        assert set(values.get(group, [])) <= set(nested_options(group)), f"{experiment}: unknown {group} option"
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        compose("config", overrides=[f"experiment={experiment}"], return_hydra_config=True)  # a multirun's base
        first_job = [f"{key}={vals[0]}" for key, vals in values.items()]
        cfg = compose("config", overrides=[f"experiment={experiment}", *first_job], return_hydra_config=True)
        if cfg.task.name == "generation_sd":  # the SD presets need a local pipeline folder: a tiny one stands in
            cfg = compose("config", overrides=[f"experiment={experiment}", *first_job, "task.pipeline=tiny"],
                          return_hydra_config=True)
    assert "experiments" in cfg.hydra.sweep.dir
    validate(cfg)


def test_data_presets_are_chosen_explicitly():
    """A method runs the values of the option the user named: the paper's (``method=salun``) on any data set, a
    data set's grid values only when asked for (``method=digits/salun``), visible in the composed config."""
    assert compose_config(["data=digits", "method=salun"]).method.lr == 0.013
    assert compose_config(["data=cifar10", "method=salun"]).method.lr == 0.013
    digits = compose_config(["data=digits", "method=digits/salun"]).method
    assert digits.lr == 0.03 and digits.name == "salun" and digits.sparsity == 0.5  # the rest from salun.yaml
    assert compose_config(["data=digits", "method=digits/salun", "method.lr=0.2"]).method.lr == 0.2
