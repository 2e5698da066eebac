"""A method that declares D_f only and then tries every route to D_r that the review of issue 30 found open under
``method_isolation=process`` (tests/test_isolation.py runs it). Its own module (not a test file) so the sandbox binds
only it: a method registered from outside the package."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from unlearn_bench.data.task import Task
from unlearn_bench.methods.base import Method, MethodConfig
from unlearn_bench.methods.view import DataView

ROUTES = ("argv", "environment", "run folder", "data root", "public dataset", "package data", "cached Retrain",
          "home", "parent memory", "network", "heap", "view internals")
REPORT = "cheat report: "
# Variables the sandbox (HOME, PATH, bwrap's PWD) or the child's own torch import (the inductor cache) set.
SET_IN_THE_CHILD = {"HOME", "PATH", "PWD", "TORCHINDUCTOR_CACHE_DIR"}


class Cheat(Method):
    name = "cheat"
    needs = frozenset({"forget"})

    @dataclass
    class Config(MethodConfig):
        name: str = "cheat"
        paths: dict[str, str] = field(default_factory=dict)  # route -> a file or folder of the run to open
        parent_env: list[str] = field(default_factory=list)  # the parent's environment variables (names)
        parent_pid: int = 0
        port: int = 0  # a port the parent listens on, on 127.0.0.1

    def unlearn(self, model: nn.Module, data: DataView) -> nn.Module:
        data.split("forget")  # what it declared: allowed
        report = {route: _attempt(getattr(self, "_" + route.replace(" ", "_")), data) for route in ROUTES}
        sys.stderr.write(REPORT + json.dumps(report) + "\n")
        sys.stderr.flush()
        return model

    def _argv(self, data: DataView) -> str:
        return f"the run's argv {sys.argv}" if sys.argv[1:] or sys.argv[0] != "-c" else ""

    def _environment(self, data: DataView) -> str:
        leaked = sorted(set(os.environ) & set(self.cfg.parent_env) - SET_IN_THE_CHILD)
        return f"the run's environment {leaked[:3]}" if leaked else ""

    def _read(self, path: str) -> str:
        target = Path(path)
        if target.is_dir():
            return f"{path}: {sorted(os.listdir(target))[:3]}"
        return f"{path}: {len(target.read_bytes())} bytes"

    def _run_folder(self, data: DataView) -> str:
        return self._read(self.cfg.paths["run folder"])

    def _data_root(self, data: DataView) -> str:
        return self._read(self.cfg.paths["data root"])

    def _public_dataset(self, data: DataView) -> str:
        return self._read("/usr/share/datasets/fashion-mnist")

    def _package_data(self, data: DataView) -> str:
        from sklearn.datasets import load_digits

        return f"load_digits: {len(load_digits().target)} images"

    def _cached_Retrain(self, data: DataView) -> str:
        return f"Retrain: {len(torch.load(self.cfg.paths['cached Retrain'], weights_only=True))} tensors"

    def _home(self, data: DataView) -> str:
        python = {Path(p).parts[2] for p in sys.path if Path(p).is_relative_to(self.cfg.paths["home"])}
        found = sorted(set(os.listdir(self.cfg.paths["home"])) - python)  # the folder of the Python env may show
        return f"home: {found[:3]}" if found else ""

    def _parent_memory(self, data: DataView) -> str:
        for pid in {self.cfg.parent_pid, os.getppid()}:
            with contextlib.suppress(Exception):
                maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
                start = next(int(line.split("-")[0], 16) for line in maps if line.split()[1].startswith("r"))
                with open(f"/proc/{pid}/mem", "rb") as mem:
                    mem.seek(start)
                    if len(mem.read(4096)) and pid not in (0, 1, os.getpid()) and _not_sandbox_init(pid):
                        return f"/proc/{pid}/mem readable"
        return ""

    def _network(self, data: DataView) -> str:
        with socket.create_connection(("127.0.0.1", self.cfg.port), timeout=2):
            return f"connected to 127.0.0.1:{self.cfg.port}"

    def _heap(self, data: DataView) -> str:
        tasks = [o for o in gc.get_objects() if issubclass(type(o), Task)]
        return f"a Task with {len(tasks[0].split('retain')[1])} retain examples" if tasks else ""

    def _view_internals(self, data: DataView) -> str:
        if (found := data._splits.get("retain")) is not None:
            return f"view._splits holds retain ({len(found[1])})"
        type(data).needs = property(lambda view: frozenset({"forget", "retain"}))  # a per-caller lie
        return f"split('retain') gave {len(data.split('retain')[1])} examples"


def _not_sandbox_init(pid: int) -> bool:
    """Whether ``pid`` is a process other than the sandbox's own init (bwrap), which a child may read."""
    try:
        return "bwrap" not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return True


def _attempt(route, data: DataView) -> str:
    try:
        leaked = route(data)
    except Exception as err:  # the route is blocked
        return f"blocked ({type(err).__name__}: {str(err)[:80]})"
    return f"LEAKED: {leaked}" if leaked else "blocked"
