"""Where evaluation time goes: forward passes over D_f, D_r and the test set vs. the SVC MIA, per eval batch
size and memory format, for one (untrained) model of a data config. Evaluation cost does not depend on the
weights, so no training is needed. Run:

    python scripts/bench_eval.py data=fashion_mnist
    python scripts/bench_eval.py --batch-sizes 256,1024 data=cifar10 data.root=/data   # ResNet-18

Trailing arguments are config overrides, as on the command line of ``python -m unlearn_bench``.
"""

from __future__ import annotations

import argparse
import time

import torch

from unlearn_bench.compose import compose_config
from unlearn_bench.data.task import make_task
from unlearn_bench.evaluation import EVAL_SPLITS, predict
from unlearn_bench.metrics.mia import svc_mia_efficacy
from unlearn_bench.models import create_model, resolve_model_name
from unlearn_bench.runtime import configure_backends, prepare_model, resolve_amp, select_device


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", default="256,1024")
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. data=fashion_mnist")
    args = parser.parse_args(argv)
    cfg = compose_config(args.overrides)
    device = select_device(cfg.device)
    configure_backends(device)
    amp = resolve_amp(cfg.train.amp, device)
    task = make_task(cfg.data, cfg.scenario, cfg.train, cfg.seed, device)
    name = resolve_model_name(cfg)
    splits = {split: task.split(split) for split in EVAL_SPLITS}
    sizes = {split: len(y) for split, (_, y) in splits.items()}
    print(f"device {device}, threads {torch.get_num_threads()}, data {cfg.data.name}, model {name}, "
          f"split sizes {sizes}")
    for channels_last in (False, True):
        torch.manual_seed(0)
        model = create_model(name, task.num_classes, cfg.data.in_chans, cfg.data.img_size, task.mean, task.std,
                             width=cfg.model.width)
        model = prepare_model(model, device, channels_last)
        for batch_size in (int(b) for b in args.batch_sizes.split(",")):
            predict(model, splits["test"][0][:batch_size], batch_size, amp)  # warm-up
            logits, seconds = {}, {}
            for split, (x, y) in splits.items():
                start = time.perf_counter()
                logits[split] = predict(model, x, batch_size, amp, y)
                seconds[split] = time.perf_counter() - start
            labels = {split: y.cpu().numpy() for split, (_, y) in splits.items()}
            start = time.perf_counter()
            n_shadow = sizes["test"]
            svc_mia_efficacy(logits["retain"][:n_shadow], labels["retain"][:n_shadow], logits["test"],
                             labels["test"], logits["forget"], labels["forget"])
            mia_s = time.perf_counter() - start
            forward_s = sum(seconds.values())
            print(f"channels_last {channels_last!s:5s} batch {batch_size:5d}: forward {forward_s:6.1f} s "
                  f"({sum(sizes.values()) / forward_s:6.0f} images/s)  MIA {mia_s:5.1f} s  "
                  f"total {forward_s + mia_s:6.1f} s")


if __name__ == "__main__":
    main()
