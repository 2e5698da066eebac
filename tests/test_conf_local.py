"""The user's config folder (unlearn_bench/conf_local.py): tuned presets are written there, never into the
package's conf/, and Hydra composes them from there (conf/config.yaml's hydra.searchpath)."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from unlearn_bench.compose import compose_config
from unlearn_bench.conf_local import CONF_LOCAL_ENV
from unlearn_bench.config import CONF_DIR
from unlearn_bench.tune import main

STEM = "fashion_mnist-n4000_lenet5_random10_ga"


def fake_sweep(sweep: Path) -> Path:
    """Two finished GA trials (lr 1e-4: Avg. Gap 5, lr 1e-3: Avg. Gap 2) as the tuner reads them."""
    method = OmegaConf.to_container(compose_config(["method=ga"]).method, resolve=True)
    tune = {"mode": "grid", "objective": "avg_gap", "weights": {}, "n_trials": 2, "seed": 0,
            "grid": {"method.lr": "choice(1e-4, 1e-3)"}, "source": "SalUn App. C.1"}
    for trial, (lr, gap) in enumerate([(1e-4, 5.0), (1e-3, 2.0)]):
        folder = sweep / f"{trial}_ga_seed0"
        folder.mkdir(parents=True)
        record = {"status": "ok", "seed": 0, "method": "ga", "data": "fashion_mnist", "model": "lenet5",
                  "scenario": "random10", "avg_gap": gap, "gaps": dict.fromkeys(("UA", "RA", "TA", "MIA"), gap),
                  "config": {"tune": tune, "method": {**method, "lr": lr}, "model": {"name": "lenet5"},
                             "data": {"name": "fashion_mnist", "train_subset": 4000},
                             "scenario": {"name": "random10"}}}
        (folder / "record.json").write_text(json.dumps(record))
    return sweep


@pytest.mark.parametrize("rule", ["cwd", "env"])
def test_a_tuned_preset_goes_to_the_user_folder_and_composes_from_there(tmp_path, monkeypatch, rule):
    """Default: ./conf_local/ of the working directory; with $UNLEARN_BENCH_CONF_LOCAL set: that folder."""
    sweep = fake_sweep(tmp_path / "sweep")
    if rule == "cwd":
        monkeypatch.delenv(CONF_LOCAL_ENV, raising=False)
        monkeypatch.chdir(tmp_path)
        folder = tmp_path / "conf_local"
    else:
        folder = tmp_path / "mine"
        monkeypatch.setenv(CONF_LOCAL_ENV, str(folder))
    assert main([str(sweep)]) == 0
    preset = folder / "method" / "tuned" / f"{STEM}.yaml"
    assert preset.is_file()
    assert not (CONF_DIR / "method" / "tuned" / preset.name).exists(), "the tuner wrote into the package's conf/"
    # as an absolute path (relative to the working directory it may pass through it: ../../tmp/...)
    absolute = re.compile(r"(?<!\.\.)" + re.escape(str(tmp_path)))
    assert not absolute.search(preset.read_text()), "a preset names a folder of this machine"
    method = compose_config([f"method=tuned/{STEM}"]).method
    assert (method.lr, method.tuned.value, method.tuned.trials) == (1e-3, 2.0, 2)


def test_a_missing_default_folder_is_normal_but_a_missing_named_one_warns(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no conf_local/ here
    monkeypatch.delenv(CONF_LOCAL_ENV, raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compose_config([])
    assert not [w for w in caught if "searchpath" in str(w.message)]
    monkeypatch.setenv(CONF_LOCAL_ENV, str(tmp_path / "typo"))
    with pytest.warns(UserWarning, match="typo is not available"):
        compose_config([])
