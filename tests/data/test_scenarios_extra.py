"""JiT's worst-case forget set (Table 6) and SURE's resolving-confusion task (App. F)."""

import numpy as np
import pytest

from unlearn_bench.compose import compose_config
from unlearn_bench.config import ScenarioConfig
from unlearn_bench.data.scenarios import create_scenario, member_probability
from unlearn_bench.data.task import make_task
from unlearn_bench.errors import ConfigError
from unlearn_bench.runner import validate

LABELS = np.repeat(np.arange(10), 100)


def logits_with_entropy(entropy_level: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Logits whose softmax entropy rises with ``entropy_level`` (0 = confident, 1 = flat)."""
    logits = np.zeros((len(entropy_level), num_classes))
    logits[:, 0] = 12 * (1 - entropy_level)
    return logits


def worst(size: int | None = 50, ratio: float | None = None, class_index: int = 3) -> ScenarioConfig:
    return ScenarioConfig(name="w", kind="worst_case", class_index=class_index, size=size, ratio=ratio)


def forget_set(cfg: ScenarioConfig, labels: np.ndarray, seed: int, member_prob: np.ndarray | None = None
               ) -> np.ndarray:
    return create_scenario(cfg).forget_indices(labels, seed, member_prob=member_prob)


def test_worst_case_takes_the_class_examples_the_mia_scores_highest():
    prob = np.random.RandomState(0).uniform(size=len(LABELS))
    prob[LABELS != 3] = 1.0  # other classes score higher, but only class 3 is eligible
    idx = forget_set(worst(), LABELS, seed=0, member_prob=prob)
    pool = np.flatnonzero(LABELS == 3)
    expected = np.sort(pool[np.argsort(-prob[pool])[:50]])
    np.testing.assert_array_equal(idx, expected)
    assert prob[idx].min() >= prob[np.setdiff1d(pool, idx)].max()
    np.testing.assert_array_equal(idx, forget_set(worst(), LABELS, seed=7, member_prob=prob))  # no seed
    assert len(forget_set(worst(size=None, ratio=0.2), LABELS, 0, member_prob=prob)) == 20


def test_worst_case_ties_go_to_the_lower_index():
    idx = forget_set(worst(size=5), LABELS, seed=0, member_prob=np.full(len(LABELS), 0.5))
    np.testing.assert_array_equal(idx, np.flatnonzero(LABELS == 3)[:5])


def test_member_probability_ranks_confident_examples_as_members():
    rng = np.random.RandomState(0)
    members = logits_with_entropy(rng.uniform(0, 0.4, 500))  # training data: confident
    nonmembers = logits_with_entropy(rng.uniform(0.3, 1.0, 500))
    query = logits_with_entropy(np.array([0.05, 0.5, 0.95]))
    prob = member_probability(members, nonmembers, query)
    assert prob[0] > 0.5 > prob[2] and prob[0] > prob[1] > prob[2]


def test_worst_case_needs_the_original_models_scores_and_a_proper_size():
    with pytest.raises(ConfigError, match="needs member_prob"):
        forget_set(worst(), LABELS, seed=0)
    with pytest.raises(ConfigError, match="100 of the 100 examples of class 3"):
        forget_set(worst(size=100), LABELS, seed=0, member_prob=np.zeros(len(LABELS)))
    with pytest.raises(ConfigError, match="scenario.class_index=69 must be in \\[0, 9\\]"):
        create_scenario(worst(class_index=69)).validate(10)
    with pytest.raises(ConfigError, match="exactly one of scenario.ratio and scenario.size"):
        create_scenario(worst(size=None)).validate(10)


def test_worst_case_keeps_its_class_in_the_test_set():
    scenario = create_scenario(worst())
    assert scenario.forgotten_classes() == []  # the class stays: TA keeps its test images
    np.testing.assert_array_equal(scenario.forget_class_mask(LABELS), LABELS == 3)  # CTA / JiT D_f on its test images


def confusion(ratio: float | None = 0.01, size: int | None = None, classes=(0, 1)) -> ScenarioConfig:
    return ScenarioConfig(name="c", kind="confusion", classes=list(classes), ratio=ratio, size=size)


def test_confusion_forgets_a_share_of_the_two_classes_and_swaps_their_labels():
    labels = np.repeat(np.arange(10), 1000)
    cfg = confusion(classes=(2, 7))
    scenario = create_scenario(cfg)
    idx = forget_set(cfg, labels, seed=0)
    assert len(idx) == 20 and set(labels[idx]) == {2, 7}  # 1% of the 2,000 examples of classes 2 and 7
    trained = scenario.training_labels(labels, idx)
    np.testing.assert_array_equal(trained[idx], np.where(labels[idx] == 2, 7, 2))  # "mislabeled as the opposite"
    keep = np.setdiff1d(np.arange(len(labels)), idx)
    np.testing.assert_array_equal(trained[keep], labels[keep])
    np.testing.assert_array_equal(labels, np.repeat(np.arange(10), 1000))  # input not modified
    assert not np.array_equal(idx, forget_set(cfg, labels, seed=1))
    np.testing.assert_array_equal(scenario.forget_class_mask(labels), np.isin(labels, [2, 7]))
    assert scenario.forgotten_classes() == [] and scenario.confused_classes() == [2, 7]
    other = create_scenario(worst())
    trained = other.training_labels(labels, idx)
    np.testing.assert_array_equal(trained, labels)  # other kinds: labels as they are, in a copy
    assert trained is not labels and other.confused_classes() == []


def test_make_task_trains_the_confusion_original_on_the_swapped_labels():
    """What a relabeling scenario asks of make_task: D_f carries the swapped labels, D_r the true ones."""
    cfg = compose_config(["data=digits", "scenario=confusion", "scenario.classes=[1,7]", "scenario.ratio=0.1"])
    plain = compose_config(["data=digits", "scenario=random10"])
    task = make_task(cfg.data, cfg.scenario, cfg.train, cfg.seed, "cpu")
    true_y = make_task(plain.data, plain.scenario, plain.train, cfg.seed, "cpu").train_y.numpy()
    forget_y = task.split("forget")[1].numpy()
    assert set(true_y[task.forget_idx]) == {1, 7}
    np.testing.assert_array_equal(forget_y, np.where(true_y[task.forget_idx] == 1, 7, 1))
    np.testing.assert_array_equal(task.split("retain")[1].numpy(), np.delete(true_y, task.forget_idx))
    assert task.confused_classes == [1, 7] and task.forgotten_classes == []


@pytest.mark.parametrize("classes", [[0], [1, 1], [0, 1, 2], [0, 10]])
def test_confusion_needs_two_distinct_valid_classes(classes):
    with pytest.raises(ConfigError, match="scenario.classes"):
        create_scenario(confusion(classes=classes)).validate(10)


@pytest.mark.parametrize("overrides,message", [
    (["scenario=worst_case"], "scenario.class_index=69 must be in \\[0, 9\\]"),
    (["scenario=confusion", "scenario.ratio=1.5"], "scenario.ratio=1.5 must be in \\(0, 1\\)"),
    (["scenario=confusion", "scenario.classes=[3]"], "scenario.classes=\\[3\\] must be two distinct"),
])
def test_presets_are_validated_before_any_training(tmp_path, overrides, message):
    with pytest.raises(ConfigError, match=message):
        validate(compose_config(["data=digits", f"cache_dir={tmp_path}", *overrides]))
    assert not any(tmp_path.iterdir())


def test_presets_hold_the_papers_settings():
    worst_cfg = compose_config(["data=cifar100", "scenario=worst_case"]).scenario
    assert (worst_cfg.kind, worst_cfg.class_index, worst_cfg.size, worst_cfg.name) == ("worst_case", 69, 50,
                                                                                       "worst_case69_n50")
    conf_cfg = compose_config(["data=cifar10", "scenario=confusion"]).scenario
    assert (conf_cfg.kind, list(conf_cfg.classes), conf_cfg.ratio) == ("confusion", [0, 1], 0.01)
