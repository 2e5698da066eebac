import numpy as np

from unlearn_bench.metrics.mia import svc_mia_efficacy, true_label_confidence

RNG = np.random.RandomState(0)
N, K = 400, 10


def logits_with_confidence(conf_logit_scale: float, n: int):
    """Logits whose true-label probability is high (members) or spread (non-members)."""
    labels = RNG.randint(0, K, n)
    logits = RNG.randn(n, K)
    logits[np.arange(n), labels] += conf_logit_scale + RNG.randn(n)
    return logits, labels


def test_confidence_feature_is_true_label_softmax():
    logits = np.log(np.array([[0.7, 0.2, 0.1]]))
    assert np.isclose(true_label_confidence(logits, np.array([1]))[0], 0.2)


def test_efficacy_is_high_when_forget_set_looks_like_test_data():
    members = logits_with_confidence(8.0, N)
    nonmembers = logits_with_confidence(0.5, N)
    forget_like_test = logits_with_confidence(0.5, 200)
    assert svc_mia_efficacy(*members, *nonmembers, *forget_like_test) > 90.0


def test_efficacy_is_low_when_forget_set_looks_like_retain_data():
    members = logits_with_confidence(8.0, N)
    nonmembers = logits_with_confidence(0.5, N)
    forget_like_retain = logits_with_confidence(8.0, 200)
    assert svc_mia_efficacy(*members, *nonmembers, *forget_like_retain) < 10.0
