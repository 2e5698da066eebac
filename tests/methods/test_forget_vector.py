"""forget_vector_compositional with fixed coefficients (Forget Vector Fig. 3): delta(w) = sum_k w_k delta_k."""

import pytest
import torch

from tests.conftest import compose_config
from unlearn_bench.data.task import make_task
from unlearn_bench.errors import ConfigError
from unlearn_bench.methods import DataView, create_method
from unlearn_bench.models import create_model
from unlearn_bench.runner import validate

FAKE = ["data=fake", "scenario=multiclass", "scenario.classes=[1,2]", "method=forget_vector_compositional",
        "method.class_epochs=2", "method.epochs=2"]


def composed_delta(weights: str) -> torch.Tensor:
    cfg = compose_config([*FAKE, f"method.weights={weights}"])
    task = make_task(cfg.data, cfg.scenario, cfg.train, 0, "cpu")
    torch.manual_seed(0)
    model = create_model("small_cnn", task.num_classes, 3, 32, task.mean, task.std, width=8)
    view = DataView.from_task(task, frozenset({"forget", "retain"}), cfg.train, torch.Generator().manual_seed(0))
    return create_method(cfg.method).unlearn(model, view).delta.detach()


def test_fixed_coefficients_scale_the_learned_class_vector():
    full, half = composed_delta("{1:1.0}"), composed_delta("{1:0.5}")
    assert full.abs().sum() > 0  # delta_1 was learned
    torch.testing.assert_close(half, 0.5 * full)  # same seed, same delta_1: only w changes
    assert composed_delta("{1:0.0}").abs().sum() == 0


def test_two_fixed_coefficients_add_two_class_vectors():
    both = composed_delta("{1:1.0,2:1.0}")
    first = composed_delta("{1:1.0}")
    assert not torch.allclose(both, first)  # delta_2 contributes
    # delta_1 is learned first in both runs (same generator state), so the difference is delta_2 alone
    torch.testing.assert_close(composed_delta("{1:1.0,2:0.5}") - first, 0.5 * (both - first))


@pytest.mark.parametrize("overrides,message", [(["method.weights={12:1.0}"], "'12'"),
                                               (["method.weights={a:1.0}"], "'a'"),
                                               (["method.weights=0.5"], "must map"),
                                               (["method.weights={1:abc}"], "weights.1='abc' must be a number")])
def test_bad_coefficient_keys_fail_before_training(overrides, message):
    with pytest.raises(ConfigError, match=message):
        validate(compose_config([*FAKE, *overrides]))


def test_unset_coefficients_keep_the_run_key_of_earlier_runs():
    from unlearn_bench.keys import method_key

    assert "weights" not in method_key(compose_config(FAKE).method)
    one = method_key(compose_config([*FAKE, "method.weights={2:0,1:0.5}"]).method)
    assert one["weights"] == {"1": 0.5, "2": 0.0}  # one computation, one key: class order, float values
    assert one == method_key(compose_config([*FAKE, "method.weights={1:0.5,2:0.0}"]).method)
