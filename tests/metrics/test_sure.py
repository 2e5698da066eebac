import itertools

import numpy as np
import pytest
import torch

from unlearn_bench.metrics.sure import (
    average_error_gap,
    match_units,
    mia_i,
    mia_ii,
    miars_i,
    miars_ii,
    per_example_loss,
    weight_distance,
)

K = 10


def logits_with_confidence(margin: float, n: int, rng: np.random.RandomState):
    """Logits whose true-label margin sets loss and confidence: large = seen in training, small = unseen."""
    labels = rng.randint(0, K, n)
    logits = rng.randn(n, K)
    logits[np.arange(n), labels] += margin + rng.randn(n)
    return logits, labels


def test_per_example_loss_is_cross_entropy_and_finite_when_saturated():
    assert np.isclose(per_example_loss(np.log([[0.7, 0.2, 0.1]]), np.array([1]))[0], -np.log(0.2))
    assert per_example_loss(np.array([[0.0, 1000.0]]), np.array([0]))[0] == 1000.0


def test_mia_i_recognises_a_forget_set_with_training_like_losses():
    rng = np.random.RandomState(0)
    assert mia_i(*logits_with_confidence(8.0, 200, rng), *logits_with_confidence(0.5, 200, rng)) > 95.0


def test_mia_i_balances_a_large_test_set_so_chance_is_50():
    # Same loss distribution, test set 10x larger: predicting the majority would score ~91 % without balancing.
    rng = np.random.RandomState(1)
    score = mia_i(*logits_with_confidence(2.0, 100, rng), *logits_with_confidence(2.0, 1000, rng))
    assert 35.0 < score < 65.0


def test_miars_i_on_separated_and_on_identical_embeddings():
    rng = np.random.RandomState(2)
    forget, test = rng.randn(100, 16), rng.randn(1000, 16)
    assert miars_i(forget + 3.0, test) > 95.0
    assert 30.0 < miars_i(forget, test) < 70.0


def test_mia_ii_is_the_share_of_forget_classified_as_test():
    rng = np.random.RandomState(3)
    train, test = logits_with_confidence(8.0, 300, rng), logits_with_confidence(0.5, 300, rng)
    assert mia_ii(*train, *test, *logits_with_confidence(0.5, 100, rng)) > 90.0
    assert mia_ii(*train, *test, *logits_with_confidence(8.0, 100, rng)) < 10.0


def test_miars_ii_is_the_share_of_forget_classified_as_test():
    rng = np.random.RandomState(4)
    train, test = rng.randn(200, 8) + 3.0, rng.randn(200, 8) - 3.0
    assert miars_ii(train, test, rng.randn(50, 8) - 3.0) == 100.0
    assert miars_ii(train, test, rng.randn(50, 8) + 3.0) == 0.0


def test_weight_distance_is_l2_of_flattened_parameters():
    model = {"fc.weight": np.array([[3.0, 0.0]]), "fc.bias": np.array([0.0])}
    oracle = {"fc.weight": np.array([[0.0, 0.0]]), "fc.bias": np.array([4.0])}
    assert weight_distance(model, oracle) == 5.0  # sqrt(3^2 + 4^2)
    assert weight_distance(list(model.values()), list(oracle.values())) == 5.0
    assert weight_distance(model, model) == 0.0
    with pytest.raises(ValueError):
        weight_distance(model, {"fc.weight": oracle["fc.weight"]})
    with pytest.raises(ValueError):
        weight_distance([np.zeros(2)], [np.zeros(3)])


def test_average_error_gap_is_the_mean_of_five_absolute_gaps():
    oracle = {"UA": 10.0, "TA": 90.0, "RA": 99.0, "CTA": 80.0, "MIARS-I": 50.0, "MIA": 30.0}
    model = {"UA": 11.0, "TA": 88.0, "RA": 96.0, "CTA": 84.0, "MIARS-I": 55.0, "MIA": 0.0}
    assert average_error_gap(model, oracle) == 3.0  # (1 + 2 + 3 + 4 + 5) / 5; MIA is not one of the five
    with pytest.raises(KeyError):
        average_error_gap({k: v for k, v in model.items() if k != "CTA"}, oracle)


def test_activation_matching_finds_the_permutation_a_brute_force_search_finds():
    """Ainsworth et al.'s activation matching, checked against its definition: the permutation of the units with
    the least ||Z_oracle - Z P||_F, found here by trying every permutation of 5 units."""
    rng = np.random.RandomState(0)
    oracle = rng.randn(40, 5)
    for _ in range(5):
        features = oracle[:, rng.permutation(5)] + 0.8 * rng.randn(40, 5)  # noisy: the best match is not trivial
        best = min(itertools.permutations(range(5)),
                   key=lambda p: np.linalg.norm(oracle - features[:, list(p)]))
        assert match_units(features, oracle).tolist() == list(best)


def test_sure_w_dist_aligns_the_head_inputs_before_measuring():
    """A model whose penultimate channels are a permutation of Retrain's computes the same function: aligned, its
    head is Retrain's (W_dist 0); unaligned (the old computation) it was far from it."""
    from unlearn_bench.evaluation import SUREMetrics
    from unlearn_bench.models.small_cnn import SmallCNN

    torch.manual_seed(0)
    retrain, model = SmallCNN(4, 1).eval(), SmallCNN(4, 1).eval()
    model.load_state_dict(retrain.state_dict())
    perm = torch.randperm(retrain.fc.in_features)
    last_conv, last_bn = model.features[3][0], model.features[3][1]
    with torch.no_grad():
        last_conv.weight.copy_(last_conv.weight[perm])
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(last_bn, name).copy_(getattr(last_bn, name)[perm])
        model.fc.weight.copy_(model.fc.weight[:, perm])
    x = torch.rand(64, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(model(x), retrain(x))
        arrays = {"test_features": model.forward_features(x).numpy()}
        retrain_arrays = {"test_features": retrain.forward_features(x).numpy()}
    aligned = SUREMetrics().relative(arrays, retrain_arrays, model, retrain)["W_dist"]
    unaligned = weight_distance([model.fc.weight.detach().numpy()], [retrain.fc.weight.detach().numpy()])
    assert aligned == pytest.approx(0.0, abs=1e-5) and unaligned > 0.5
