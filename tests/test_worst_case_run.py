"""JiT Table 6's worst-case forget set in a real run: the original model chooses D_f before Retrain is trained."""

import numpy as np

import unlearn_bench.runner as runner
from tests.conftest import compose_config
from unlearn_bench.cache import ModelCache
from unlearn_bench.data.task import make_task
from unlearn_bench.evaluation import predict
from unlearn_bench.metrics.jit import output_entropy
from unlearn_bench.pipelines.classifier import original_model


def test_worst_case_forgets_the_class_examples_the_original_leaks_most(tmp_path):
    cache = tmp_path / "cache"
    overrides = ["data=digits", "train.epochs=4", "model.width=8", "progress=false", f"cache_dir={cache}",
                 "scenario=worst_case", "scenario.class_index=3", "scenario.size=20", "method=ft", "method.epochs=1"]
    cfg = compose_config(overrides)
    record = runner.run(cfg, output_dir=tmp_path / "run")
    assert record.status == "ok" and record.forget_size == 20 and record.scenario == "worst_case3_n20"
    assert not record.extra["original_cached"] and not record.extra["retrain_cached"]
    forget_idx = np.load(tmp_path / "run" / "forget_idx.npy")

    task = make_task(cfg.data, compose_config([*overrides[:-3], "scenario=partial_class", "scenario.class_index=3",
                                               "scenario.size=20"]).scenario, cfg.train, cfg.seed, "cpu")
    assert (task.train_y.numpy()[forget_idx] == 3).all()  # 20 examples of the class; the class stays
    original, meta = original_model(cfg, task, ModelCache(cache), task.device)
    assert meta["cached"]  # the original that chose D_f is the run's cached original, trained once
    entropy = output_entropy(predict(original, task.train_x, 256))
    rest = np.setdiff1d(np.flatnonzero(task.train_y.numpy() == 3), forget_idx)
    # JiT's MIA scores low output entropy as "member": the chosen 20 are the class's most confident examples
    assert entropy[forget_idx].max() <= entropy[rest].min() + 1e-6

    again = runner.run(compose_config(overrides), output_dir=tmp_path / "again")  # same D_f: the run is skipped
    assert again.run_key == record.run_key
