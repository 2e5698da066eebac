"""Sub-class forgetting (JiT, Unlink: one fine class of CIFAR-20 inside its kept super-class) in a real run, on a
fake CIFAR-100 copy in the real pickle format (digits has no super-classes)."""

import numpy as np

import unlearn_bench.runner as runner
from tests.conftest import compose_config
from tests.data.test_datasets import write_cifar
from unlearn_bench.data.task import make_task


def test_subclass_run_forgets_only_the_fine_class_and_keeps_its_super_class(tmp_path):
    write_cifar(tmp_path / "data", "cifar-100-python", 600, "fine_labels", 100, ["train"])
    cfg = compose_config(["data=cifar20", f"data.root={tmp_path / 'data'}", "data.verify_files=false",
                          "model=small_cnn", "model.width=8", "train=fake", "train.epochs=1", "progress=false",
                          f"cache_dir={tmp_path / 'cache'}", "scenario=subclass", "scenario.subclass=c23",
                          "method=ft", "method.epochs=1", "eval.metrics=[jit]"])
    record = runner.run(cfg, output_dir=tmp_path / "run")
    assert record.status == "ok" and record.scenario == "subclass_c23"
    forget_idx = np.load(tmp_path / "run" / "forget_idx.npy")
    # The fake files store the fine label in the first red pixel: every forgotten image is of fine class 23, and
    # all training images of class 23 are forgotten (none left in D_r).
    task = make_task(cfg.data, cfg.scenario, cfg.train, cfg.seed, "cpu")
    fine = task.train_x[:, 0, 0, 0].numpy()
    assert record.forget_size == len(forget_idx) == int((fine == 23).sum()) > 0
    assert (fine[forget_idx] == 23).all() and not (fine[task.retain_idx] == 23).any()
    assert set(task.train_y.numpy()[forget_idx]) == {3}  # the super-class of fine 23
    assert 3 in task.train_y.numpy()[task.retain_idx]  # ... which stays in D_r
    # JiT's sub-class evaluation scores the fine class's test images (forget_test), not the whole super-class
    forget_test_x, _ = task.split("forget_test")
    assert len(forget_test_x) > 0 and (forget_test_x[:, 0, 0, 0].numpy() == 23).all()
    for model in ("metrics", "original_metrics", "retrain_metrics"):
        assert {"UA", "RA", "TA", "MIA", "JiT_MIA"} <= set(getattr(record, model)), model
    # Unlink Table 3's per-sub-class accuracies: the forgotten fine class and its siblings (fine % 20 == 3)
    siblings = {f"acc_c{k}" for k in (3, 23, 43, 63, 83)}
    assert siblings == {m for m in record.metrics if m.startswith("acc_")}
    assert record.metrics["acc_c23"] == record.metrics["CTA"]  # the same test images, the same labels
