import numpy as np
import pytest

from unlearn_bench.compose import compose_config
from unlearn_bench.config import ScenarioConfig
from unlearn_bench.data.scenarios import create_scenario

LABELS = np.repeat(np.arange(10), 100)


def random_cfg(ratio):
    return ScenarioConfig(name="r", kind="random", ratio=ratio)


def forget_set(cfg: ScenarioConfig, labels: np.ndarray, seed: int) -> np.ndarray:
    """D_f as make_task builds it: the scenario of ``cfg``, validated for 10 classes."""
    scenario = create_scenario(cfg)
    scenario.validate(10)
    return scenario.forget_indices(labels, seed)


@pytest.mark.parametrize("ratio", [0.1, 0.3, 0.5])
def test_random_split_size_disjoint_and_covering(ratio):
    forget = forget_set(random_cfg(ratio), LABELS, seed=0)
    retain = np.setdiff1d(np.arange(len(LABELS)), forget)
    assert len(forget) == round(ratio * len(LABELS))
    assert len(np.unique(forget)) == len(forget)
    assert np.intersect1d(forget, retain).size == 0
    assert len(forget) + len(retain) == len(LABELS)


def test_same_seed_same_split_other_seed_other_split():
    a = forget_set(random_cfg(0.1), LABELS, seed=3)
    b = forget_set(random_cfg(0.1), LABELS, seed=3)
    c = forget_set(random_cfg(0.1), LABELS, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_classwise_takes_the_whole_class():
    cfg = ScenarioConfig(name="c", kind="classwise", class_index=3)
    forget = forget_set(cfg, LABELS, seed=0)
    np.testing.assert_array_equal(forget, np.flatnonzero(LABELS == 3))
    assert create_scenario(cfg).forgotten_classes() == [3]


@pytest.mark.parametrize("cfg,match", [
    (ScenarioConfig(name="x", kind="random", ratio=1.5), "scenario.ratio"),
    (ScenarioConfig(name="x", kind="random", ratio=0.0), "scenario.ratio"),
    (ScenarioConfig(name="x", kind="classwise", class_index=10), "scenario.class_index"),
    (ScenarioConfig(name="x", kind="nope"), "scenario.kind"),
    (ScenarioConfig(name="x", kind="random", ratio=0.1, size=10), "exactly one of scenario.ratio and scenario.size"),
    (ScenarioConfig(name="x", kind="random", size=1000), "1000 of 1000"),
    (ScenarioConfig(name="x", kind="partial_class", class_index=2, size=100), "100 of 100"),
    (ScenarioConfig(name="x", kind="partial_class", class_index=-1, size=5), "scenario.class_index"),
    (ScenarioConfig(name="x", kind="multiclass", classes=[1, 1]), "scenario.classes"),
    (ScenarioConfig(name="x", kind="multiclass", classes=[1, 10]), "scenario.classes entry"),
    (ScenarioConfig(name="x", kind="multiclass", classes=list(range(10))), "every one of 10"),
])
def test_bad_scenarios_name_the_key(cfg, match):
    with pytest.raises(ValueError, match=match):
        forget_set(cfg, LABELS, seed=0)


def test_fixed_size_random_forget_set():
    forget = forget_set(ScenarioConfig(name="n", kind="random", size=10), LABELS, seed=0)
    assert len(forget) == 10 and len(np.unique(forget)) == 10


def test_partial_class_forgets_some_of_one_class_and_keeps_the_class():
    cfg = ScenarioConfig(name="p", kind="partial_class", class_index=4, size=30)
    forget = forget_set(cfg, LABELS, seed=0)
    assert len(forget) == 30 and set(LABELS[forget]) == {4}
    assert create_scenario(cfg).forgotten_classes() == []  # the class is still in D_r and in the test set
    half = forget_set(ScenarioConfig(name="p", kind="partial_class", class_index=4, ratio=0.5), LABELS, 0)
    assert len(half) == 50


def test_multiclass_takes_every_listed_class():
    cfg = ScenarioConfig(name="m", kind="multiclass", classes=[2, 7])
    forget = forget_set(cfg, LABELS, seed=0)
    np.testing.assert_array_equal(forget, np.flatnonzero((LABELS == 2) | (LABELS == 7)))
    assert create_scenario(cfg).forgotten_classes() == [2, 7]


def test_scenario_names_say_what_is_forgotten():
    names = {o: compose_config([f"scenario={o}", *extra]).scenario.name for o, *extra in (
        ("multiclass", "scenario.classes=[3,5]"), ("partial_class",), ("random_n10",), ("random_n100",))}
    assert names == {"multiclass": "multiclass_3-5", "partial_class": "partial_class0_n100",
                     "random_n10": "random_n10", "random_n100": "random_n100"}


def test_forget_class_mask_marks_the_scenarios_class_level_test_images():
    labels = np.array([0, 1, 2, 0, 1, 2])
    sub = np.array([5, 6, 7, 8, 6, 7])
    cases = [
        (ScenarioConfig(name="c", kind="classwise", class_index=1), [0, 1, 0, 0, 1, 0]),
        (ScenarioConfig(name="m", kind="multiclass", classes=[0, 2]), [1, 0, 1, 1, 0, 1]),
        (ScenarioConfig(name="p", kind="partial_class", class_index=2, size=1), [0, 0, 1, 0, 0, 1]),
        (ScenarioConfig(name="s", kind="subclass", subclass="b"), [0, 1, 0, 0, 1, 0]),
        (random_cfg(0.1), [0, 0, 0, 0, 0, 0]),
    ]
    names = ["x"] * 5 + ["a", "b", "c", "d"]  # sub-class 6 is "b"
    for cfg, expected in cases:
        mask = create_scenario(cfg).forget_class_mask(labels, sub, names)
        np.testing.assert_array_equal(mask, np.array(expected, dtype=bool))
