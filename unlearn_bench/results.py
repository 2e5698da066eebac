"""Run records: one JSON per run (with per-example arrays beside it) and loading a folder of them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from unlearn_bench.cache import atomic_write_bytes, atomic_write_json
from unlearn_bench.config import SHIFT_KINDS

RECORD_FILE = "record.json"
ARRAYS_FILE = "arrays.npz"
FORGET_IDX_FILE = "forget_idx.npy"


@dataclass
class RunRecord:
    run_key: str
    status: str  # ok | diverged (NaN/inf) | collapsed (RA or TA at chance) | failed
    data: str
    model: str
    scenario: str
    method: str
    seed: int
    metrics: dict[str, float]
    original_metrics: dict[str, float]
    retrain_metrics: dict[str, float]
    gaps: dict[str, float]
    avg_gap: float
    rte_s: float  # seconds of `unlearn` alone (Retrain: its training time)
    original_train_s: float
    retrain_train_s: float
    wall_s: float
    data_access: list[str]
    training_free: bool
    forget_size: int
    forget_idx_sha256: str
    device: str
    memory: dict[str, float]
    versions: dict[str, str]
    git_rev: str | None
    config: dict[str, Any]
    created: str
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    eval_s: float = float("nan")  # seconds evaluating the original, Retrain and the unlearned model
    # eval.every_epoch: the unlearned model's metrics after each epoch of unlearning, [{"epoch": 0, "UA": ...}, ...]
    epoch_metrics: list[dict[str, float]] = field(default_factory=list)
    # The declared splits the method actually read (``data_access`` is what it declared); for Retrain, whose model
    # comes from the cache, its declared split.
    data_read: list[str] = field(default_factory=list)
    # What the run key covers beyond the config: the method's source files (module -> SHA-256), its distribution's
    # version, its other inputs' digests (unlearn_bench.plugins.code_identity, Method.inputs); and on CPU the torch
    # thread count the method and evaluation ran with.
    code: dict[str, Any] = field(default_factory=dict)
    cpu_threads: int | None = None
    # False for a model unlearned outside the harness (method=external_checkpoint): rte_s, data_access and
    # data_read were not observed, only declared.
    observed: bool = True


def write_record(folder: Path, record: RunRecord, arrays: dict[str, np.ndarray] | None = None,
                 forget_idx: np.ndarray | None = None) -> None:
    """Arrays first, record last: a record on disk always has its arrays beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    if arrays:
        atomic_write_bytes(folder / ARRAYS_FILE, lambda f: np.savez_compressed(f, **arrays))
    if forget_idx is not None:
        atomic_write_bytes(folder / FORGET_IDX_FILE, lambda f: np.save(f, forget_idx))
    atomic_write_json(folder / RECORD_FILE, asdict(record))


def read_record(path: Path) -> RunRecord:
    return RunRecord(**json.loads(Path(path).read_text()))


def shift_label(shift: dict | None) -> str:
    """``none``, ``gaussian(sigma=0.08)``, ``pgd(eps=0.0314)`` or ``elastic(smoothing=...)``: the evaluation shift a
    record was made under."""
    if not shift or shift.get("kind", "none") == "none":
        return "none"
    key = SHIFT_KINDS[shift["kind"]]
    return f"{shift['kind']}({key}={shift[key]:.3g})"


def load_records(root: str | Path) -> pd.DataFrame:
    """Every record under ``root`` (recursively) as one row; metric dicts flattened to
    ``<metric>``, ``original_<metric>``, ``retrain_<metric>``, ``gap_<metric>``; ``method_params`` is the
    method's resolved config as sorted JSON; ``tuned`` a tuned preset's provenance (JSON, or empty); ``shift`` the
    evaluation shift; ``metric_names`` the metrics any of the three models has (comma-separated). Duplicates of
    the same run (same run_key) are kept once."""
    rows = []
    for path in sorted(Path(root).rglob(RECORD_FILE)):
        rec = json.loads(path.read_text())
        row = {k: rec[k] for k in ("run_key", "status", "data", "model", "scenario", "method", "seed",
                                   "avg_gap", "rte_s", "original_train_s", "retrain_train_s", "wall_s",
                                   "training_free")}
        row["data_access"] = ",".join(rec["data_access"])
        row["data_read"] = ",".join(rec.get("data_read", []))
        config = rec.get("config", {})
        row["isolation"] = config.get("method_isolation", "none")
        method = dict(config.get("method", {}))
        tuned = method.pop("tuned", None)  # a tuned preset's provenance, not a hyper-parameter
        row["method_params"] = json.dumps(method, sort_keys=True)
        row["tuned"] = json.dumps(tuned, sort_keys=True) if tuned else ""
        row["shift"] = shift_label(config.get("eval", {}).get("shift"))
        row["path"] = str(path.parent)
        row["epoch_metrics"] = json.dumps(rec.get("epoch_metrics", []))
        row["metric_names"] = ",".join(sorted({*rec["metrics"], *rec["original_metrics"], *rec["retrain_metrics"]}))
        for prefix, values in (("", rec["metrics"]), ("original_", rec["original_metrics"]),
                               ("retrain_", rec["retrain_metrics"]), ("gap_", rec["gaps"])):
            row.update({prefix + k: v for k, v in values.items()})
        rows.append(row)
    frame = pd.DataFrame(rows)
    return frame.drop_duplicates("run_key") if not frame.empty else frame
