"""KLoM (Georgiev et al., "Attribute-to-Delete", ICLR 2025; EasyDUB's estimator) against a small computation
written from the reference's definition (RoyRin/data-unlearning-bench, unlearning_bench/eval.py:80-130, run.py:142),
not from metrics.klom: on cases where the old estimator (np.histogram, which keeps the top-edge samples;
KL(unlearned || Retrain)) differs."""

import numpy as np
import pytest

from unlearn_bench.metrics.klom import binned_kl, klom, margins, summarize


def reference_kl(p, q, bins=20, eps=1e-5):
    """eval.py's compute_binned_KL_div, written out from its definition: clip to [-100, 100]; bins 1..20 of
    np.digitize over the shared range (half-open, so the maximum falls outside); p's empty-q bins get eps; the KL of
    the two histograms, each renormalised to sum 1 (scipy.stats.entropy)."""
    p, q = np.clip(p, -100, 100), np.clip(q, -100, 100)
    low, high = min(p.min(), q.min()), max(p.max(), q.max())
    edges = np.linspace(low, high if high > low else low + 1, bins + 1)
    pc = np.array([np.sum(np.digitize(p, edges) == i) for i in range(1, bins + 1)], float)
    qc = np.array([np.sum(np.digitize(q, edges) == i) for i in range(1, bins + 1)], float)
    pp, qp = pc / pc.sum(), qc / qc.sum()
    qp = np.where(pp > 0, np.maximum(qp, eps), qp)
    pp, qp = pp / pp.sum(), qp / qp.sum()
    used = pp > 0
    return float(np.sum(pp[used] * np.log(pp[used] / qp[used])))


def test_margin_is_the_correct_logit_minus_the_log_sum_exp_of_the_others():
    logits = np.array([[2.0, 0.0, 0.0], [0.0, 5.0, -50.0]])
    expected = [2.0 - np.log(2.0), 0.0 - np.log(np.exp(5.0) + np.exp(-50.0))]
    np.testing.assert_allclose(margins(logits, np.array([0, 0])), expected)


def test_the_issue_example_drops_the_top_edge_sample_and_puts_retrain_first():
    unlearned, retrain = np.array([0.0, 0.0, 0.0, 3.0]), np.array([0.0, 0.0, 0.0, 0.5])
    # KL(Retrain || unlearned): Retrain's 0.5 sits in a bin the unlearned models leave empty (eps).
    assert klom(unlearned[:, None], retrain[:, None])[0] == pytest.approx(reference_kl(retrain, unlearned))
    # np.digitize drops the 3.0 at the top edge: unlearned = 3 x 0.0, so the other direction is log(4/3).
    assert binned_kl(unlearned, retrain) == pytest.approx(reference_kl(unlearned, retrain))
    assert binned_kl(unlearned, retrain) == pytest.approx(np.log(4 / 3))


@pytest.mark.parametrize("models", [4, 8, 100])
def test_random_populations_match_the_reference_computation(models):
    rng = np.random.default_rng(models)
    unlearned = rng.normal(1.0, 1.5, (models, 40)).round(1)  # rounding puts ties on bin edges
    retrain = rng.normal(0.0, 1.0, (models, 40)).round(1)
    expected = [reference_kl(r, u) for u, r in zip(unlearned.T, retrain.T)]
    np.testing.assert_allclose(klom(unlearned, retrain), expected, rtol=1e-12)


def test_retrain_is_the_first_distribution():
    # An unlearned population that covers Retrain and more costs little; one that misses Retrain's mode costs eps.
    retrain = np.array([0.0, 0.0, 0.0, 0.0, 5.0])[:, None]
    wide = np.array([0.0, 0.0, 2.0, 2.0, 5.0])[:, None]
    assert klom(wide, retrain)[0] == pytest.approx(reference_kl(retrain[:, 0], wide[:, 0]))
    assert klom(wide, retrain)[0] < binned_kl(wide[:, 0], retrain[:, 0])


def test_identical_samples_score_zero_and_inputs_are_checked():
    sample = np.random.default_rng(0).normal(3.0, 2.0, size=(50, 7))
    assert np.all(klom(sample, sample) == 0.0)
    with pytest.raises(ValueError, match="same examples"):
        klom(np.zeros((3, 4)), np.zeros((3, 5)))
    assert summarize(np.arange(101.0)) == {"mean": 50.0, "p50": 50.0, "p95": 95.0}
    assert summarize(np.array([1.0, np.nan, 3.0]))["mean"] == 2.0
