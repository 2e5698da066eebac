"""The scenario registry: every kind is a class, and no code outside data/scenarios.py branches on the kind."""

import ast
from pathlib import Path

import numpy as np
import pytest

import unlearn_bench
from unlearn_bench.compose import compose_config
from unlearn_bench.config import ScenarioConfig
from unlearn_bench.data.scenarios import SCENARIOS, Scenario, create_scenario, iterative_chunks, register_scenario
from unlearn_bench.errors import ConfigError

VALID = {  # one valid config of every kind, for 10 classes
    "random": ScenarioConfig(name="r", kind="random", ratio=0.1),
    "classwise": ScenarioConfig(name="c", kind="classwise", class_index=3),
    "multiclass": ScenarioConfig(name="m", kind="multiclass", classes=[2, 7]),
    "partial_class": ScenarioConfig(name="p", kind="partial_class", class_index=4, size=30),
    "subclass": ScenarioConfig(name="s", kind="subclass", subclass="rocket"),
    "worst_case": ScenarioConfig(name="w", kind="worst_case", class_index=3, size=50),
    "confusion": ScenarioConfig(name="f", kind="confusion", classes=[0, 1], ratio=0.01),
    "iterative": ScenarioConfig(name="i", kind="iterative", ratio=0.1, rounds=4, round=3),
}


def test_every_kind_is_registered_and_round_trips_through_create_scenario():
    assert set(SCENARIOS) == set(VALID)
    for kind, cfg in VALID.items():
        scenario = create_scenario(cfg)
        assert type(scenario) is SCENARIOS[kind] and scenario.kind == kind and scenario.cfg is cfg
        scenario.validate(10)


@pytest.mark.parametrize("preset", sorted(p.stem for p in (Path(unlearn_bench.__file__).parent.parent / "conf" /
                                                           "scenario").glob("*.yaml")))
def test_every_preset_builds_its_registered_scenario(preset):
    cfg = compose_config(["data=cifar100", f"scenario={preset}"]).scenario
    assert create_scenario(cfg).kind == cfg.kind


def test_an_unknown_kind_names_the_key_and_every_allowed_kind():
    with pytest.raises(ConfigError, match="scenario.kind='nope' is not supported") as err:
        create_scenario(ScenarioConfig(name="x", kind="nope"))
    assert all(repr(kind) in str(err.value) for kind in SCENARIOS)


def test_the_flags_pick_the_kinds_the_runners_special_case():
    def kinds(flag: str, value: bool = True) -> set[str]:
        return {kind for kind, cls in SCENARIOS.items() if getattr(cls, flag) is value}

    assert kinds("full_class") == {"classwise", "multiclass"}
    assert kinds("chooses_with_original") == {"worst_case"}
    assert kinds("reruns_method", False) == {"iterative"}
    assert [create_scenario(VALID[k]).forgotten_subclass() for k in ("subclass", "random")] == ["rocket", None]


def test_iterative_rounds_split_the_cumulative_forget_set():
    labels = np.repeat(np.arange(10), 100)
    scenario = create_scenario(VALID["iterative"])
    assert scenario.current_round() == 3 and scenario.earlier_rounds() == [1, 2]
    chunks = iterative_chunks(scenario.cfg, len(labels), seed=5)
    forget, excluded = scenario.round_split(len(labels), 5, 3)
    np.testing.assert_array_equal(forget, chunks[2])  # the method sees this round's new examples ...
    np.testing.assert_array_equal(np.sort(excluded), np.sort(np.concatenate(chunks[:2])))  # ... earlier ones in no set
    assert forget.dtype == excluded.dtype == np.int64 and np.intersect1d(forget, excluded).size == 0
    # the run's D_f (what SalUn Table A3 scores) is everything forgotten up to this round
    np.testing.assert_array_equal(scenario.forget_indices(labels, 5), np.sort(np.concatenate([forget, excluded])))
    first_forget, first_excluded = scenario.round_split(len(labels), 5, 1)
    np.testing.assert_array_equal(first_forget, chunks[0])
    assert first_excluded.size == 0 and first_excluded.dtype == np.int64


def test_single_round_scenarios_have_no_rounds():
    scenario = create_scenario(VALID["random"])
    assert scenario.current_round() is None and scenario.earlier_rounds() == []
    with pytest.raises(ConfigError, match="has no rounds"):
        scenario.round_split(1000, 0, 1)


def test_a_new_kind_needs_only_a_registered_class():
    class Everything(Scenario):
        kind = "everything"

    assert register_scenario(Everything) is Everything
    try:
        scenario = create_scenario(ScenarioConfig(name="e", kind="everything"))
        assert isinstance(scenario, Everything) and scenario.forgotten_classes() == []
        np.testing.assert_array_equal(scenario.training_labels(np.arange(3), np.array([0])), np.arange(3))
        with pytest.raises(ValueError, match="'everything' is registered twice"):
            register_scenario(Everything)
    finally:
        del SCENARIOS[Everything.kind]


# --- no kind branches outside the scenario classes --------------------------------------------------------------------

PACKAGE = Path(unlearn_bench.__file__).parent
NOT_SCANNED = {"data/scenarios.py"}


def _is_kind(node: ast.AST) -> bool:
    """``<x>.kind``, ``kind`` or ``<x>["kind"]``, but not ``eval.shift.kind`` (another key)."""
    if isinstance(node, ast.Attribute) and node.attr == "kind":
        owner = node.value
        return not (isinstance(owner, ast.Name) and owner.id == "shift"
                    or isinstance(owner, ast.Attribute) and owner.attr == "shift")
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value == "kind"
    return isinstance(node, ast.Name) and node.id == "kind"


def _names_scenario_kinds(node: ast.AST) -> bool:
    """A scenario kind string, a collection holding one, or a ``*_KINDS`` constant."""
    if isinstance(node, ast.Constant):
        return node.value in SCENARIOS
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_names_scenario_kinds(elt) for elt in node.elts)
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return name.endswith("_KINDS")


def _is_kinds_constant(name: str) -> bool:
    return name.endswith("_KINDS") and name != "SHIFT_KINDS"


def kind_branches(source: str) -> list[int]:
    """Lines of ``source`` that test a scenario kind: a comparison of a kind with a scenario kind (or a ``*_KINDS``
    tuple), a ``match`` on a kind, or any scenario ``*_KINDS`` name."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(map(_is_kind, operands)) and any(map(_names_scenario_kinds, operands)):
                lines.append(node.lineno)
        elif isinstance(node, ast.Match) and _is_kind(node.subject):
            lines.append(node.lineno)
        elif (isinstance(node, ast.Name) and _is_kinds_constant(node.id)
              or isinstance(node, ast.Attribute) and _is_kinds_constant(node.attr)
              or isinstance(node, ast.alias) and _is_kinds_constant(node.asname or node.name)):
            lines.append(node.lineno)
    return sorted(set(lines))


@pytest.mark.parametrize("source,branches", [
    ('if cfg.scenario.kind == "iterative":\n    pass', [1]),
    ('x = scenario_cfg.kind in ("classwise", "multiclass")', [1]),
    ('kind = cfg.scenario.kind\nrounds = kind != "iterative"', [2]),
    ('x = cfg.scenario["kind"] == "confusion"', [1]),
    ("from unlearn_bench.data.scenarios import FULL_CLASS_KINDS", [1]),
    ("ok = cfg.scenario.kind not in scenarios.MODEL_DEPENDENT_KINDS", [1]),
    ("match cfg.scenario.kind:\n    case 'subclass':\n        pass", [1]),
    ('if shift.kind == "elastic" or cfg.eval.shift.kind not in SHIFT_KINDS:\n    pass', []),
    ('cached = job.kind == "original"', []),
    ('x = f"kind {cfg.scenario.kind!r}" + cfg.scenario.name', []),
])
def test_kind_branches_finds_what_it_must(source, branches):
    assert kind_branches(source) == branches


def test_no_module_outside_the_scenario_classes_branches_on_the_kind():
    files = {path.relative_to(PACKAGE).as_posix(): path for path in PACKAGE.rglob("*.py")}
    scanned = {name: path for name, path in files.items() if name not in NOT_SCANNED}
    assert len(scanned) > 20 and {"data/task.py", "attacks/__init__.py", "evaluation.py"} <= set(scanned)
    found = {name: lines for name, path in scanned.items() if (lines := kind_branches(path.read_text()))}
    assert found == {}, f"branch on the scenario's hooks (data/scenarios.py), not its kind: {found}"
