import numpy as np
import pytest

from unlearn_bench.config import ScenarioConfig
from unlearn_bench.data.scenarios import forget_indices, forgotten_classes

LABELS = np.repeat(np.arange(10), 100)


def random_cfg(ratio):
    return ScenarioConfig(name="r", kind="random", ratio=ratio)


@pytest.mark.parametrize("ratio", [0.1, 0.3, 0.5])
def test_random_split_size_disjoint_and_covering(ratio):
    forget = forget_indices(random_cfg(ratio), LABELS, 10, seed=0)
    retain = np.setdiff1d(np.arange(len(LABELS)), forget)
    assert len(forget) == round(ratio * len(LABELS))
    assert len(np.unique(forget)) == len(forget)
    assert np.intersect1d(forget, retain).size == 0
    assert len(forget) + len(retain) == len(LABELS)


def test_same_seed_same_split_other_seed_other_split():
    a = forget_indices(random_cfg(0.1), LABELS, 10, seed=3)
    b = forget_indices(random_cfg(0.1), LABELS, 10, seed=3)
    c = forget_indices(random_cfg(0.1), LABELS, 10, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_classwise_takes_the_whole_class():
    cfg = ScenarioConfig(name="c", kind="classwise", class_index=3)
    forget = forget_indices(cfg, LABELS, 10, seed=0)
    np.testing.assert_array_equal(forget, np.flatnonzero(LABELS == 3))
    assert forgotten_classes(cfg) == [3]


@pytest.mark.parametrize("cfg,match", [
    (ScenarioConfig(name="x", kind="random", ratio=1.5), "scenario.ratio"),
    (ScenarioConfig(name="x", kind="random", ratio=0.0), "scenario.ratio"),
    (ScenarioConfig(name="x", kind="classwise", class_index=10), "scenario.class_index"),
    (ScenarioConfig(name="x", kind="nope"), "scenario.kind"),
])
def test_bad_scenarios_name_the_key(cfg, match):
    with pytest.raises(ValueError, match=match):
        forget_indices(cfg, LABELS, 10, seed=0)
