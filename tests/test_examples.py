"""The three plugin routes of examples/ and docs/your_method.md, run as a user would: as processes, from a folder
that is not the clone, on digits class-wise forgetting.

1. a method in a file (``plugins=[.../my_method.py]`` and ``UNLEARN_BENCH_PLUGINS``): it forgets and keeps utility;
   editing its source reruns it, an unchanged rerun is skipped;
2. an installed package (entry points): its method, metric group, scenario and config folder;
3. a checkpoint made elsewhere (``method=external_checkpoint``): evaluated like any method, marked unobserved.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_launchers import REPO, cli_env

pytestmark = pytest.mark.slow  # ~3 min: each route starts the CLI; one original and Retrain shared
EXAMPLES = REPO / "examples"
CLASSWISE = ["scenario=classwise", "progress=false"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("examples_cache")


def cli(args: list[str], cache: Path, cwd: Path, env: dict[str, str] | None = None) -> dict:
    """``python -m unlearn_bench args`` in ``cwd``; its record, and the log in ``record["log"]``."""
    out = cwd / f"run{len(list(cwd.glob('run*')))}"
    done = subprocess.run([sys.executable, "-m", "unlearn_bench", *args, f"hydra.run.dir={out}"], cwd=cwd,
                          env={**cli_env(cache), **(env or {})}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return {**json.loads((out / "record.json").read_text()), "log": done.stdout + done.stderr}


def test_a_method_in_a_file_forgets_keeps_utility_and_reruns_when_edited(cache, tmp_path):
    method_file = tmp_path / "my_method.py"
    shutil.copy(EXAMPLES / "my_method.py", method_file)
    first = cli([f"plugins=[{method_file}]", "method=my_rl", *CLASSWISE], cache, tmp_path)
    assert first["status"] == "ok" and first["method"] == "my_rl"
    assert first["metrics"]["UA"] >= first["retrain_metrics"]["UA"] - 5  # forgets class 0 as Retrain does
    assert first["metrics"]["TA"] >= 85 and first["metrics"]["RA"] >= 85  # keeps utility
    assert first["code"]["files"]["my_method"] and first["cpu_threads"] == 1

    same = cli([f"plugins=[{method_file}]", "method=my_rl", *CLASSWISE], cache, tmp_path)
    assert "skip: run" in same["log"] and same["run_key"] == first["run_key"]

    method_file.write_text(method_file.read_text().replace("epochs: int = 5", "epochs: int = 4"))
    edited = cli(["method=my_rl", *CLASSWISE], cache, tmp_path, env={"UNLEARN_BENCH_PLUGINS": str(method_file)})
    assert "skip: run" not in edited["log"] and edited["run_key"] != first["run_key"]
    assert edited["code"]["files"]["my_method"] != first["code"]["files"]["my_method"]


def test_an_installed_plugin_adds_a_method_metric_scenario_and_presets(cache, tmp_path):
    site, package = tmp_path / "site", tmp_path / "plugin_package"
    shutil.copytree(EXAMPLES / "plugin_package", package)  # a build leaves build/ and *.egg-info beside the source
    build = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                            "--target", str(site), str(package)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    env = {"PYTHONPATH": str(site)}
    listing = subprocess.run([sys.executable, "-m", "unlearn_bench", "--list"], cwd=tmp_path, capture_output=True,
                             text=True, env={**cli_env(cache), **env})
    rows = [line for line in listing.stdout.splitlines() if line.startswith("|") and "my-unlearn-plugin 0.1.0" in line]
    assert [r.split("|")[1].strip() for r in rows] == ["method", "metric group", "scenario kind"], listing.stdout
    record = cli(["method=my_ga_strong", "scenario=my_lowest", "eval.metrics=[forget_confidence]", "progress=false"],
                 cache, tmp_path, env)
    assert record["method"] == "my_ga" and record["config"]["method"]["lr"] == 0.03  # the plugin's preset
    assert record["forget_size"] == 40 and record["scenario"] == "my_lowest"
    assert {"forget_conf", "forget_conf_gap"} <= set(record["metrics"])
    assert record["code"]["version"] == "my-unlearn-plugin 0.1.0"


def test_a_checkpoint_made_elsewhere_is_evaluated_and_marked_unobserved(cache, tmp_path):
    reference = cli(["method=digits/ft", *CLASSWISE], cache, tmp_path)
    original = cache / "original" / f"{reference['extra']['original_key']}.pt"
    checkpoint = tmp_path / "elsewhere.pt"
    shutil.copy(original, checkpoint)  # "unlearned" elsewhere by doing nothing: it must score as the Original
    record = cli(["method=external_checkpoint", f"method.path={checkpoint}", *CLASSWISE], cache, tmp_path)
    assert record["observed"] is False and record["data_read"] == []
    for name in ("UA", "RA", "TA", "MIA"):
        assert record["metrics"][name] == pytest.approx(record["original_metrics"][name])
    assert record["code"]["inputs"]["checkpoint_sha256"]


def test_the_command_line_runs_from_a_wrapper_in_another_folder(tmp_path):
    wrapper = tmp_path / "my_cli.py"
    wrapper.write_text("from unlearn_bench.__main__ import cli\n\ncli()\n")
    done = subprocess.run([sys.executable, str(wrapper), f"plugins=[{EXAMPLES / 'my_method.py'}]", "method=my_rl",
                           "--cfg", "job"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "name: my_rl" in done.stdout
