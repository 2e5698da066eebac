"""The only orchestrator: one lifecycle for every task. ``run(cfg)`` validates, skips a finished run, gets the
reference models, times the method, evaluates, runs the enabled attacks, turns a failure or a divergence into a
record and writes the record and arrays (the command line then prints its table: ``report.cli.print_run``); the
task's ``Pipeline`` (``unlearn_bench.pipelines``) supplies what differs."""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

import unlearn_bench
from unlearn_bench import cache, plugins
from unlearn_bench.attacks import Attack, enabled_attacks
from unlearn_bench.cache import RunStorage, config_hash, seal_entry, stale_references, storage_faults, verified_entry
from unlearn_bench.config import check_known_keys, check_ranges
from unlearn_bench.errors import ConfigError, UserInputError
from unlearn_bench.loggers import log_run
from unlearn_bench.methods.base import Method
from unlearn_bench.metrics.gap import avg_gap, gaps
from unlearn_bench.packs import references
from unlearn_bench.pipelines import Evaluation, Pipeline, create_pipeline
from unlearn_bench.pipelines.base import unbuilt
from unlearn_bench.results import RECORD_FILE, RunRecord, read_record, write_record
from unlearn_bench.runtime import (
    configure_backends,
    git_rev,
    peak_memory_mb,
    resolve_amp,
    resolve_eval_batch_size,
    select_device,
)

log = logging.getLogger(__name__)


def validate(cfg: DictConfig) -> Pipeline:
    """Every check that needs no data, so bad input fails before anything is loaded or trained; the run's pipeline.
    The config's plugins are imported first (a launcher's worker process imported none)."""
    plugins.load_all()
    plugins.load(cfg.plugins)
    check_known_keys(cfg)
    pipeline = create_pipeline(cfg)
    check_ranges(cfg)
    pipeline.validate()
    check_cache_dir(cfg.cache_dir)
    return pipeline


def check_cache_dir(cache_dir: str) -> None:
    """``cache_dir`` (env UNLEARN_BENCH_CACHE) must be, or be creatable as, a readable folder (a read-only one is
    read, and what it lacks is kept in the output folder); checked without creating anything."""
    path = Path(cache_dir).absolute()
    existing = next(p for p in (path, *path.parents) if os.path.exists(p))  # False, not an error, if unreadable
    problem = None
    if not existing.is_dir():
        problem = f"{existing} is not a folder"
    elif not os.access(existing, os.R_OK | os.X_OK):
        problem = f"{existing} is not readable and writable"
    elif not os.access(existing, os.W_OK):  # read what it holds; what it lacks goes to the output folder
        log.warning("cache_dir=%r is read-only: artifacts it lacks are kept in the run's output folder", cache_dir)
    if problem:
        raise ConfigError(f"cache_dir={cache_dir!r} cannot be used: {problem}; set cache_dir=<dir> or the "
                          "environment variable UNLEARN_BENCH_CACHE to a readable, writable folder")


def start_run(cfg: DictConfig, output_dir: str | Path | None) -> tuple[Path, torch.device]:
    """The output folder (the Hydra job folder by default), the device, and the settings resolved for it
    (``train.amp``, ``eval.batch_size``: resolved before any cache key, since fp32 and bf16 models differ) and its
    backend flags."""
    if output_dir is None:
        from hydra.core.hydra_config import HydraConfig

        output_dir = HydraConfig.get().runtime.output_dir
    device = select_device(cfg.device)
    cfg.train.amp = resolve_amp(cfg.train.amp, device)
    cfg.eval.batch_size = resolve_eval_batch_size(cfg.eval.batch_size, device)
    configure_backends(device)
    return Path(output_dir), device


def versions(pipeline: Pipeline) -> dict[str, str]:
    import hydra
    import sklearn

    return {"unlearn_bench": unlearn_bench.__version__, "torch": torch.__version__, "hydra": hydra.__version__,
            "sklearn": sklearn.__version__, "numpy": np.__version__, **pipeline.versions()}


def config_options() -> dict[str, str]:
    """The group options the run was composed from (``method: digits/salun``, ``train: digits``, ``experiment``), so
    a record says which preset file its values came from; empty outside a Hydra job (tests, scripts)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return {}
    return {group: str(option) for group, option in HydraConfig.get().runtime.choices.items()
            if option is not None and not group.startswith("hydra")}


def code_key(method: Method, device: torch.device, attacks: Sequence[Attack] = ()) -> dict:
    """What the run key adds to the config: the method's code (``plugins.code_identity``: its source files, a
    plugin's version), what the method reads besides its data (``Method.inputs``), the code of each enabled attack
    (its scores are in the record) and, on CPU, the torch thread count (float reductions split across threads differ
    in their last bits, and an unlearning run amplifies that)."""
    identity = plugins.code_identity(type(method))
    key = {"code": {"files": identity["files"], "version": identity["version"], "inputs": method.inputs()}}
    if attacks:
        key["attack_code"] = {attack.name: attack.code() for attack in attacks}
    return {**key, "cpu_threads": torch.get_num_threads()} if device.type == "cpu" else key


def finished(store: Path, cache_dir: str) -> bool:
    """A stored run that counts as done: its files match their digests, it is not ``failed`` (a failed run is tried
    again), and the reference evaluations it used are still there, unchanged (else it is stale and reruns)."""
    if verified_entry(store) is None:
        return False
    try:
        record = read_record(store / RECORD_FILE)
    except (OSError, ValueError, TypeError):
        return False
    references = record.extra.get("reference_digests")
    if references is None:
        log.info("run %s: its record has no digests of the reference evaluations it used; running it again",
                 record.run_key)
        return False
    if stale := stale_references(cache_dir, references):
        log.warning("run %s is stale: the reference evaluation %s changed since; running it again", record.run_key,
                    ", ".join(stale))
        return False
    return record.status != "failed"


def run(cfg: DictConfig, output_dir: str | Path | None = None) -> RunRecord:
    """Run one (data, model, method, scenario, seed) of ``task.name`` and return its record.

    The record is stored under ``<cache_dir>/runs/<run key>/`` (so an identical run anywhere is skipped when
    ``skip_existing``) and copied into ``output_dir`` (the Hydra job folder by default) with the files beside it
    (e.g. sample grids). A cache that cannot take an artifact or the record loses nothing: it goes to
    ``output_dir/cache_fallback`` and the record lists the fault (``extra.storage_faults``).
    """
    wall_start = time.perf_counter()
    pipeline = validate(cfg)
    output_dir, device = start_run(cfg, output_dir)
    with storage_faults(output_dir / FALLBACK_DIR) as storage:
        return _run(cfg, pipeline, output_dir, device, storage, wall_start)


FALLBACK_DIR = "cache_fallback"


def _run(cfg: DictConfig, pipeline: Pipeline, output_dir: Path, device: torch.device, storage: RunStorage,
         wall_start: float) -> RunRecord:
    first_used = len(cache.USED)  # the cache entries this run reads from here on (extra.references: packs)
    pipeline.setup(device)
    method = pipeline.create_method()
    attacks = enabled_attacks(cfg)
    code = code_key(method, device, attacks)
    run_key = config_hash({**pipeline.run_payload(), **code})
    store = Path(cfg.cache_dir) / "runs" / run_key
    if cfg.skip_existing and finished(store, cfg.cache_dir):
        log.info("skip: run %s already recorded in %s (the same config, method code and thread count; "
                 "skip_existing=false reruns it)", run_key, store)
        shutil.copytree(store, output_dir, dirs_exist_ok=True)
        return read_record(store / RECORD_FILE)

    # Failures are data: an exception below is recorded (status `failed`, its message) and the sweep goes on.
    status, error, result = "ok", None, Evaluation()
    refs_meta = {"original": unbuilt(), "retrain": unbuilt()}
    rte_s = eval_s = float("nan")
    try:
        refs = pipeline.references()
        refs_meta = {"original": refs.original_meta, "retrain": refs.retrain_meta}
        if refs.retrain is not None and cfg.method.name == "retrain":
            unlearned, rte_s = refs.retrain, refs.retrain_meta["seconds"]
            pipeline.read = method.needs
        else:
            unlearned, error, rte_s = pipeline.unlearn(method, refs)
            status = "diverged" if error else "ok"
        eval_start = time.perf_counter()
        log.info("evaluating the original, Retrain (each once per forget set, then cached) and %s", cfg.method.name)
        result = pipeline.evaluate(unlearned, refs, store)
        if result.diverged:
            status, error, unlearned = "diverged", result.diverged, None
        elif result.collapsed and status == "ok":  # its metrics stay in the record; tables and tuning skip it
            status, error, unlearned = "collapsed", result.collapsed, None
        eval_s = time.perf_counter() - eval_start
        log.info("evaluated in %.1f s", eval_s)
        if unlearned is not None and attacks:
            context = pipeline.attack_context(refs, unlearned)
            for number, attack in enumerate(attacks, 1):
                attack_start = time.perf_counter()
                log.info("attack %d/%d: %s", number, len(attacks), attack.name)
                outcome = attack.run(context)
                log.info("attack %s done in %.1f s", attack.name, time.perf_counter() - attack_start)
                result.metrics.update(outcome.metrics)
                result.arrays.update(outcome.arrays)
                result.original_metrics.update(outcome.original_metrics)
                result.retrain_metrics.update(outcome.retrain_metrics)
    except UserInputError:
        raise
    except Exception as err:
        log.exception("run %s failed", run_key)
        status, error = "failed", f"{type(err).__name__}: {err}"
        result.metrics, result.arrays = {}, {}
    gap = gaps(result.metrics, result.retrain_metrics, keys=tuple(result.metrics))
    fields = pipeline.record_fields()
    record = RunRecord(
        run_key=run_key, status=status, method=cfg.method.name, seed=cfg.seed, metrics=result.metrics,
        original_metrics=result.original_metrics, retrain_metrics=result.retrain_metrics, gaps=gap,
        avg_gap=avg_gap(gap) if gap else float("nan"), rte_s=rte_s,
        original_train_s=refs_meta["original"]["seconds"], retrain_train_s=refs_meta["retrain"]["seconds"],
        wall_s=time.perf_counter() - wall_start, data_access=sorted(method.needs),
        training_free=method.training_free, data_read=sorted(pipeline.read), device=str(device),
        memory=peak_memory_mb(device), code={**code["code"], "module": type(method).__module__},
        cpu_threads=code.get("cpu_threads"), observed=method.observed,
        versions=versions(pipeline), git_rev=git_rev(), config=OmegaConf.to_container(cfg, resolve=True),
        created=time.strftime("%Y-%m-%dT%H:%M:%S"), error=error, eval_s=eval_s,
        **{**fields, "extra": {"original_cached": refs_meta["original"]["cached"],
                               "original_key": refs_meta["original"].get("key"),
                               "retrain_cached": refs_meta["retrain"]["cached"], **fields.get("extra", {}),
                               "options": config_options(), "reference_digests": dict(storage.references),
                               "storage_faults": storage.faults,
                               "references": references(cfg.cache_dir, cache.USED[first_used:])}})
    arrays = result.arrays if cfg.eval.save_arrays else None
    try:
        write_record(store, record, arrays, pipeline.forget_idx())
        seal_entry(store)
    except OSError as err:  # the record still goes to the output folder, which says so
        log.warning("run %s: storing the record in %s failed (%s)", run_key, store, err)
        storage.faults.append(f"storing the run record in {store} failed ({err.strerror or err})")
    write_record(output_dir, record, arrays, pipeline.forget_idx())
    for name in result.files:  # already in the store
        shutil.copy2(store / name, output_dir / name)
    log_run(cfg.logger, record.config, {"metrics": record.metrics, "avg_gap": record.avg_gap, "rte_s": rte_s},
            str(output_dir))
    return record
