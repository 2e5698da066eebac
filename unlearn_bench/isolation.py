"""Where a method runs: in this process (``none``), in a child process (``process``) or in a child confined by the
operating system (``sandbox``).

In-process, a method could still reach data it did not declare through the interpreter (a caller's frame, a module
global, ``gc``). The ``process`` child is started with ``spawn`` (a fresh interpreter that inherits none of this
process's memory) and receives only the method's class, its config as a plain container, the model and the
``DataView`` (the declared splits' tensors and the view's settings), never the ``Task``. Everything crosses as pickled
bytes through a pipe rather than torch's shared-memory tensors, so a small ``/dev/shm`` (containers) does not limit
the data; CUDA tensors are restored on their device.

The ``process`` child still shares this machine's file system, network and process table with the run: a method can
read the data root, the cache (a cached Retrain) or the run folder, rebuild the task from its inherited argv, or read
this process's memory through ``/proc``. What it declared and what its view saw are recorded, not shown.

``sandbox`` runs the child under bubblewrap (``bwrap``, Debian's ``bubblewrap``: maintained, unprivileged user
namespaces, no daemon; chosen over Landlock because it also gives a PID and a network namespace): new user, PID, IPC,
UTS, cgroup and network namespaces (no network, no parent process to read), a file system of only the Python
environment (read-only: the interpreter, its standard library and site-packages, this package's code and the method's
own module) with scikit-learn's bundled data files hidden, a private ``/tmp``, ``/proc`` of its own namespace and a
minimal ``/dev``; no data root, cache, output folder or home. Its argv is the bootstrap code alone and its environment
is empty but for ``HOME=/tmp`` and ``PATH``. The child holds no data: its view asks this process for a split through
the channel (stdin / stdout), and this process sends a split only if the method declared it and records what it sent
(``DataView.read``: the record's ``data_read``) and every split asked for. What the child returns is read with an
unpickler that builds only torch, NumPy and this package's types, so the method's code never runs here.

Unlearning gives the same weights in every mode: the RNG states (the view's generator and the global Python, NumPy
and torch ones) and the torch settings that change results (threads, TF32, cuDNN, deterministic algorithms) go to the
child, and the RNG states come back, as in-process unlearning would have left them.
"""

from __future__ import annotations

import copy
import functools
import io
import logging
import os
import pickle
import random
import shutil
import struct
import subprocess
import sys
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.multiprocessing as mp
from omegaconf import OmegaConf
from torch import nn

from unlearn_bench.config import ISOLATION_MODES, check_isolation
from unlearn_bench.errors import ConfigError
from unlearn_bench.methods.base import Method
from unlearn_bench.methods.view import DataAccessError, DataView

log = logging.getLogger(__name__)

__all__ = ["ISOLATION_MODES", "IsolatedMethodError", "check_mode", "check_sandbox", "unlearn"]


class IsolatedMethodError(RuntimeError):
    """The method failed in the child process; the message holds the child's traceback. Raised as the cause of the
    child's own exception, or alone when that exception cannot be pickled."""


def unlearn(method: Method, model: nn.Module, view: DataView, mode: str) -> nn.Module:
    """``method.unlearn(model, view)`` in the isolation ``mode``; returns the unlearned model. Under ``process``,
    ``model`` is updated in place when the method returns it (loaded from the child's state dict); a method that
    returns another module (a wrapper, a new model) returns the child's module. ``view.read`` and the RNG states are
    updated either way."""
    check_isolation(mode)
    if mode == "none":
        return method.unlearn(model, view)
    if mode == "sandbox":
        returned, generator_state, rng = _run_in_sandbox(method, model, view)
    else:
        returned, read, generator_state, rng = _run_in_child(method, model, view)
        view.note_read(read)
    view.generator.set_state(generator_state)
    _set_rng_state(rng)
    if isinstance(returned, nn.Module):
        return returned
    model.load_state_dict(returned)
    return model


def _run_in_child(method: Method, model: nn.Module, view: DataView) -> tuple[Any, frozenset[str], torch.Tensor, dict]:
    payload = pickle.dumps((type(method), _plain(method.cfg), model, _detached(view), _rng_state(view.device),
                            _settings()))
    ctx = mp.get_context("spawn")
    reader, writer = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(payload, writer), name=f"unlearn-{method.name}")
    child.start()
    writer.close()  # the child holds the only write end: its exit without a result ends recv with EOFError
    try:
        message = reader.recv_bytes()
    except EOFError:
        message = None
    finally:
        reader.close()
        child.join()
    status, value = pickle.loads(message) if message is not None else (None, None)
    return _outcome(method, status, value, child.exitcode, "child process")


def _outcome(method: Method, status: str | None, value: Any, exit_code: int | None, where: str) -> Any:
    """The child's result; or its error raised here (from an IsolatedMethodError holding the child's traceback);
    ``status`` None: the child exited without a result."""
    if status is None:
        raise IsolatedMethodError(f"method {method.name!r} exited with code {exit_code} in its {where} and returned "
                                  "nothing")
    if status == "error":
        error, child_traceback = value
        cause = IsolatedMethodError(f"in the method's {where}:\n{child_traceback}")
        if error is None:
            raise cause
        raise error from cause
    return value


def _child(payload: bytes, writer: Connection) -> None:
    """The child's entry point: rebuild the method, run it, send back the result or the error."""
    try:
        method_cls, config, model, view, rng, settings = pickle.loads(payload)
        _apply_settings(settings)
        _set_rng_state(rng)
        result = method_cls(config).unlearn(model, view)
        returned = result.state_dict() if result is model else result
        message = pickle.dumps(("ok", (returned, view.read, view.generator.get_state(), _rng_state(view.device))))
    except BaseException as err:  # every failure goes back to the parent, which raises it
        message = pickle.dumps(("error", (_portable(err), traceback.format_exc())))
    writer.send_bytes(message)
    writer.close()


def _plain(cfg: Any) -> Any:
    """``cfg`` (an OmegaConf node or a config dataclass) as a resolved config without a parent: the run's root
    config stays in this process."""
    node = cfg if OmegaConf.is_config(cfg) else OmegaConf.structured(cfg)
    return OmegaConf.create(OmegaConf.to_container(node, resolve=True))


def _detached(view: DataView) -> DataView:
    """A shallow copy of ``view`` whose configs (the recipes) are plain (``_plain``)."""
    detached = copy.copy(view)
    for name, value in vars(view).items():
        if OmegaConf.is_config(value):
            setattr(detached, name, _plain(value))
    return detached


def _portable(err: BaseException) -> BaseException | None:
    """``err`` if it survives pickling (its type and message reach the parent), else None."""
    try:
        pickle.loads(pickle.dumps(err))
    except Exception:
        return None
    return err


def _rng_state(device: torch.device) -> dict[str, Any]:
    """The global RNG states; CUDA's when the method runs on CUDA (or CUDA is already in use)."""
    cuda = device.type == "cuda" or torch.cuda.is_initialized()
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if cuda else None}


def _set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state["cuda"] is not None:
        torch.cuda.set_rng_state_all(state["cuda"])


def _settings() -> dict[str, Any]:
    """The process-wide torch settings that change a method's numbers."""
    return {"threads": torch.get_num_threads(), "matmul_precision": torch.get_float32_matmul_precision(),
            "cudnn_tf32": torch.backends.cudnn.allow_tf32, "cudnn_benchmark": torch.backends.cudnn.benchmark,
            "cudnn_deterministic": torch.backends.cudnn.deterministic,
            "deterministic": torch.are_deterministic_algorithms_enabled(),
            "deterministic_warn_only": torch.is_deterministic_algorithms_warn_only_enabled()}


def _apply_settings(settings: dict[str, Any]) -> None:
    torch.set_num_threads(settings["threads"])
    torch.set_float32_matmul_precision(settings["matmul_precision"])
    torch.backends.cudnn.allow_tf32 = settings["cudnn_tf32"]
    torch.backends.cudnn.benchmark = settings["cudnn_benchmark"]
    torch.backends.cudnn.deterministic = settings["cudnn_deterministic"]
    torch.use_deterministic_algorithms(settings["deterministic"], warn_only=settings["deterministic_warn_only"])


# --- sandbox: bubblewrap ------------------------------------------------------------------------------------------

SANDBOX_PKG = "/sandbox/pkg"  # where the package's code (and an outside method's module) appears in the sandbox
# Data files that ship inside installed packages, hidden in the sandbox (relative to site-packages).
PACKAGE_DATA = ("sklearn/datasets/data", "sklearn/datasets/images")


def check_mode(mode: str) -> None:
    """``method_isolation`` is a known mode, and a sandbox can start here if it is ``sandbox``."""
    check_isolation(mode)
    if mode == "sandbox":
        check_sandbox()


def check_sandbox() -> None:
    """ConfigError saying why, where no sandbox can start here (run before any work)."""
    if problem := _sandbox_problem():
        raise ConfigError(f"method_isolation=sandbox cannot start a sandbox here: {problem}; use "
                          "method_isolation=process (which records, but does not show, what a method read)")


@functools.cache
def _sandbox_problem() -> str | None:
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (apt-get install bubblewrap)"
    probe = subprocess.run(_sandbox_command([], "import torch"), capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        lines = (probe.stderr or probe.stdout).strip().splitlines()
        return f"bwrap exited with {probe.returncode} ({lines[-1] if lines else 'no message'})"
    return None


def _python_roots() -> list[Path]:
    """The folders of the Python environment: the interpreter's prefixes (a venv and its base)."""
    roots = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    return sorted(r for r in roots if not any(o != r and r.is_relative_to(o) for o in roots))


def _code_binds(extra_modules: list[str]) -> list[tuple[Path, str]]:
    """(source, place in the sandbox) of this package and of each top-level package or module in ``extra_modules``
    that is not installed in the environment (a method registered from outside)."""
    binds = {"unlearn_bench": Path(__file__).resolve().parent}
    for name in extra_modules:
        top = name.split(".")[0]
        module = sys.modules.get(top)
        origin = getattr(module, "__file__", None)
        if origin is None or top in binds:
            continue
        origin = Path(origin).resolve()
        source = origin.parent if origin.name == "__init__.py" else origin
        if not any(source.is_relative_to(root) for root in _python_roots()):
            binds[top] = source
    return [(source, f"{SANDBOX_PKG}/{source.name}") for source in binds.values()]


def _sandbox_command(extra_modules: list[str], code: str) -> list[str]:
    """``bwrap`` running ``code`` in this interpreter with a clean argv and environment (see the module docstring)."""
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
            "--setenv", "HOME", "/tmp", "--setenv", "PATH", "/usr/bin:/bin",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--chdir", "/tmp"]
    for system in ("/usr/lib", "/usr/lib64", "/usr/bin"):  # shared libraries; /usr/share (datasets) stays out
        args += ["--ro-bind-try", system, system]
    for link in ("lib", "lib64", "bin"):
        if os.path.islink(f"/{link}"):
            args += ["--symlink", os.readlink(f"/{link}"), f"/{link}"]
    args += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    for root in _python_roots():
        args += ["--ro-bind", str(root), str(root)]
    site_packages = [p for p in sys.path if p.endswith("site-packages")]
    for site in site_packages:
        for data in PACKAGE_DATA:
            if os.path.isdir(os.path.join(site, data)):
                args += ["--tmpfs", str(Path(site).resolve() / data)]
    for device in sorted(Path("/dev").glob("nvidia*")):  # CUDA devices, when the run uses them
        args += ["--dev-bind-try", str(device), str(device)]
    for source, target in _code_binds(extra_modules):
        args += ["--ro-bind", str(source), target]
    paths = [SANDBOX_PKG, *(str(Path(p).resolve()) for p in sys.path
                            if p and any(Path(p).resolve().is_relative_to(r) for r in _python_roots()))]
    boot = f"import sys; sys.path[:0] = {paths!r}; {code}"
    return [*args, "--", sys.executable, "-I", "-S", "-c", boot]


def _send(stream: Any, obj: Any) -> None:
    data = pickle.dumps(obj)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _receive_bytes(stream: Any) -> bytes | None:
    header = stream.read(8)
    if len(header) < 8:
        return None
    (size,) = struct.unpack("<Q", header)
    data = stream.read(size)
    return data if len(data) == size else None


class _ResultUnpickler(pickle.Unpickler):
    """Builds what a method may return (tensors, state dicts, modules of torch and of this package, NumPy arrays,
    exceptions) and nothing else: a class of the method's own module or any other function is refused."""

    ALLOWED_FUNCTIONS = {("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_parameter"),
                         ("torch._utils", "_rebuild_device_tensor_from_numpy"), ("torch.storage", "_load_from_bytes"),
                         ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                         ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
                         ("_codecs", "encode"), ("copyreg", "_reconstructor")}
    ALLOWED_TYPE_MODULES = ("torch", "numpy", "collections", "unlearn_bench", "omegaconf")

    def find_class(self, module: str, name: str) -> Any:
        found = super().find_class(module, name)
        if (module, name) in self.ALLOWED_FUNCTIONS:
            return found
        if isinstance(found, type):
            top = module.split(".")[0]
            if top in self.ALLOWED_TYPE_MODULES or (top == "builtins" and (
                    issubclass(found, BaseException) or found in (set, frozenset, slice, object, dict, list))):
                return found
        raise pickle.UnpicklingError(f"the sandboxed method returned a {module}.{name}, which is not built here")


def _untrusted(data: bytes) -> Any:
    return _ResultUnpickler(io.BytesIO(data)).load()


def _run_in_sandbox(method: Method, model: nn.Module, view: DataView) -> tuple[Any, torch.Tensor, dict]:
    """``method.unlearn`` in a bubblewrap sandbox; serves the child's requests for splits (declared ones only, each
    recorded in ``view.read`` when sent) until it returns."""
    check_sandbox()
    skeleton = _detached(view)
    skeleton._splits, skeleton._read = {}, set()
    payload = (type(method), _plain(method.cfg), model, skeleton, sorted(view.needs), _rng_state(view.device),
               _settings())
    modules = sorted({type(method).__module__, type(view).__module__})
    command = _sandbox_command(modules, "from unlearn_bench.isolation import _sandbox_child; _sandbox_child()")
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    asked: list[str] = []
    try:
        _send(child.stdin, payload)
        while (message := _receive_bytes(child.stdout)) is not None:
            kind, value = _untrusted(message)
            if kind != "split":
                break
            asked.append(str(value))
            try:
                _send(child.stdin, ("split", view.split(str(value))))  # DataAccessError for an undeclared split
            except DataAccessError as err:
                _send(child.stdin, ("denied", str(err)))
        else:
            kind, value = None, None
    finally:
        for stream in (child.stdin, child.stdout):
            stream.close()
        child.wait()
    if undeclared := sorted(set(asked) - view.needs):
        log.warning("method %r asked the sandbox for undeclared splits %s: refused", method.name, undeclared)
    return _outcome(method, kind, value, child.returncode, "sandbox")


def _sandbox_child() -> None:
    """The sandbox's entry point: the payload from stdin, the method on a view that asks stdin/stdout for its splits,
    the result back. Whatever the method prints goes to stderr, so stdout carries the channel only."""
    channel_in, channel_out = sys.stdin.buffer, os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    try:
        method_cls, config, model, skeleton, needs, rng, settings = pickle.loads(_receive_bytes(channel_in))
        view = _channel_view(skeleton, frozenset(needs), channel_in, channel_out)
        _apply_settings(settings)
        _set_rng_state(rng)
        result = method_cls(config).unlearn(model, view)
        returned = result.state_dict() if result is model else result
        message = ("ok", (returned, view.generator.get_state(), _rng_state(view.device)))
    except BaseException as err:  # every failure goes back to the parent, which raises it
        message = ("error", (_portable(err), traceback.format_exc()))
    _send(channel_out, message)
    channel_out.close()


def _channel_view(skeleton: DataView, needs: frozenset[str], channel_in: Any, channel_out: Any) -> DataView:
    """``skeleton`` (a view without its splits) as a view that asks the parent for a split the first time the method
    reads it; the parent refuses an undeclared one."""

    def split(self: DataView, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        if name not in self._splits:
            _send(channel_out, ("split", name))
            kind, value = pickle.loads(_receive_bytes(channel_in))
            if kind == "denied":
                raise DataAccessError(value)
            self._splits[name] = value
        self._read.add(name)
        return self._splits[name]

    cls = type(f"Channel{type(skeleton).__name__}", (type(skeleton),),
               {"split": split, "needs": property(lambda self: needs)})
    view = cls.__new__(cls)
    view.__dict__.update(skeleton.__dict__)
    return view
