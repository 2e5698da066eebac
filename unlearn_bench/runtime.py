"""Device selection, seeding and mixed precision: the only device-specific code in the package."""

from __future__ import annotations

import contextlib
import random
import re
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from unlearn_bench.errors import ConfigError


def select_device(name: str) -> torch.device:
    """``auto`` = CUDA when available, else CPU. Asking for CUDA on a machine without it is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not (name == "cpu" or re.fullmatch(r"cuda(:\d+)?", name)):
        raise ConfigError(f"device={name!r} is not supported; allowed: auto, cpu, cuda, cuda:N")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={name!r} was requested but CUDA is not available; use device=cpu or auto")
    return torch.device(name)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a CPU generator for data order and augmentation."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA when enabled (``resolve_amp`` refuses it on CPU, which stays fp32)."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def resolve_amp(amp: bool | None, device: torch.device) -> bool:
    """``train.amp``: null = bf16 autocast on CUDA only; true is refused on CPU rather than ignored."""
    if amp is None:
        return device.type == "cuda"
    if amp and device.type != "cuda":
        raise ConfigError(f"train.amp=true asks for bf16 autocast, which runs on CUDA only, but device is {device}; "
                          "use train.amp=null (auto: on for CUDA, off on CPU) or train.amp=false")
    return bool(amp)


def prepare_model(model: torch.nn.Module, device: torch.device, channels_last: bool | None,
                  compile: bool = False) -> torch.nn.Module:
    """Move to the device; channels_last memory format (null = on: faster convolutions on CUDA and on CPU,
    where oneDNN runs NHWC kernels; scripts/bench_eval.py measures it); ``compile`` compiles the forward in place
    (``nn.Module.compile``: the state_dict keys stay those of the plain model)."""
    model = model.to(device)
    if channels_last is not False:
        model = model.to(memory_format=torch.channels_last)
    if compile:
        model.compile()
    return model


def resolve_eval_batch_size(batch_size: int | None, device: torch.device) -> int:
    """``eval.batch_size``: null = 1024 on CUDA, 256 on CPU (larger CPU batches fall out of cache:
    scripts/bench_eval.py)."""
    if batch_size is None:
        return 1024 if device.type == "cuda" else 256
    return batch_size


def configure_backends(device: torch.device) -> None:
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True


def peak_memory_mb(device: torch.device) -> dict[str, float]:
    """Peak host RSS of this process, and peak CUDA memory allocated where CUDA is used."""
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {"peak_rss_mb": rss_kb / (1024**2 if sys.platform == "darwin" else 1024)}
    if device.type == "cuda":
        out["cuda_max_allocated_mb"] = torch.cuda.max_memory_allocated(device) / 1024**2
    return out


def off_device(model: torch.nn.Module, device: torch.device) -> list[str]:
    """Names of the tensors ``model`` holds that are not on ``device``: every submodule's parameters, buffers and
    plain tensor attributes (state kept outside the registered buffers), so a tensor a method created on the host and
    left in what it returned is found by a check rather than by a user's next call."""
    index = torch.cuda.current_device() if device.type == "cuda" and device.index is None else device.index
    found = []
    for prefix, module in model.named_modules():
        for attr, value in vars(module).items():
            held = value.items() if attr in ("_parameters", "_buffers") else [(attr, value)]
            found += [f"{prefix}.{name}" if prefix else name for name, tensor in held
                      if isinstance(tensor, torch.Tensor) and (tensor.device.type, tensor.device.index) != (
                          device.type, index)]
    return found


def git_rev() -> str | None:
    """The git revision of the imported ``unlearn_bench`` (not of the working directory), None outside a checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def provenance() -> str:
    """Which code a benchmark ran: the imported package's folder and revision, torch and its thread count (a script
    run by path imports the installed ``unlearn_bench``, which need not be the checkout it sits in)."""
    return (f"unlearn_bench {Path(__file__).parent} at {git_rev() or 'no git revision'}, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads")
