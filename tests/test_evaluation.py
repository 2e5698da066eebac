"""Evaluation: shifts (Forget Vector §4: Gaussian noise, PGD) and the metric groups (jit, sure, distances)."""

import numpy as np
import pytest
import torch

from tests.conftest import compose_config
from unlearn_bench.config import ShiftConfig
from unlearn_bench.errors import ConfigError
from unlearn_bench.evaluation import predict
from unlearn_bench.metrics.sure import average_error_gap
from unlearn_bench.models import create_model
from unlearn_bench.report.cli import main as report_main
from unlearn_bench.results import load_records
from unlearn_bench.runner import run


class Pixels(torch.nn.Module):
    """'Logits' = the input pixels: shows exactly what the model was fed."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


class Centred(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - 0.5


def test_gaussian_shift_adds_seeded_clipped_noise_of_the_given_std():
    x = torch.full((500, 1, 4, 4), 128, dtype=torch.uint8)
    shift = ShiftConfig(kind="gaussian", sigma=0.08)
    seen = torch.from_numpy(predict(Pixels(), x, 64, shift=shift))
    assert abs((seen - 128 / 255).std().item() - 0.08) < 0.005
    torch.testing.assert_close(seen, torch.from_numpy(predict(Pixels(), x, 64, shift=shift)))  # same for every model
    wide = torch.from_numpy(predict(Pixels(), x, 64, shift=ShiftConfig(kind="gaussian", sigma=2.0)))
    assert wide.min() == 0.0 and wide.max() == 1.0  # clipped to the pixel range


def test_pgd_stays_in_the_eps_ball_and_raises_the_loss():
    torch.manual_seed(0)
    model = torch.nn.Sequential(Centred(), torch.nn.Flatten(), torch.nn.Linear(16, 3))
    with torch.no_grad():
        model[2].weight.mul_(50)  # sensitive enough that an 8/255 ball contains other decisions
    x = torch.randint(60, 200, (64, 1, 4, 4), dtype=torch.uint8)
    y = model(x.float() / 255).argmax(1)  # labels the model gets right
    shift = ShiftConfig(kind="pgd", eps=8 / 255, steps=7, step_size=2 / 255)
    adv = torch.from_numpy(predict(model, x, 32, y=y, shift=shift))
    clean = torch.from_numpy(predict(model, x, 32))
    loss = torch.nn.functional.cross_entropy
    # random start alone: loss 0.20 -> 0.20, 6% flipped; the 7 ascent steps: -> 1.1, 53% flipped
    assert loss(adv, y) > loss(clean, y) + 0.5 and (adv.argmax(1) != y).float().mean() > 0.3
    fed = torch.from_numpy(predict(Pixels(), x, 32, y=torch.zeros(64, dtype=torch.long),
                                   shift=ShiftConfig(kind="pgd", eps=8 / 255, steps=0)))  # random start only
    assert (fed - x.flatten(1).float() / 255).abs().max() <= 8 / 255 + 1e-6


def test_shifted_runs_get_their_own_table(tmp_path):
    common = ["data=fake", "train.epochs=2", "method=ft", "method.epochs=1", "progress=false", f"cache_dir={tmp_path}"]
    for name in ("default", "gn2"):
        run(compose_config([*common, f"eval={name}"]), output_dir=tmp_path / name)
    frame = load_records(tmp_path)
    assert set(frame["shift"]) == {"none", "gaussian(sigma=0.2)"}
    clean, noisy = (frame[frame["shift"] == s].iloc[0] for s in ("none", "gaussian(sigma=0.2)"))
    assert clean["original_TA"] != noisy["original_TA"]  # the reference models were evaluated under the shift too


def test_unknown_shift_is_refused_before_training(tmp_path):
    cfg = compose_config(["data=fake", f"cache_dir={tmp_path}", "eval.shift.kind=blur"])
    with pytest.raises(ValueError, match="eval.shift.kind"):
        run(cfg, output_dir=tmp_path / "run")
    assert not (tmp_path / "original").exists()


def aeg_cell(table: str, row: str) -> str:
    header = next(line for line in table.splitlines() if line.startswith("| Method"))
    cells = next(line for line in table.splitlines() if line.startswith(f"| {row} "))
    return dict(zip([c.strip() for c in header.split("|")], [c.strip() for c in cells.split("|")]))["AEG"]


def test_metric_groups_jit_sure_distances_on_a_classwise_run(tmp_path, capsys):
    common = ["data=fake", "train.epochs=3", "method=ft", "method.epochs=1", "progress=false", f"cache_dir={tmp_path}",
              "scenario=classwise", "eval=all"]
    rec = run(compose_config(common), output_dir=tmp_path / "run")
    m, original, retrain = rec.metrics, rec.original_metrics, rec.retrain_metrics
    for key in ("CTA", "JiT_Dr", "JiT_Df", "JiT_MIA", "MIA-I", "MIARS-I", "MIARS-II", "JiT_ES_p", "W_dist", "KL_f",
                "JS_f", "KL_test", "JS_test"):
        assert key in m and key in original, key
    # CTA: test images of the forgotten class. Retrain never saw it; the original learned it.
    assert retrain["CTA"] == 0.0 and original["CTA"] > 80.0
    assert m["JiT_Df"] == m["CTA"] and original["JiT_Dr"] == original["TA"]  # class-wise: TA has no class-0 images
    # Against Retrain: the original predicts the class Retrain never saw, so their D_f outputs differ.
    assert original["KL_f"] > 1.0 and 0.0 < original["JS_f"] <= np.log(2)
    assert original["JiT_ES_p"] < 0.05  # entropies on D_f differ significantly (Wilcoxon)
    assert original["W_dist"] > 0.0 and "KL_f" not in retrain  # relative metrics are not defined for Retrain itself
    assert rec.gaps["CTA"] == abs(m["CTA"] - retrain["CTA"])
    capsys.readouterr()
    report_main([str(tmp_path / "run"), "--metrics", "UA,CTA,MIARS-I,KL_f,AEG"])
    # the report's AEG is SURE's, the one definition (metrics.sure.average_error_gap)
    assert float(aeg_cell(capsys.readouterr().out, "ft")) == pytest.approx(average_error_gap(m, retrain), abs=0.005)


def test_the_report_leaves_aeg_blank_without_all_five_gaps(tmp_path, capsys):
    """Random forgetting has no CTA: a mean of the other four gaps was printed under SURE's name."""
    cfg = compose_config(["data=fake", "train.epochs=2", "method=ft", "method.epochs=1", "progress=false",
                          f"cache_dir={tmp_path}", "eval.metrics=[sure]"])
    run(cfg, output_dir=tmp_path / "run")
    capsys.readouterr()
    report_main([str(tmp_path / "run"), "--metrics", "UA,MIARS-I,AEG"])
    assert aeg_cell(capsys.readouterr().out, "ft") == ""


def test_random_forgetting_has_no_class_test_set_and_jit_df_is_forget_accuracy(tmp_path):
    cfg = compose_config(["data=fake", "train.epochs=2", "method=ft", "method.epochs=1", "progress=false",
                          f"cache_dir={tmp_path}", "eval.metrics=[jit]"])
    rec = run(cfg, output_dir=tmp_path / "run")
    assert "CTA" not in rec.metrics and rec.metrics["JiT_Df"] == pytest.approx(100.0 - rec.metrics["UA"])
    assert rec.metrics["JiT_Dr"] == rec.metrics["TA"]


def test_unknown_metric_group_is_refused_before_training(tmp_path, monkeypatch):
    monkeypatch.setattr("unlearn_bench.pipelines.classification.make_task", lambda *a, **k: pytest.fail("loaded data"))
    with pytest.raises(ConfigError, match="eval.metrics.*allowed"):
        run(compose_config(["data=fake", "eval.metrics=[lira]", f"cache_dir={tmp_path}"]), output_dir=tmp_path)


def test_features_are_the_heads_input():
    torch.manual_seed(0)
    model = create_model("small_cnn", 3, 1, 8, [0.5], [0.25])
    x = torch.randint(0, 255, (10, 1, 8, 8), dtype=torch.uint8)
    logits, features = predict(model, x, 4, features=True)
    assert features.shape == (10, 128)
    np.testing.assert_allclose(logits, predict(model, x, 4), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(logits, model.head(torch.from_numpy(features)).detach().numpy(), rtol=1e-5, atol=1e-5)


class MarkedConfidence(torch.nn.Module):
    """Sure of the label stored in pixel (0, 0, 1) where pixel (0, 0, 0) is set, unsure elsewhere."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        label = x[:, 0, 0, 1].round().long()
        confidence = torch.where(x[:, 0, 0, 0] > 0.5, 10.0, 0.2)
        return torch.nn.functional.one_hot(label, 2).float() * confidence[:, None]


def test_mia_shadow_sets_are_balanced_when_the_retain_set_is_smaller_than_the_test_set():
    from unlearn_bench.data.task import Task
    from unlearn_bench.evaluation import evaluate

    def images(n: int, sure: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.arange(n) % 2
        x = torch.zeros(n, 1, 2, 2, dtype=torch.uint8)
        x[:, 0, 0, 0] = torch.from_numpy(sure.astype(np.uint8) * 255)
        x[:, 0, 0, 1] = labels.to(torch.uint8) * 255
        return x, labels

    # A memorising model: sure of every training image and of 80% of the test images. D_r (50) is far smaller
    # than the test set (300): with the SalUn repo's |test| members capped at |D_r| and all 300 non-members the
    # SVC calls every sure image a non-member, so the memorised D_f would read as forgotten (MIA 100).
    train_x, train_y = images(60, np.ones(60, dtype=bool))
    test_x, test_y = images(300, np.arange(300) % 5 != 0)
    task = Task(train_x=train_x, train_y=train_y, test_x=test_x, test_y=test_y, val_x=train_x[:0], val_y=train_y[:0],
                forget_idx=np.arange(10), num_classes=2, classes=["a", "b"], mean=[0.0], std=[1.0])
    metrics, _ = evaluate(MarkedConfidence(), task, compose_config(["eval.batch_size=64"]).eval)
    assert metrics["UA"] == 0.0 and metrics["MIA"] == 0.0  # D_f is recognised as members
