"""The prepared GPU check's plan (scripts/gpu_check.py): which sections fit the time left, and SalUn Table 1's wall
time projected from measured seconds per image. Its sections themselves run in CI as ``gpu_check.sh --smoke``."""

import importlib.util
from pathlib import Path

import pytest


def load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", Path(__file__).parents[1] / "scripts" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_when_time_runs_short_the_slowest_sections_are_skipped_first():
    script = load_script()
    sections, total = list(script.BUDGET_S), sum(script.BUDGET_S.values())
    slowest = max(sections, key=script.BUDGET_S.get)
    assert script.affordable(sections, total) == sections
    assert script.affordable(sections, total - 1) == [name for name in sections if name != slowest]
    assert script.affordable(sections, 0) == []


def test_salun_table1_is_projected_from_each_models_training_passes():
    per_image = 1e-3
    projection = load_script().salun_table1_projection(per_image, 0.0, "test")
    minutes = projection["minutes_per_model"]
    # CIFAR-10: 45,000 train images after the 10% validation split; random10 forgets 4,500 of them; 182 epochs
    assert minutes["original"] == pytest.approx(182 * 45_000 * per_image / 60)
    assert minutes["retrain"] == pytest.approx(182 * 40_500 * per_image / 60)
    assert minutes["ft"] == pytest.approx(10 * 40_500 * per_image / 60)  # 10 epochs of D_r
    assert minutes["ga"] == pytest.approx(5 * 4_500 * per_image / 60)  # 5 epochs of D_f
    assert minutes["salun"] == pytest.approx(10 * 45_000 * per_image / 60)  # D_f and D_r each epoch
    assert projection["seeds"] == 10 and projection["table_h"] == pytest.approx(10 * sum(minutes.values()) / 60)
    assert projection["paper_minutes_per_model"]["retrain"] == 43.29
