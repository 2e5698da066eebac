"""Forget-set builders. Each returns the sorted indices (into the train split) of the forget set D_f.

Indices depend only on the scenario, the labels and the seed, so every method of a seed sees the same
D_f, and they are saved with every run record.
"""

from __future__ import annotations

import numpy as np

from unlearn_bench.config import ScenarioConfig
from unlearn_bench.errors import ConfigError

SCENARIO_KINDS = ("random", "classwise", "multiclass", "partial_class", "subclass", "worst_case", "confusion",
                  "iterative")
# Kinds whose forget set is chosen with the original model's outputs (forget_indices needs ``member_prob``).
MODEL_DEPENDENT_KINDS = ("worst_case",)
# Kinds that remove whole classes from the train split (what full-class-only methods require).
FULL_CLASS_KINDS = ("classwise", "multiclass")


def _check_class(key: str, value: int | None, num_classes: int) -> None:
    if value is None or not 0 <= value < num_classes:
        raise ConfigError(f"{key}={value!r} must be in [0, {num_classes - 1}]")


def validate_scenario(cfg: ScenarioConfig, num_classes: int) -> None:
    """Raise ConfigError naming the bad key before any data is touched or model trained."""
    if cfg.kind not in SCENARIO_KINDS:
        raise ConfigError(f"scenario.kind={cfg.kind!r} is not supported; allowed: {list(SCENARIO_KINDS)}")
    if cfg.kind in ("random", "partial_class", "worst_case", "confusion", "iterative"):
        if (cfg.ratio is None) == (cfg.size is None):
            raise ConfigError(f"scenario kind {cfg.kind!r} needs exactly one of scenario.ratio and scenario.size; "
                              f"got ratio={cfg.ratio!r}, size={cfg.size!r}")
        if cfg.ratio is not None and not 0.0 < cfg.ratio < 1.0:
            raise ConfigError(f"scenario.ratio={cfg.ratio!r} must be in (0, 1)")
        if cfg.size is not None and cfg.size < 1:
            raise ConfigError(f"scenario.size={cfg.size!r} must be >= 1")
    if cfg.kind in ("classwise", "partial_class", "worst_case"):
        _check_class("scenario.class_index", cfg.class_index, num_classes)
    if cfg.kind == "confusion":
        if not cfg.classes or len(cfg.classes) != 2 or cfg.classes[0] == cfg.classes[1]:
            raise ConfigError(f"scenario.classes={cfg.classes!r} must be two distinct classes for kind 'confusion' "
                              "(SURE App. F: [0, 1])")
        for c in cfg.classes:
            _check_class("scenario.classes entry", c, num_classes)
    if cfg.kind == "multiclass":
        if not cfg.classes or len(set(cfg.classes)) != len(cfg.classes):
            raise ConfigError(f"scenario.classes={cfg.classes!r} must be a non-empty list of distinct classes")
        if len(cfg.classes) >= num_classes:
            raise ConfigError(f"scenario.classes={list(cfg.classes)} would forget every one of {num_classes} classes")
        for c in cfg.classes:
            _check_class("scenario.classes entry", c, num_classes)
    if cfg.kind == "iterative":
        if cfg.rounds is None or cfg.rounds < 1:
            raise ConfigError(f"scenario.rounds={cfg.rounds!r} must be an integer >= 1 for kind 'iterative'")
        if cfg.round is None or not 1 <= cfg.round <= cfg.rounds:
            raise ConfigError(f"scenario.round={cfg.round!r} must be in [1, {cfg.rounds}] (scenario.rounds)")
        if cfg.ratio is not None and cfg.ratio * cfg.rounds >= 1.0:
            raise ConfigError(f"scenario.ratio={cfg.ratio} x scenario.rounds={cfg.rounds} would forget all of D")
    if cfg.kind == "subclass" and not cfg.subclass:
        raise ConfigError("scenario kind 'subclass' needs scenario.subclass (a sub-class name, e.g. rocket)")


def _draw(pool: np.ndarray, cfg: ScenarioConfig, seed: int) -> np.ndarray:
    """``size`` or ``ratio * len(pool)`` indices of ``pool`` without replacement (SalUn repo: RandomState)."""
    n_forget = cfg.size if cfg.size is not None else int(round(cfg.ratio * len(pool)))
    if not 0 < n_forget < len(pool):
        raise ConfigError(f"scenario {cfg.name}: {n_forget} of {len(pool)} examples is not a proper forget set "
                          "(check scenario.ratio / scenario.size)")
    return pool[np.random.RandomState(seed).choice(len(pool), size=n_forget, replace=False)]


def iterative_chunks(cfg: ScenarioConfig, n_train: int, seed: int) -> list[np.ndarray]:
    """SalUn Table A3: the forget sets of rounds 1 .. ``rounds`` of iterative unlearning, disjoint, each ``ratio``
    (or ``size``) of the train split ("for each iteration the forgetting set is 10% of the whole dataset"), cut from
    one seeded permutation of the train split."""
    n_round = cfg.size if cfg.size is not None else int(round(cfg.ratio * n_train))
    if not 0 < n_round * cfg.rounds < n_train:
        raise ConfigError(f"scenario {cfg.name}: {cfg.rounds} rounds of {n_round} of {n_train} examples is not a "
                          "proper forget set (check scenario.ratio / scenario.size / scenario.rounds)")
    order = np.random.RandomState(seed).permutation(n_train)
    return [np.sort(order[k * n_round:(k + 1) * n_round]).astype(np.int64) for k in range(cfg.rounds)]


def member_probability(member_logits: np.ndarray, nonmember_logits: np.ndarray,
                       query_logits: np.ndarray) -> np.ndarray:
    """P(member) of each query example under JiT's MIA model (entropy logistic regression, ``metrics.jit.jit_mia``:
    members = ``member_logits``, non-members = ``nonmember_logits``, balanced classes)."""
    from unlearn_bench.metrics.jit import entropy_attack, output_entropy

    attack = entropy_attack(member_logits, nonmember_logits)
    return attack.predict_proba(output_entropy(query_logits)[:, None])[:, 1]


def _worst_case(cfg: ScenarioConfig, train_y: np.ndarray, member_prob: np.ndarray | None) -> np.ndarray:
    """JiT Table 6: "the 50 samples from class Rocket for which the MIA model outputs the highest probability". The
    paper does not say which MIA model: here JiT's own (``member_probability``) fit on the ORIGINAL model's outputs,
    the whole train split as members vs the test set, scoring every train example of ``class_index``; the ``size``
    (or ``ratio`` of the class) highest, ties to the lower index. Deterministic given the original model, which is
    cached and independent of the forget set."""
    if member_prob is None:
        raise ConfigError(f"scenario={cfg.name} (kind worst_case) is chosen with the original model: forget_indices "
                          "needs member_prob, the original's member probability of every train example")
    if len(member_prob) != len(train_y):
        raise ValueError(f"member_prob has {len(member_prob)} entries for {len(train_y)} train examples")
    pool = np.flatnonzero(train_y == cfg.class_index)
    n_forget = cfg.size if cfg.size is not None else int(round(cfg.ratio * len(pool)))
    if not 0 < n_forget < len(pool):
        raise ConfigError(f"scenario {cfg.name}: {n_forget} of the {len(pool)} examples of class {cfg.class_index} "
                          "is not a proper forget set (check scenario.size / scenario.ratio)")
    return pool[np.argsort(-member_prob[pool], kind="stable")[:n_forget]]


def training_labels(cfg: ScenarioConfig, train_y: np.ndarray, forget_idx: np.ndarray) -> np.ndarray:
    """The labels the original model is trained with: for ``confusion`` (SURE App. F, from Kurmanji et al. 2024)
    the forget examples of the two confused classes carry each other's label ("intentionally mislabeled as the
    opposite class"); unchanged for every other kind."""
    labels = np.array(train_y, copy=True)
    if cfg.kind == "confusion":
        a, b = cfg.classes
        forget_labels = labels[forget_idx]
        labels[forget_idx] = np.where(forget_labels == a, b, a)
    return labels


def forget_indices(cfg: ScenarioConfig, train_y: np.ndarray, num_classes: int, seed: int,
                   sub_y: np.ndarray | None = None, sub_classes: list[str] | None = None,
                   member_prob: np.ndarray | None = None, relabeled: bool = False) -> np.ndarray:
    """``sub_y`` / ``sub_classes``: the train split's sub-class labels and names, for ``subclass``; ``member_prob``:
    the original model's member probability of each train example (``member_probability``), for ``worst_case``;
    ``relabeled``: the caller trains on ``training_labels(...)``, which ``confusion`` requires."""
    validate_scenario(cfg, num_classes)
    all_idx = np.arange(len(train_y))
    if cfg.kind == "random":  # SalUn repo: n indices of the train split (n = 4,500 = 10% of 45,000)
        idx = _draw(all_idx, cfg, seed)
    elif cfg.kind == "iterative":  # everything forgotten up to this round (SalUn Table A3 scores the cumulative D_f)
        idx = np.concatenate(iterative_chunks(cfg, len(train_y), seed)[:cfg.round])
    elif cfg.kind == "worst_case":
        idx = _worst_case(cfg, train_y, member_prob)
    elif cfg.kind == "confusion":  # SURE App. F: a random 1% of the two classes' examples (1% of them: our reading)
        if not relabeled:
            raise ConfigError(f"scenario={cfg.name} (kind confusion) needs a task whose original is trained on the "
                              "swapped labels of training_labels(); the caller must pass relabeled=True")
        idx = _draw(np.flatnonzero(np.isin(train_y, cfg.classes)), cfg, seed)
    elif cfg.kind == "subclass":  # JiT / Unlink: every example of one sub-class; its super-class stays
        if sub_y is None or sub_classes is None:
            raise ConfigError(f"scenario={cfg.name} needs a dataset with sub-class labels (data=cifar20)")
        if cfg.subclass not in sub_classes:
            raise ConfigError(f"scenario.subclass={cfg.subclass!r} is not a sub-class of this dataset; "
                              f"allowed: {sorted(sub_classes)}")
        idx = np.flatnonzero(sub_y == sub_classes.index(cfg.subclass))
    elif cfg.kind == "partial_class":  # SURE: some examples of one class, the class itself stays
        idx = _draw(np.flatnonzero(train_y == cfg.class_index), cfg, seed)
    else:  # classwise / multiclass: every training example of the classes
        idx = np.flatnonzero(np.isin(train_y, forgotten_classes(cfg)))
    return np.sort(idx).astype(np.int64)


def forget_class_mask(cfg: ScenarioConfig, y: np.ndarray, sub_y: np.ndarray | None = None,
                      sub_classes: list[str] | None = None) -> np.ndarray:
    """Which of the examples with labels ``y`` belong to the class(es) the scenario forgets from: the forgotten
    classes (classwise, multiclass), the partly forgotten class (partial_class) or the forgotten sub-class
    (subclass); none for random forgetting. On the test set these are the images of SURE's Class Test Accuracy
    (CTA) and JiT's D_f accuracy for class-level settings."""
    if cfg.kind in ("partial_class", "worst_case"):
        return y == cfg.class_index
    if cfg.kind == "confusion":
        return np.isin(y, cfg.classes)
    if cfg.kind == "subclass":
        if sub_y is None or sub_classes is None:
            raise ConfigError(f"scenario={cfg.name} needs a dataset with sub-class labels (data=cifar20)")
        return sub_y == sub_classes.index(cfg.subclass)
    return np.isin(y, forgotten_classes(cfg))


def forgotten_classes(cfg: ScenarioConfig) -> list[int]:
    """Classes removed entirely from the train split; their test images are excluded from TA."""
    if cfg.kind == "classwise":
        return [cfg.class_index]
    return list(cfg.classes) if cfg.kind == "multiclass" else []
