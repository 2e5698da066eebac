"""Figures from fake records: the plotted numbers against hand computations, files in both formats."""

import json

import numpy as np
import pytest

from tests.report.test_report import fake_record
from unlearn_bench.report.figures import (
    coefficient_heatmap_figure,
    gap_vs_ratio_figure,
    per_class_accuracies,
    rte_score_figure,
    save_figures,
)
from unlearn_bench.results import load_records

METRICS = {"UA": 10.0, "RA": 90.0, "TA": 80.0, "MIA": 20.0}  # mean 50


def one_hot(predictions, num_classes=3):
    return np.eye(num_classes, dtype=np.float32)[predictions]


def write(folder, record, arrays=None):
    folder.mkdir(parents=True)
    (folder / "record.json").write_text(json.dumps(record))
    if arrays is not None:
        np.savez(folder / "arrays.npz", **arrays)


def record(method, seed, metrics=METRICS, rte_s=60.0, scenario="random10", ratio=0.1, params=None, avg_gap=None):
    rec = fake_record(seed, metrics, METRICS, METRICS, rte_s)
    rec.update(method=method, scenario=scenario, run_key=f"{method}-{scenario}-{seed}-{json.dumps(params)}")
    rec["config"] = {"method": {"name": method, **(params or {})}, "scenario": {"name": scenario, "ratio": ratio}}
    if avg_gap is not None:
        rec["avg_gap"] = avg_gap
    return rec


CLASSWISE_ARRAYS = {
    # D_f: class 0 only (class-wise forgetting), 1 of 4 still right
    "forget_logits": one_hot([0, 1, 1, 2]), "forget_labels": np.array([0, 0, 0, 0]),
    # test without class 0: class 1 2/2 right, class 2 1/2 right
    "test_logits": one_hot([1, 1, 2, 0]), "test_labels": np.array([1, 1, 2, 2]),
    # the forgotten class's test images, held out of `test`: 0 of 2 right
    "forget_test_logits": one_hot([1, 2]), "forget_test_labels": np.array([0, 0]),
    "test_in_forget_class": np.zeros(4, dtype=bool),
}


def test_per_class_accuracies_put_the_held_out_class_back_into_test(tmp_path):
    write(tmp_path / "r", record("ft", 0), CLASSWISE_ARRAYS)
    acc = per_class_accuracies(tmp_path / "r")
    assert acc["D_f"] == {0: 25.0}
    assert acc["test"] == {0: 0.0, 1: 100.0, 2: 50.0}


def test_rte_score_points_are_mean_of_four_metrics_vs_minutes(tmp_path):
    write(tmp_path / "a", record("ft", 0, rte_s=60.0))
    write(tmp_path / "b", record("ft", 1, {"UA": 30.0, "RA": 90.0, "TA": 80.0, "MIA": 40.0}, rte_s=180.0))
    fig = rte_score_figure(load_records(tmp_path))
    points = {tuple(p) for p in fig.axes[0].collections[0].get_offsets().tolist()}
    # ft: RTE (1 + 3) / 2 = 2 min, score mean(50, 60) = 55; Retrain: its training time 120 s, score 50
    assert points == {(2.0, 55.0), (2.0, 50.0)}


def test_gap_vs_ratio_draws_mean_avg_gap_per_ratio(tmp_path):
    for ratio, gaps in ((0.1, (1.0, 3.0)), (0.5, (4.0, 4.0))):
        for seed, gap in enumerate(gaps):
            write(tmp_path / f"{ratio}-{seed}", record("ga", seed, scenario=f"random{int(ratio * 100)}", ratio=ratio,
                                                        avg_gap=gap))
    write(tmp_path / "retrain", record("retrain", 0))  # Retrain is the zero line, not drawn
    fig = gap_vs_ratio_figure(load_records(tmp_path))
    (bars,) = fig.axes[0].containers
    line = bars.lines[0]
    assert line.get_xdata().tolist() == [10.0, 50.0]
    assert line.get_ydata().tolist() == [2.0, 4.0]


def test_gap_vs_ratio_needs_two_ratios(tmp_path):
    write(tmp_path / "a", record("ga", 0))
    assert gap_vs_ratio_figure(load_records(tmp_path)) is None


def test_heatmap_cells_are_mean_over_seeds_per_parameter_pair(tmp_path):
    for l1 in (1.0, 2.0):
        for l2 in (0.0, 1.0):
            for seed in (0, 1):
                ua = 10 * l1 + l2 + seed  # mean over seeds: 10 l1 + l2 + 0.5
                write(tmp_path / f"{l1}-{l2}-{seed}", record(
                    "forget_vector_compositional", seed, {**METRICS, "UA": ua},
                    params={"lambda1": l1, "lambda2": l2, "epochs": 20}))
    fig, why = coefficient_heatmap_figure(load_records(tmp_path))
    assert why == ""
    ua_panel = fig.axes[0]
    assert ua_panel.get_title() == "UA" and ua_panel.get_xlabel() == "method.lambda1"
    # rows: lambda2 from high to low; columns: lambda1 low to high
    np.testing.assert_allclose(ua_panel.images[0].get_array(), [[11.5, 21.5], [10.5, 20.5]])
    assert [ax.get_title() for ax in fig.axes[:5]] == ["UA", "RA", "TA", "MIA", "Average"]  # colorbars follow
    assert fig.axes[4].images[0].get_array()[1, 0] == pytest.approx((10.5 + 90 + 80 + 20) / 4)


def test_fixed_coefficient_heatmap_shows_ua_per_forgotten_class(tmp_path):
    """Fig. 3: cells over w_1 x w_2 are UA on class 1, UA on class 2 (from arrays.npz), TA and their average."""
    for w1 in (0.0, 1.0):
        for w2 in (0.0, 1.0):
            # D_f holds two images of class 1 and two of class 2; w1 = 1 forgets both class-1 images, w2 = 1 one
            # class-2 image
            predicted = [2 if w1 else 1, 2 if w1 else 1, 0 if w2 else 2, 2]
            arrays = {**CLASSWISE_ARRAYS, "forget_logits": one_hot(predicted), "forget_labels": np.array([1, 1, 2, 2])}
            write(tmp_path / f"{w1}-{w2}", record("forget_vector_compositional", 0, scenario="multiclass_1-2",
                                                  params={"weights": {"1": w1, "2": w2}, "epochs": 20}), arrays)
    # an Eq. 5 run (weights null) of the same scenario has no cell and is left out
    write(tmp_path / "eq5", record("forget_vector_compositional", 0, scenario="multiclass_1-2",
                                   params={"weights": None, "epochs": 20}), CLASSWISE_ARRAYS)
    fig, why = coefficient_heatmap_figure(load_records(tmp_path))
    assert why == ""
    assert [ax.get_title() for ax in fig.axes[:4]] == ["UA class 1", "UA class 2", "TA", "Average"]
    assert fig.axes[0].get_xlabel() == "method.weights.1" and fig.axes[0].get_ylabel() == "method.weights.2"
    # rows: w2 from high to low; columns: w1 low to high
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), [[0, 100], [0, 100]])
    np.testing.assert_allclose(fig.axes[1].images[0].get_array(), [[50, 50], [0, 0]])
    assert fig.axes[3].images[0].get_array()[0, 1] == pytest.approx((100 + 50 + 80) / 3)


def test_heatmap_explains_when_records_vary_one_parameter(tmp_path):
    for l1 in (1.0, 2.0):
        write(tmp_path / str(l1), record("forget_vector_compositional", 0, params={"lambda1": l1}))
    fig, why = coefficient_heatmap_figure(load_records(tmp_path))
    assert fig is None and "['lambda1']" in why and "exactly two" in why


def test_save_figures_writes_png_and_pdf(tmp_path):
    runs = tmp_path / "runs"
    for seed in (0, 1):
        write(runs / f"ft{seed}", record("ft", seed, scenario="classwise_0", ratio=None), CLASSWISE_ARRAYS)
        write(runs / f"rt{seed}", record("retrain", seed, scenario="classwise_0", ratio=None), CLASSWISE_ARRAYS)
    written, skipped = save_figures(load_records(runs), tmp_path / "figs")
    names = sorted(p.name for p in written)
    assert names == [f"{kind}_digits-small-cnn-classwise-0-none.{fmt}" for kind in ("per_class", "unlink_fig1")
                     for fmt in ("pdf", "png")]
    assert all(p.stat().st_size > 1000 for p in written)
    assert skipped == []  # no random ratios, no compositional records: those figures do not apply


def test_generation_records_skip_the_classifier_figures_with_a_reason(tmp_path):
    """A generation run's arrays.npz holds generated images, not logits: no per-class bars, no crash."""
    metrics = {"UA": 100.0, "FID_classifier": 4.0}
    rec = fake_record(0, metrics, metrics, metrics, 30.0) | {"model": "ddpm", "scenario": "classwise_0"}
    write(tmp_path / "gen", rec, {"generated": np.zeros((2, 1, 8, 8), dtype=np.uint8)})
    written, skipped = save_figures(load_records(tmp_path), tmp_path / "figs")
    assert written == []
    assert any(s.startswith("per_class") and "classifier logits" in s for s in skipped)


def test_relearn_figure_plots_each_method_mean_and_the_references(tmp_path):
    from unlearn_bench.report.figures import relearn_figure

    curves = {"ft": ([0.0, 50.0, 100.0], [10.0, 20.0, 30.0]), "ga": ([0.0, 0.0, 10.0], [0.0, 10.0, 50.0])}
    for seed in (0, 1):
        for method, (start, end) in curves.items():
            arrays = {"relearn_dr_curve": np.array(start) + seed, "relearn_df_curve": np.array(end),
                      "retrain_relearn_dr_curve": np.zeros(3), "retrain_relearn_df_curve": np.zeros(3),
                      "original_relearn_dr_curve": np.full(3, 100.0), "original_relearn_df_curve": np.full(3, 90.0)}
            write(tmp_path / f"{method}{seed}", record(method, seed), arrays)
    frame = load_records(tmp_path)
    fig = relearn_figure(frame)
    lines = {line.get_label(): line.get_ydata() for line in fig.axes[0].lines}
    np.testing.assert_allclose(lines["ft"], [0.5, 50.5, 100.5])  # mean over the two seeds
    np.testing.assert_allclose(lines["Retrain"], 0.0)
    np.testing.assert_allclose(lines["Original"], 100.0)
    assert {line.get_label() for line in fig.axes[1].lines} == {"ft", "ga", "Retrain", "Original"}
    written, _ = save_figures(frame, tmp_path / "figures")
    assert {p.name for p in written} >= {"relearn_digits-small-cnn-random10-none.png"}


def test_no_relearn_figure_without_the_attack(tmp_path):
    from unlearn_bench.report.figures import relearn_figure

    write(tmp_path / "a", record("ft", 0), CLASSWISE_ARRAYS)
    assert relearn_figure(load_records(tmp_path)) is None
