from dataclasses import dataclass

import pytest
import torch

from tests.conftest import compose_config
from unlearn_bench.data.task import make_task
from unlearn_bench.errors import ConfigError
from unlearn_bench.methods import DataView, method_class
from unlearn_bench.methods.base import DataAccessError, Method, MethodConfig, register_method


@pytest.fixture(scope="module")
def task():
    cfg = compose_config(["data=fake", "scenario=classwise"])
    return make_task(cfg.data, cfg.scenario, cfg.train, 0, "cpu")


def test_dataview_refuses_undeclared_splits(task):
    view = DataView.from_task(task, frozenset({"forget"}), compose_config(["data=fake"]).train, torch.Generator())
    x, y = view.split("forget")
    assert (y == 0).all() and len(y) == 100
    for split in ("retain", "test", "train"):
        with pytest.raises(DataAccessError, match=split):
            view.split(split)


@pytest.fixture(scope="module")
def task_with_val():
    cfg = compose_config(["data=fake", "scenario=classwise", "data.val_ratio=0.1"])
    return make_task(cfg.data, cfg.scenario, cfg.train, 0, "cpu")


def observed_methods() -> list[str]:
    from unlearn_bench.methods.base import method_names

    return [name for name in method_names() if method_class(name).observed]


@pytest.mark.slow
@pytest.mark.parametrize("name", observed_methods())
def test_every_method_reads_exactly_the_splits_it_declares(task_with_val, name):
    """Given every split a method may be handed, it reads all it declares and nothing more: ``needs`` is what the
    record's data access and D_r-free columns say, so a method reading D_r undeclared (or declaring it unread) lies."""
    from unlearn_bench.methods.base import create_method
    from unlearn_bench.methods.view import METHOD_SPLITS
    from unlearn_bench.pipelines.classifier import new_model

    cfg = compose_config([f"method={name}", "data=fake", "scenario=classwise", "progress=false"])
    for key in ("epochs", "iterations", "pseudo_batches"):  # the shortest run that still touches every split it uses
        if key in cfg.method:
            cfg.method[key] = 1
    if name == "gkt":  # an untrained teacher gives every class 1/K: let its images through the forget-class gate
        cfg.method.threshold = 1.0
    task = task_with_val
    model = new_model(cfg, task, torch.device("cpu"))
    view = DataView({split: task.split(split) for split in METHOD_SPLITS}, task.num_classes, "cpu", cfg.train,
                    torch.Generator().manual_seed(0), progress=False)
    create_method(cfg.method).unlearn(model, view)
    assert view.read == method_class(name).needs


def test_classwise_test_split_drops_forgotten_class(task):
    _, y = task.split("test")
    assert 0 not in y.tolist() and len(y) == 75


def test_one_registry_keys_every_task_s_methods_by_task_and_name():
    from unlearn_bench.compose import register_configs
    from unlearn_bench.methods.base import option

    register_configs()  # every pipeline, hence every family, is imported
    salun = {task: method_class("salun", task) for task in ("classification", "generation", "generation_sd")}
    assert len({id(cls) for cls in salun.values()}) == 3 and all(cls.task == t for t, cls in salun.items())
    assert [option(t, "salun") for t in salun] == ["salun", "generation/salun", "sd/salun"]
    with pytest.raises(ConfigError, match=r"method=sd/ft is not registered for task=generation_sd; allowed: \[.sd/"):
        method_class("ft", "generation_sd")


def test_a_method_whose_config_names_another_or_that_is_registered_twice_is_refused():
    @dataclass
    class Config(MethodConfig):
        name: str = "other"

    class Misnamed(Method):
        name, needs = "misnamed", frozenset({"forget"})

    Misnamed.Config = Config
    with pytest.raises(ConfigError, match="its Config names it 'other'"):
        register_method(Misnamed)
    with pytest.raises(ConfigError, match="registered twice"):
        register_method(method_class("ga"))


def test_a_method_with_an_unknown_split_or_task_is_refused():
    @dataclass
    class Config(MethodConfig):
        name: str = "probe"

    reads_test = type("ReadsTest", (Method,), {"name": "probe", "needs": frozenset({"forget", "test"}),
                                               "Config": Config})
    with pytest.raises(ConfigError, match=r"declares unknown splits \['test'\]"):
        register_method(reads_test)
    audio = type("Audio", (Method,), {"name": "probe", "task": "audio", "needs": frozenset({"forget"}),
                                      "Config": Config})
    with pytest.raises(ConfigError, match="declares task 'audio'"):
        register_method(audio)
