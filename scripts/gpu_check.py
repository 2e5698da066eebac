"""One prepared GPU check of the harness's speed paths (scripts/gpu_check.sh runs it): a JSON of figures.

    .venv/bin/python scripts/gpu_check.py --out gpu_check.json          # on a GPU: under 8 minutes
    .venv/bin/python scripts/gpu_check.py --smoke --out smoke.json      # CPU, tiny sizes: what CI runs

Sections (each timed, each failure recorded rather than fatal, so one broken path does not hide the others):

1. ``loader``: ResNet-18 training steps per second on CIFAR-shaped data (uint8 3x32x32, crop 4 + flip) fed by our
   device-resident loader (unlearn_bench/data/loader.py) vs a torch DataLoader over PIL images with torchvision's
   RandomCrop/RandomHorizontalFlip/ToTensor (the SalUn repo's pipeline), with bf16 autocast, channels_last and
   torch.compile each on and off (compile only on CUDA unless --compile-cpu).
2. ``retrain_epoch``: one Retrain epoch (train_from_scratch, 1 epoch) of ResNet-18 on a CIFAR-10-sized retain set
   (45,000 random images) with the ``train=fast`` and ``train=salun`` recipes.
3. ``ensemble``: K small CNNs on digits-shaped data, sequential vs vectorised (unlearn_bench/ensemble.py).
4. ``jit_fp32``: JiT's Lipschitz loss (unlearn_bench/methods/jit.py) under bf16 autocast with the fp32 guard and
   without: the relative difference.
5. ``memory``: peak host RSS and peak CUDA memory.
"""

from __future__ import annotations

import argparse
import inspect
import json
import platform
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import torch

from unlearn_bench.compose import compose_config
from unlearn_bench.data.loader import iterate_batches
from unlearn_bench.ensemble import fit_ensemble
from unlearn_bench.models import create_model
from unlearn_bench.runtime import (
    autocast,
    configure_backends,
    git_rev,
    peak_memory_mb,
    prepare_model,
    provenance,
    seed_everything,
)
from unlearn_bench.training import cross_entropy, sgd, train_from_scratch

CIFAR_MEAN, CIFAR_STD = [0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _cifar_like(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8), torch.randint(0, 10, (n,),
                                                                                                  generator=g)


def _resnet(device: torch.device, channels_last: bool, compile: bool) -> torch.nn.Module:
    return prepare_model(create_model("resnet18", 10, 3, 32, CIFAR_MEAN, CIFAR_STD), device, channels_last, compile)


def _pil_loader(x: torch.Tensor, y: torch.Tensor, batch_size: int, workers: int):
    from PIL import Image
    from torchvision import transforms

    images = [Image.fromarray(img.permute(1, 2, 0).numpy()) for img in x]
    tf = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(),
                             transforms.ToTensor()])

    class PILSet(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(images)

        def __getitem__(self, i: int):
            return tf(images[i]), int(y[i])

    return torch.utils.data.DataLoader(PILSet(), batch_size=batch_size, shuffle=True, num_workers=workers,
                                       pin_memory=torch.cuda.is_available(), drop_last=True,
                                       persistent_workers=workers > 0)


def _steps_per_s(model, batches, device, amp: bool, steps: int, warmup: int) -> float:
    optimizer = sgd(model, 0.1)
    model.train()
    done, start = 0, None
    for xb, yb in batches:
        if done == warmup:
            _sync(device)
            start = time.perf_counter()
        xb = xb.to(device, non_blocking=True)
        yb = yb.to(device, non_blocking=True)
        with autocast(device, amp):
            loss = cross_entropy(model(xb), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        done += 1
        if done == warmup + steps:
            break
    _sync(device)
    return steps / (time.perf_counter() - start)


def check_loader(device, smoke: bool, compile_cpu: bool) -> list[dict]:
    n, batch, steps, warmup = (32, 8, 2, 1) if smoke else (20000, 512, 30, 5)
    x, y = _cifar_like(n)
    xd, yd = x.to(device), y.to(device)
    rows = []
    amps = [False, True] if device.type == "cuda" else [False]
    compiles = [False, True] if device.type == "cuda" or compile_cpu else [False]
    for loader in ("ours", "dataloader_pil"):
        for amp in amps:
            for channels_last in (False, True):
                for comp in compiles:
                    if loader == "dataloader_pil" and comp:
                        continue  # the loader comparison needs one compiled row only (ours)
                    model = _resnet(device, channels_last, comp)
                    g = torch.Generator().manual_seed(0)

                    def epochs(g=g):
                        while True:
                            yield from iterate_batches(xd, yd, batch, True, 4, True, g)

                    source = epochs() if loader == "ours" else iter(_pil_loader(x, y, batch, 0 if smoke else 8))
                    rate = _steps_per_s(model, source, device, amp, steps, warmup)
                    rows.append({"loader": loader, "amp_bf16": amp, "channels_last": channels_last,
                                 "compile": comp, "batch": batch, "steps_per_s": rate, "images_per_s": rate * batch})
                    print(f"loader {loader:15s} bf16={amp!s:5s} channels_last={channels_last!s:5s} "
                          f"compile={comp!s:5s}: {rate * batch:9.0f} img/s", flush=True)
    return rows


def check_retrain_epoch(device, smoke: bool) -> list[dict]:
    n = 24 if smoke else 45000
    x, y = _cifar_like(n, seed=1)
    x, y = x.to(device), y.to(device)
    rows = []
    for recipe_name in ("fast", "salun"):
        cfg = compose_config([f"train={recipe_name}", "data=cifar10", "progress=false"])
        recipe = cfg.train
        recipe.epochs = 1
        recipe.warmup_epochs = 0
        recipe.amp = device.type == "cuda"
        generator = seed_everything(0)
        model = _resnet(device, True, False)
        _sync(device)
        start = time.perf_counter()
        train_from_scratch(model, lambda r=recipe, g=generator: iterate_batches(x, y, r.batch_size, True,
                                                                                r.crop_padding, r.hflip, g),
                           recipe, "retrain", False)
        _sync(device)
        seconds = time.perf_counter() - start
        rows.append({"train": recipe_name, "n": n, "batch_size": int(recipe.batch_size), "amp_bf16": recipe.amp,
                     "epoch_s": seconds})
        print(f"retrain epoch train={recipe_name}: {seconds:.1f} s for {n} images", flush=True)
    return rows


def check_ensemble(device, smoke: bool) -> list[dict]:
    n, epochs, ks = (200, 1, [1, 2]) if smoke else (1300, 3, [1, 8, 16, 32])
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 10, (n,), generator=g)
    x = torch.randint(0, 256, (n, 1, 8, 8), generator=g, dtype=torch.uint8)
    x, y = x.to(device), y.to(device)
    recipe = compose_config(["data=digits", "train=digits", "progress=false"]).train
    recipe.epochs, recipe.amp = epochs, False
    rows = []
    for k in ks:
        def prepare(j):
            gen = seed_everything(j)
            model = prepare_model(create_model("small_cnn", 10, 1, 8, [0.5], [0.25]), device, None)
            return model, lambda: iterate_batches(x, y, recipe.batch_size, True, 0, False, gen)

        _sync(device)
        start = time.perf_counter()
        for j in range(k):
            train_from_scratch(*prepare(j), recipe, "seq", False)
        _sync(device)
        sequential = time.perf_counter() - start
        prepared = [prepare(j) for j in range(k)]
        start = time.perf_counter()
        fit_ensemble([m for m, _ in prepared], [s for _, s in prepared], recipe)
        _sync(device)
        vectorised = time.perf_counter() - start
        rows.append({"K": k, "n": n, "epochs": epochs, "sequential_s": sequential, "vectorised_s": vectorised,
                     "ratio": sequential / vectorised})
        print(f"ensemble K={k}: sequential {sequential:.2f} s, vectorised {vectorised:.2f} s, "
              f"ratio {sequential / vectorised:.2f}x", flush=True)
    return rows


def check_jit_fp32(device, smoke: bool) -> dict:
    from unlearn_bench.methods import jit

    model = _resnet(device, True, False).eval()
    x = _cifar_like(4 if smoke else 256, seed=2)[0].to(device).float().div(255)
    std = torch.tensor(CIFAR_STD, device=device).view(1, 3, 1, 1)
    params = inspect.signature(jit.lipschitz_loss).parameters
    flag = next((name for name in ("fp32", "loss_fp32") if name in params), None)
    out = {"api_flag": flag}
    ctx = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if device.type == "cuda" else (
        lambda: torch.autocast("cpu", dtype=torch.bfloat16))
    values = {}
    for fp32 in (True, False):
        kwargs = {flag: fp32} if flag else {}
        with ctx(), torch.no_grad():
            values[fp32] = float(jit.lipschitz_loss(model, x, 0.1, 5, std, torch.Generator().manual_seed(0),
                                                    **kwargs))
        if not flag:
            break
    with torch.no_grad():
        reference = float(jit.lipschitz_loss(model, x, 0.1, 5, std, torch.Generator().manual_seed(0)))
    out.update({"loss_fp32_guard": values.get(True), "loss_bf16": values.get(False), "loss_no_autocast": reference})
    if values.get(False) is not None:
        out["rel_diff_bf16_vs_fp32"] = abs(values[False] - values[True]) / max(abs(values[True]), 1e-12)
    print(f"JiT loss under autocast: {out}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, runs on CPU (CI)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--compile-cpu", action="store_true", help="also time torch.compile on CPU")
    parser.add_argument("--only", nargs="*", default=None,
                        help="sections to run: loader retrain_epoch ensemble jit_fp32")
    parser.add_argument("--out", default="gpu_check.json")
    args = parser.parse_args()
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)
    configure_backends(device)
    report = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
              "torch": torch.__version__, "git_rev": git_rev(), "smoke": args.smoke, "threads": torch.get_num_threads(),
              "errors": {}}
    print(provenance(), flush=True)
    checks: dict[str, Callable] = {"loader": lambda: check_loader(device, args.smoke, args.compile_cpu),
                                   "retrain_epoch": lambda: check_retrain_epoch(device, args.smoke),
                                   "ensemble": lambda: check_ensemble(device, args.smoke),
                                   "jit_fp32": lambda: check_jit_fp32(device, args.smoke)}
    start = time.perf_counter()
    for name, check in checks.items():
        if args.only and name not in args.only:
            continue
        t0 = time.perf_counter()
        try:
            report[name] = check()
        except Exception as err:  # recorded: the other sections still run
            report["errors"][name] = f"{type(err).__name__}: {err}"
            traceback.print_exc()
        report[f"{name}_s"] = time.perf_counter() - t0
    report["memory"] = peak_memory_mb(device)
    report["total_s"] = time.perf_counter() - start
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2, default=float))
    print(json.dumps({k: report[k] for k in ("device", "memory", "total_s", "errors")}, default=float))
    if report["errors"]:
        raise SystemExit(f"gpu_check: failed sections {sorted(report['errors'])}")


if __name__ == "__main__":
    main()
