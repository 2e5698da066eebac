"""The command line's fast answers: ``--help``'s options, option typos with the nearest names, a preset's sweep
(unlearn_bench/options.py, cards.sweep_summary), and keys that nothing reads (config.check_known_keys)."""

from __future__ import annotations

import pytest

from tests.conftest import compose_config
from unlearn_bench.config import check_known_keys
from unlearn_bench.errors import ConfigError
from unlearn_bench.options import check_group_overrides, group_options, usage
from unlearn_bench.report.cards import sweep_summary


def test_group_options_are_the_selectable_files_with_subfolders():
    methods = group_options("method")
    assert {"salun", "digits/salun", "fmnist/random10/salun"} <= set(methods)
    assert not [m for m in methods if m.split("/")[-1].startswith("base_")]


@pytest.mark.parametrize("overrides,near", [
    (["method=salon"], "salun"),
    (["-m", "method=ft,salon"], "salun"),  # every value of a sweep
    (["scenario=clswise"], "classwise"),
    (["data=fashon_mnist"], "fashion_mnist"),
])
def test_a_misspelt_option_is_refused_with_the_nearest_names(overrides, near):
    with pytest.raises(ConfigError, match=rf"is not an option of .*did you mean {near}"):
        check_group_overrides([o for o in overrides if not o.startswith("-")])


def test_good_options_and_other_overrides_pass():
    check_group_overrides(["method=digits/salun", "scenario=classwise", "seed=3", "experiment=null", "train.lr=0.1",
                           "hydra/launcher=joblib", "method=="])  # a malformed override is left to Hydra


def test_usage_lists_selectable_options_and_examples():
    text = usage()
    assert "method=digits/salun" in text and "plugins=[" in text and "salun_table1" in text
    assert "base_" not in text


def test_a_presets_cfg_shows_its_sweep():
    summary = sweep_summary(["experiment=salun_table1"])
    assert "runs 100 jobs" in summary and "seed: 0,1,2,3,4,5,6,7,8,9" in summary
    assert sweep_summary(["method=salun"]) is None


@pytest.mark.parametrize("override,name", [
    ("+method.lr_typo=0.1", "method.lr_typo"),
    ("+train.foo=1", "train.foo"),
    ("+eval.mia.bogus=1", "eval.mia.bogus"),
    ("+bogus=1", "bogus"),
])
def test_a_key_nothing_reads_is_refused(override, name):
    with pytest.raises(ConfigError, match=rf"^{name} is not a setting"):
        check_known_keys(compose_config([override]))


def test_every_preset_has_only_known_keys():
    check_known_keys(compose_config(["experiment=salun_table1"]))
    check_known_keys(compose_config(["method=fmnist/random10/salun", "data=fmnist_bench"]))
