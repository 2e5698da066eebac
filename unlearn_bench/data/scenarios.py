"""Forget-set scenarios, one class per ``scenario.kind``, registered in ``SCENARIOS``.

A scenario answers every kind-specific question (which examples form D_f, which classes leave the test set, what
labels the original trains on, whether attacks that re-run the method apply), so no caller tests the kind string.
Indices depend only on the scenario, the labels and the seed, so every method of a seed sees the same D_f, and they
are saved with every run record.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from unlearn_bench.config import ScenarioConfig
from unlearn_bench.errors import ConfigError


class Scenario:
    """A forget-set scenario of one kind; the defaults describe forgetting examples whose classes all stay."""

    kind: ClassVar[str]
    # Removes whole classes from the train split: what full-class-only methods and the generation pipelines require.
    full_class: ClassVar[bool] = False
    # The forget set is chosen with the original model's outputs (``forget_indices`` needs ``member_prob``).
    chooses_with_original: ClassVar[bool] = False
    # Attacks that re-run the method from the original (U-LiRA, challenge, KLoM) are defined for this scenario.
    reruns_method: ClassVar[bool] = True

    def __init__(self, cfg: ScenarioConfig) -> None:
        self.cfg = cfg

    def validate(self, num_classes: int) -> None:
        """Raise ConfigError naming the bad key before any data is touched or model trained."""

    def forget_indices(self, train_y: np.ndarray, seed: int, sub_y: np.ndarray | None = None,
                       sub_classes: list[str] | None = None, member_prob: np.ndarray | None = None) -> np.ndarray:
        """Sorted int64 indices of D_f in the train split (call ``validate`` first). ``sub_y`` / ``sub_classes``:
        the train split's sub-class labels and names (subclass); ``member_prob``: the original model's member
        probability of each train example, ``member_probability`` (scenarios that ``chooses_with_original``)."""
        return np.sort(self._choose(train_y, seed, sub_y, sub_classes, member_prob)).astype(np.int64)

    def _choose(self, train_y: np.ndarray, seed: int, sub_y: np.ndarray | None, sub_classes: list[str] | None,
                member_prob: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError

    def training_labels(self, train_y: np.ndarray, forget_idx: np.ndarray) -> np.ndarray:
        """The labels the original model is trained with (a copy; the dataset's own labels by default)."""
        return np.array(train_y, copy=True)

    def forgotten_classes(self) -> list[int]:
        """Classes removed entirely from the train split; their test images are excluded from TA."""
        return []

    def forget_class_mask(self, y: np.ndarray, sub_y: np.ndarray | None = None,
                          sub_classes: list[str] | None = None) -> np.ndarray:
        """Which of the examples with labels ``y`` belong to the class(es) or sub-class the scenario forgets from
        (none for random forgetting). On the test set these are the images of SURE's Class Test Accuracy (CTA) and
        JiT's D_f accuracy for class-level settings."""
        return np.isin(y, self.forgotten_classes())

    def confused_classes(self) -> list[int]:
        """Classes whose D_f examples the original learns with each other's label (SURE's confusion task)."""
        return []

    def forgotten_subclass(self) -> str | None:
        """The sub-class the scenario forgets (its super-class stays), if any."""
        return None

    def current_round(self) -> int | None:
        """This run's round of a multi-round scenario (then the method sees ``round_split``); None otherwise."""
        return None

    def earlier_rounds(self) -> list[int]:
        """The rounds whose models a run must chain before its own."""
        return []

    def round_split(self, n_train: int, seed: int, round_k: int) -> tuple[np.ndarray, np.ndarray]:
        """What the method sees in round ``round_k``: (that round's D_f, the indices in neither D_f nor D_r)."""
        raise ConfigError(f"scenario={self.cfg.name} (kind {self.kind!r}) has no rounds")


SCENARIOS: dict[str, type[Scenario]] = {}


def register_scenario(cls: type[Scenario]) -> type[Scenario]:
    """Class decorator: make ``cls`` the scenario of ``scenario.kind == cls.kind``."""
    if cls.kind in SCENARIOS:
        raise ValueError(f"scenario kind {cls.kind!r} is registered twice")
    SCENARIOS[cls.kind] = cls
    return cls


def create_scenario(cfg: ScenarioConfig) -> Scenario:
    if cfg.kind not in SCENARIOS:
        raise ConfigError(f"scenario.kind={cfg.kind!r} is not supported; allowed: {list(SCENARIOS)}")
    return SCENARIOS[cfg.kind](cfg)


# --- shared checks and draws ------------------------------------------------------------------------------------------


def _check_class(key: str, value: int | None, num_classes: int) -> None:
    if value is None or not 0 <= value < num_classes:
        raise ConfigError(f"{key}={value!r} must be in [0, {num_classes - 1}]")


def _check_ratio_or_size(cfg: ScenarioConfig) -> None:
    """Scenarios that forget a share of a pool take exactly one of ``ratio`` (of the pool) and ``size``."""
    if (cfg.ratio is None) == (cfg.size is None):
        raise ConfigError(f"scenario kind {cfg.kind!r} needs exactly one of scenario.ratio and scenario.size; "
                          f"got ratio={cfg.ratio!r}, size={cfg.size!r}")
    if cfg.ratio is not None and not 0.0 < cfg.ratio < 1.0:
        raise ConfigError(f"scenario.ratio={cfg.ratio!r} must be in (0, 1)")
    if cfg.size is not None and cfg.size < 1:
        raise ConfigError(f"scenario.size={cfg.size!r} must be >= 1")


def _n_forget(cfg: ScenarioConfig, pool_size: int) -> int:
    return cfg.size if cfg.size is not None else int(round(cfg.ratio * pool_size))


def _draw(pool: np.ndarray, cfg: ScenarioConfig, seed: int) -> np.ndarray:
    """``size`` or ``ratio * len(pool)`` indices of ``pool`` without replacement (SalUn repo: RandomState)."""
    n_forget = _n_forget(cfg, len(pool))
    if not 0 < n_forget < len(pool):
        raise ConfigError(f"scenario {cfg.name}: {n_forget} of {len(pool)} examples is not a proper forget set "
                          "(check scenario.ratio / scenario.size)")
    return pool[np.random.RandomState(seed).choice(len(pool), size=n_forget, replace=False)]


def _subclass_labels(cfg: ScenarioConfig, sub_y: np.ndarray | None, sub_classes: list[str] | None) -> np.ndarray:
    """``sub_y == the forgotten sub-class``; ConfigError for a dataset without sub-class labels."""
    if sub_y is None or sub_classes is None:
        raise ConfigError(f"scenario={cfg.name} needs a dataset with sub-class labels (data=cifar20)")
    if cfg.subclass not in sub_classes:
        raise ConfigError(f"scenario.subclass={cfg.subclass!r} is not a sub-class of this dataset; "
                          f"allowed: {sorted(sub_classes)}")
    return sub_y == sub_classes.index(cfg.subclass)


def iterative_chunks(cfg: ScenarioConfig, n_train: int, seed: int) -> list[np.ndarray]:
    """SalUn Table A3: the forget sets of rounds 1 .. ``rounds`` of iterative unlearning, disjoint, each ``ratio``
    (or ``size``) of the train split ("for each iteration the forgetting set is 10% of the whole dataset"), cut from
    one seeded permutation of the train split."""
    n_round = _n_forget(cfg, n_train)
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


# --- the scenarios ---------------------------------------------------------------------------------------------------


@register_scenario
class Random(Scenario):
    """SalUn repo: ``size`` (or ``ratio``) of the whole train split (e.g. 4,500 = 10% of 45,000)."""

    kind = "random"

    def validate(self, num_classes: int) -> None:
        _check_ratio_or_size(self.cfg)

    def _choose(self, train_y: np.ndarray, seed: int, sub_y: np.ndarray | None, sub_classes: list[str] | None,
                member_prob: np.ndarray | None) -> np.ndarray:
        return _draw(np.arange(len(train_y)), self.cfg, seed)


class _FullClassScenario(Scenario):
    """Every training example of the forgotten classes; their test images leave TA."""

    full_class = True

    def _choose(self, train_y: np.ndarray, seed: int, sub_y: np.ndarray | None, sub_classes: list[str] | None,
                member_prob: np.ndarray | None) -> np.ndarray:
        return np.flatnonzero(np.isin(train_y, self.forgotten_classes()))


@register_scenario
class Classwise(_FullClassScenario):
    kind = "classwise"

    def validate(self, num_classes: int) -> None:
        _check_class("scenario.class_index", self.cfg.class_index, num_classes)

    def forgotten_classes(self) -> list[int]:
        return [self.cfg.class_index]


@register_scenario
class Multiclass(_FullClassScenario):
    kind = "multiclass"

    def validate(self, num_classes: int) -> None:
        classes = self.cfg.classes
        if not classes or len(set(classes)) != len(classes):
            raise ConfigError(f"scenario.classes={classes!r} must be a non-empty list of distinct classes")
        if len(classes) >= num_classes:
            raise ConfigError(f"scenario.classes={list(classes)} would forget every one of {num_classes} classes")
        for c in classes:
            _check_class("scenario.classes entry", c, num_classes)

    def forgotten_classes(self) -> list[int]:
        return list(self.cfg.classes)


class _WithinClassScenario(Scenario):
    """Some examples of ``class_index``; the class stays in D_r and the test set, where it is the CTA images."""

    def validate(self, num_classes: int) -> None:
        _check_ratio_or_size(self.cfg)
        _check_class("scenario.class_index", self.cfg.class_index, num_classes)

    def forget_class_mask(self, y: np.ndarray, sub_y: np.ndarray | None = None,
                          sub_classes: list[str] | None = None) -> np.ndarray:
        return y == self.cfg.class_index


@register_scenario
class PartialClass(_WithinClassScenario):
    """SURE: a random ``size`` (or ``ratio``) of one class."""

    kind = "partial_class"

    def _choose(self, train_y: np.ndarray, seed: int, sub_y: np.ndarray | None, sub_classes: list[str] | None,
                member_prob: np.ndarray | None) -> np.ndarray:
        return _draw(np.flatnonzero(train_y == self.cfg.class_index), self.cfg, seed)


@register_scenario
class Subclass(Scenario):
    """JiT / Unlink: every example of one sub-class; its super-class stays."""

    kind = "subclass"

    def validate(self, num_classes: int) -> None:
        if not self.cfg.subclass:
            raise ConfigError("scenario kind 'subclass' needs scenario.subclass (a sub-class name, e.g. rocket)")

    def _choose(self, train_y: np.ndarray, seed: int, sub_y: np.ndarray | None, sub_classes: list[str] | None,
                member_prob: np.ndarray | None) -> np.ndarray:
        return np.flatnonzero(_subclass_labels(self.cfg, sub_y, sub_classes))

    def forget_class_mask(self, y: np.ndarray, sub_y: np.ndarray | None = None,
                          sub_classes: list[str] | None = None) -> np.ndarray:
        return _subclass_labels(self.cfg, sub_y, sub_classes)

    def forgotten_subclass(self) -> str | None:
        return self.cfg.subclass


@register_scenario
class WorstCase(_WithinClassScenario):
    """JiT Table 6: "the 50 samples from class Rocket for which the MIA model outputs the highest probability". The
    paper does not say which MIA model: here JiT's own (``member_probability``) fit on the ORIGINAL model's outputs,
    the whole train split as members vs the test set, scoring every train example of ``class_index``; the ``size``
    (or ``ratio`` of the class) highest, ties to the lower index. Deterministic given the original model (no seed),
    which is cached and independent of the forget set."""

    kind = "worst_case"
    chooses_with_original = True

    def _choose(self, train_y: np.ndarray, seed: int, sub_y: np.ndarray | None, sub_classes: list[str] | None,
                member_prob: np.ndarray | None) -> np.ndarray:
        cfg = self.cfg
        if member_prob is None:
            raise ConfigError(f"scenario={cfg.name} (kind worst_case) is chosen with the original model: "
                              "forget_indices needs member_prob, the original's member probability of every train "
                              "example")
        if len(member_prob) != len(train_y):
            raise ValueError(f"member_prob has {len(member_prob)} entries for {len(train_y)} train examples")
        pool = np.flatnonzero(train_y == cfg.class_index)
        n_forget = _n_forget(cfg, len(pool))
        if not 0 < n_forget < len(pool):
            raise ConfigError(f"scenario {cfg.name}: {n_forget} of the {len(pool)} examples of class "
                              f"{cfg.class_index} is not a proper forget set (check scenario.size / scenario.ratio)")
        return pool[np.argsort(-member_prob[pool], kind="stable")[:n_forget]]


@register_scenario
class Confusion(Scenario):
    """SURE App. F (from Kurmanji et al. 2024): a random ``ratio`` (or ``size``) of the two classes' examples (of
    them: our reading of "1%") are "intentionally mislabeled as the opposite class" in the original's training
    labels; D_f is what a method is asked to unlearn."""

    kind = "confusion"

    def validate(self, num_classes: int) -> None:
        _check_ratio_or_size(self.cfg)
        classes = self.cfg.classes
        if not classes or len(classes) != 2 or classes[0] == classes[1]:
            raise ConfigError(f"scenario.classes={classes!r} must be two distinct classes for kind 'confusion' "
                              "(SURE App. F: [0, 1])")
        for c in classes:
            _check_class("scenario.classes entry", c, num_classes)

    def _choose(self, train_y: np.ndarray, seed: int, sub_y: np.ndarray | None, sub_classes: list[str] | None,
                member_prob: np.ndarray | None) -> np.ndarray:
        return _draw(np.flatnonzero(np.isin(train_y, self.cfg.classes)), self.cfg, seed)

    def training_labels(self, train_y: np.ndarray, forget_idx: np.ndarray) -> np.ndarray:
        labels = super().training_labels(train_y, forget_idx)
        a, b = self.cfg.classes
        labels[forget_idx] = np.where(labels[forget_idx] == a, b, a)
        return labels

    def forget_class_mask(self, y: np.ndarray, sub_y: np.ndarray | None = None,
                          sub_classes: list[str] | None = None) -> np.ndarray:
        return np.isin(y, self.cfg.classes)

    def confused_classes(self) -> list[int]:
        return list(self.cfg.classes)


@register_scenario
class Iterative(Scenario):
    """SalUn Table A3: ``rounds`` disjoint forget sets (``iterative_chunks``), the method chained round by round.
    D_f is everything forgotten up to this round (what Table A3 scores); in round k the method itself sees only
    that round's examples (``round_split``)."""

    kind = "iterative"
    reruns_method = False  # a round starts from the previous round's model, not from the original

    def validate(self, num_classes: int) -> None:
        cfg = self.cfg
        _check_ratio_or_size(cfg)
        if cfg.rounds is None or cfg.rounds < 1:
            raise ConfigError(f"scenario.rounds={cfg.rounds!r} must be an integer >= 1 for kind 'iterative'")
        if cfg.round is None or not 1 <= cfg.round <= cfg.rounds:
            raise ConfigError(f"scenario.round={cfg.round!r} must be in [1, {cfg.rounds}] (scenario.rounds)")
        if cfg.ratio is not None and cfg.ratio * cfg.rounds >= 1.0:
            raise ConfigError(f"scenario.ratio={cfg.ratio} x scenario.rounds={cfg.rounds} would forget all of D")

    def _choose(self, train_y: np.ndarray, seed: int, sub_y: np.ndarray | None, sub_classes: list[str] | None,
                member_prob: np.ndarray | None) -> np.ndarray:
        return np.concatenate(iterative_chunks(self.cfg, len(train_y), seed)[:self.cfg.round])

    def current_round(self) -> int | None:
        return self.cfg.round

    def earlier_rounds(self) -> list[int]:
        return list(range(1, self.cfg.round))

    def round_split(self, n_train: int, seed: int, round_k: int) -> tuple[np.ndarray, np.ndarray]:
        """Round ``round_k``'s new examples; the earlier rounds' examples are in neither D_f nor D_r."""
        chunks = iterative_chunks(self.cfg, n_train, seed)
        return chunks[round_k - 1], np.concatenate([np.zeros(0, dtype=np.int64), *chunks[:round_k - 1]])
