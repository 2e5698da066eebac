"""End-to-end runs on the small synthetic dataset: records, caching, skipping, forget-set identity."""

import json

import numpy as np
import pytest
import torch

import unlearn_bench.pipelines.classification as classification
import unlearn_bench.pipelines.classifier as classifier
import unlearn_bench.runner as runner
from tests.conftest import compose_config
from unlearn_bench.results import load_records
from unlearn_bench.tune import WORST_GAP, objective

FAST = ["data=fake", "train.epochs=3", "progress=false"]


def run(tmp_path, cache, *overrides, out="run"):
    cfg = compose_config([*FAST, f"cache_dir={cache}", *overrides])
    if "epochs" in cfg.method:
        cfg.method.epochs = 1
    return runner.run(cfg, output_dir=tmp_path / out)


def test_original_and_retrain_trained_once_and_reused(tmp_path):
    cache = tmp_path / "cache"
    first = run(tmp_path, cache, "method=ft", out="a")
    assert not first.extra["original_cached"] and not first.extra["retrain_cached"]
    second = run(tmp_path, cache, "method=ga", out="b")
    assert second.extra["original_cached"] and second.extra["retrain_cached"]
    assert second.original_metrics == first.original_metrics
    assert second.retrain_metrics == first.retrain_metrics
    assert second.forget_idx_sha256 == first.forget_idx_sha256  # same D_f for every method of a seed
    other_seed = run(tmp_path, cache, "method=ft", "seed=1", out="c")
    assert not other_seed.extra["original_cached"]
    assert other_seed.forget_idx_sha256 != first.forget_idx_sha256
    np.testing.assert_array_equal(np.load(tmp_path / "a" / "forget_idx.npy"),
                                  np.load(tmp_path / "b" / "forget_idx.npy"))


def test_original_and_retrain_are_evaluated_once_per_seed(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = run(tmp_path, cache, "method=ft", out="a")
    calls = []
    real_evaluate = classification.evaluate
    monkeypatch.setattr(classification, "evaluate", lambda *a, **k: calls.append(1) or real_evaluate(*a, **k))
    second = run(tmp_path, cache, "method=ga", out="b")
    assert len(calls) == 1  # only the unlearned model; the references' evaluation is read back
    assert second.original_metrics == first.original_metrics and second.retrain_metrics == first.retrain_metrics
    for name in ("original_forget_logits", "retrain_forget_logits"):
        np.testing.assert_array_equal(np.load(tmp_path / "a" / "arrays.npz")[name],
                                      np.load(tmp_path / "b" / "arrays.npz")[name])
    run(tmp_path, cache, "method=ft", "scenario=classwise", out="c")  # another forget set: evaluated anew
    assert len(calls) == 4


def test_identical_run_is_skipped_without_training(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = run(tmp_path, cache, "method=rl", out="a")

    def must_not_train(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(classifier, "train_from_scratch", must_not_train)
    monkeypatch.setattr(classification, "isolated_unlearn", must_not_train)
    again = run(tmp_path, cache, "method=rl", out="b")
    assert again == first
    assert json.loads((tmp_path / "b" / "record.json").read_text())["run_key"] == first.run_key


def test_a_run_whose_reference_evaluation_changed_is_stale_and_reruns(tmp_path, monkeypatch):
    """A wrong but valid value written into Retrain's cached evaluation: the run that used it is not skipped, and the
    rerun recomputes the evaluation instead of using the edited value."""
    cache = tmp_path / "cache"
    first = run(tmp_path, cache, "method=ft", out="a")
    assert len(first.extra["reference_digests"]) == 2  # the original's and Retrain's evaluations
    edited = next(p for p in (cache / "eval").glob("*/metrics.json")
                  if json.loads(p.read_text()) == first.retrain_metrics)
    edited.write_text(json.dumps({**first.retrain_metrics, "UA": first.retrain_metrics["UA"] + 10.0}))
    unlearned, real_unlearn = [], classification.isolated_unlearn
    monkeypatch.setattr(classification, "isolated_unlearn",
                        lambda *a, **k: unlearned.append(1) or real_unlearn(*a, **k))
    again = run(tmp_path, cache, "method=ft", out="b")
    assert unlearned  # not skipped: it ran again
    assert again.retrain_metrics == first.retrain_metrics and again.avg_gap == first.avg_gap
    assert json.loads(edited.read_text()) == first.retrain_metrics  # rebuilt


def test_a_read_only_cache_loses_no_model_and_no_record(tmp_path, monkeypatch):
    """A failing method on a read-only cache (see tests/test_cache.read_only): the references are kept in the output
    folder's fallback, and the failure record is written there, listing the faults."""
    from tests.test_cache import read_only

    cache = tmp_path / "cache"
    monkeypatch.setattr(classification.ClassificationPipeline, "unlearn",
                        lambda *a: (_ for _ in ()).throw(RuntimeError("the method broke")))
    with read_only(cache):
        record = run(tmp_path, cache, "method=ft", out="a")
    stored = json.loads((tmp_path / "a" / "record.json").read_text())
    assert record.status == stored["status"] == "failed" and "the method broke" in stored["error"]
    faults = stored["extra"]["storage_faults"]
    assert any("storing the run record" in f for f in faults) and all("Read-only" in f for f in faults)
    assert {p.parent.name for p in (tmp_path / "a" / "cache_fallback").rglob("*.pt")} == {"original", "retrain"}
    assert not cache.exists()


def test_compile_is_applied_and_keeps_the_cached_models(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    run(tmp_path, cache, "method=ft", out="a")
    compiled = []
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, *a, **k: compiled.append(self))
    rec = run(tmp_path, cache, "method=ga", "train.compile=true", out="b")
    assert compiled  # every model the runner builds is compiled...
    assert rec.extra["original_cached"] and rec.extra["retrain_cached"]  # ...and the cache key ignores it


def test_amp_auto_is_off_on_cpu_and_channels_last_is_honoured(tmp_path, monkeypatch):
    seen = []
    real_prepare = classifier.prepare_model
    monkeypatch.setattr(classifier, "prepare_model",
                        lambda m, d, cl, c: seen.append(real_prepare(m, d, cl, c)) or seen[-1])
    rec = run(tmp_path, tmp_path / "cache", "method=ft", "device=cpu", "train.channels_last=true")
    assert rec.config["train"]["amp"] is False
    conv = [m for m in seen[0].modules() if isinstance(m, torch.nn.Conv2d)][-1]  # C_in > 1: layouts differ
    assert not torch.empty_like(conv.weight, memory_format=torch.contiguous_format).is_contiguous(
        memory_format=torch.channels_last)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)


def test_record_fields_and_arrays(tmp_path):
    rec = run(tmp_path, tmp_path / "cache", "method=salun", "scenario=classwise")
    assert set(rec.metrics) == {"UA", "RA", "TA", "MIA", "CTA"}  # CTA: class-level scenarios
    assert rec.scenario == "classwise_0" and rec.data_access == ["forget", "retain"]
    assert rec.retrain_metrics["UA"] == 100.0  # Retrain never saw the class
    assert rec.rte_s > 0 and rec.wall_s >= rec.rte_s + rec.eval_s and rec.eval_s > 0
    assert rec.memory["peak_rss_mb"] > 0
    arrays = np.load(tmp_path / "run" / "arrays.npz")
    assert arrays["forget_logits"].shape == (rec.forget_size, 4)
    frame = load_records(tmp_path / "run")
    assert frame.loc[0, "gap_UA"] == pytest.approx(abs(rec.metrics["UA"] - 100.0))


def test_multiclass_and_partial_class_scenarios_run_end_to_end(tmp_path):
    cache = tmp_path / "cache"
    multi = run(tmp_path, cache, "method=ft", "scenario=multiclass", "scenario.classes=[0,2]", out="m")
    assert multi.scenario == "multiclass_0-2" and multi.retrain_metrics["UA"] == 100.0
    arrays = np.load(tmp_path / "m" / "arrays.npz")
    assert set(np.unique(arrays["forget_labels"])) == {0, 2}
    assert not set(np.unique(arrays["test_labels"])) & {0, 2}  # TA without the forgotten classes
    partial = run(tmp_path, cache, "method=ft", "scenario=partial_class", "scenario.size=5", out="p")
    assert partial.forget_size == 5 and partial.scenario == "partial_class0_n5"


def test_retrain_method_reports_retrain_itself(tmp_path):
    rec = run(tmp_path, tmp_path / "cache", "method=retrain")
    assert rec.metrics == rec.retrain_metrics and rec.avg_gap == 0.0
    assert rec.rte_s == rec.retrain_train_s


@pytest.mark.parametrize("override,match", [
    ("model.name=resnet99", "resnet99"),
    ("device=tpu", "device"),
    ("scenario.class_index=7", "scenario.class_index"),
    ("train.amp=true", "train.amp"),  # bf16 autocast is CUDA-only: refused on CPU, not silently ignored
])
def test_bad_input_fails_before_training(tmp_path, override, match, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = compose_config([*FAST, f"cache_dir={tmp_path / 'cache'}", "scenario=classwise", override])
    with pytest.raises(ValueError, match=match):
        runner.run(cfg, output_dir=tmp_path / "run")
    assert not (tmp_path / "cache").exists()


def test_a_model_at_chance_is_recorded_collapsed_with_its_metrics_and_never_scored(tmp_path, monkeypatch):
    def constant(method, model, view, isolation):  # finite weights, the same logits for every image: chance accuracy
        with torch.no_grad():
            for p in model.parameters():
                p.zero_()
        return model

    monkeypatch.setattr(classification, "isolated_unlearn", constant)
    record = run(tmp_path, tmp_path / "cache", "method=ft")
    assert record.status == "collapsed" and "collapsed to chance" in record.error
    assert record.metrics["TA"] <= 100 / record.config["data"]["num_classes"] + 1  # kept for the reader
    assert objective(record.status, record.gaps, record.config["tune"]) == WORST_GAP
    assert load_records(tmp_path / "run")["status"].tolist() == ["collapsed"]
