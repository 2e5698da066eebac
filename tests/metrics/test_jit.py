import numpy as np
import pytest

from unlearn_bench.metrics.jit import entropy_similarity, jit_mia, output_entropy

K = 10


def logits_with_margin(margin: float, n: int, rng: np.random.RandomState) -> np.ndarray:
    """Logits whose class-0 margin sets the entropy: large margin = confident (member-like), small = uncertain."""
    logits = rng.randn(n, K)
    logits[:, 0] += margin + rng.randn(n)
    return logits


def test_entropy_on_hand_made_distributions():
    assert np.isclose(output_entropy(np.log([[0.5, 0.25, 0.25]]))[0], 1.5 * np.log(2))
    assert np.isclose(output_entropy(np.zeros((1, K)))[0], np.log(K))
    saturated = output_entropy(np.array([[1000.0, 0.0, 0.0]]))
    assert np.isfinite(saturated).all() and abs(saturated[0]) < 1e-12


def test_mia_is_the_share_of_forget_predicted_member_in_percent():
    rng = np.random.RandomState(0)
    retain, test = logits_with_margin(8.0, 1000, rng), logits_with_margin(0.5, 200, rng)
    assert jit_mia(retain, test, logits_with_margin(8.0, 200, rng)) > 95.0
    assert jit_mia(retain, test, logits_with_margin(0.5, 200, rng)) < 5.0


def test_mia_balances_a_retain_set_ten_times_larger_than_the_test_set():
    # Overlapping entropies and a 10:1 prior: an unweighted fit calls every forget example a member (100 %);
    # class_weight="balanced" moves the boundary between the two populations.
    rng = np.random.RandomState(0)
    retain, test = logits_with_margin(3.0, 2000, rng), logits_with_margin(1.5, 200, rng)
    assert jit_mia(retain, test, logits_with_margin(1.5, 200, rng)) < 35.0


def test_entropy_similarity_exact_p_value_when_every_difference_has_the_same_sign():
    # Halving the logits raises every example's entropy: W- = 0, two-sided exact p = 2 / 2^8.
    retrain = np.random.RandomState(1).randn(8, K) * 3
    statistic, p_value = entropy_similarity(retrain * 0.5, retrain)
    assert statistic == 0.0
    assert np.isclose(p_value, 2 / 2**8)


def test_entropy_similarity_separates_similar_from_overconfident_models():
    # Same generator for both models: the paired entropy differences are symmetric about 0 (the null holds).
    rng = np.random.RandomState(2)
    retrain, similar = logits_with_margin(1.0, 200, rng), logits_with_margin(1.0, 200, rng)
    assert entropy_similarity(similar, retrain)[1] > 0.10
    assert entropy_similarity(retrain * 3.0, retrain)[1] < 1e-6


def test_entropy_similarity_needs_paired_examples():
    with pytest.raises(ValueError):
        entropy_similarity(np.zeros((3, K)), np.zeros((4, K)))
