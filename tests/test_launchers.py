"""Launchers (conf/hydra/launcher/) and the shared cache under concurrent jobs: jobs that need the same
uncached original / Retrain train it once, the others wait for it."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from unlearn_bench.config import CONF_DIR

REPO = Path(__file__).resolve().parents[1]
# The tiny setting: digits, 1 epoch, a narrow CNN; a whole run takes a few seconds on a CPU.
TINY = ["data=digits", "train.epochs=1", "model.width=8", "method.epochs=1", "progress=false"]


def cli_env(cache: Path) -> dict[str, str]:
    """One intra-op thread per process: parallel jobs on a shared 2-core machine stay fast, and every
    process computes the same floats (clean runs and resumed runs are compared bit for bit)."""
    env = {**os.environ, "UNLEARN_BENCH_CACHE": str(cache), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("HYDRA_FULL_ERROR", None)
    return env


def run_cli(args: list[str], cache: Path, timeout: float = 400) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "unlearn_bench", *args], cwd=REPO, env=cli_env(cache),
                          capture_output=True, text=True, timeout=timeout)


def sweep_records(sweep: Path) -> list[dict]:
    """The records of a sweep folder in job order."""
    return [json.loads(p.read_text()) for p in sorted(sweep.glob("*/record.json"))]


def job_logs(sweep: Path) -> str:
    return "".join(p.read_text() for p in sorted(sweep.glob("*/*.log")))


def compose_launcher(name: str):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from unlearn_bench.compose import register_configs

    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=[f"hydra/launcher={name}"], return_hydra_config=True).hydra.launcher


@pytest.mark.parametrize("name,target", [
    ("local_joblib", "hydra_joblib_launcher.joblib_launcher.JoblibLauncher"),
    ("local_submitit", "hydra_submitit_launcher.submitit_launcher.LocalLauncher"),
    ("slurm", "hydra_submitit_launcher.submitit_launcher.SlurmLauncher"),
])
def test_launcher_presets_compose(name, target):
    launcher = compose_launcher(name)
    assert launcher._target_.endswith(target)
    if name == "slurm":  # the site preset: one GPU per job, a bounded array
        assert launcher.gpus_per_node == 1 and launcher.array_parallelism > 0 and launcher.timeout_min > 0


def test_ray_launcher_preset_composes_when_the_plugin_is_installed():
    pytest.importorskip("hydra_plugins.hydra_ray_launcher", reason="optional extra: pip install -e '.[ray]'")
    launcher = compose_launcher("local_ray")
    assert launcher._target_.endswith("hydra_ray_launcher.ray_launcher.RayLauncher")
    assert launcher.ray.remote.num_cpus == 1


def _request_artifact(root: str, builds: str, barrier, results) -> None:
    """One job asking the cache for an artifact; building it takes a second and is logged in ``builds``."""
    import torch
    from torch import nn

    from unlearn_bench.cache import ModelCache

    def build() -> nn.Module:
        with open(builds, "a") as f:
            f.write(f"{os.getpid()}\n")
        time.sleep(1.0)
        torch.manual_seed(0)
        return nn.Linear(3, 2)

    barrier.wait()  # both processes ask at the same moment
    model, meta = ModelCache(root).load_or_build("original", {"a": 1}, nn.Linear(3, 2), build)
    results.put((meta["cached"], model.weight.detach().tolist()))


def test_concurrent_requests_for_one_artifact_build_it_once(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    barrier, results, builds = ctx.Barrier(2), ctx.Queue(), tmp_path / "builds.txt"
    jobs = [ctx.Process(target=_request_artifact, args=(str(tmp_path / "cache"), str(builds), barrier, results))
            for _ in range(2)]
    for job in jobs:
        job.start()
    got = [results.get(timeout=120) for _ in jobs]
    for job in jobs:
        job.join(timeout=60)
        assert job.exitcode == 0
    assert len(builds.read_text().split()) == 1  # trained once...
    assert sorted(cached for cached, _ in got) == [False, True]  # ...the other job waited and loaded it
    assert got[0][1] == got[1][1]


@pytest.mark.slow  # ~30 s on 2 cores: three Python processes importing torch
def test_two_joblib_jobs_train_a_shared_uncached_original_once(tmp_path):
    cache, sweep = tmp_path / "cache", tmp_path / "sweep"
    out = run_cli(["-m", "hydra/launcher=local_joblib", "hydra.launcher.n_jobs=2", "method=ft,ga", *TINY,
                   f"hydra.sweep.dir={sweep}"], cache)
    assert out.returncode == 0, out.stderr[-3000:]
    records = sweep_records(sweep)
    assert [r["method"] for r in records] == ["ft", "ga"] and {r["status"] for r in records} == {"ok"}
    # Trainings counted from the records and from the jobs' logs: one original and one Retrain in all.
    assert sum(not r["extra"]["original_cached"] for r in records) == 1
    assert sum(not r["extra"]["retrain_cached"] for r in records) == 1
    logs = job_logs(sweep)
    assert logs.count("cache: building original") == 1 and logs.count("cache: loaded original") == 1
    assert logs.count("cache: building retrain") == 1 and logs.count("cache: loaded retrain") == 1
    assert len(list((cache / "original").glob("*.json"))) == 1
    assert records[0]["original_metrics"] == records[1]["original_metrics"]
    assert records[0]["retrain_metrics"] == records[1]["retrain_metrics"]
    ends = [time.mktime(time.strptime(r["created"], "%Y-%m-%dT%H:%M:%S")) for r in records]
    starts = [end - r["wall_s"] for end, r in zip(ends, records)]
    print(f"\njoblib jobs overlapped for ~{min(ends) - max(starts):.0f} s (1 s resolution); trainings: 1 original, "
          "1 Retrain for 2 jobs")


@pytest.mark.slow  # ~40 s: submitit starts one Python process per job and polls them
def test_submitit_local_sweep_runs_jobs_in_their_own_processes(tmp_path):
    cache, sweep = tmp_path / "cache", tmp_path / "sweep"
    out = run_cli(["-m", "hydra/launcher=local_submitit", "method=ft,ga", *TINY, f"hydra.sweep.dir={sweep}"],
                  cache)
    assert out.returncode == 0, out.stderr[-3000:]
    records = sweep_records(sweep)
    assert [r["method"] for r in records] == ["ft", "ga"] and {r["status"] for r in records} == {"ok"}
    assert sum(not r["extra"]["original_cached"] for r in records) == 1
    assert list((sweep / ".submitit").rglob("*_result.pkl"))  # each job ran through submitit
