import numpy as np
import pytest

from unlearn_bench.metrics.lira import (
    attack_auc,
    attack_balanced_accuracy,
    logit_scaled_confidence,
    tpr_at_fpr,
    ulira_scores,
)

# Hand-made attack: positives score 0.9, 0.8, 0.6, 0.3; negatives 0.7, 0.55, 0.4, 0.2.
SCORES = np.array([0.9, 0.8, 0.7, 0.6, 0.55, 0.4, 0.3, 0.2])
LABELS = np.array([1, 1, 0, 1, 0, 0, 1, 0])


def test_logit_scaled_confidence_by_hand_and_when_saturated():
    assert np.isclose(logit_scaled_confidence(np.log([[0.8, 0.15, 0.05]]), np.array([0]))[0], np.log(0.8 / 0.2))
    saturated = np.array([[1000.0, 0.0]])
    assert logit_scaled_confidence(saturated, np.array([0]))[0] == 1000.0
    assert logit_scaled_confidence(saturated, np.array([1]))[0] == -1000.0


def test_logit_scaled_confidence_over_a_leading_models_axis():
    rng = np.random.RandomState(0)
    logits, labels = rng.randn(3, 5, 4), rng.randint(0, 4, 5)  # models x examples x classes
    phi = logit_scaled_confidence(logits, labels)
    assert phi.shape == (3, 5)
    assert np.allclose(phi[1], logit_scaled_confidence(logits[1], labels))


def test_ulira_likelihood_ratio_by_hand():
    unlearned = np.array([[-1.0], [0.0], [1.0]])  # median 0, std sqrt(2/3)
    retrained = np.array([[1.0], [2.0], [3.0]])  # median 2, same std
    # log N(0; 0, 2/3) - log N(0; 2, 2/3) = 2^2 / (2 * 2/3) = 3; phi = 1 is halfway: 0
    assert np.allclose(ulira_scores(unlearned, retrained, np.array([[0.0], [1.0]])), [[3.0], [0.0]])


def test_ulira_fixed_variance_shares_the_mean_variance_over_examples():
    unlearned = np.array([[-1.0, -2.0], [0.0, 0.0], [1.0, 2.0]])  # variances 2/3 and 8/3
    retrained = unlearned + 2.0
    target = np.zeros(2)
    assert np.allclose(ulira_scores(unlearned, retrained, target), [4 / (4 / 3), 4 / (16 / 3)])
    assert np.allclose(ulira_scores(unlearned, retrained, target, fix_variance=True), 4 / (10 / 3))


def test_attack_summaries_on_a_hand_made_example():
    assert attack_auc(SCORES, LABELS) == 75.0  # 12 of 16 positive-negative pairs ordered right
    assert attack_balanced_accuracy(SCORES, LABELS) == 75.0  # top 2: TPR .5, FPR 0
    assert tpr_at_fpr(SCORES, LABELS, (0.001, 0.3)) == {0.001: 50.0, 0.3: 75.0}


def test_ulira_end_to_end_on_synthetic_shadows():
    rng = np.random.RandomState(0)
    n_shadow, n_target, n_examples = 64, 16, 50
    example_mean = rng.randn(n_examples) * 3  # examples differ a lot: one global threshold on phi would fail

    def population(shift: float, n: int) -> np.ndarray:
        return example_mean + shift + 0.5 * rng.randn(n, n_examples)

    def attack(shift: float) -> np.ndarray:
        targets = np.concatenate([population(shift, n_target), population(0.0, n_target)])
        return ulira_scores(population(shift, n_shadow), population(0.0, n_shadow), targets)

    labels = np.concatenate([np.ones((n_target, n_examples)), np.zeros((n_target, n_examples))])
    unlearning_leaves_a_trace = attack(1.5)
    assert attack_auc(unlearning_leaves_a_trace, labels) > 95.0
    assert attack_balanced_accuracy(unlearning_leaves_a_trace, labels) > 90.0
    assert tpr_at_fpr(unlearning_leaves_a_trace, labels)[0.01] > 30.0
    same_as_retrain = attack(0.0)
    assert 45.0 < attack_auc(same_as_retrain, labels) < 55.0
    assert attack_balanced_accuracy(same_as_retrain, labels) < 55.0
    assert tpr_at_fpr(same_as_retrain, labels)[0.01] < 3.0  # TPR ~ FPR


@pytest.mark.parametrize("fix_variance", [False, True])
def test_ulira_separated_populations_give_auc_100(fix_variance):
    rng = np.random.RandomState(1)
    unlearned, retrained = rng.randn(32, 10) + 10.0, rng.randn(32, 10)
    targets = np.concatenate([rng.randn(4, 10) + 10.0, rng.randn(4, 10)])
    labels = np.repeat([[1], [0]], 4, axis=0) * np.ones(10)
    assert attack_auc(ulira_scores(unlearned, retrained, targets, fix_variance), labels) == 100.0
