"""Plugins: what the command line asks for, a method from a file registered and selectable with no YAML, the run key
following the method's source and the CPU thread count (unlearn_bench/plugins.py, runner.code_key)."""

from __future__ import annotations

import sys
import textwrap

import pytest
import torch

from tests.conftest import compose_config
from unlearn_bench import plugins
from unlearn_bench.catalog import catalog
from unlearn_bench.errors import ConfigError
from unlearn_bench.methods.base import METHODS
from unlearn_bench.runner import code_key

METHOD_FILE = textwrap.dedent('''
    from dataclasses import dataclass

    from unlearn_bench.methods import Method, register_method
    from unlearn_bench.methods.base import MethodConfig


    @register_method
    class {cls}(Method):
        name = "{name}"
        needs = frozenset({{"forget"}})

        @dataclass
        class Config(MethodConfig):
            name: str = "{name}"
            steps: int = 3  # test value

        def unlearn(self, model, data):
            return model
''')


@pytest.fixture
def plugin_file(tmp_path, request):
    """A method module in its own file, loaded as a plugin; unregistered afterwards."""
    name = f"plugin_{request.node.name[-20:].strip('[]_').replace('-', '_')}".lower()
    path = tmp_path / f"{name}.py"
    path.write_text(METHOD_FILE.format(cls="Outside", name=name))
    yield path, name
    METHODS.pop(("classification", name), None)
    plugins.LOADED.pop(name, None)
    sys.modules.pop(name, None)


def test_plugin_names_come_from_overrides_and_the_environment(monkeypatch):
    assert plugins.requested_in(["plugins=[a.b,c]", "method=ft", "+plugins=d", "plugins=[oops"]) == ["a.b", "c", "d"]
    monkeypatch.setenv(plugins.PLUGINS_ENV, "x, y.z,")
    assert plugins.requested_in_env() == ["x", "y.z"]


def test_a_method_file_is_registered_and_selectable_without_a_yaml(plugin_file):
    path, name = plugin_file
    cfg = compose_config([f"plugins=[{path}]", f"method={name}"])
    assert cfg.method.name == name and cfg.method.steps == 3
    assert plugins.LOADED[name].source == "plugins=" and plugins.LOADED[name].version is None
    row = next(r for r in catalog() if r["name"] == name)
    assert row["kind"] == "method" and row["origin"] == f"plugin {name} (plugins=)"
    assert next(r for r in catalog() if r["name"] == "salun")["origin"] == "unlearn_bench"


def test_an_unimportable_plugin_is_refused_naming_it():
    with pytest.raises(ConfigError, match="plugins='no_such_module_xyz' cannot be imported"):
        plugins.load(["no_such_module_xyz"])
    with pytest.raises(ConfigError, match="no such file"):
        plugins.load(["missing/dir/method.py"])


def test_the_code_key_follows_the_methods_source_and_the_thread_count(plugin_file):
    path, name = plugin_file
    plugins.load([str(path)])
    method = METHODS[("classification", name)](None)
    cpu = torch.device("cpu")
    before = code_key(method, cpu)
    assert name in before["code"]["files"] and "unlearn_bench.methods.base" in before["code"]["files"]
    path.write_text(path.read_text().replace("steps: int = 3", "steps: int = 4"))
    plugins.SOURCE_DIGESTS.pop(name)  # a new process hashes the edited file
    assert code_key(method, cpu)["code"] != before["code"]
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(threads + 1)
        assert code_key(method, cpu)["cpu_threads"] == threads + 1
    finally:
        torch.set_num_threads(threads)
    assert "cpu_threads" not in code_key(method, torch.device("meta"))  # only CPU results depend on it


def test_an_enabled_attack_s_code_is_in_the_run_key_and_in_its_cached_scores_key():
    """A finished run and the original's and Retrain's cached attack scores must not outlive a change of the attack's
    code (a fixed relearning attack returned the old scores)."""
    from unlearn_bench.attacks import ATTACKS

    method = METHODS[("classification", "ft")](None)
    relearn = ATTACKS["relearn"]
    key = code_key(method, torch.device("cpu"), [relearn])
    assert key["attack_code"]["relearn"] == relearn.code()
    assert "unlearn_bench.attacks.relearn" in relearn.code() and "unlearn_bench.attacks.base" in relearn.code()
    assert "attack_code" not in code_key(method, torch.device("cpu"))  # no attack enabled: no attack code


def test_a_builtin_methods_code_identity_names_its_helpers():
    files = plugins.code_identity(METHODS[("classification", "ft")])["files"]
    assert {"unlearn_bench.methods.finetune", "unlearn_bench.methods.common", "unlearn_bench.training"} <= set(files)


def test_the_examples_search_space_parses_as_the_sweeper_would():
    from pathlib import Path

    from unlearn_bench.tune import search_space

    space = search_space("my_rl", Path(__file__).parents[1] / "examples" / "my_rl_space.yaml")
    assert list(space) == ["method.lr"] and type(space["method.lr"]).__name__ == "LogUniformDistribution"
    assert (space["method.lr"].low, space["method.lr"].high) == (1e-3, 1e-1)
