"""Report numbers against a hand computation from two fake records."""

import io
import json

import pandas as pd
import pytest

from unlearn_bench.compose import compose_config
from unlearn_bench.errors import ConfigError
from unlearn_bench.report.cli import main
from unlearn_bench.report.papers import compare, parse_reference, preset_table
from unlearn_bench.report.render import render
from unlearn_bench.report.summary import dr_free, pool_classes, reading, summarize
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


def test_report_gives_the_seed_interval_and_the_paired_test_against_the_closest(tmp_path):
    write_two_seeds(tmp_path)
    table = next(iter(summarize(load_records(tmp_path)).values())).set_index("Method")
    # SalUn's Avg. Gap per seed 1.5, 2.0: mean 1.75, sample std 0.354, t_{0.975, 1} = 12.706 -> half width 3.18
    assert table.loc["salun", "Avg. Gap 95% CI"] == "[-1.43, 4.93]"
    # Original's per-seed Avg. Gaps (|0-5|+0+1+|2-12|)/4 = 4 and (4+0+2+10)/4 = 4: [4, 4], inside SalUn's interval
    assert table.loc["Original", "Avg. Gap 95% CI"] == "[4.00, 4.00]"
    # Paired on seeds: Original - salun = (4 - 1.5, 4 - 2.0) = (2.5, 2.0); signed sums ±2.5±2.0, two of four reach
    # |4.5|: p = 0.5 (one comparison: Holm leaves it), so two seeds cannot separate them.
    assert table.loc["salun", "Paired vs closest"] == "closest"
    assert table.loc["Original", "Paired vs closest"] == "+2.25 (2 pairs, p=0.5, not separated)"
    assert table.loc["Retrain", "Paired vs closest"] == ""


def test_reading_names_the_model_closest_to_retrain_and_compares_it_with_doing_nothing(tmp_path):
    write_two_seeds(tmp_path)
    table = next(iter(summarize(load_records(tmp_path)).values()))
    assert reading(table) == ("Reading: closest to Retrain is salun (Avg. Gap 1.75); the Original, no unlearning, "
                              "is at 4.00: salun is 2.25 points closer.")
    worse = table.assign(**{"Avg. Gap": table["Avg. Gap"].where(table["Method"] != "salun", "9.00")})
    assert reading(worse).startswith("Reading: no method beats doing nothing here")
    assert reading(table[table["Method"] != "salun"]) == ""  # only the references (a method=retrain job)


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


# --- Beside the paper --------------------------------------------------------------------------------------

HEADER = "paper,table,data,model,scenario,method,metric,mean,std\n"


def write_reference(path, rows):
    path.write_text(HEADER + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


def write_preset(record_dir, preset):
    (record_dir / ".hydra").mkdir()
    (record_dir / ".hydra" / "hydra.yaml").write_text(f"hydra:\n  runtime:\n    choices:\n      experiment: {preset}\n")


def test_comparison_against_matching_reference_rows(tmp_path):
    runs = tmp_path / "runs"
    write_two_seeds(runs)
    csv = write_reference(tmp_path / "ref.csv", [
        ("salun", "1", "digits", "small_cnn", "random10", "salun", "UA", 3.0, 0.5),
        ("salun", "1", "digits", "small_cnn", "random10", "salun", "gap_UA", 1.0, ""),
        ("salun", "1", "digits", "small_cnn", "random10", "retrain", "MIA", 10.0, 1.0),
        ("salun", "1", "digits", "small_cnn", "random10", "salun", "rte_min", 2.0, ""),
        ("salun", "1", "digits", "small_cnn", "random50", "salun", "UA", 9.0, 0.5),  # other scenario: not ours
        ("salun", "1", "cifar10", "small_cnn", "random10", "salun", "UA", 9.0, 0.5),  # other data: not ours
    ])
    (blocks,) = compare(load_records(runs), parse_reference(str(csv))).values()
    (block,) = blocks
    assert not block.stand_in and block.title.startswith("Beside salun Table 1 (digits / small_cnn / random10)")
    assert "not made with this table's preset" in block.title  # the runs came from no preset: say so
    for record_dir in {p.parent for p in runs.rglob("record.json")}:
        write_preset(record_dir, "salun_table1")
    (blocks,) = compare(load_records(runs), parse_reference(str(csv))).values()
    assert "preset" not in blocks[0].title
    rows = block.frame.set_index(["method", "metric"])
    # salun UA over seeds: mean(2, 6) = 4, population std 2 -> 4 - 3 = +1
    assert rows.loc[("salun", "UA"), ["ours_mean", "ours_std", "paper_mean", "diff"]].tolist() == [4.0, 2.0, 3.0, 1.0]
    assert rows.loc[("salun", "gap_UA"), "ours_mean"] == 2.5  # per-seed gaps 3 and 2
    assert rows.loc[("salun", "rte_min"), "diff"] == -1.0  # RTE 30 s and 90 s -> 1 min
    assert rows.loc[("Retrain", "MIA"), "ours_mean"] == 13.0  # Retrain's MIA 12 and 14
    assert pd.isna(rows.loc[("salun", "gap_UA"), "paper_std"])
    assert len(rows) == 4


@pytest.mark.parametrize("fid_name,compared", [("FID_inception", True), ("FID_classifier", False)])
def test_only_inception_fid_is_set_beside_the_papers_fid(tmp_path, fid_name, compared):
    """A generation record's FID_inception is the papers' FID; FID_classifier (another feature space) never is."""
    metrics = {"UA": 100.0, fid_name: 12.0}
    rec = fake_record(0, metrics, {"UA": 100.0, fid_name: 11.0}, {"UA": 0.0, fid_name: 10.0}, 30.0)
    rec |= {"data": "cifar10", "model": "ddpm", "scenario": "classwise_0", "method": "salun"}
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "record.json").write_text(json.dumps(rec))
    csv = write_reference(tmp_path / "ref.csv", [
        ("salun", "A5", "cifar10", "ddpm", "classwise_0", "salun", "UA", 100.0, ""),
        ("salun", "A5", "cifar10", "ddpm", "classwise_0", "salun", "FID", 11.21, ""),
    ])
    (blocks,) = compare(load_records(tmp_path / "runs"), parse_reference(str(csv))).values()
    rows = blocks[0].frame.set_index(["method", "metric"])
    assert ("salun", "UA") in rows.index
    assert (("salun", "FID") in rows.index) == compared
    if compared:
        assert rows.loc[("salun", "FID"), "diff"] == pytest.approx(12.0 - 11.21)


def test_generation_records_get_their_own_default_columns_and_no_avg_gap(tmp_path, capsys):
    metrics = {"UA": 100.0, "FID_classifier": 4.0, "Acc_gen": 95.0}
    rec = fake_record(0, metrics, metrics, {"UA": 0.0, "FID_classifier": 5.0, "Acc_gen": 95.0}, 30.0)
    rec |= {"model": "ddpm", "scenario": "classwise_0", "avg_gap": 0.0}
    (tmp_path / "record.json").write_text(json.dumps(rec))
    assert main([str(tmp_path), "--format", "csv", "--reference", "none"]) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out)).set_index("Method")
    assert {"UA", "FID_classifier", "Acc_gen"} <= set(table.columns) and "RA" not in table.columns
    assert table["Avg. Gap"].isna().all()  # SalUn's Avg. Gap needs UA, RA, TA and MIA


def test_one_sub_class_gets_its_and_its_siblings_accuracy_columns(tmp_path, capsys):
    def metrics(forgotten, sibling):
        return {"UA": 100.0 - forgotten, "RA": 99.0, "TA": 90.0, "MIA": 50.0, "acc_sneaker": forgotten,
                "acc_sandal": sibling, "acc_ankle_boot": sibling}

    rec = fake_record(0, metrics(10.0, 80.0), metrics(90.0, 95.0), metrics(99.0, 96.0), 30.0)
    rec["scenario"] = "subclass_sneaker"
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "record.json").write_text(json.dumps(rec))
    assert main([str(tmp_path), "--format", "csv", "--reference", "none"]) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out)).set_index("Method")
    shown = [c for c in table.columns if c in {"UA", "RA", "TA", "MIA"} or c.startswith("acc_")]
    assert shown == ["UA", "RA", "TA", "MIA", "acc_sneaker", "acc_ankle_boot", "acc_sandal"]
    assert table.loc["salun", "acc_sandal"] == "80.00±0.00 (15.00)"  # the gap to Retrain's 95
    assert table.loc["Retrain", "acc_sneaker"].startswith("90.00±")
    # another sub-class in the same records: their siblings differ, so only SalUn's four remain
    other = rec | {"run_key": "k1", "scenario": "subclass_shirt"}
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "record.json").write_text(json.dumps(other))
    assert main([str(tmp_path), "--format", "csv", "--reference", "none"]) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert not [c for c in table.columns if c.startswith("acc_")]
    assert main([str(tmp_path), "--format", "csv", "--reference", "none", "--pool-classes"]) == 0  # subclass_all
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert not [c for c in table.columns if c.startswith("acc_")]


def test_pooled_classes_are_one_table_compared_with_the_papers_average_row(tmp_path, capsys):
    for k, ua in ((0, 90.0), (1, 100.0)):
        metrics = {"UA": ua, "RA": 99.0, "TA": 94.0, "MIA": 100.0}
        # each class has its own Retrain and its own forget set for the original
        rec = fake_record(0, metrics, {**metrics, "UA": 100.0, "TA": 94.0 + k}, {**metrics, "UA": 2.0 * k}, 30.0)
        rec |= {"scenario": f"classwise_{k}", "run_key": f"k{k}"}
        (tmp_path / "runs" / str(k)).mkdir(parents=True)
        (tmp_path / "runs" / str(k) / "record.json").write_text(json.dumps(rec))
    csv = write_reference(tmp_path / "ref.csv", [
        ("salun", "2", "digits", "small_cnn", "classwise_avg", "salun", "UA", 99.0, ""),
        ("salun", "2", "digits", "small_cnn", "classwise_0", "salun", "UA", 98.0, ""),
    ])
    frame = pool_classes(load_records(tmp_path / "runs"))
    assert set(frame["scenario"]) == {"classwise_all"}
    (table,) = summarize(frame).values()
    table = table.set_index("Method")
    assert table.loc["salun", "UA"] == "95.00±5.00 (5.00)"  # both classes, gaps 10 and 0
    assert table.loc["Original", "UA"] == "1.00±1.00 (99.00)"  # both classes' original metrics, 0 and 2
    assert table.loc["Retrain", "TA"] == "94.50±0.50 (0.00)"  # and both Retrains, 94 and 95
    (blocks,) = compare(frame, parse_reference(str(csv))).values()
    rows = blocks[0].frame.set_index(["method", "metric"])
    assert rows.loc[("salun", "UA"), "paper_mean"] == 99.0 and len(rows) == 1  # the average row, not class 0's
    assert main([str(tmp_path / "runs"), "--pool-classes", "--reference", str(csv)]) == 0
    assert "classwise_all" in capsys.readouterr().out


def test_preset_in_the_job_folder_picks_its_table(tmp_path):
    runs = tmp_path / "runs"
    write_two_seeds(runs)
    rows = [(paper, table, "digits", "small_cnn", "random10", "salun", "UA", mean, 0.1)
            for paper, table, mean in (("salun", "1", 3.0), ("salun", "A1", 5.0), ("unlink", "4", 7.0))]
    csv = write_reference(tmp_path / "ref.csv", rows)
    (blocks,) = compare(load_records(runs), parse_reference(str(csv))).values()
    assert [(b.paper, b.table) for b in blocks] == [("salun", "1"), ("salun", "A1"), ("unlink", "4")]
    for seed in (0, 1):
        write_preset(runs / f"seed{seed}", "salun_tablea1")
    (blocks,) = compare(load_records(runs), parse_reference(str(csv))).values()
    assert [(b.paper, b.table, b.frame["paper_mean"].item()) for b in blocks] == [("salun", "A1", 5.0)]


def test_cpu_run_is_compared_with_the_paper_only_when_asked(tmp_path):
    write_two_seeds(tmp_path)
    for seed in (0, 1):
        write_preset(tmp_path / f"seed{seed}", "salun_table1_cpu")
    frame = load_records(tmp_path)
    (note,) = compare(frame, parse_reference("auto")).values()
    assert isinstance(note, str) and "--reference salun:1" in note  # no digits row in the paper tables
    (blocks,) = compare(frame, parse_reference("salun:1")).values()
    (block,) = blocks
    assert block.stand_in and block.title.startswith("Stand-in for salun Table 1 (cifar10 / resnet18 / random10)")
    salun_ua = block.frame.set_index(["method", "metric"]).loc[("salun", "UA")]
    assert (salun_ua["paper_mean"], salun_ua["paper_std"]) == (2.85, 0.43)  # results/reference/salun.csv
    assert salun_ua["diff"] == pytest.approx(4.0 - 2.85)
    assert compare(frame, parse_reference("none")) == {}


def test_stand_in_maps_a_class_index_to_the_papers_classwise_rows(tmp_path):
    write_two_seeds(tmp_path)
    for seed in (0, 1):
        rec_path = tmp_path / f"seed{seed}" / "record.json"
        rec_path.write_text(rec_path.read_text().replace('"random10"', '"classwise_3"'))
    (blocks,) = compare(load_records(tmp_path), parse_reference("unlink:2")).values()
    assert blocks[0].setting == ("cifar100", "resnet18", "classwise")


@pytest.mark.parametrize("value,message", [
    ("salun:99", "allowed: .*'A6'"),
    ("nopaper:1", "allowed: .*'salun'"),
    ("forget_vector:1", "forget_vector:1:cifar10:resnet18, forget_vector:1:imagenet10:vgg16_bn"),
    ("forget_vector:1:svhn:resnet18", "no data=svhn"),
    ("salun", "allowed: auto, none, a CSV file"),
])
def test_bad_reference_names_the_allowed_values(value, message):
    with pytest.raises(ConfigError, match=message):
        parse_reference(value)


def test_preset_names_parse_to_paper_tables():
    assert preset_table("salun_tablea6_cpu") == ("salun", "a6")
    assert preset_table("forget_vector_table1_classwise") == ("forget_vector", "1")
    assert preset_table("jit_table2b") == ("jit", "2b")
    assert preset_table("my_sweep") is None


@pytest.mark.parametrize("eval_option,column", [("gn1", "UA_gn1"), ("et1", "UA_et1")])
def test_shifted_records_compare_with_the_papers_shifted_column(tmp_path, eval_option, column):
    runs = tmp_path / "runs"
    write_two_seeds(runs)
    shift = dict(compose_config([f"eval={eval_option}"]).eval.shift)
    for seed in (0, 1):
        rec_path = runs / f"seed{seed}" / "record.json"
        rec = json.loads(rec_path.read_text())
        rec["config"]["eval"] = {"shift": shift}
        rec_path.write_text(json.dumps(rec))
    csv = write_reference(tmp_path / "ref.csv", [
        ("forget_vector", "2", "digits", "small_cnn", "random10", "salun", metric, mean, "")
        for metric, mean in (("UA_gn1", 1.0), ("UA_et1", 2.0), ("UA", 50.0))])
    (blocks,) = compare(load_records(runs), parse_reference(str(csv))).values()
    assert blocks[0].frame[["metric", "ours_mean"]].values.tolist() == [[column, 4.0]]


def test_report_cli_prints_the_comparison(tmp_path, capsys):
    write_two_seeds(tmp_path)
    assert main([str(tmp_path), "--reference", "salun:1", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "ours_mean" in out and "stand_in" in out and ",True," in out
    assert main([str(tmp_path), "--reference", "salun:1", "--format", "md"]) == 0
    assert "| salun    | UA       | 4.00±2.00   | 2       | 2.85±0.43   | +1.15" in capsys.readouterr().out
    assert main([str(tmp_path), "--reference", "salun:1", "--format", "tex"]) == 0
    assert "Ours − Paper" in capsys.readouterr().out
    assert main([str(tmp_path), "--reference", "salun:77"]) == 2
    assert "salun has no table '77'" in capsys.readouterr().err


def test_note_names_the_papers_metrics_when_none_match(tmp_path):
    write_two_seeds(tmp_path)  # salun records hold UA, RA, TA, MIA; SURE Table 1 prints best-epoch gaps only
    (note,) = compare(load_records(tmp_path), parse_reference("sure:1")).values()
    assert isinstance(note, str) and "sure Table 1" in note and "gap_UA_top1" in note


# --- Epoch selection and tuned presets -------------------------------------------------------------------------


def test_epoch_selection_shows_the_best_or_top5_epochs(tmp_path, capsys):
    retrain = {"UA": 5.0, "RA": 100.0, "TA": 94.0, "MIA": 12.0}
    rec = fake_record(0, {"UA": 1.0, "RA": 90.0, "TA": 90.0, "MIA": 2.0}, retrain,
                      {"UA": 0.0, "RA": 100.0, "TA": 95.0, "MIA": 2.0}, 30.0)
    # Avg. Gaps: epoch 1: 4, epoch 2: 1, epoch 3 (final): 7
    rec["epoch_metrics"] = [{"epoch": 1, "UA": 9.0, "RA": 96.0, "TA": 90.0, "MIA": 16.0},
                            {"epoch": 2, "UA": 6.0, "RA": 99.0, "TA": 93.0, "MIA": 13.0},
                            {"epoch": 3, "UA": 1.0, "RA": 90.0, "TA": 90.0, "MIA": 2.0}]
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "record.json").write_text(json.dumps(rec))
    other = fake_record(1, rec["metrics"], retrain, rec["original_metrics"], 30.0, lr=0.1)  # no per-epoch metrics
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "record.json").write_text(json.dumps(other))

    assert main([str(tmp_path), "--reference", "none", "--epoch", "best"]) == 0
    out = capsys.readouterr().out
    assert "best epoch by Avg. Gap" in out and "6.00±0.00 (1.00)" in out  # epoch 2's UA and its gap
    assert "Not in the table (no per-epoch metrics" in out and "salun/seed1" in out
    assert main([str(tmp_path), "--reference", "none", "--epoch", "top5"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| salun"))
    cells = [c.strip() for c in row.split("|")]
    assert cells[2] == "5.33±0.00 (3.00)"  # UA: mean of 9, 6, 1; gap: mean of 4, 1, 4
    assert float(cells[6]) == 4.0  # Avg. Gap: mean of 4, 1, 7


def test_a_tuned_preset_shows_its_tuning_seed_objective(tmp_path):
    write_two_seeds(tmp_path)
    rec = json.loads((tmp_path / "seed1" / "record.json").read_text())
    rec["config"]["method"]["tuned"] = {"objective": "avg_gap", "value": 0.25, "seed": 0}
    (tmp_path / "seed1" / "record.json").write_text(json.dumps(rec))
    table = next(iter(summarize(load_records(tmp_path)).values()))
    assert list(table["Tuned on"]) == ["", "", "seed 0: avg_gap 0.25"]
    # The provenance is not a hyper-parameter: both seeds stay one row.
    assert list(table["Method"]) == ["Original", "Retrain", "salun"]


def test_the_report_names_the_recipe_card_of_the_preset_under_its_table(tmp_path, capsys):
    write_two_seeds(tmp_path)
    assert main([str(tmp_path), "--reference", "none"]) == 0
    assert "Recipe card" not in capsys.readouterr().out  # runs outside a preset have no card
    for seed in (0, 1):
        write_preset(tmp_path / f"seed{seed}", "salun_table1_cpu")
    assert main([str(tmp_path), "--reference", "none"]) == 0
    table, card = capsys.readouterr().out.split("Recipe card: ")
    assert "| salun" in table and card.startswith("conf/cards/salun_table1_cpu.yaml")


@pytest.mark.parametrize("access,isolation,read,cell", [
    (["forget", "forget"], ["sandbox", "sandbox"], ["forget", "forget"], "shown"),
    (["forget", "forget"], ["sandbox", "process"], ["forget", "forget"], "declared"),  # one run not sandboxed
    (["forget"], ["none"], ["forget"], "declared"),
    (["forget"], ["sandbox"], ["forget,retain"], "declared"),  # cannot happen: the parent never sends retain
    (["forget,retain"], ["sandbox"], ["forget,retain"], "no"),
])
def test_only_sandboxed_runs_are_shown_dr_free(access, isolation, read, cell):
    runs = pd.DataFrame({"data_access": access, "isolation": isolation, "data_read": read})
    assert dr_free(runs) == cell
