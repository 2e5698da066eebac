"""The meta-evaluation (unlearn_bench/report/meta.py) on synthetic records with known rankings."""

import json

import numpy as np
import pandas as pd
import pytest

from unlearn_bench.report.meta import main, method_scores, rank_correlations
from unlearn_bench.results import load_records

METHODS = ("ft", "ga", "rl", "salun")


def write_records(root, per_method, scenario="random10", seeds=(0, 1)):
    """One record per (method, seed) with the given metrics; ``per_method[m]`` = (avg_gap, metrics, gaps)."""
    for method, (avg_gap, metrics, gaps) in per_method.items():
        for seed in seeds:
            folder = root / f"{scenario}-{method}-{seed}"
            folder.mkdir(parents=True)
            record = {"run_key": folder.name, "status": "ok", "data": "digits", "model": "small_cnn",
                      "scenario": scenario, "method": method, "seed": seed, "metrics": metrics,
                      "original_metrics": {}, "retrain_metrics": {}, "gaps": gaps, "avg_gap": avg_gap + seed,
                      "rte_s": 1.0, "original_train_s": 1.0, "retrain_train_s": 1.0, "wall_s": 1.0,
                      "data_access": ["retain"], "training_free": False, "config": {"method": {"name": method}}}
            (folder / "record.json").write_text(json.dumps(record))


def test_identical_rankings_correlate_one_and_reversed_minus_one():
    scores = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "same": [10.0, 20.0, 30.0, 40.0],
                           "reversed": [0.4, 0.3, 0.2, 0.1]}, index=list(METHODS))
    table = rank_correlations(scores).set_index(["metric_a", "metric_b"])
    assert table.loc[("a", "same"), "spearman"] == pytest.approx(1.0)
    assert table.loc[("a", "same"), "kendall"] == pytest.approx(1.0)
    assert table.loc[("a", "reversed"), "spearman"] == pytest.approx(-1.0)
    assert table.loc[("a", "reversed"), "kendall"] == pytest.approx(-1.0)
    assert (table["methods"] == 4).all()


def test_one_swap_of_four_matches_the_hand_computation():
    scores = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [2.0, 1.0, 3.0, 4.0]}, index=list(METHODS))
    row = rank_correlations(scores).iloc[0]
    assert row["spearman"] == pytest.approx(1 - 6 * 2 / (4 * 15))  # sum d^2 = 2, n = 4
    assert row["kendall"] == pytest.approx((5 - 1) / 6)  # 5 concordant, 1 discordant pair


def test_a_constant_metric_has_no_correlation():
    scores = pd.DataFrame({"a": [1.0, 2.0, 3.0], "flat": [5.0, 5.0, 5.0]}, index=METHODS[:3])
    assert np.isnan(rank_correlations(scores).iloc[0]["spearman"])


def test_sweep_records_give_distances_to_retrain_and_their_correlations(tmp_path, capsys):
    # Avg. Gap, KLoM and 1-CKA rank ft < ga < rl < salun; U-LiRA's |AUC - 50| ranks them in reverse.
    per_method = {m: (float(i), {"KLoM_f": 0.1 * (i + 1), "CKA_f": 1.0 - 0.1 * i, "ULiRA_AUC": 50.0 - (4 - i)},
                      {}) for i, m in enumerate(METHODS)}
    per_method["retrain"] = (0.0, {"KLoM_f": 9.0, "CKA_f": 1.0, "ULiRA_AUC": 50.0}, {})  # left out
    write_records(tmp_path, per_method)
    (key, scores), = method_scores(load_records(tmp_path)).items()
    assert key[:3] == ("digits", "small_cnn", "random10")
    assert list(scores.index) == list(METHODS)
    np.testing.assert_allclose(scores["Avg. Gap"], [0.5, 1.5, 2.5, 3.5])  # mean over seeds 0 and 1
    np.testing.assert_allclose(scores["1-CKA"], [0.0, 0.1, 0.2, 0.3], atol=1e-12)
    np.testing.assert_allclose(scores["U-LiRA |AUC-50|"], [4.0, 3.0, 2.0, 1.0])
    assert "Relearn D_r gap" not in scores  # no record holds it
    table = rank_correlations(scores).set_index(["metric_a", "metric_b"])
    assert table.loc[("Avg. Gap", "KLoM"), "spearman"] == pytest.approx(1.0)
    assert table.loc[("Avg. Gap", "1-CKA"), "kendall"] == pytest.approx(1.0)
    assert table.loc[("Avg. Gap", "U-LiRA |AUC-50|"), "spearman"] == pytest.approx(-1.0)
    assert main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Rank correlation between metrics across methods" in out and "| salun" in out
    assert main([str(tmp_path), "--format", "csv"]) == 0
    csv = capsys.readouterr().out
    assert csv.splitlines()[0] == "metric_a,metric_b,methods,spearman,kendall,data,model,scenario,shift"


def test_no_records_is_an_error(tmp_path, capsys):
    assert main([str(tmp_path)]) == 1
    assert "no record.json" in capsys.readouterr().err
