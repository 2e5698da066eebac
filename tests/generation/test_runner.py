"""task=generation end to end on the fake data with a tiny UNet: records the report reads, sample grids, the
caches shared with the classification pipeline; bad combinations fail before anything is trained."""

import numpy as np
import pytest
import torch

import unlearn_bench.pipelines.ddpm as gen_runner
import unlearn_bench.runner as runner
from tests.conftest import compose_config
from tests.generation.conftest import TINY_UNET
from tests.test_bad_input import call_cli
from unlearn_bench.errors import ConfigError
from unlearn_bench.generation.metrics import inception_features
from unlearn_bench.report import cli as report
from unlearn_bench.runner import run as run_task

pytest.importorskip("diffusers")  # the optional extra: pip install -e '.[generation]'

DATA = ["data=fake", "data.n_train=120", "data.n_test=40", "train.epochs=2", "progress=false"]
FAST = ["task=generation", *DATA, *TINY_UNET, "task.train.iterations=20", "task.train.batch_size=16",
        "task.sampling.steps=3", "task.sampling.num_per_class=6", "task.sampling.grid_per_class=2"]
SHORT_METHOD = ["method.iterations=4", "method.batch_size=16"]


def generate(tmp_path, *overrides, out, method_overrides=SHORT_METHOD):
    cfg = compose_config([*FAST, *method_overrides, f"cache_dir={tmp_path / 'cache'}", *overrides])
    return run_task(cfg, output_dir=tmp_path / out)


@pytest.mark.slow
def test_generation_runs_record_grids_report_and_share_caches(tmp_path, monkeypatch, capsys):
    classification = runner.run(compose_config([*DATA, "method=ft", "method.epochs=1", "scenario=classwise",
                                                f"cache_dir={tmp_path / 'cache'}"]), output_dir=tmp_path / "clf")
    assert classification.status == "ok"

    first = generate(tmp_path, "method=generation/salun", out="salun")
    assert first.status == "ok", first.error
    assert first.extra["classifier_cached"]  # the classification run's original: one classifier for both pipelines
    assert not first.extra["original_cached"] and not first.extra["retrain_cached"]
    assert set(first.metrics) == set(first.original_metrics) == set(first.retrain_metrics) == \
        {"UA", "FID_classifier", "Acc_gen"}
    assert first.gaps["UA"] == pytest.approx(abs(first.metrics["UA"] - first.retrain_metrics["UA"]))
    assert first.data_access == ["forget", "retain"] and first.model == "ddpm" and first.scenario == "classwise_0"
    for label in ("original", "retrain", "salun"):
        assert (tmp_path / "salun" / f"samples_{label}.png").stat().st_size > 0
    arrays = np.load(tmp_path / "salun" / "arrays.npz")
    assert arrays["generated_images"].shape == (4, 6, 3, 8, 8) and arrays["original_grid"].shape == (4, 2, 3, 8, 8)
    np.testing.assert_array_equal(arrays["generated_labels"], np.repeat(np.arange(4), 6))

    second = generate(tmp_path, "method=generation/esd", "method.ddim_steps=3", "method.batch_size=2", out="esd")
    assert second.status == "ok", second.error
    assert second.extra["original_cached"] and second.extra["retrain_cached"]
    assert second.original_metrics == first.original_metrics and second.retrain_metrics == first.retrain_metrics
    retrain = generate(tmp_path, "method=generation/retrain", out="retrain")
    assert retrain.metrics == retrain.retrain_metrics and retrain.gaps["UA"] == 0.0

    def must_not_train(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(gen_runner, "train_ddpm", must_not_train)
    # the method object is still built (its code is part of the run key); its unlearning must not run
    monkeypatch.setattr(gen_runner.DDPMPipeline, "unlearn", must_not_train)
    assert generate(tmp_path, "method=generation/salun", out="again") == first
    assert first.extra["grids"]["salun"] == "samples_salun.png"
    assert (tmp_path / "again" / "samples_salun.png").exists()  # a skipped run still gets its grids

    capsys.readouterr()
    assert report.main([str(tmp_path), "--metrics", "UA,FID_classifier,Acc_gen"]) == 0
    table = capsys.readouterr().out
    assert "model=ddpm" in table and "FID_classifier" in table
    for row in ("Original", "Retrain", "salun", "esd"):
        assert f"| {row} " in table


@pytest.mark.parametrize("overrides,match", [
    (["scenario=random10"], "not class-wise"),
    (["task.sampling.sampler=euler"], "task.sampling.sampler"),
    (["task.metrics.inception_weights=/nonexistent/inception.pth"], "inception_weights"),
    (["task.unet.block_out_channels=[4,8,16,32,64]", "task.unet.attention=[false,false,false,false,false]"],
     "not divisible"),
    (["method.iterations=0"], "method.iterations=0"),
    (["task.train.lr=-1"], "task.train.lr"),
])
def test_bad_generation_input_fails_before_training(tmp_path, monkeypatch, overrides, match):
    def must_not_load(*args, **kwargs):
        raise AssertionError("bad input reached data loading")

    monkeypatch.setattr(gen_runner, "make_task", must_not_load)
    with pytest.raises(ConfigError, match=match):
        generate(tmp_path, *overrides, out="bad")


def test_classification_method_under_generation_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="needs a generation method"):
        generate(tmp_path, "method=salun", out="bad", method_overrides=[])


def test_generation_method_under_classification_is_refused(tmp_path):
    cfg = compose_config([*DATA, "method=generation/ft", f"cache_dir={tmp_path}"])
    with pytest.raises(ConfigError, match="needs task=generation"):
        run_task(cfg, output_dir=tmp_path / "out")


def test_cli_reports_a_bad_generation_scenario_with_exit_status_2(tmp_path):
    code, output = call_cli(["task=generation", "scenario=random10"], tmp_path)
    assert code == 2 and "not class-wise" in output


def test_task_generation_defaults_to_classwise_salun():
    cfg = compose_config(["task=generation"])
    assert cfg.method.name == "salun" and "beta" in cfg.method and cfg.scenario.kind == "classwise"
    assert gen_runner.fid_metric_name(cfg) == "FID_classifier"
    assert gen_runner.fid_metric_name(compose_config(["task=generation", "task.metrics.inception_weights=w.pth"])) \
        == "FID_inception"


@pytest.mark.slow
def test_inception_features_from_a_local_state_dict(tmp_path):
    from torchvision.models import inception_v3

    torch.manual_seed(0)
    path = tmp_path / "inception.pth"
    torch.save(inception_v3(weights=None, aux_logits=True, init_weights=True).state_dict(), path)
    features = inception_features(path, torch.device("cpu"))
    with torch.no_grad():
        out = features(torch.rand(2, 1, 8, 8))
    assert out.shape == (2, 2048) and torch.isfinite(out).all()
