"""Content-addressed artifact store for trained models (original, Retrain).

Key = hash of the config subtree that determines the artifact. Writes are atomic (temp file + rename),
a file lock per artifact makes concurrent jobs wait for one training instead of training twice, and a
SHA-256 checksum written after the weights is verified on load; a corrupt or partial artifact is
reported and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from filelock import FileLock
from torch import nn

log = logging.getLogger(__name__)
# "<kind>/<key>" of every entry this process loaded or built, in order: the references a run used (its record lists
# them; a reference pack exports them, unlearn_bench/packs.py).
USED: list[str] = []


def config_hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write_bytes(path: Path, write: Callable[[Any], None]) -> None:
    """Write through ``write(file_object)`` into a temp file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, lambda f: f.write(json.dumps(obj, indent=2, sort_keys=True, default=str).encode()))


class ModelCache:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def paths(self, kind: str, key: str) -> tuple[Path, Path]:
        folder = self.root / kind
        return folder / f"{key}.pt", folder / f"{key}.json"

    def _load(self, model: nn.Module, weights: Path, meta_path: Path) -> dict | None:
        if not (weights.exists() and meta_path.exists()):
            return None
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError) as err:
            log.warning("cache: unreadable metadata %s (%s); rebuilding it", meta_path, err)
            return None
        if file_sha256(weights) != meta.get("sha256"):
            log.warning("cache: checksum mismatch for %s; rebuilding it", weights)
            return None
        state = torch.load(weights, map_location=next(model.parameters()).device, weights_only=True)
        model.load_state_dict(state)
        return meta

    def load_or_build(self, kind: str, payload: dict, model: nn.Module,
                      build: Callable[[], nn.Module]) -> tuple[nn.Module, dict]:
        """Load ``kind/<hash(payload)>`` into ``model`` or build it with ``build()`` and store it.
        Returns the model and its metadata (``seconds`` = build time, ``cached`` = whether it was loaded)."""
        key = config_hash(payload)
        USED.append(f"{kind}/{key}")
        weights, meta_path = self.paths(kind, key)
        weights.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(weights) + ".lock"):
            meta = self._load(model, weights, meta_path)
            if meta is not None:
                log.info("cache: loaded %s %s", kind, key)
                return model, {**meta, "cached": True}
            log.info("cache: building %s %s", kind, key)
            start = time.perf_counter()
            built = build()
            seconds = time.perf_counter() - start
            state = {k: v.detach().cpu() for k, v in built.state_dict().items()}
            atomic_write_bytes(weights, lambda f: torch.save(state, f))
            meta = {"kind": kind, "key": key, "payload": payload, "seconds": seconds,
                    "sha256": file_sha256(weights), "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
            atomic_write_json(meta_path, meta)  # written last: its presence marks a complete artifact
            log.info("cache: stored %s %s (%.1f s)", kind, key, seconds)
            return built, {**meta, "cached": False}


def cached_evaluation(cache_dir: str, payload: dict, compute: Callable[[], tuple[dict, dict]]
                      ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """``compute()`` (metrics, arrays) of a reference model, the original or Retrain, stored in
    ``<cache_dir>/eval/<key>/``: every method of a seed shares them, so they are computed once (the key holds the
    weights' SHA-256, the forget set, the scenario and the eval config). metrics.json is written last: its presence
    marks a complete entry. Used by every pipeline and the attacks."""
    folder = Path(cache_dir) / "eval" / config_hash(payload)
    USED.append(f"eval/{folder.name}")
    metrics_path, arrays_path = folder / "metrics.json", folder / "arrays.npz"
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if metrics_path.exists() and arrays_path.exists():
            with np.load(arrays_path) as stored:
                return json.loads(metrics_path.read_text()), dict(stored)
        metrics, arrays = compute()
        atomic_write_bytes(arrays_path, lambda f: np.savez(f, **arrays))
        atomic_write_json(metrics_path, metrics)
        return metrics, arrays


if __name__ == "__main__":  # python -m unlearn_bench.cache export|import: reference packs (unlearn_bench/packs.py)
    import importlib
    import sys

    # by name: run as a script this file is __main__, and packs imports the module unlearn_bench.cache itself
    sys.exit(importlib.import_module("unlearn_bench.packs").main())
