import contextlib
import errno
import logging
import os
import stat
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
from torch import nn

import unlearn_bench.cache as cache_module
from unlearn_bench.cache import (
    ModelCache,
    cached_evaluation,
    config_hash,
    file_sha256,
    stale_references,
    storage_faults,
)


def build_counter():
    calls = []

    def build():
        calls.append(1)
        torch.manual_seed(len(calls))
        return nn.Linear(3, 2)

    return calls, build


def test_second_request_is_a_cache_hit(tmp_path):
    cache, (calls, build) = ModelCache(tmp_path), build_counter()
    first, meta = cache.load_or_build("original", {"a": 1}, nn.Linear(3, 2), build)
    second, meta2 = cache.load_or_build("original", {"a": 1}, nn.Linear(3, 2), build)
    assert len(calls) == 1 and not meta["cached"] and meta2["cached"]
    torch.testing.assert_close(first.weight, second.weight)
    cache.load_or_build("original", {"a": 2}, nn.Linear(3, 2), build)  # other payload, other artifact
    assert len(calls) == 2


def test_corrupt_checkpoint_is_detected_and_rebuilt(tmp_path):
    cache, (calls, build) = ModelCache(tmp_path), build_counter()
    cache.load_or_build("retrain", {"a": 1}, nn.Linear(3, 2), build)
    weights, _ = cache.paths("retrain", next(tmp_path.glob("retrain/*.pt")).stem)
    weights.write_bytes(weights.read_bytes()[:-10])  # truncated file
    _, meta = cache.load_or_build("retrain", {"a": 1}, nn.Linear(3, 2), build)
    assert len(calls) == 2 and not meta["cached"]


def test_failed_build_leaves_no_artifact(tmp_path):
    cache = ModelCache(tmp_path)

    def crash():
        raise RuntimeError("killed mid-training")

    try:
        cache.load_or_build("original", {"a": 1}, nn.Linear(3, 2), crash)
    except RuntimeError:
        pass
    assert not list(tmp_path.glob("original/*.pt")) and not list(tmp_path.glob("original/*.json"))


# --- storage faults ----------------------------------------------------------------------------------------------


def enospc_writes(monkeypatch, under: Path, failures: int | None = None) -> list[Path]:
    """Fake a full disk: ``cache.atomic_write_bytes`` raises ENOSPC for paths under ``under`` (the first ``failures``
    times, or always). The paths tried."""
    tried, real = [], cache_module.atomic_write_bytes

    def fake(path, write, *args, **kwargs):
        if Path(path).is_relative_to(under) and (failures is None or len(tried) < failures):
            tried.append(Path(path))
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, write, *args, **kwargs)

    monkeypatch.setattr(cache_module, "atomic_write_bytes", fake)
    return tried


def test_disk_full_keeps_the_trained_model_in_the_fallback_folder_and_records_it(tmp_path, monkeypatch):
    cache, (calls, build) = ModelCache(tmp_path / "cache"), build_counter()
    tried = enospc_writes(monkeypatch, tmp_path / "cache")
    with storage_faults(tmp_path / "out") as storage:
        model, meta = cache.load_or_build("retrain", {"a": 1}, nn.Linear(3, 2), build)
    weights = tmp_path / "out" / "retrain" / f"{meta['key']}.pt"
    assert len(calls) == 1 and tried.count(tried[0]) == 2  # tried twice, then kept aside
    assert meta["stored"] == str(weights) and file_sha256(weights) == meta["sha256"]
    torch.testing.assert_close(torch.load(weights)["weight"], model.weight)
    assert len(storage.faults) == 1 and "No space left on device" in storage.faults[0] and str(weights) in \
        storage.faults[0]


def test_a_write_that_fails_once_is_retried_into_the_cache(tmp_path, monkeypatch):
    cache, (calls, build) = ModelCache(tmp_path / "cache"), build_counter()
    enospc_writes(monkeypatch, tmp_path / "cache", failures=1)
    with storage_faults(tmp_path / "out") as storage:
        cache.load_or_build("retrain", {"a": 1}, nn.Linear(3, 2), build)
        _, meta = cache.load_or_build("retrain", {"a": 1}, nn.Linear(3, 2), build)
    assert len(calls) == 1 and meta["cached"] and not storage.faults and not (tmp_path / "out").exists()


@contextlib.contextmanager
def read_only(root: Path):
    """``root`` as on a read-only mount. chmod does not stop root (the tests run as root here), so the OS calls that
    create or change files under ``root`` fail with EROFS, as they do on a read-only file system (reads still work)."""
    real_open, real_mkdir, real_replace, real_unlink = os.open, os.mkdir, os.replace, os.unlink
    writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def under(path) -> bool:
        return Path(os.fsdecode(path)).absolute().is_relative_to(root.absolute())

    def refuse(path):
        raise OSError(errno.EROFS, "Read-only file system", os.fsdecode(path))

    def fake_open(path, flags, *args, **kwargs):
        return refuse(path) if under(path) and flags & writes else real_open(path, flags, *args, **kwargs)

    with mock.patch.object(os, "open", fake_open), \
            mock.patch.object(os, "mkdir", lambda p, *a, **k: refuse(p) if under(p) else real_mkdir(p, *a, **k)), \
            mock.patch.object(os, "replace", lambda s, d, **k: refuse(d) if under(d) else real_replace(s, d, **k)), \
            mock.patch.object(os, "unlink", lambda p, **k: refuse(p) if under(p) else real_unlink(p, **k)):
        yield


def test_a_read_only_cache_is_read_and_what_it_lacks_goes_to_the_fallback(tmp_path):
    root = tmp_path / "cache"
    cache, (calls, build) = ModelCache(root), build_counter()
    first, _ = cache.load_or_build("original", {"a": 1}, nn.Linear(3, 2), build)
    evaluations = []
    compute = lambda: evaluations.append(1) or ({"UA": 1.5}, {"logits": np.arange(4.0)})  # noqa: E731
    cached_evaluation(str(root), {"k": 1}, compute)
    with read_only(root), storage_faults(tmp_path / "out") as storage:
        with pytest.raises(OSError, match="Read-only"):
            tempfile.mkstemp(dir=root)  # the fake holds for the cache's writes
        again, meta = cache.load_or_build("original", {"a": 1}, nn.Linear(3, 2), build)
        metrics, arrays = cached_evaluation(str(root), {"k": 1}, compute)
        _, other = cache.load_or_build("original", {"a": 2}, nn.Linear(3, 2), build)  # not in the cache
    assert meta["cached"] and len(evaluations) == 1 and metrics == {"UA": 1.5}
    torch.testing.assert_close(again.weight, first.weight)
    stored = Path(other["stored"])
    assert len(calls) == 2 and stored.is_file() and stored.is_relative_to(tmp_path / "out")
    assert len(storage.faults) == 1 and "Read-only file system" in storage.faults[0]


def test_a_temp_file_left_by_a_killed_write_is_removed(tmp_path):
    cache, (_, build) = ModelCache(tmp_path), build_counter()
    weights, _ = cache.paths("original", config_hash({"a": 1}))
    weights.parent.mkdir(parents=True)
    left = weights.parent / f".{weights.name}.killed.tmp"
    left.write_bytes(b"")  # what a SIGKILL during the write leaves
    cache.load_or_build("original", {"a": 1}, nn.Linear(3, 2), build)
    assert not left.exists() and weights.exists()


@pytest.mark.parametrize("mask,mode", [(0o002, 0o664), (0o022, 0o644), (0o077, 0o600)])
def test_cache_files_honour_the_umask(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        ModelCache(tmp_path).load_or_build("original", {"a": 1}, nn.Linear(3, 2), build_counter()[1])
    finally:
        os.umask(old)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files and {stat.S_IMODE(p.stat().st_mode) for p in files} == {mode}


# --- integrity of cached evaluations ------------------------------------------------------------------------------


def evaluation_counter():
    calls = []

    def compute():
        calls.append(1)
        return {"UA": 2.5, "RA": 99.0}, {"forget_logits": np.linspace(0, 1, 12).reshape(4, 3)}

    return calls, compute


@pytest.mark.parametrize("damage", ["truncated arrays", "wrong but valid metric"])
def test_a_damaged_evaluation_is_named_and_recomputed(tmp_path, caplog, damage):
    calls, compute = evaluation_counter()
    with storage_faults(None) as storage:
        cached_evaluation(str(tmp_path), {"k": 1}, compute)
    folder = next(p for p in (tmp_path / "eval").iterdir() if p.is_dir())
    if damage == "truncated arrays":
        damaged = folder / "arrays.npz"
        damaged.write_bytes(damaged.read_bytes()[:-20])
    else:  # still valid JSON, a plausible number: only the digest tells
        damaged = folder / "metrics.json"
        damaged.write_text(damaged.read_text().replace("2.5", "12.5"))
    stale = stale_references(str(tmp_path), storage.references)
    with caplog.at_level(logging.WARNING, logger="unlearn_bench.cache"):
        metrics, arrays = cached_evaluation(str(tmp_path), {"k": 1}, compute)
    assert stale == [f"eval/{folder.name}"]  # a run that used it is stale
    assert len(calls) == 2 and metrics == {"UA": 2.5, "RA": 99.0}
    np.testing.assert_array_equal(arrays["forget_logits"], compute()[1]["forget_logits"])
    assert f"checksum mismatch for {damaged}" in caplog.text
    assert not stale_references(str(tmp_path), storage.references)  # rebuilt identical: the run is current again
