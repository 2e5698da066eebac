"""Wall time of training K small reference models one after the other vs in one vectorised pass
(unlearn_bench/ensemble.py), on each vectorised path (grouped: small_cnn and lenet5; vmap: any model), on the
harness's data and recipe, printed with the ratio sequential / vectorised:

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_ensemble.py --data digits --k 1 4 8 16
    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_ensemble.py --data fmnist_bench --model lenet5 --k 1 4 8 16

Each of the K models gets its own seed (initial weights, data order) and a random 90% subset of the train split (the
sizes differ, as U-LiRA's halves do). ``--epochs`` shortens the recipe (the ratio is per step, so a few epochs
measure it) and ``--subset`` caps the train split (Fashion-MNIST's 54,000 images); ``--device cuda`` on a GPU;
``--profile`` prints where the time goes per operator at the largest K. A K=1 round runs first, untimed (first-call
allocations and oneDNN kernel creation). Measured tables, 2-core CPU:
results/bench/ensemble_cpu.md.
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable

import numpy as np
import torch

from unlearn_bench.compose import compose_config
from unlearn_bench.data.task import make_task
from unlearn_bench.ensemble import PATHS, fit_ensemble
from unlearn_bench.models import create_model
from unlearn_bench.runtime import prepare_model, provenance, resolve_amp, seed_everything, select_device
from unlearn_bench.stacked import stacked_logits
from unlearn_bench.training import train_from_scratch


def _timed(device: torch.device, fn: Callable[[], object]) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _print_profile(title: str, fn: Callable[[], object], rows: int = 12) -> None:
    """Where ``fn``'s time goes, per operator (self time): is the step bound by arithmetic or by overhead?"""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fn()
    print(f"\n{title}\n" + prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows), flush=True)


def bench(data: str, ks: list[int], epochs: int, subset: int | None, device_name: str, model: str | None,
          paths: list[str], extra: list[str], profile: bool = False) -> list[dict]:
    overrides = [f"data={data}", "progress=false", f"device={device_name}", *extra]
    if model:
        overrides.append(f"model={model}")
    cfg = compose_config(overrides)
    device = select_device(cfg.device)
    cfg.train.amp = resolve_amp(cfg.train.amp, device)
    if epochs:
        cfg.train.epochs = epochs
    task = make_task(cfg.data, cfg.scenario, cfg.train, cfg.seed, device)
    x_all, y_all = task.split("train")
    if subset:
        x_all, y_all = x_all[:subset], y_all[:subset]
    name = cfg.model.name if cfg.model.name != "auto" else cfg.data.default_model

    def measure(k: int) -> dict:
        rng = np.random.default_rng(k)
        subsets = [torch.from_numpy(np.sort(rng.permutation(len(y_all))[: int(0.9 * len(y_all)) - j])).to(device)
                   for j in range(k)]

        def prepare(j: int) -> tuple[torch.nn.Module, Callable]:
            generator = seed_everything(1000 + j)
            net = prepare_model(create_model(name, task.num_classes, cfg.data.in_chans, cfg.data.img_size, task.mean,
                                             task.std, width=cfg.model.width), device, cfg.train.channels_last)
            xs, ys = x_all[subsets[j]], y_all[subsets[j]]
            return net, lambda: task.batches(xs, ys, cfg.train.batch_size, generator=generator)

        def sequential() -> None:
            for j in range(k):
                train_from_scratch(*prepare(j), cfg.train, desc="sequential", progress=False)

        def vectorised(path: str) -> None:
            prepared = [prepare(j) for j in range(k)]
            fit_ensemble([m for m, _ in prepared], [s for _, s in prepared], cfg.train, path=path)

        row = {"data": data, "model": name, "K": k, "epochs": int(cfg.train.epochs), "n": int(len(subsets[0])),
               "sequential_s": _timed(device, sequential)}
        for path in paths:
            row[f"{path}_s"] = _timed(device, functools.partial(vectorised, path))
            row[f"{path}_ratio"] = row["sequential_s"] / row[f"{path}_s"]
        if profile and k == max(ks):
            for label, fn in [("sequential", sequential), *((p, functools.partial(vectorised, p)) for p in paths)]:
                _print_profile(f"{data} {name} K={k} {label}", fn)
        return row

    paths = [p for p in paths if p != "grouped" or stacked_logits(create_model(
        name, task.num_classes, cfg.data.in_chans, cfg.data.img_size, task.mean, task.std, width=cfg.model.width))]
    measure(1)  # warm-up: first-call allocations and oneDNN kernel creation are not what is compared
    rows = []
    for k in ks:
        row = measure(k)
        cells = "  ".join(f"{p} {row[f'{p}_s']:7.2f} s ({row[f'{p}_ratio']:4.2f}x)" for p in paths)
        print(f"{data:14s} {name:10s} K={k:3d} epochs={row['epochs']:3d} n={row['n']:6d}  "
              f"sequential {row['sequential_s']:7.2f} s  {cells}", flush=True)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="+", default=["digits", "fashion_mnist"])
    parser.add_argument("--k", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--epochs", type=int, default=2, help="recipe epochs (0 = the recipe's own)")
    parser.add_argument("--subset", type=int, default=None, help="first n train examples only")
    parser.add_argument("--fashion-subset", type=int, default=6000, help="--subset for Fashion-MNIST")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default=None)
    parser.add_argument("--paths", nargs="+", default=list(PATHS), choices=PATHS,
                        help="vectorised paths to time (grouped: small_cnn and lenet5 only)")
    parser.add_argument("--profile", action="store_true",
                        help="also print torch.profiler's per-operator self times at the largest K")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. train.batch_size=128")
    args = parser.parse_args()
    print(provenance())
    for data in args.data:
        subset = args.fashion_subset if data.startswith("fashion") and args.subset is None else args.subset
        bench(data, args.k, args.epochs, subset, args.device, args.model, args.paths, args.overrides, args.profile)


if __name__ == "__main__":
    main()
