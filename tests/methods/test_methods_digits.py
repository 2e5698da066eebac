"""Every registered method actually forgets on real data (digits, small CNN) and keeps utility.

Uses the shipped digits presets (``method=digits/<method>``, conf/method/digits/<method>.yaml) where one
exists. Originals and Retrains are
trained once per session (shared cache). Thresholds are per method and stated here.
"""

import numpy as np
import pytest
import torch

from tests.conftest import compose_config
from unlearn_bench.compose import data_preset
from unlearn_bench.errors import ConfigError
from unlearn_bench.methods import method_class, method_names
from unlearn_bench.runner import run

pytestmark = pytest.mark.slow  # ~7 min on 2 cores: `make test-all` (and .ci/run) runs it

# external_checkpoint evaluates a model made elsewhere (tests/test_examples.py), not an unlearning algorithm.
UNLEARNING_METHODS = [m for m in method_names() if m != "retrain" and method_class(m).observed]
# Class-wise: UA must rise at least this much above the original's (whose UA is ~0). SURE only makes D_f
# look like held-out images of the same class (its D_val), which the model still recognises, so it
# removes the class only partly (UA ~30 on digits while MIA matches Retrain).
UA_RISE = {m: 60.0 for m in UNLEARNING_METHODS} | {"sure": 20.0}
# TA may drop at most this many points below the original's. Methods that ascend the loss on D_f damage
# utility (SalUn Table A2: GA TA 38% class-wise), GA without any retain term most; SSD's dampening of the
# small CNN's shared weights costs ~15 points at the alpha where it forgets (see its digits preset).
# IU's one-shot step and JiT (a BatchNorm CNN, which the JiT paper warns about) also cost utility here.
# Bad Teacher distils D_f towards a random network's outputs; on random10 D_f shares every class with D_r,
# which costs ~6 TA points here (seed 0: TA 94.2). EMMN trains on noise only and loses ~15 points (the JiT
# paper: VGG11 D_r accuracy 66 -> 27). RA may drop by the same margin. Forget Vector shifts every input, the
# test images too (seed 0, random10: TA 96.1 on one thread, 93.6 on two, from 99.7); SalUn-soft costs ~5
# points (seed 0: class-wise TA 95.1, random10 94.7).
TA_MARGIN = {m: 4.0 for m in UNLEARNING_METHODS} | {
    "ga": 15.0, "ga_ms": 15.0, "neggrad_plus": 10.0, "ssd": 20.0, "iu": 15.0, "iu_ms": 10.0, "jit": 20.0,
    "bad_teacher": 8.0, "emmn": 20.0, "forget_vector": 8.0, "salun_soft": 8.0}
# Known to fail on digits at every setting tried (see their presets): strict xfail, so a fix shows up.
KNOWN_FAILURES = {
    ("bs", "classwise"): "one FGSM step rarely flips the prediction on 8x8 digits: no wrong label to learn",
    ("be", "classwise"): "the shadow class removes too little of the class before utility collapses",
    ("be", "random10"): "training random samples of every class into the shadow unit wrecks utility",
    ("gkt", "classwise"): "the student does not recover utility from generated images (JiT Table 2: D_r 1-2%)",
    ("forget_vector_compositional", "classwise"): "one input shift composed of 10 class vectors forgets ~10%",
}


# Chaotic on digits: the same code and seed pass on one CPU and fail on another (float rounding): non-strict xfail.
CHAOTIC = {
    ("forget_vector_compositional", "random10"): "the class vectors' lr 0.2 oscillates on 8x8 digits (retain CE 0 to "
                                                 "50): TA 97.5 on one CPU, 49 on another, same code and seed",
}


def method_params(scenario: str, methods: list[str]) -> list:
    def marks(m: str) -> list:
        if (m, scenario) in KNOWN_FAILURES:
            return [pytest.mark.xfail(reason=KNOWN_FAILURES[m, scenario], strict=True)]
        if (m, scenario) in CHAOTIC:
            return [pytest.mark.xfail(reason=CHAOTIC[m, scenario], strict=False)]
        return []

    return [pytest.param(m, marks=marks(m)) for m in methods]
# Random forgetting: the model's D_f outputs must move by at least this mean |logit change|.
MOVES_ON_RANDOM = set(UNLEARNING_METHODS)


def digits_run(cache, out, method, scenario):
    cfg = compose_config([f"method={data_preset('digits', method)}", f"scenario={scenario}", "data=digits",
                          "seed=0", "progress=false", f"cache_dir={cache}"])
    record = run(cfg, output_dir=out / f"{method}_{scenario}")
    return record, np.load(out / f"{method}_{scenario}" / "arrays.npz")


@pytest.fixture(scope="module")
def runs(session_cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("digits")
    cache: dict = {}

    def get(method: str, scenario: str):
        if (method, scenario) not in cache:
            cache[method, scenario] = digits_run(session_cache, out, method, scenario)
        return cache[method, scenario]

    # One torch thread, whatever the machine: oneDNN's results change with the thread count (forget_vector's TA
    # above), so the same numbers are checked on every machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield get
    torch.set_num_threads(threads)


def test_original_digits_model_is_accurate(runs):
    original = runs("ft", "classwise")[0].original_metrics
    assert original["TA"] >= 90.0 and original["UA"] <= 5.0


def test_classwise_retrain_never_saw_the_class(runs):
    retrain = runs("ft", "classwise")[0].retrain_metrics
    assert retrain["UA"] == 100.0 and retrain["MIA"] >= 90.0 and retrain["TA"] >= 90.0


@pytest.mark.parametrize("method", method_params("classwise", UNLEARNING_METHODS))
def test_classwise_forgetting_raises_ua_and_keeps_ta(runs, method):
    rec, _ = runs(method, "classwise")
    assert rec.status == "ok"
    assert rec.metrics["UA"] >= rec.original_metrics["UA"] + UA_RISE[method], rec.metrics
    assert rec.metrics["TA"] >= rec.original_metrics["TA"] - TA_MARGIN[method], rec.metrics


@pytest.mark.parametrize("method", method_params(
    "random10", [m for m in UNLEARNING_METHODS if not method_class(m).full_class_only]))
def test_random_forgetting_changes_the_model_and_keeps_utility(runs, method):
    rec, arrays = runs(method, "random10")
    assert rec.status == "ok"
    if method in MOVES_ON_RANDOM:  # the unlearned model is not the original: its outputs on D_f moved
        assert np.abs(arrays["forget_logits"] - arrays["original_forget_logits"]).mean() > 0.05
    assert rec.metrics["TA"] >= rec.original_metrics["TA"] - TA_MARGIN[method], rec.metrics
    assert rec.metrics["RA"] >= rec.original_metrics["RA"] - TA_MARGIN[method], rec.metrics


@pytest.mark.parametrize("method", sorted(m for m in UNLEARNING_METHODS if method_class(m).training_free))
def test_training_free_methods_take_no_optimizer_step(session_cache, tmp_path, monkeypatch, method):
    digits_run(session_cache, tmp_path, "ft", "classwise")  # the original and Retrain exist before counting
    steps = []
    for cls in (torch.optim.SGD, torch.optim.Adam):
        def counting_step(self, *args, _step=cls.step, **kwargs):
            steps.append(1)
            return _step(self, *args, **kwargs)

        monkeypatch.setattr(cls, "step", counting_step)
    cfg = compose_config([f"method={data_preset('digits', method)}", "scenario=classwise", "data=digits", "seed=0",
                          "progress=false", f"cache_dir={session_cache}", "skip_existing=false"])
    rec = run(cfg, output_dir=tmp_path / "training_free")
    assert rec.status == "ok" and steps == []
    assert rec.metrics != rec.original_metrics  # it did change the model


@pytest.mark.parametrize("method", [m for m in UNLEARNING_METHODS if method_class(m).full_class_only])
def test_full_class_methods_refuse_random_forgetting_before_training(tmp_path, method):
    cfg = compose_config([f"method={method}", "scenario=random10", "data=digits", f"cache_dir={tmp_path}"])
    with pytest.raises(ConfigError, match="full-class"):
        run(cfg, output_dir=tmp_path / "run")
    assert not list(tmp_path.glob("original/*"))
