"""Report numbers against a hand computation from two fake records."""

import json

from unlearn_bench.report import main, render, summarize
from unlearn_bench.results import load_records


def fake_record(seed, metrics, retrain, original, rte_s, lr=0.01):
    gaps = {k: abs(metrics[k] - retrain[k]) for k in metrics}
    return {
        "run_key": f"k{seed}", "status": "ok", "data": "digits", "model": "small_cnn", "scenario": "random10",
        "method": "salun", "seed": seed, "metrics": metrics, "original_metrics": original,
        "retrain_metrics": retrain, "gaps": gaps, "avg_gap": sum(gaps.values()) / 4, "rte_s": rte_s,
        "original_train_s": 60.0, "retrain_train_s": 120.0, "wall_s": 200.0,
        "data_access": ["forget", "retain"], "training_free": False,
        "config": {"method": {"name": "salun", "lr": lr}},
    }


def write_two_seeds(root):
    recs = [
        fake_record(0, {"UA": 2.0, "RA": 99.0, "TA": 94.0, "MIA": 10.0},
                    {"UA": 5.0, "RA": 100.0, "TA": 94.0, "MIA": 12.0},
                    {"UA": 0.0, "RA": 100.0, "TA": 95.0, "MIA": 2.0}, 30.0),
        fake_record(1, {"UA": 6.0, "RA": 97.0, "TA": 92.0, "MIA": 16.0},
                    {"UA": 4.0, "RA": 100.0, "TA": 93.0, "MIA": 14.0},
                    {"UA": 0.0, "RA": 100.0, "TA": 95.0, "MIA": 4.0}, 90.0),
    ]
    for rec in recs:
        folder = root / f"seed{rec['seed']}"
        folder.mkdir(parents=True)
        (folder / "record.json").write_text(json.dumps(rec))


def test_report_matches_hand_computation(tmp_path):
    write_two_seeds(tmp_path)
    table = next(iter(summarize(load_records(tmp_path)).values())).set_index("Method")
    # SalUn UA: mean(2, 6) = 4, population std = 2, per-seed gaps |2-5| = 3 and |6-4| = 2 -> 2.5
    assert table.loc["salun", "UA"] == "4.00±2.00 (2.50)"
    # MIA: mean(10, 16) = 13, std 3, gaps 2 and 2 -> 2
    assert table.loc["salun", "MIA"] == "13.00±3.00 (2.00)"
    # Avg. Gap per seed: (3+1+0+2)/4 = 1.5 and (2+3+1+2)/4 = 2.0 -> 1.75; RTE mean 60 s = 1 min
    assert table.loc["salun", "Avg. Gap"] == "1.75"
    assert table.loc["salun", "RTE (min)"] == "1.00"
    assert table.loc["Retrain", "UA"] == "4.50±0.50 (0.00)"
    assert table.loc["Retrain", "RTE (min)"] == "2.00"
    # Original TA: 95 both seeds, gaps to Retrain 1 and 2 -> 1.5
    assert table.loc["Original", "TA"] == "95.00±0.00 (1.50)"
    assert table.loc["salun", "Seeds"] == 2


def test_report_cli_formats(tmp_path, capsys):
    write_two_seeds(tmp_path)
    for fmt, marker in (("md", "| salun"), ("csv", "salun,"), ("tex", "\\begin{tabular}")):
        assert main([str(tmp_path), "--format", fmt]) == 0
        assert marker in capsys.readouterr().out
    assert "Avg. Gap" in render(summarize(load_records(tmp_path)), "md")


def test_report_splits_a_hyperparameter_sweep_into_rows(tmp_path):
    metrics = {"UA": 2.0, "RA": 99.0, "TA": 94.0, "MIA": 10.0}
    for lr in (0.01, 0.1):
        rec = fake_record(0, metrics, metrics, metrics, 30.0, lr=lr) | {"run_key": f"lr{lr}"}
        (tmp_path / f"lr{lr}").mkdir()
        (tmp_path / f"lr{lr}" / "record.json").write_text(json.dumps(rec))
    table = next(iter(summarize(load_records(tmp_path)).values())).set_index("Method")
    assert {"salun (lr=0.01)", "salun (lr=0.1)"} <= set(table.index)
    assert table.loc["salun (lr=0.1)", "Seeds"] == 1
