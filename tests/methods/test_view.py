"""``DataView``: built from the declared splits only (no Task, no path to other data), ``needs`` read-only, ``read``
records what was read, batching as the Task's."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from tests.conftest import compose_config, reachable
from unlearn_bench.data.task import Task, make_task
from unlearn_bench.methods import DataView
from unlearn_bench.methods.view import DataAccessError


@pytest.fixture(scope="module")
def cfg():
    return compose_config(["data=fake", "scenario=random10"])


@pytest.fixture(scope="module")
def task(cfg):
    return make_task(cfg.data, cfg.scenario, cfg.train, 0, "cpu")


def make_view(task, cfg, needs, seed=0):
    return DataView.from_task(task, needs, cfg.train, torch.Generator().manual_seed(seed), progress=False)


def storage(t: torch.Tensor) -> int:
    return t.untyped_storage().data_ptr()


def test_view_holds_no_task_and_no_path_to_undeclared_data(task, cfg):
    view = make_view(task, cfg, {"forget"})
    assert not any(isinstance(v, Task) for v in vars(view).values())
    objects = reachable(view)
    assert not any(isinstance(obj, Task) for obj in objects)
    storages = {storage(obj) for obj in objects if isinstance(obj, torch.Tensor)}
    assert storage(task.split("forget")[0]) in storages  # the probe does find what the view holds
    for undeclared in (task.split("retain")[0], task.split("val")[0], task.split("test")[0], task.train_x):
        assert storage(undeclared) not in storages


def test_needs_is_read_only(task, cfg):
    view = make_view(task, cfg, {"forget"})
    assert view.needs == frozenset({"forget"}) and isinstance(view.needs, frozenset)
    with pytest.raises(AttributeError):
        view.needs = frozenset({"forget", "retain"})
    with pytest.raises(DataAccessError, match="retain"):
        view.split("retain")


def test_read_reports_exactly_the_splits_read(task, cfg):
    view = make_view(task, cfg, {"forget", "retain", "val"})
    assert view.read == frozenset()
    view.split("forget")
    view.loader("val", 8)
    view.batches(*task.split("retain"), 8)  # given tensors: no split is read through the view
    with pytest.raises(DataAccessError):
        view.split("test")
    assert view.read == {"forget", "val"}
    view.note_read({"retain", "test"})  # a child's reads merge in; an undeclared name cannot be recorded
    assert view.read == {"forget", "val", "retain"}


def test_loader_augments_as_the_task_does(task, cfg):
    augmented = dataclasses.replace(task, crop_padding=2, hflip=True, _splits={})
    view = make_view(augmented, cfg, {"forget"}, seed=3)
    ours = list(view.loader("forget", 16)())
    theirs = list(augmented.loader("forget", 16, generator=torch.Generator().manual_seed(3)))
    assert len(ours) == len(theirs) > 1
    for (x, y), (tx, ty) in zip(ours, theirs, strict=True):
        assert torch.equal(x, tx) and torch.equal(y, ty)
    plain = list(view.loader("forget", 16, shuffle=False, augment=False)())
    assert torch.equal(plain[0][0], augmented.split("forget")[0][:16].float() / 255)
