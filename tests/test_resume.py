"""Reliability: a run or a sweep SIGKILLed at any stage and rerun ends with the same records as an
uninterrupted one (finished runs skipped, finished artifacts reused, partial ones rebuilt); a corrupt
checkpoint is rebuilt; failures are data (``diverged`` / ``failed`` records) and the sweep goes on."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import unlearn_bench.pipelines.base as pipeline_base
import unlearn_bench.runner as runner
from tests.test_launchers import REPO, TINY, cli_env, run_cli, sweep_records
from unlearn_bench.compose import compose_config
from unlearn_bench.report.summary import summarize
from unlearn_bench.results import load_records

# What must be identical between a resumed run and a clean one (timings and cache hits may differ).
SAME = ("run_key", "status", "method", "seed", "metrics", "original_metrics", "retrain_metrics", "gaps", "avg_gap",
        "forget_size", "forget_idx_sha256", "error")


def run_and_kill(args: list[str], cache: Path, marker: str, occurrence: int = 1, timeout: float = 400):
    """Start ``python -m unlearn_bench args`` and SIGKILL it the moment it prints ``marker`` for the
    ``occurrence``-th time. Returns (killed, output)."""
    proc = subprocess.Popen([sys.executable, "-m", "unlearn_bench", *args], cwd=REPO, env=cli_env(cache),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    lines, seen = [], 0
    try:
        for line in proc.stdout:
            lines.append(line)
            seen += marker in line
            if seen == occurrence:
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=60)
    finally:
        watchdog.cancel()
        proc.stdout.close()
    return proc.returncode == -signal.SIGKILL, "".join(lines)


def stored_records(cache: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in (cache / "runs").glob("*/record.json")}


def same_record(a: dict, b: dict) -> bool:
    return all(a[k] == b[k] for k in SAME)


def metric_table(folder: Path) -> dict:
    """The report's tables without the RTE column (wall-clock seconds differ between two sweeps)."""
    return {key: table.drop(columns=["RTE (min)"]).to_dict("records")
            for key, table in summarize(load_records(folder)).items()}


@pytest.mark.slow  # ~50 s: five CLI processes
def test_run_killed_at_every_stage_resumes_to_the_clean_record(tmp_path):
    args = ["method=ft", *TINY]
    clean = run_cli([*args, f"hydra.run.dir={tmp_path / 'clean'}"], tmp_path / "clean_cache")
    assert clean.returncode == 0, clean.stderr[-3000:]
    reference = json.loads((tmp_path / "clean" / "record.json").read_text())

    cache = tmp_path / "cache"
    kills = [  # (kill when this is printed, what the (re)run must have printed before it)
        ("cache: building original", []),  # mid-training of the original
        ("cache: building retrain", ["cache: building original"]),  # the killed original is not trusted
        ("cache: stored retrain", ["cache: loaded original", "cache: building retrain"]),  # mid-unlearning
    ]
    survived = 0
    for n, (marker, expected) in enumerate(kills):
        killed, output = run_and_kill([*args, f"hydra.run.dir={tmp_path / f'killed{n}'}"], cache, marker)
        assert killed, f"run {n} was not killed at {marker!r}:\n{output[-3000:]}"
        for line in expected:
            assert line in output, f"run {n}: {line!r} missing:\n{output[-3000:]}"
        assert not stored_records(cache)  # killed before its record was written
        survived += 1
    final = run_cli([*args, f"hydra.run.dir={tmp_path / 'final'}"], cache)
    assert final.returncode == 0, final.stderr[-3000:]
    assert "cache: loaded original" in final.stdout and "cache: loaded retrain" in final.stdout
    record = json.loads((tmp_path / "final" / "record.json").read_text())
    assert {k: record["extra"][k] for k in ("original_cached", "retrain_cached")} == {  # finished artifacts reused
        "original_cached": True, "retrain_cached": True}
    lost = [k for k in SAME if record[k] != reference[k]]
    print(f"\nkills survived: {survived}/{len(kills)}, record fields lost or changed: {len(lost)} {lost}")
    assert not lost
    clean_arrays, final_arrays = np.load(tmp_path / "clean" / "arrays.npz"), np.load(tmp_path / "final" / "arrays.npz")
    assert sorted(clean_arrays) == sorted(final_arrays)
    for name in clean_arrays:
        np.testing.assert_array_equal(clean_arrays[name], final_arrays[name])


@pytest.mark.slow  # ~50 s: a clean sweep, a killed one and its rerun
def test_sweep_killed_mid_job_and_rerun_gives_the_uninterrupted_table(tmp_path):
    args = ["-m", "method=ft,ga,rl", *TINY]
    clean = run_cli([*args, f"hydra.sweep.dir={tmp_path / 'clean'}"], tmp_path / "clean_cache")
    assert clean.returncode == 0, clean.stderr[-3000:]

    cache = tmp_path / "cache"
    # Job 0 (ft) trains and stores the original and Retrain; job 1 (ga) loads them and is killed unlearning.
    killed, output = run_and_kill([*args, f"hydra.sweep.dir={tmp_path / 'killed'}"], cache, "cache: loaded retrain")
    assert killed, output[-3000:]
    before = stored_records(cache)
    assert "ft" in [r["method"] for r in before.values()] and len(before) < 3  # interrupted mid-sweep

    rerun = run_cli([*args, f"hydra.sweep.dir={tmp_path / 'rerun'}"], cache)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert rerun.stdout.count("skip: run") == len(before)  # finished runs are not run again
    assert "cache: building" not in rerun.stdout  # the original and Retrain are reused
    after = stored_records(cache)
    lost = [key for key, rec in before.items() if key not in after or not same_record(rec, after[key])]
    clean_records = {r["run_key"]: r for r in sweep_records(tmp_path / "clean")}
    assert sorted(after) == sorted(clean_records)
    differ = [key for key, rec in after.items() if not same_record(rec, clean_records[key])]
    print(f"\nsweep kills survived: 1 ({len(before)} of 3 runs recorded before it), records lost: {len(lost)}, "
          f"differing from the clean sweep: {len(differ)}")
    assert not lost and not differ
    assert metric_table(tmp_path / "rerun") == metric_table(tmp_path / "clean")


# --- in-process: corrupt checkpoints, divergence and failures --------------------------------------------------


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run_inprocess(tmp_path: Path, cache: Path, *overrides: str, out: str = "run"):
    cfg = compose_config([*TINY, f"cache_dir={cache}", *overrides])
    return runner.run(cfg, output_dir=tmp_path / out)


def test_truncated_or_corrupt_checkpoint_is_rebuilt(tmp_path, one_thread, caplog):
    cache = tmp_path / "cache"
    first = run_inprocess(tmp_path, cache, "method=ft", out="a")
    (meta_path,) = (cache / "original").glob("*.json")
    weights, sha = meta_path.with_suffix(".pt"), json.loads(meta_path.read_text())["sha256"]
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # a partial write
    with caplog.at_level(logging.WARNING, logger="unlearn_bench.cache"):
        second = run_inprocess(tmp_path, cache, "method=ga", out="b")
    assert "checksum mismatch" in caplog.text  # detected and reported...
    assert not second.extra["original_cached"] and second.extra["retrain_cached"]  # ...and rebuilt
    assert json.loads(meta_path.read_text())["sha256"] == sha  # the same weights as before
    assert second.original_metrics == first.original_metrics and second.status == "ok"
    meta_path.write_text('{"sha256": ')  # corrupt metadata
    third = run_inprocess(tmp_path, cache, "method=rl", out="c")
    assert not third.extra["original_cached"] and third.original_metrics == first.original_metrics


def poison(monkeypatch, unlearn):
    """Make the next ``create_method`` return the real method with ``unlearn`` replaced."""
    real = pipeline_base.create_method

    def create(cfg, task):
        method = real(cfg, task)
        method.unlearn = lambda model, view: unlearn(model)
        return method

    monkeypatch.setattr(pipeline_base, "create_method", create)


def test_nan_or_inf_weights_are_recorded_as_diverged(tmp_path, one_thread, monkeypatch, session_cache):
    def blow_up(model):
        with torch.no_grad():
            next(model.parameters()).view(-1)[0] = float("inf")
        return model  # the loss never saw it: only the weights are non-finite

    poison(monkeypatch, blow_up)
    rec = run_inprocess(tmp_path, session_cache, "method=ft", "seed=7")
    assert rec.status == "diverged" and "NaN/inf" in rec.error and rec.metrics == {}
    assert rec.original_metrics and rec.retrain_metrics  # the references are still measured
    assert json.loads((session_cache / "runs" / rec.run_key / "record.json").read_text())["status"] == "diverged"
    monkeypatch.undo()
    again = run_inprocess(tmp_path, session_cache, "method=ft", "seed=7", out="again")
    assert again.status == "diverged"  # a diverged run is a result: skipped on rerun like a finished one


def test_nan_loss_is_recorded_as_diverged(tmp_path, one_thread, session_cache):
    # Three epochs: the loss after the first huge ascent step is computed (one epoch is one step on digits' D_f).
    rec = run_inprocess(tmp_path, session_cache, "method=ga", "method.lr=1e12", "method.epochs=3", "seed=7")
    assert rec.status == "diverged" and "loss became" in rec.error and rec.metrics == {}


def test_finite_weights_with_nan_outputs_are_recorded_as_diverged(tmp_path, one_thread, monkeypatch, session_cache):
    def overflow(model):
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(1e30)  # finite weights whose products overflow to inf/NaN logits
        return model

    poison(monkeypatch, overflow)
    rec = run_inprocess(tmp_path, session_cache, "method=ft", "seed=8")
    assert rec.status == "diverged" and "outputs became NaN/inf" in rec.error and rec.metrics == {}
    assert rec.original_metrics and rec.retrain_metrics


def test_exception_in_a_method_is_recorded_as_failed_and_retried(tmp_path, one_thread, monkeypatch, session_cache):
    def crash(model):
        raise RuntimeError("boom: out of memory")

    poison(monkeypatch, crash)
    rec = run_inprocess(tmp_path, session_cache, "method=rl", "seed=7")
    assert rec.status == "failed" and rec.error == "RuntimeError: boom: out of memory"
    assert json.loads((tmp_path / "run" / "record.json").read_text())["status"] == "failed"
    monkeypatch.undo()
    retried = run_inprocess(tmp_path, session_cache, "method=rl", "seed=7", out="retry")
    assert retried.status == "ok" and retried.metrics  # a failed run is not skipped: it runs again


DRIVER = """
import runpy, sys
from unlearn_bench.methods import method_class
def crash(self, model, view):
    raise RuntimeError("boom in ga")
method_class("ga").unlearn = crash
sys.argv = ["unlearn_bench", *sys.argv[1:]]
runpy.run_module("unlearn_bench", run_name="__main__", alter_sys=True)
"""


def test_exception_in_one_job_of_a_multirun_is_recorded_and_the_sweep_goes_on(tmp_path):
    sweep = tmp_path / "sweep"
    out = subprocess.run([sys.executable, "-c", DRIVER, "-m", "method=ft,ga,rl", *TINY, f"hydra.sweep.dir={sweep}"],
                         cwd=REPO, env=cli_env(tmp_path / "cache"), capture_output=True, text=True, timeout=400)
    assert out.returncode == 0, out.stderr[-3000:]
    records = {r["method"]: r for r in sweep_records(sweep)}
    assert [records[m]["status"] for m in ("ft", "ga", "rl")] == ["ok", "failed", "ok"]
    assert records["ga"]["error"] == "RuntimeError: boom in ga"
    assert "boom in ga" in (sweep / "1_ga_seed0" / "__main__.log").read_text()
