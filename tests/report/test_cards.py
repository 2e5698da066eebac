"""Recipe cards (conf/cards/): each preset's committed card is what its jobs compose to, with a source per value."""

import copy

import pytest
import yaml

from unlearn_bench.report import cards


def committed(preset: str) -> dict:
    path = cards.card_path(preset)
    assert path.is_file(), f"experiment={preset} has no recipe card: python -m unlearn_bench.report.cards {preset}"
    return yaml.safe_load(path.read_text())


def differences(card: dict, built: dict) -> list[str]:
    """Human-readable differences between a committed card and the composed one (keys that do not exist, values
    that moved, sources that changed)."""
    found = []
    for section in ("train", "method"):
        for option in sorted(set(card.get(section, {})) | set(built.get(section, {}))):
            ours, real = card.get(section, {}).get(option), built.get(section, {}).get(option)
            if ours is None or real is None:
                found.append(f"{section}.{option}: {'not run by the preset' if real is None else 'not in the card'}")
                continue
            for key in sorted(set(ours) | set(real)):
                if key not in real:
                    found.append(f"{section}.{option}.{key}: the card names a key that {option} does not have")
                elif key not in ours:
                    found.append(f"{section}.{option}.{key}: missing from the card (value {real[key]['value']!r})")
                elif ours[key] != real[key]:
                    found.append(f"{section}.{option}.{key}: card {ours[key]} but the preset runs {real[key]}")
    for key in ("jobs", "swept", "preset"):
        if card.get(key) != built.get(key):
            found.append(f"{key}: card {card.get(key)} but the preset has {built.get(key)}")
    return found


def test_every_card_belongs_to_a_preset():
    orphans = sorted(p.stem for p in cards.CARDS_DIR.glob("*.yaml"))
    assert set(orphans) <= set(cards.presets()), sorted(set(orphans) - set(cards.presets()))


@pytest.mark.parametrize("preset", cards.presets())
def test_card_matches_the_preset_and_every_value_has_a_source(preset):
    built = cards.build_card(preset)
    problems = differences(committed(preset), built)
    assert not problems, (f"conf/cards/{preset}.yaml is stale (python -m unlearn_bench.report.cards {preset}):\n"
                          + "\n".join(problems))
    assert not cards.missing_sources(built), f"{preset}: values without a source: {cards.missing_sources(built)}"


def test_a_changed_value_or_an_unknown_key_fails_the_check():
    """The check the preset test runs catches a drifted value, a key that does not exist and a lost source."""
    built = cards.build_card("salun_table1")
    assert differences(copy.deepcopy(built), built) == []
    drifted = copy.deepcopy(built)
    drifted["method"]["salun"]["lr"]["value"] = 0.5
    assert any("method.salun.lr" in d for d in differences(drifted, built))
    unknown = copy.deepcopy(built)
    unknown["method"]["salun"]["not_a_key"] = {"value": 1, "source": "made up"}
    assert any("does not have" in d for d in differences(unknown, built))
    assert cards.missing_sources({"train": {"t": {"lr": {"value": 1, "source": cards.NO_SOURCE}}}, "method": {}}) \
        == ["train.t.lr"]


def test_sources_come_from_the_yaml_line_then_the_schema(tmp_path):
    option = tmp_path / "opt.yaml"
    option.write_text("defaults: [base, _self_]\nlr: 0.1  # paper §5 'Table #2'\nepochs: 3\nnested:\n  k: 1  # inner\n")
    comments = cards.yaml_comments(option)
    assert comments[("lr",)] == "paper §5 'Table #2'" and comments[("epochs",)] == ""
    assert comments[("nested", "k")] == "inner"
    preset = tmp_path / "preset.yaml"
    preset.write_text("method:\n  lr: 0.2  # the preset's own value\n")
    from unlearn_bench.config import TrainConfig
    assert cards.source_of("lr", "method", [(option, ())], preset, {}, None) == "the preset's own value"
    assert cards.source_of("epochs", "method", [(option, ())], tmp_path / "none.yaml", {}, None) == cards.NO_SOURCE
    assert cards.source_of("amp", "train", [], tmp_path / "none.yaml", {}, TrainConfig).startswith(
        "schema default (TrainConfig.amp)")
