"""Content-addressed artifact store: trained models (original, Retrain, ...), the reference models' evaluations and the
run records.

Key = hash of the config subtree that determines the artifact. Every file is written atomically (temp file + rename;
a temp file left by a killed write is removed by the next write of that file) with the permissions the umask allows
(``umask 002``: a cache a lab group shares). Every artifact carries a SHA-256 digest, verified on load: a model's in its
metadata, an evaluation's and a run's files in the folder's manifest (``sha256.json``, written last: its presence
marks a complete entry); a mismatch is reported, naming the file, and the artifact is rebuilt.

A file lock per artifact makes concurrent jobs wait for one build instead of building twice; a complete artifact is
read without the lock, so a read-only cache can be read. Storage faults lose nothing: a write that fails (disk full,
read-only cache) is retried once, then the artifact goes to the run's fallback folder (``storage_faults``: the output
folder) and the fault is recorded; the run goes on with the model it built.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import hashlib
import io
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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

MANIFEST = "sha256.json"  # {file name: SHA-256} of a cache entry's files, written last
STALE_TMP_S = 3600.0  # a temp file this old is left by a killed write (no write takes an hour)


def config_hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def umask() -> int:
    """The process's umask (read without changing it where Linux shows it)."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        status = Path("/proc/self/status").read_text().splitlines()
        return int(next(line for line in status if line.startswith("Umask:")).split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def remove_stale_temps(path: Path, older_than_s: float = STALE_TMP_S) -> None:
    """Remove the temp files of ``path`` (``.<name>.*.tmp``) older than ``older_than_s``, left by killed writes."""
    now = time.time()
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(OSError):
            if now - tmp.stat().st_mtime >= older_than_s:
                tmp.unlink()
                log.info("cache: removed %s, left by an interrupted write", tmp)


def atomic_write_bytes(path: Path, write: Callable[[Any], None], stale_after_s: float = STALE_TMP_S) -> None:
    """Write through ``write(file_object)`` into a temp file in the same folder, then rename. The file gets the mode
    the umask allows (mkstemp's own is 0600); temp files of ``path`` older than ``stale_after_s`` are removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path, stale_after_s)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, indent=2, sort_keys=True, default=str).encode()


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, lambda f: f.write(json_bytes(obj)))


# --- storage faults and what a run used, per run ----------------------------------------------------------------


@dataclass
class RunStorage:
    """What the cache did for one run: where artifacts go when the cache cannot take them (``fallback``), the faults
    (``faults``, for the record) and the digests of the reference evaluations the run used (``references``:
    entry folder relative to the cache -> manifest digest)."""

    fallback: Path | None = None
    faults: list[str] = field(default_factory=list)
    references: dict[str, str] = field(default_factory=dict)


_run_storage: contextvars.ContextVar[RunStorage | None] = contextvars.ContextVar("run_storage", default=None)


@contextlib.contextmanager
def storage_faults(fallback: Path | None) -> Iterator[RunStorage]:
    """Within the block, a cache write that fails twice goes under ``fallback`` and is recorded."""
    storage = RunStorage(fallback)
    token = _run_storage.set(storage)
    try:
        yield storage
    finally:
        _run_storage.reset(token)


def store(root: Path, relative: Path, data: bytes, stale_after_s: float = STALE_TMP_S) -> Path | None:
    """``data`` written to ``root / relative`` (one retry); on a second failure, to the run's fallback folder, and the
    fault recorded. The path written, or None when neither could take it (the caller keeps what it holds)."""
    target = root / relative
    for attempt in (1, 2):
        try:
            atomic_write_bytes(target, lambda f: f.write(data), stale_after_s)
            return target
        except OSError as err:
            error = err
            log.warning("cache: writing %s failed (%s)%s", target, err, "; retrying" if attempt == 1 else "")
    storage = _run_storage.get()
    fallback = None if storage is None or storage.fallback is None else storage.fallback / relative
    fault = f"cache write of {target} failed ({error.strerror or error})"
    if fallback is not None:
        try:
            atomic_write_bytes(fallback, lambda f: f.write(data))
            fault += f"; kept in {fallback}"
        except OSError as err:
            fault += f"; the fallback {fallback} failed too ({err.strerror or err})"
            fallback = None
    log.warning("cache: %s", fault)
    if storage is not None:
        storage.faults.append(fault)
    return fallback


@contextlib.contextmanager
def artifact_lock(path: Path) -> Iterator[None]:
    """The artifact's file lock (umask's permissions); without one where the lock file cannot be created (a read-only
    cache: nothing will be written there either)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path) + ".lock", mode=0o666 & ~umask())
        lock.acquire()
    except OSError as err:
        if err.errno not in (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC):
            raise
        log.warning("cache: no lock for %s (%s); building without it", path, err.strerror)
        yield
        return
    try:
        yield
    finally:
        lock.release()


# --- manifests: the digests of a cache entry's files -------------------------------------------------------------


def manifest_digest(manifest: dict[str, str]) -> str:
    return hashlib.sha256(json_bytes(manifest)).hexdigest()


def write_entry(root: Path, folder: Path, files: dict[str, bytes]) -> str:
    """``files`` into ``root / folder``, then the manifest of their digests; the manifest's digest."""
    manifest = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    for name, data in files.items():
        store(root, folder / name, data, 0.0)
    store(root, folder / MANIFEST, json_bytes(manifest), 0.0)
    return manifest_digest(manifest)


def seal_entry(folder: Path) -> str:
    """Write the manifest of the files in ``folder`` (written before it); the manifest's digest."""
    manifest = {p.name: file_sha256(p) for p in sorted(folder.iterdir())
                if p.is_file() and p.name != MANIFEST and not p.name.startswith(".")}
    atomic_write_json(folder / MANIFEST, manifest)
    return manifest_digest(manifest)


def verified_entry(folder: Path) -> dict[str, str] | None:
    """The manifest of ``folder`` if every file it lists matches its digest; None (logged, naming the file) if not,
    or when the entry is incomplete or has no manifest (written before entries had one)."""
    manifest_path = folder / MANIFEST
    if not manifest_path.exists():
        if folder.exists() and any(folder.iterdir()):
            log.warning("cache: %s has no digest manifest; rebuilding it", folder)
        return None
    try:
        manifest = json.loads(manifest_path.read_text())
        for name, digest in manifest.items():
            if file_sha256(folder / name) != digest:
                log.warning("cache: checksum mismatch for %s; rebuilding it", folder / name)
                return None
    except (OSError, ValueError, AttributeError) as err:
        log.warning("cache: unreadable entry %s (%s); rebuilding it", folder, err)
        return None
    return manifest


# --- models ------------------------------------------------------------------------------------------------------


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
        Returns the model and its metadata (``seconds`` = build time, ``cached`` = whether it was loaded; a model the
        cache could not take has ``stored`` = where it went, or None)."""
        key = config_hash(payload)
        USED.append(f"{kind}/{key}")
        weights, meta_path = self.paths(kind, key)
        meta = self._load(model, weights, meta_path)  # a complete artifact is read without the lock
        if meta is None:
            with artifact_lock(weights):
                return self._build(kind, key, payload, model, build)
        log.info("cache: loaded %s %s", kind, key)
        return model, {**meta, "cached": True}

    def _build(self, kind: str, key: str, payload: dict, model: nn.Module,
               build: Callable[[], nn.Module]) -> tuple[nn.Module, dict]:
        weights, meta_path = self.paths(kind, key)
        meta = self._load(model, weights, meta_path)  # a concurrent job may have built it while this one waited
        if meta is not None:
            log.info("cache: loaded %s %s", kind, key)
            return model, {**meta, "cached": True}
        # The folder in full: a relative cache_dir follows the working folder, and a new folder trains anew.
        log.info("cache: building %s %s in %s (not found there; UNLEARN_BENCH_CACHE=<dir> shares one cache)",
                 kind, key, self.root.absolute())
        start = time.perf_counter()
        built = build()
        seconds = time.perf_counter() - start
        buffer = io.BytesIO()
        torch.save({k: v.detach().cpu() for k, v in built.state_dict().items()}, buffer)
        data = buffer.getvalue()
        meta = {"kind": kind, "key": key, "payload": payload, "seconds": seconds,
                "sha256": hashlib.sha256(data).hexdigest(), "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
        stored = store(self.root, weights.relative_to(self.root), data, 0.0)
        if stored == weights:  # the metadata last: its presence marks a complete artifact
            store(self.root, meta_path.relative_to(self.root), json_bytes(meta), 0.0)
            log.info("cache: stored %s %s (%.1f s)", kind, key, seconds)
        elif stored is not None:  # in the fallback folder (best effort: the fault is recorded already)
            with contextlib.suppress(OSError):
                atomic_write_json(stored.with_suffix(".json"), meta)
        return built, {**meta, "cached": False, "stored": None if stored is None else str(stored)}


# --- reference evaluations ---------------------------------------------------------------------------------------


def _load_evaluation(folder: Path) -> tuple[dict[str, float], dict[str, np.ndarray], str] | None:
    manifest = verified_entry(folder)
    if manifest is None:
        return None
    with np.load(folder / "arrays.npz") as stored:
        return json.loads((folder / "metrics.json").read_text()), dict(stored), manifest_digest(manifest)


def cached_evaluation(cache_dir: str, payload: dict, compute: Callable[[], tuple[dict, dict]]
                      ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """``compute()`` (metrics, arrays) of a reference model, the original or Retrain, stored in
    ``<cache_dir>/eval/<key>/``: every method of a seed shares them, so they are computed once (the key holds the
    weights' SHA-256, the forget set, the scenario and the eval config). The files' digests are verified on load (a
    corrupt or edited file is named and the entry recomputed), and the entry's digest is noted for the run's record
    (``RunStorage.references``). Used by every pipeline and the attacks."""
    root = Path(cache_dir)
    relative = Path("eval") / config_hash(payload)
    USED.append(relative.as_posix())
    loaded = _load_evaluation(root / relative)
    if loaded is None:
        with artifact_lock(root / relative):
            loaded = _load_evaluation(root / relative)
            if loaded is None:
                metrics, arrays = compute()
                buffer = io.BytesIO()
                np.savez(buffer, **arrays)
                digest = write_entry(root, relative, {"arrays.npz": buffer.getvalue(),
                                                      "metrics.json": json_bytes(metrics)})
                loaded = metrics, arrays, digest
    metrics, arrays, digest = loaded
    if (storage := _run_storage.get()) is not None:
        storage.references[relative.as_posix()] = digest
    return metrics, arrays


def stale_references(cache_dir: str, references: dict[str, str]) -> list[str]:
    """The reference evaluations among ``references`` (a run record's) whose entry is gone, fails its digests or
    differs from the one the run used."""
    stale = []
    for relative, digest in references.items():
        manifest = verified_entry(Path(cache_dir) / relative)
        if manifest is None or manifest_digest(manifest) != digest:
            stale.append(relative)
    return stale


if __name__ == "__main__":  # python -m unlearn_bench.cache export|import: reference packs (unlearn_bench/packs.py)
    import importlib
    import sys

    # by name: run as a script this file is __main__, and packs imports the module unlearn_bench.cache itself
    sys.exit(importlib.import_module("unlearn_bench.packs").main())
