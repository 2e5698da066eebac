"""One forward pass per split (no augmentation) -> per-example logits (and penultimate features when a metric
needs them) -> every configured metric. ``eval.metrics`` adds metric groups beyond SalUn's UA/RA/TA/MIA:

  jit:       JiT_Dr, JiT_Df (JiT §5.1 as its repo computes them), JiT_MIA (entropy logistic-regression attack),
             and against Retrain JiT_ES_p (Wilcoxon p-value of D_f output entropies, JiT §4.2);
  sure:      MIA-I, MIARS-I, MIARS-II (SURE §3.2; its MIA-II is SalUn's SVC attack, the MIA column), and
             against Retrain W_dist (L2 distance of the final linear layer's weights, SURE Fig. 5a, after its input
             units are aligned to Retrain's by Git Re-Basin activation matching on the test images);
  distances: against Retrain KL_f, JS_f, KL_test, JS_test (output distributions on D_f and the test set).

CTA (accuracy on the test images of the forgotten class(es) / sub-class, SURE §5.2) is always computed for
class-level scenarios; sub-class scenarios add ``acc_<sub>`` for the forgotten sub-class and its siblings in the
same super-class (Unlink Table 3). SURE's Average Error Gap is the report's AEG column (gaps of UA, TA, RA, CTA,
MIARS-I).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from unlearn_bench.config import EvalConfig, ShiftConfig
from unlearn_bench.data.loader import iterate_batches
from unlearn_bench.data.task import Task
from unlearn_bench.errors import ConfigError
from unlearn_bench.metrics.accuracy import accuracy, sibling_subclass_accuracies, unlearning_accuracy
from unlearn_bench.metrics.confusion import confusion_metrics
from unlearn_bench.metrics.distances import js_divergence, kl_divergence
from unlearn_bench.metrics.jit import entropy_similarity, jit_mia
from unlearn_bench.metrics.mia import svc_mia_efficacy
from unlearn_bench.metrics.sure import match_units, mia_i, miars_i, miars_ii, weight_distance
from unlearn_bench.models import classifier_head
from unlearn_bench.runtime import autocast
from unlearn_bench.shifts import shifted
from unlearn_bench.training import DivergedError

log = logging.getLogger(__name__)

EVAL_SPLITS = ("forget", "retain", "test", "forget_test")



def predict(model: nn.Module, x: torch.Tensor, batch_size: int, amp: bool = False, y: torch.Tensor | None = None,
            shift: ShiftConfig | None = None, features: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Logits (float32, on the host) for uint8 images ``x``, optionally under an evaluation shift (which
    needs the labels ``y`` for PGD). The shift's randomness is seeded, so every model sees the same noise.
    With ``features``, also the penultimate features (``model.forward_features``): ``(logits, features)``."""
    was_training = model.training
    model.eval()
    y = y if y is not None else torch.zeros(len(x), dtype=torch.long, device=x.device)
    generator = torch.Generator().manual_seed(0)
    logits, feats = [], []
    for xb, yb in iterate_batches(x, y, batch_size):
        xb = shifted(model, xb, yb, shift, generator)
        with torch.inference_mode(), autocast(xb.device, amp):
            if features:
                fb = model.forward_features(xb)
                logits.append(model.head(fb).float())
                feats.append(fb.float().flatten(1))
            else:
                logits.append(model(xb).float())
    model.train(was_training)

    def host(parts: list[torch.Tensor]) -> np.ndarray:
        return torch.cat(parts).cpu().numpy() if parts else np.zeros((0, 0), dtype=np.float32)

    return (host(logits), host(feats)) if features else host(logits)


@dataclass
class Outputs:
    """One model's evaluation arrays (``<split>_logits`` / ``_labels`` / ``_features``, ``test_in_forget_class``) and
    what every metric group reads about the forget set: whether it is class-level (the forgotten class(es)' test
    images exist), whether those images are outside the ``test`` split (``disjoint``), and the size of the MIA's
    shadow sets."""

    arrays: dict[str, np.ndarray]
    task: Task
    class_level: bool
    disjoint: bool
    n_shadow: int


class MetricGroup:
    """Metrics beyond UA / RA / TA / CTA: ``absolute`` from one model's ``Outputs`` (and the metrics computed before
    it), ``relative`` from a model's arrays against Retrain's (and both models, for weight distances). A group runs
    when ``enabled``: by default when its name is in ``eval.metrics``."""

    name: str = ""
    selectable: bool = True  # named in eval.metrics (else on by its own rule)
    needs_features: bool = False

    def enabled(self, cfg: EvalConfig, task: Task) -> bool:
        return self.name in cfg.metrics

    def absolute(self, out: Outputs, metrics: dict[str, float]) -> dict[str, float]:
        return {}

    def relative(self, arrays: dict[str, np.ndarray], retrain_arrays: dict[str, np.ndarray], model: nn.Module | None,
                 retrain: nn.Module | None) -> dict[str, float]:
        return {}


class SubclassAccuracies(MetricGroup):
    """Sub-class scenarios: ``acc_<sub>`` of the forgotten sub-class and its siblings (Unlink Table 3)."""

    name, selectable = "subclass", False

    def enabled(self, cfg: EvalConfig, task: Task) -> bool:
        return task.forgotten_subclass is not None

    def absolute(self, out: Outputs, metrics: dict[str, float]) -> dict[str, float]:
        a, task = out.arrays, out.task  # the sub-class scenario keeps the whole test set in `test`
        return sibling_subclass_accuracies(a["test_logits"], a["test_labels"], task.test_sub, task.sub_classes,
                                           task.forgotten_subclass)


class MIAEfficacy(MetricGroup):
    """SalUn's MIA-Efficacy (``eval.mia.enabled``). Shadow members: the first |test| examples of D_r in retain order,
    non-members: the test set (SalUn repo). Where D_r is the smaller (a train_subset), both sides take its size: the
    repo's sets are equal, and an unbalanced SVC calls every example a non-member (MIA 100 for any model)."""

    name, selectable = "mia", False

    def enabled(self, cfg: EvalConfig, task: Task) -> bool:
        return cfg.mia.enabled

    def absolute(self, out: Outputs, metrics: dict[str, float]) -> dict[str, float]:
        a, n = out.arrays, out.n_shadow
        return {"MIA": svc_mia_efficacy(a["retain_logits"][:n], a["retain_labels"][:n], a["test_logits"][:n],
                                        a["test_labels"][:n], a["forget_logits"], a["forget_labels"])}


class JiTMetrics(MetricGroup):
    name = "jit"

    def absolute(self, out: Outputs, metrics: dict[str, float]) -> dict[str, float]:
        a = out.arrays
        rest = ~a["test_in_forget_class"]
        # Whole-class scenarios keep the forgotten classes' test images out of `test`: the full test set is both.
        full_test = np.concatenate([a["test_logits"], a["forget_test_logits"]]) if out.disjoint else a["test_logits"]
        return {"JiT_Dr": accuracy(a["test_logits"][rest], a["test_labels"][rest]),
                "JiT_Df": metrics["CTA"] if out.class_level else 100.0 - metrics["UA"],
                "JiT_MIA": jit_mia(a["retain_logits"], full_test, a["forget_logits"])}

    def relative(self, arrays, retrain_arrays, model, retrain) -> dict[str, float]:
        f, rf = arrays["forget_logits"], retrain_arrays["forget_logits"]
        return {"JiT_ES_p": entropy_similarity(f, rf)[1] if len(f) else float("nan")}


class ConfusionMetrics(MetricGroup):
    """SURE App. F's resolving-confusion task: its own errors."""

    name, selectable = "confusion", False

    def enabled(self, cfg: EvalConfig, task: Task) -> bool:
        return bool(task.confused_classes)

    def absolute(self, out: Outputs, metrics: dict[str, float]) -> dict[str, float]:
        return confusion_metrics(out.arrays, out.task.confused_classes)


class SUREMetrics(MetricGroup):
    name, needs_features = "sure", True

    def absolute(self, out: Outputs, metrics: dict[str, float]) -> dict[str, float]:
        a, n = out.arrays, out.n_shadow
        # SCRUB's MIA-I compares D_f with the forgotten classes' test images in whole-class scenarios.
        test_side = "forget_test" if out.disjoint else "test"
        return {"MIA-I": mia_i(a["forget_logits"], a["forget_labels"], a[f"{test_side}_logits"],
                               a[f"{test_side}_labels"]),
                "MIARS-I": miars_i(a["forget_features"], a[f"{test_side}_features"]),
                "MIARS-II": miars_ii(a["retain_features"][:n], a["test_features"][:n], a["forget_features"])}

    def relative(self, arrays, retrain_arrays, model, retrain) -> dict[str, float]:
        if model is None or retrain is None:
            return {}
        head, oracle = _head_weights(model), _head_weights(retrain)
        features, oracle_features = arrays["test_features"], retrain_arrays["test_features"]
        if not features.shape[1] == oracle_features.shape[1] == oracle["weight"].shape[1] == head["weight"].shape[1]:
            log.warning("W_dist not computed: the evaluated features (%d wide) are not the head's inputs (%d): "
                        "the head's units cannot be aligned", features.shape[1], oracle["weight"].shape[1])
            return {}
        # Penultimate units aligned to Retrain's by their activations on the test images (SURE §3.2: Git Re-Basin):
        # two trainings order their hidden units arbitrarily, so unaligned head weights measure that order.
        perm = match_units(features, oracle_features)
        return {"W_dist": weight_distance({**head, "weight": head["weight"][:, perm]}, oracle)}


class Distances(MetricGroup):
    name = "distances"

    def relative(self, arrays, retrain_arrays, model, retrain) -> dict[str, float]:
        f, rf = arrays["forget_logits"], retrain_arrays["forget_logits"]
        t, rt = arrays["test_logits"], retrain_arrays["test_logits"]
        return {"KL_f": kl_divergence(f, rf), "JS_f": js_divergence(f, rf), "KL_test": kl_divergence(t, rt),
                "JS_test": js_divergence(t, rt)}


# In the order their metrics enter a record.
GROUPS: dict[str, MetricGroup] = {group.name: group for group in (
    SubclassAccuracies(), MIAEfficacy(), JiTMetrics(), ConfusionMetrics(), SUREMetrics(), Distances())}


def register_metric_group(group: MetricGroup) -> MetricGroup:
    """Add ``group`` to ``GROUPS`` (after the package's): ``eval.metrics=[<its name>]`` then computes its metrics for
    the original, Retrain and the unlearned model (how a plugin adds a metric)."""
    if not group.name or group.name in GROUPS:
        raise ConfigError(f"metric group {group.name!r} is unnamed or registered twice")
    GROUPS[group.name] = group
    return group


def selectable_groups() -> list[str]:
    """What ``eval.metrics`` may name."""
    return [name for name, group in GROUPS.items() if group.selectable]


def evaluate(model: nn.Module, task: Task, cfg: EvalConfig, amp: bool = False
             ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Metrics of one model and the per-example arrays they were computed from."""
    check_metric_groups(cfg.metrics)
    groups = [group for group in GROUPS.values() if group.enabled(cfg, task)]
    with_features = any(group.needs_features for group in groups)
    arrays: dict[str, np.ndarray] = {}
    for split in EVAL_SPLITS:
        x, y = task.split(split)
        out = predict(model, x, cfg.batch_size, amp, y, cfg.shift, features=with_features)
        if with_features:
            arrays[f"{split}_logits"], arrays[f"{split}_features"] = out
        else:
            arrays[f"{split}_logits"] = out
        arrays[f"{split}_labels"] = y.cpu().numpy()
    # Finite weights can still overflow to NaN/inf outputs (a huge step of gradient ascent): the model diverged.
    if bad := [split for split in EVAL_SPLITS if not np.isfinite(arrays[f"{split}_logits"]).all()]:
        raise DivergedError(f"outputs became NaN/inf on {', '.join(bad)}")
    arrays["test_in_forget_class"] = task.forget_class_in_test_split()
    a = arrays
    metrics = {
        "UA": unlearning_accuracy(a["forget_logits"], a["forget_labels"]),
        "RA": accuracy(a["retain_logits"], a["retain_labels"]),
        "TA": accuracy(a["test_logits"], a["test_labels"]),
    }
    class_level = len(a["forget_test_labels"]) > 0
    if class_level:
        metrics["CTA"] = accuracy(a["forget_test_logits"], a["forget_test_labels"])
    outputs = Outputs(arrays, task, class_level, disjoint=class_level and not a["test_in_forget_class"].any(),
                      n_shadow=min(len(a["test_labels"]), len(a["retain_labels"])))
    for group in groups:
        metrics.update(group.absolute(outputs, metrics))
    return metrics, arrays


def check_metric_groups(groups: list[str]) -> None:
    unknown = sorted(set(groups) - set(selectable_groups()))
    if unknown:
        raise ConfigError(f"eval.metrics has unknown group(s) {unknown}; allowed: {selectable_groups()}")


def _head_weights(model: nn.Module) -> dict[str, np.ndarray]:
    """The final linear layer's parameters (``weight``, ``bias``), as the model names its head."""
    return {k: v.detach().float().cpu().numpy() for k, v in classifier_head(model).state_dict().items()}


def relative_metrics(arrays: dict[str, np.ndarray], retrain_arrays: dict[str, np.ndarray], groups: list[str],
                     model: nn.Module | None = None, retrain: nn.Module | None = None) -> dict[str, float]:
    """Metrics of a model against Retrain, from both models' evaluation arrays (and weights for W_dist), for the
    groups named in ``groups`` (``eval.metrics``)."""
    out: dict[str, float] = {}
    for name in (name for name in GROUPS if name in groups):
        out.update(GROUPS[name].relative(arrays, retrain_arrays, model, retrain))
    return out
