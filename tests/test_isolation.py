"""Process isolation: a method that declares D_f only cannot reach D_r in a child process, not even by scanning the
interpreter's heap (which in-process finds the run's Task); errors come back with their type; a real method gives
the in-process weights, reads and RNG states."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from tests.conftest import compose_config, reachable
from tests.sandbox_cheat import ROUTES
from unlearn_bench.attacks.common import unlearn_seeded
from unlearn_bench.data.task import Task, make_task
from unlearn_bench.errors import ConfigError
from unlearn_bench.isolation import IsolatedMethodError, unlearn
from unlearn_bench.methods import DataView, Method, create_method, method_class
from unlearn_bench.methods.base import MethodConfig
from unlearn_bench.methods.view import DataAccessError
from unlearn_bench.models import create_model
from unlearn_bench.runtime import seed_everything


def bwrap_available() -> bool:
    from unlearn_bench.isolation import _sandbox_problem

    return _sandbox_problem() is None


needs_bwrap = pytest.mark.skipif("not bwrap_available()", reason="bubblewrap is absent or cannot create namespaces "
                                 "here (apt-get install bubblewrap; .ci/run installs it)")


class LeakedError(AssertionError):
    """The snoop found data it did not declare."""


class Snoop(Method):
    """Declares D_f only, then looks for D_r: a Task reachable from the view, a Task anywhere on the heap
    (``heap``), and finally ``data.split("retain")``. Not registered: called directly."""

    name = "snoop"
    needs = frozenset({"forget"})

    @dataclass
    class Config(MethodConfig):
        heap: bool = False

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        found = [obj for obj in vars(data).values() if isinstance(obj, Task)]
        found += [obj for obj in reachable(data) if isinstance(obj, Task)]
        if self.cfg.heap:
            found += [obj for obj in gc.get_objects() if issubclass(type(obj), Task)]  # type(): no lazy attributes
        if found:
            raise LeakedError(f"found a Task holding {len(found[0].split('retain')[1])} retain examples")
        data.split("retain")
        return model


@pytest.fixture(scope="module")
def cfg():
    return compose_config(["data=fake", "scenario=random10", "data.n_train=80", "data.n_test=20"])


@pytest.fixture(scope="module")
def task(cfg):
    return make_task(cfg.data, cfg.scenario, cfg.train, 0, "cpu")


def snoop(heap: bool) -> Snoop:
    return Snoop(Snoop.Config(name="snoop", heap=heap))


def view_of(task, cfg, needs, seed=0):
    return DataView.from_task(task, needs, cfg.train, seed_everything(seed), progress=False)


def test_unknown_mode_is_a_config_error(task, cfg):
    assert cfg.method_isolation == "none"
    with pytest.raises(ConfigError, match=r"method_isolation='thread'.*none, process, sandbox"):
        unlearn(snoop(False), nn.Linear(1, 1), view_of(task, cfg, Snoop.needs), "thread")


def test_in_process_the_view_refuses_retain_but_the_heap_holds_the_task(task, cfg):
    with pytest.raises(DataAccessError, match="may not read 'retain'"):
        unlearn(snoop(heap=False), nn.Linear(1, 1), view_of(task, cfg, Snoop.needs), "none")
    with pytest.raises(LeakedError):  # why process isolation exists; also shows the heap scan works
        unlearn(snoop(heap=True), nn.Linear(1, 1), view_of(task, cfg, Snoop.needs), "none")


def test_in_a_child_process_retain_is_out_of_reach_and_the_error_comes_back(task, cfg):
    view = view_of(task, cfg, Snoop.needs)
    with pytest.raises(DataAccessError, match="may not read 'retain'") as raised:
        unlearn(snoop(heap=True), nn.Linear(1, 1), view, "process")
    assert isinstance(raised.value.__cause__, IsolatedMethodError)
    assert 'data.split("retain")' in str(raised.value.__cause__)  # the child's traceback


@pytest.mark.parametrize("isolated", ["process", pytest.param("sandbox", marks=[needs_bwrap, pytest.mark.slow])])
def test_isolation_gives_the_in_process_weights_reads_and_rng_states(isolated):
    cfg = compose_config(["data=digits", "scenario=classwise", "method=ga", "method.epochs=1"])
    task = make_task(cfg.data, cfg.scenario, cfg.train, 0, "cpu")
    outcomes = []
    for mode in ("none", isolated):
        torch.manual_seed(1)
        model = create_model(cfg.data.default_model, task.num_classes, cfg.data.in_chans, cfg.data.img_size,
                             task.mean, task.std)
        view = view_of(task, cfg, method_class("ga").needs, seed=cfg.seed)
        returned = unlearn(create_method(cfg.method), model, view, mode)
        assert returned is model  # GA edits the model in place; the child's weights are loaded into it
        outcomes.append((model.state_dict(), view.read, view.generator.get_state(), torch.rand(3)))
    (weights, read, generator, after), (p_weights, p_read, p_generator, p_after) = outcomes
    assert read == p_read == {"forget"}
    assert torch.equal(generator, p_generator) and torch.equal(after, p_after)
    assert weights.keys() == p_weights.keys()
    for key in weights:
        assert torch.equal(weights[key], p_weights[key]), key
    original = create_model(cfg.data.default_model, task.num_classes, cfg.data.in_chans, cfg.data.img_size,
                            task.mean, task.std)
    assert not all(torch.equal(original.state_dict()[k], weights[k]) for k in weights)  # GA did change weights


def test_a_run_under_process_isolation_records_what_the_method_read(tmp_path):
    """Through the runner: ``method_isolation=process`` gives the in-process record (weights, hence metrics) and the
    record says which declared splits the method read."""
    from unlearn_bench.runner import run

    records = {}
    for mode in ("none", "process"):
        cfg = compose_config(["method=digits/ga", "scenario=classwise", "train.epochs=2", "progress=false",
                              f"cache_dir={tmp_path / 'cache'}", f"method_isolation={mode}"])
        records[mode] = run(cfg, output_dir=tmp_path / mode)
    assert records["none"].status == records["process"].status == "ok"
    assert records["process"].metrics == records["none"].metrics
    assert records["process"].data_read == records["none"].data_read == ["forget"]
    assert records["process"].run_key != records["none"].run_key  # its own record, not the in-process one skipped
    assert records["process"].config["method_isolation"] == "process"


def test_an_attacks_rerun_of_the_method_is_held_to_the_runs_isolation(task, cfg):
    """U-LiRA's shadows and the challenge's / KLoM's populations re-run the method through ``unlearn_seeded``: in
    process the snoop finds the Task on the heap, in the run's ``process`` mode it cannot."""
    with pytest.raises(LeakedError):
        unlearn_seeded(snoop(heap=True), nn.Linear(1, 1), task, cfg.train, seed=0)
    with pytest.raises(DataAccessError, match="may not read 'retain'"):
        unlearn_seeded(snoop(heap=True), nn.Linear(1, 1), task, cfg.train, seed=0, isolation="process")


@pytest.mark.slow
def test_ulira_under_process_isolation_reruns_the_method_in_children_with_the_same_scores(tmp_path, monkeypatch):
    """Through the runner: every U-LiRA shadow's unlearning runs in a child too (one child for the run, one per
    shadow), and the attack's scores equal the in-process ones."""
    import unlearn_bench.isolation as isolation
    from unlearn_bench.runner import run

    children = []
    real_run_in_child = isolation._run_in_child
    monkeypatch.setattr(isolation, "_run_in_child", lambda *a: children.append(a[0].name) or real_run_in_child(*a))
    records = {}
    for mode in ("none", "process"):
        run_cfg = compose_config(["data=fake", "train.epochs=2", "method=ft", "method.epochs=1", "progress=false",
                                  "eval=ulira", "eval.ulira.num_shadows=4", f"cache_dir={tmp_path / 'cache'}",
                                  f"method_isolation={mode}"])
        records[mode] = run(run_cfg, output_dir=tmp_path / mode)
    assert records["none"].status == records["process"].status == "ok"
    assert children == ["ft"] * 5
    ulira_keys = [k for k in records["none"].metrics if k.startswith("ULiRA") and k != "ULiRA_s"]
    assert ulira_keys and all(records["process"].metrics[k] == records["none"].metrics[k] for k in ulira_keys)


# --- sandbox ------------------------------------------------------------------------------------------------------


@pytest.fixture
def cheat_setting(tmp_path, task, cfg, monkeypatch):
    """What the cheat may try to reach: a run folder with Hydra's overrides, a data root, a cached Retrain, the
    home folder, this process and a port it listens on; and an environment variable of the run."""
    import json
    import os
    import socket

    from tests.sandbox_cheat import Cheat

    run_folder = tmp_path / "run" / ".hydra"
    run_folder.mkdir(parents=True)
    (run_folder / "overrides.yaml").write_text(json.dumps(["method=cheat", "data=digits"]))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.bin").write_bytes(b"images")
    torch.save(nn.Linear(2, 2).state_dict(), tmp_path / "retrain.pt")
    monkeypatch.setenv("UNLEARN_BENCH_CACHE", str(tmp_path))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    paths = {"run folder": str(run_folder / "overrides.yaml"), "data root": str(tmp_path / "data"),
             "cached Retrain": str(tmp_path / "retrain.pt"), "home": os.path.expanduser("~")}
    method = Cheat(Cheat.Config(paths=paths, parent_env=sorted(os.environ), parent_pid=os.getpid(),
                                port=listener.getsockname()[1]))
    yield method, view_of(task, cfg, Cheat.needs)
    listener.close()


def cheat_report(capfd) -> dict[str, str]:
    import json

    from tests.sandbox_cheat import REPORT

    lines = [line for line in capfd.readouterr().err.splitlines() if line.startswith(REPORT)]
    assert len(lines) == 1, "the cheat did not report"
    return json.loads(lines[0].removeprefix(REPORT))


@needs_bwrap
def test_in_the_sandbox_every_route_of_the_cheat_is_blocked(cheat_setting, capfd, caplog):
    """The routes that reached D_r (or the data it comes from) under ``process`` are all blocked under ``sandbox``,
    and the parent sends only the declared split: ``view.read`` is what it sent."""
    method, view = cheat_setting
    returned = unlearn(method, nn.Linear(2, 2), view, "sandbox")
    report = cheat_report(capfd)
    assert sorted(report) == sorted(ROUTES)
    leaked = {route: outcome for route, outcome in report.items() if not outcome.startswith("blocked")}
    assert not leaked, leaked
    assert isinstance(returned, nn.Linear) and view.read == {"forget"}
    assert "asked the sandbox for undeclared splits ['retain']: refused" in caplog.text


@pytest.mark.slow  # ~10 s: the contrast that shows the cheat's routes are real ones
def test_under_process_isolation_the_cheat_reaches_what_the_sandbox_blocks(cheat_setting, capfd):
    method, view = cheat_setting
    unlearn(method, nn.Linear(2, 2), view, "process")
    report = cheat_report(capfd)
    open_routes = {route for route, outcome in report.items() if outcome.startswith("LEAKED")}
    expected = set(ROUTES) - {"heap", "view internals"}  # what process isolation already blocks
    if not Path("/usr/share/datasets/fashion-mnist").is_dir():
        expected.discard("public dataset")
    assert expected <= open_routes, report


def test_the_parent_builds_only_torch_numpy_and_package_types_from_the_child():
    """What the sandboxed child sends back is read by a restricted unpickler: a state dict, a module of torch or of this
    package, an exception are built; a class of the method's own module (whose code would then run here) is not."""
    import pickle

    from unlearn_bench.isolation import _untrusted

    state = nn.Linear(2, 2).state_dict()
    back = _untrusted(pickle.dumps(("ok", (state, torch.get_rng_state(), {"numpy": np.random.get_state()}))))
    assert torch.equal(back[1][0]["weight"], state["weight"])
    assert isinstance(_untrusted(pickle.dumps(DataAccessError("no"))), DataAccessError)
    with pytest.raises(pickle.UnpicklingError, match="tests.test_isolation.LeakedError"):
        _untrusted(pickle.dumps(LeakedError("runs code here")))
    with pytest.raises(pickle.UnpicklingError, match="posix.system"):
        _untrusted(b"cposix\nsystem\n(S'true'\ntR.")


def test_where_no_sandbox_can_start_the_mode_is_refused(monkeypatch):
    import unlearn_bench.isolation as isolation

    monkeypatch.setattr(isolation.shutil, "which", lambda name: None)
    isolation._sandbox_problem.cache_clear()
    try:
        with pytest.raises(ConfigError, match="method_isolation=sandbox cannot start a sandbox here: bubblewrap is "
                                              "not installed"):
            isolation.check_mode("sandbox")
    finally:
        isolation._sandbox_problem.cache_clear()
