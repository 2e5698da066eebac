"""The pipelines behind the one run lifecycle: one per task, chosen by ``task.name``, each refusing what its task does
not define before anything is loaded."""

import pytest

from tests.conftest import compose_config
from unlearn_bench.config import CONF_DIR
from unlearn_bench.errors import ConfigError
from unlearn_bench.generation.config import TASKS
from unlearn_bench.pipelines import PIPELINES, create_pipeline, register_pipeline
from unlearn_bench.runner import validate


def test_every_task_has_one_pipeline_and_a_second_is_refused():
    assert sorted(PIPELINES) == ["classification", "generation", "generation_sd"]
    with pytest.raises(ConfigError, match="registered twice"):
        register_pipeline(type("Other", (PIPELINES["generation"],), {}))
    assert PIPELINES["generation"].__name__ != "Other"


def test_an_unknown_task_names_the_allowed_ones():
    cfg = compose_config(["task.name=audio"])
    with pytest.raises(ConfigError, match=r"task.name='audio' is not supported; allowed: \['classification'"):
        create_pipeline(cfg)


@pytest.mark.parametrize("overrides", [["task=generation", "method=generation/ft"]])
def test_a_task_without_attacks_refuses_an_enabled_one(overrides, tmp_path):
    pytest.importorskip("diffusers")
    cfg = compose_config([*overrides, "eval.relearn.enabled=true", f"cache_dir={tmp_path}"])
    with pytest.raises(ConfigError, match="task=generation does not read eval.relearn.enabled=True"):
        validate(cfg)


def test_method_isolation_is_checked_before_any_work(tmp_path):
    cfg = compose_config(["method_isolation=thread", f"cache_dir={tmp_path}"])
    with pytest.raises(ConfigError, match="method_isolation='thread' is not supported; allowed: none, process"):
        validate(cfg)


def test_observe_unlearned_sees_the_returned_model_after_the_timing_and_not_a_diverged_one():
    import torch

    from unlearn_bench.pipelines import observe_unlearned, timed_unlearning

    model, seen = torch.nn.Linear(2, 2), []
    with observe_unlearned(seen.append):
        assert timed_unlearning(lambda: model, "ft", torch.device("cpu"))[0] is model
        with torch.no_grad():
            model.weight.fill_(float("nan"))
        assert timed_unlearning(lambda: model, "ft", torch.device("cpu"))[0] is None  # diverged: nothing to observe
    timed_unlearning(lambda: torch.nn.Linear(2, 2), "ft", torch.device("cpu"))  # outside the block: not observed
    assert seen == [model]


def test_the_one_task_list_names_each_pipeline_and_its_method_presets():
    assert PIPELINES.keys() == TASKS.keys()
    assert all((CONF_DIR / task.method_group).is_dir() for task in TASKS.values())
