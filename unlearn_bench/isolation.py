"""Where a method runs: in this process (``none``) or in a child process (``process``).

In-process, a method could still reach data it did not declare through the interpreter (a caller's frame, a module
global, ``gc``). The ``process`` child is started with ``spawn`` (a fresh interpreter that inherits none of this
process's memory) and receives only the method's class, its config as a plain container, the model and the
``DataView`` (the declared splits' tensors and the view's settings), never the ``Task``. Everything crosses as pickled
bytes through a pipe rather than torch's shared-memory tensors, so a small ``/dev/shm`` (containers) does not limit
the data; CUDA tensors are restored on their device.

Unlearning gives the same weights in both modes: the RNG states (the view's generator and the global Python, NumPy
and torch ones) and the torch settings that change results (threads, TF32, cuDNN, deterministic algorithms) go to the
child, and the RNG states come back, as in-process unlearning would have left them.
"""

from __future__ import annotations

import copy
import pickle
import random
import traceback
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import torch
import torch.multiprocessing as mp
from omegaconf import OmegaConf
from torch import nn

from unlearn_bench.config import ISOLATION_MODES, check_isolation
from unlearn_bench.methods.base import Method
from unlearn_bench.methods.view import DataView

__all__ = ["ISOLATION_MODES", "IsolatedMethodError", "unlearn"]


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
    if message is None:
        raise IsolatedMethodError(f"method {method.name!r} exited with code {child.exitcode} and returned nothing")
    status, value = pickle.loads(message)
    if status == "error":
        error, child_traceback = value
        cause = IsolatedMethodError(f"in the method's child process:\n{child_traceback}")
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
