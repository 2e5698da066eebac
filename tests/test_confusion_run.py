"""SURE App. F's resolving-confusion task: the original learns D_f with swapped labels; Retrain never sees them."""

import numpy as np
import pytest

import unlearn_bench.runner as runner
from tests.conftest import compose_config
from unlearn_bench.data.task import make_task
from unlearn_bench.keys import original_key
from unlearn_bench.metrics.confusion import confusion_metrics, fgt_err, ic_err, swap_labels


def one_hot(predicted, k=4):
    return np.eye(k)[predicted]


def test_confusion_metrics_match_a_hand_count():
    labels = np.array([0, 0, 1, 1, 2, 3])
    logits = one_hot(np.array([0, 1, 1, 2, 2, 3]))  # one 0->1 (FGT and IC), one 1->2 (IC only)
    assert ic_err(logits, labels, (0, 1)) == pytest.approx(0.5) and fgt_err(logits, labels, (0, 1)) == 1
    np.testing.assert_array_equal(swap_labels(np.array([0, 1, 2]), (0, 1)), [1, 0, 2])
    arrays = {"forget_labels": np.array([1, 0]), "forget_logits": one_hot(np.array([0, 0])),  # true labels 0, 1
              "retain_labels": labels, "retain_logits": logits, "test_labels": labels, "test_logits": logits}
    out = confusion_metrics(arrays, (0, 1))
    assert out["Forget_Err"] == pytest.approx(50.0) and out["FGT_ERR_test"] == 1 and out["IC_ERR_retain"] == 0.5


@pytest.mark.slow  # two 30-epoch trainings (~1 min on 2 cores)
def test_the_original_learns_the_swapped_labels_and_retrain_does_not(tmp_path):
    overrides = ["data=digits", "train.epochs=30", "progress=false", f"cache_dir={tmp_path / 'c'}",  # long enough
                 "scenario=confusion", "scenario.classes=[1,7]", "scenario.ratio=0.1", "method=digits/ft",
                 "method.epochs=2"]
    cfg = compose_config(overrides)
    task = make_task(cfg.data, cfg.scenario, cfg.train, cfg.seed, "cpu")
    true_y = make_task(cfg.data, compose_config(["data=digits", "scenario=random10"]).scenario, cfg.train, cfg.seed,
                       "cpu").train_y.numpy()
    forget_y = task.split("forget")[1].numpy()
    assert set(true_y[task.forget_idx]) == {1, 7} and (forget_y == swap_labels(true_y[task.forget_idx], (1, 7))).all()
    assert (task.split("retain")[1].numpy() == np.delete(true_y, task.forget_idx)).all()  # D_r keeps true labels

    record = runner.run(cfg, output_dir=tmp_path / "run")
    assert record.status == "ok"
    original, retrain = record.original_metrics, record.retrain_metrics
    # The original memorised the swaps (errs on D_f's true labels); Retrain, which never saw them, gets D_f right
    assert original["Forget_Err"] > 80.0 and retrain["Forget_Err"] < 20.0
    assert original["FGT_ERR_retain"] <= 5 and {"IC_ERR_test", "FGT_ERR_test"} <= set(record.metrics)
    # FT on D_r alone starts to correct the swapped labels
    assert record.metrics["Forget_Err"] < original["Forget_Err"]
    # the confusion original is its own: it learned other labels than the seed's shared original
    plain_task = make_task(cfg.data, compose_config(["scenario=random10"]).scenario, cfg.train, cfg.seed, "cpu")
    assert original_key(cfg, task) != original_key(cfg, plain_task)
