"""What every attack shares: ``AttackContext`` (what an attack may use), ``AttackResult`` and ``Attack``, whose default
``run`` scores Retrain, the original and the unlearned model in turn.

Each of the three below scores three models, the run's unlearned model, the original and Retrain, each against Retrain,
so the record holds its metrics for all three (``metrics``, ``original_metrics``, ``retrain_metrics``) and the report
prints the gap to Retrain as for UA. The original's and Retrain's scores do not depend on the method: they are cached
(``cached_evaluation``, keyed by both models' weights, the forget set and the attack's config) and every method of a
seed reuses them; for ``method=retrain`` the unlearned model's score is Retrain's. Each attack records its wall seconds
in this run as ``<Name>_s`` (reference scores included when they were computed, not loaded).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from omegaconf import DictConfig, OmegaConf
from torch import nn

from unlearn_bench import plugins
from unlearn_bench.data.task import Task
from unlearn_bench.runtime import resolve_eval_batch_size

log = logging.getLogger(__name__)

ROLES = ("retrain", "original", "unlearned")  # scoring order: later roles read the earlier roles' arrays
Scores = tuple[dict[str, float], dict[str, np.ndarray]]


@dataclass
class AttackContext:
    """What an attack may use: the run's config and task, its three models, a fresh model of the architecture,
    ``reference_key`` (what determines a reference model's evaluation besides the weights: forget set, scenario,
    eval config, amp), the original's and Retrain's weight SHA-256 (``weights``), ``cached(payload, compute)``
    (``cache.cached_evaluation``) and the cache payloads of the run's original and Retrain (for U-LiRA's shadows and
    the challenge's Retrain population)."""

    cfg: DictConfig
    task: Task
    original: nn.Module
    retrain: nn.Module
    unlearned: nn.Module
    fresh_model: Callable[[], nn.Module]
    reference_key: dict
    weights: dict[str, str]
    cached: Callable[[dict, Callable[[], Scores]], Scores]
    original_payload: dict
    retrain_payload: dict
    progress: bool = False

    def model(self, role: str) -> nn.Module:
        return {"original": self.original, "retrain": self.retrain, "unlearned": self.unlearned}[role]

    @property
    def batch_size(self) -> int:
        return resolve_eval_batch_size(self.cfg.eval.batch_size, self.task.device)


class AttackResult(NamedTuple):
    metrics: dict[str, float]  # the unlearned model's, with the attack's wall seconds
    arrays: dict[str, np.ndarray]
    original_metrics: dict[str, float]
    retrain_metrics: dict[str, float]


class Attack:
    """One model-based evaluation of a run, enabled by ``eval.<name>.enabled``. ``run(ctx)`` returns its metrics of
    the unlearned model (and of the original and Retrain where it scores them). The default ``run`` scores the three
    roles with ``score(ctx, role, references)`` -> (metrics, arrays) of the model of ``role`` ("retrain",
    "original" or "unlearned"), where ``references`` holds the (metrics, arrays) of the roles scored before it.
    ``shared_arrays``: the arrays that travel with the run (the unlearned model's, and the original's and Retrain's
    prefixed ``original_`` / ``retrain_``); the others (features, the Retrain population's margins) stay in the
    reference cache for the later roles. ``reruns_method``: the attack runs the method again from the original,
    which a scenario that chains rounds does not define."""

    name: str = ""  # the eval.<name> config key
    cost_key: str = ""  # the metric that records the attack's wall seconds
    shared_arrays: tuple[str, ...] = ()
    reruns_method: bool = False

    def check(self, cfg: DictConfig) -> None:
        """Raise ConfigError for a bad ``eval.<name>`` value (before anything is trained)."""

    def score(self, ctx: AttackContext, role: str, references: dict[str, Scores]) -> Scores:
        raise NotImplementedError

    def code(self) -> dict[str, str]:
        """The SHA-256 of the attack's source files (``plugins.code_identity``): in the key of every cached score,
        so a changed attack scores the original and Retrain again instead of returning what the old code said."""
        return plugins.code_identity(type(self))["files"]

    def run(self, ctx: AttackContext) -> AttackResult:
        """The attack's scores of Retrain and the original (cached), then of the unlearned model (Retrain's when the
        method is Retrain); the shared arrays of the references travel with the run, prefixed ``original_`` /
        ``retrain_``."""
        start = time.perf_counter()
        config, code = OmegaConf.to_container(ctx.cfg.eval[self.name], resolve=True), self.code()
        scores: dict[str, Scores] = {}
        for role in ROLES:
            if role == "unlearned":
                scores[role] = scores["retrain"] if ctx.cfg.method.name == "retrain" else self.score(ctx, role, scores)
                continue
            payload = {**ctx.reference_key, "attack": self.name, "code": code, "config": config, "seed": ctx.cfg.seed,
                       "role": role, "original_sha256": ctx.weights["original"],
                       "retrain_sha256": ctx.weights["retrain"]}
            scores[role] = ctx.cached(payload, lambda role=role: self.score(ctx, role, dict(scores)))
        metrics, arrays = scores["unlearned"]
        arrays = {k: v for k, v in arrays.items() if k in self.shared_arrays}
        for role in ("original", "retrain"):
            arrays.update({f"{role}_{k}": v for k, v in scores[role][1].items() if k in self.shared_arrays})
        seconds = time.perf_counter() - start
        log.info("%s: %s (%.1f s)", self.name, ", ".join(f"{k} {v:.3g}" for k, v in metrics.items()), seconds)
        return AttackResult({**metrics, self.cost_key: seconds}, arrays, dict(scores["original"][0]),
                            dict(scores["retrain"][0]))
