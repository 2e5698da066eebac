import pytest
import torch

from tests.conftest import compose_config
from unlearn_bench.data.task import make_task
from unlearn_bench.methods import DataView, method_class
from unlearn_bench.methods.base import DataAccessError


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


def test_every_method_declares_true_minimal_needs():
    assert method_class("ga").needs == {"forget"}
    assert method_class("ft").needs == {"retain"}
    assert method_class("retrain").needs == {"retain"}
    assert method_class("rl").needs == method_class("salun").needs == {"forget", "retain"}


def test_classwise_test_split_drops_forgotten_class(task):
    _, y = task.split("test")
    assert 0 not in y.tolist() and len(y) == 75
