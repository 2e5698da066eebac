"""Wall time and values of U-LiRA on a small task for K shadows, with three targets against the run's Retrain:
the method's unlearned model, the original (remembers D_f: the attack should find it) and a second Retrain with
another seed (indistinguishable from Retrain: ~50 AUC).

    .venv/bin/python scripts/bench_ulira.py --shadows 8 16 --method ft
    .venv/bin/python scripts/bench_ulira.py --shadows 8 --method ga data=digits train.epochs=10

The first K builds the shadow originals and retrained models (cached in --cache, a temp folder by default); the
"cold" and "warm" rows show the cost with and without them (the warm call only unlearns K shadows).
"""

from __future__ import annotations

import argparse
import copy
import logging
import tempfile
import time

from omegaconf import OmegaConf

from unlearn_bench.attacks.ulira import ulira_attack
from unlearn_bench.cache import ModelCache
from unlearn_bench.compose import compose_config, data_preset
from unlearn_bench.data.task import make_task
from unlearn_bench.keys import original_key, retrain_key
from unlearn_bench.methods import DataView, create_method
from unlearn_bench.models import create_model, resolve_model_name
from unlearn_bench.runtime import prepare_model, resolve_amp, seed_everything, select_device
from unlearn_bench.training import train_from_scratch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shadows", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--method", default="ft")
    parser.add_argument("--cache", default=None)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. data=digits train.epochs=10")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    cache_dir = args.cache or tempfile.mkdtemp(prefix="ulira_bench_")
    cfg = compose_config(["data=digits", f"method={data_preset('digits', args.method)}", f"cache_dir={cache_dir}",
                          "progress=false", *args.overrides])
    device = select_device(cfg.device)
    cfg.train.amp = resolve_amp(cfg.train.amp, device)
    task = make_task(cfg.data, cfg.scenario, cfg.train, cfg.seed, device)
    name = resolve_model_name(cfg)

    def new_model():
        return prepare_model(create_model(name, task.num_classes, cfg.data.in_chans, cfg.data.img_size, task.mean,
                                          task.std, width=cfg.model.width), device, cfg.train.channels_last)

    def train(split: str, seed: int):
        generator = seed_everything(seed)
        return train_from_scratch(new_model(), lambda: task.loader(split, cfg.train.batch_size, generator=generator),
                                  cfg.train, desc=split, progress=False)

    cache = ModelCache(cache_dir)
    t0 = time.perf_counter()
    original, _ = cache.load_or_build("original", original_key(cfg, task), new_model(),
                                      lambda: train("train", cfg.seed))
    retrain, _ = cache.load_or_build("retrain", retrain_key(cfg, task), new_model(),
                                     lambda: train("retain", cfg.seed))
    retrain2 = train("retain", cfg.seed + 1000)
    method = create_method(cfg.method)
    if cfg.method.name == "retrain":
        unlearned = retrain
    else:
        view = DataView.from_task(task, method.needs, cfg.train, seed_everything(cfg.seed), False)
        unlearned = method.unlearn(copy.deepcopy(original), view)
    print(f"data={cfg.data.name} model={name} |D|={len(task.train_y)} |D_f|={len(task.forget_idx)} "
          f"method={cfg.method.name} ({OmegaConf.to_container(cfg.method)}) train.epochs={cfg.train.epochs} "
          f"device={device}; targets prepared in {time.perf_counter() - t0:.1f} s")
    print("| K | target | call | AUC | BalAcc | TPR@0.1%FPR | TPR@1%FPR | wall s |")
    print("|---|---|---|---|---|---|---|---|")
    for k in args.shadows:
        cfg.eval.ulira.num_shadows = k
        for label, target in (("unlearned", unlearned), ("original", original), ("retrain seed+1000", retrain2)):
            metrics, _ = ulira_attack(cfg, task, original_key(cfg, task), new_model, target, retrain)
            call = "cold" if label == "unlearned" else "warm"
            print(f"| {k} | {label} | {call} | {metrics['ULiRA_AUC']:.1f} | {metrics['ULiRA_BalAcc']:.1f} | "
                  f"{metrics['ULiRA_TPR@0.1%FPR']:.1f} | {metrics['ULiRA_TPR@1%FPR']:.1f} | "
                  f"{metrics['ULiRA_s']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
