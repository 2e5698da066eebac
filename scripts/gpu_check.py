"""The prepared GPU check (scripts/gpu_check.sh runs it): the harness end to end on CUDA and its speed paths, as a JSON.

    .venv/bin/python scripts/gpu_check.py --out gpu_check.json          # on a GPU: under 8 minutes
    .venv/bin/python scripts/gpu_check.py --smoke --out smoke.json      # CPU, tiny sizes: what CI runs

A GPU is lent for minutes, start-up counted, so this one command answers everything at once. Sections, in the order
they run (each timed; a failure is recorded rather than fatal, so one broken path does not hide the others):

1. ``end_to_end``: through ``runner.run``, on a small CIFAR-shaped set written in CIFAR-10's real on-disk format
   (``data=cifar10``, ResNet-18, class-wise forgetting of class 0, a two-epoch recipe): every registered classification
   method with its minimal options (``MINIMAL``), every DDPM method with a tiny UNet, one method under
   ``method_isolation=process`` and one with U-LiRA (4 shadows) and ``eval=deep``. Per run: status, wall time, peak
   CUDA memory and whether every tensor of the returned model lives on the device (``runtime.off_device``, seen
   through ``pipelines.observe_unlearned``). A run passes when it finished (status ``ok``; ``collapsed`` while the
   original is above chance) with nothing off the device; the section fails if any run did not.
2. ``jit_fp32``: JiT's Lipschitz loss (unlearn_bench/methods/jit.py) under bf16 autocast with the fp32 guard and
   without: the relative difference.
3. ``ensemble``: K small CNNs on digits-shaped data, sequential vs vectorised (unlearn_bench/ensemble.py).
4. ``loader``: ResNet-18 training steps per second on CIFAR-shaped data fed by our device-resident loader
   (unlearn_bench/data/loader.py) vs a torch DataLoader over PIL images with torchvision's transforms (the SalUn repo's
   pipeline), bf16 autocast and channels_last each on and off (compile's effect is measured by ``paper_recipe``).
5. ``paper_recipe``: seconds per epoch of ResNet-18 on a CIFAR-10-sized set (45,000 images) at the SalUn recipe with
   the CUDA knobs on (bf16, channels_last, compile; compile on CPU only with --compile-cpu) and off, and SalUn Table
   1's wall time projected from them (``experiment=salun_table1``: references + methods x seeds) beside the paper's
   times (Retrain: 43.29 min a model).

Then ``memory``: peak host RSS and peak CUDA memory of the whole check. Each section has a time budget (``BUDGET_S``,
GPU estimates); before a section starts, the slowest sections left are skipped until those left fit the time that
remains, and the report names them (``skipped``). The report is rewritten after every section, every end-to-end run
and every paper_recipe setting, so a check killed at its time limit still leaves what it measured. ``--smoke`` runs
every section on the CPU with tiny sizes (end_to_end: a small CNN instead of ResNet-18), so no code path of the GPU
run is one CI never executed, but for bf16 autocast and compile, which need CUDA.
"""

from __future__ import annotations

import argparse
import inspect
import json
import platform
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from unlearn_bench import runner
from unlearn_bench.compose import compose_config
from unlearn_bench.config import CONF_DIR, SGDDefaults
from unlearn_bench.data.datasets import ImageData, write_cifar10
from unlearn_bench.data.loader import iterate_batches
from unlearn_bench.ensemble import fit_ensemble
from unlearn_bench.evaluation import predict
from unlearn_bench.methods import method_class, method_names
from unlearn_bench.metrics.accuracy import collapsed
from unlearn_bench.models import create_model
from unlearn_bench.pipelines import observe_unlearned
from unlearn_bench.report.papers import load_reference
from unlearn_bench.runtime import (
    autocast,
    configure_backends,
    git_rev,
    off_device,
    peak_memory_mb,
    prepare_model,
    provenance,
    seed_everything,
)
from unlearn_bench.training import cross_entropy, observe_epochs, sgd, train_from_scratch

CIFAR_MEAN, CIFAR_STD = [0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]
CIFAR10_TRAIN, CIFAR10_TEST = 50_000, 10_000  # images in CIFAR-10's train and test files

# Seconds each section may take on one H100-class GPU (estimates: no run on a GPU has been timed yet). The shell's
# limit is 480 s; STARTUP_S covers the interpreter, imports, the CUDA context and writing the report.
STARTUP_S = 25
BUDGET_S = {  # in the order they run: the one most likely to overrun (compiling) last, so it cuts nothing short
    # ~37 runs of ~2-3 s (ResNet-18 on 2,000 images: a 2-epoch original and Retrain, 1-epoch methods, the evaluation's
    # forward passes and MIA fit), the isolated run's child (a fresh interpreter and CUDA context, ~15 s), U-LiRA's
    # 8 shadow trainings and eval=deep's 4 + 4 KLoM runs (~30 s), DDPM training and sampling (~15 s).
    "end_to_end": 200,
    "jit_fp32": 10,  # a few forward passes of 256 images
    "ensemble": 25,  # 57 small CNNs for 3 epochs of 1,300 images, sequential and vectorised (~2,000 small steps)
    # 8 settings x 35 steps of 512 images; each PIL row builds 20,000 PIL images and starts 8 workers.
    "loader": 45,
    # Two 45,000-image epochs and a forward pass per setting (~15 s off, ~5 s on), plus compiling the training graph
    # (full and last partial batch) and the inference graph (~100 s).
    "paper_recipe": 140,
}
TIME_LIMIT_S = 480  # scripts/gpu_check.sh kills the check after this
assert STARTUP_S + sum(BUDGET_S.values()) < TIME_LIMIT_S, "the section budgets must fit the check's time limit"

# The smallest options of each method (any of these keys it has): one epoch, a few noise / generator / recursion
# steps. The check is whether a method's code runs on the device, not what it forgets: GKT's gate (``threshold``)
# lets every generated image through, since a two-epoch teacher is too unsure of any image to pass the paper's 0.01.
MINIMAL = {"epochs": 1, "class_epochs": 1, "max_epochs": 1, "pseudo_batches": 2, "noise_steps": 2, "max_steps": 2,
           "min_steps": 2, "noise_repeats": 1, "retain_per_class": 8, "n_samples": 8, "n_draws": 2, "n_retain": 64,
           "threshold": 1.0, "iterations": 4, "ddim_steps": 3}
ISOLATED_METHOD = "salun"  # trains in the child: mask, relabelling, optimiser and generator all on its device
ATTACKED_METHOD = "ga"  # the cheapest trained method: U-LiRA and KLoM re-run it for every shadow / population model


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _cifar_like(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` uint8 3x32x32 images of 10 balanced classes, each class a colour plus pixel noise: learnt in a few steps
    through global pooling (a ResNet's), so a short recipe gives models that are above chance, as the runs need."""
    palette = torch.rand(10, 3, 1, 1, generator=torch.Generator().manual_seed(0))
    y = torch.arange(n) % 10
    x = palette[y] + 0.15 * torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))
    return (x.clamp(0, 1) * 255).round().to(torch.uint8), y


def _resnet(device: torch.device, channels_last: bool, compile: bool) -> torch.nn.Module:
    return prepare_model(create_model("resnet18", 10, 3, 32, CIFAR_MEAN, CIFAR_STD), device, channels_last, compile)


def affordable(pending: list[str], left_s: float) -> list[str]:
    """The sections of ``pending`` that fit in ``left_s`` seconds by their budgets: the slowest are dropped first."""
    keep = list(pending)
    while keep and sum(BUDGET_S[name] for name in keep) > left_s:
        keep.remove(max(keep, key=BUDGET_S.__getitem__))
    return keep


# --- end_to_end ---------------------------------------------------------------------------------------------------


def minimal(cfg: DictConfig) -> DictConfig:
    """``cfg`` with every ``MINIMAL`` option its method has set to the minimal value."""
    for key, value in MINIMAL.items():
        if key in cfg.method:
            cfg.method[key] = value
    return cfg


def end_to_end_runs(smoke: bool) -> list[tuple[str, list[str]]]:
    """(label, overrides) of every run: each classification method, each DDPM method, one isolated, one attacked."""
    # external_checkpoint evaluates a file made elsewhere (tests/test_examples.py covers it): no method to run here
    runs = [(name, [f"method={name}"]) for name in method_names() if method_class(name).observed]
    iterations, samples = (10, 2) if smoke else (100, 4)
    ddpm = ["task=generation", "task.unet.block_out_channels=[8,16]", "task.unet.norm_num_groups=4",
            f"task.train.iterations={iterations}", "task.train.batch_size=16", "task.sampling.steps=3",
            f"task.sampling.num_per_class={samples}", "task.sampling.grid_per_class=1"]
    runs += [(f"generation/{name}", [*ddpm, f"method=generation/{name}"]) for name in method_names("generation")]
    runs.append((f"{ISOLATED_METHOD} isolated", [f"method={ISOLATED_METHOD}", "method_isolation=process"]))
    runs.append((f"{ATTACKED_METHOD} ulira+deep", [f"method={ATTACKED_METHOD}", "eval=deep", "eval.ulira.enabled=true",
                                                   "eval.ulira.num_shadows=4"]))
    return runs


def one_run(label: str, cfg: DictConfig, out: Path, device: torch.device) -> dict:
    """``runner.run(cfg)``: its status, wall time, peak CUDA memory and the tensors of the returned model that are
    not on ``device`` (None: no model was returned to inspect, e.g. Retrain, whose model is the cached reference)."""
    returned: list[list[str]] = []
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    row: dict = {"run": label}
    try:
        with observe_unlearned(lambda model: returned.append(off_device(model, device))):
            record = runner.run(cfg, output_dir=out / label.replace("/", "_").replace(" ", "_"))
        row.update(status=record.status, error=record.error, rte_s=record.rte_s,
                   peak_cuda_mb=record.memory.get("cuda_max_allocated_mb"),
                   original_collapsed=collapsed(record.original_metrics, cfg.data.num_classes))
    except Exception as err:  # a bug or bad input: recorded, and the next run goes on
        traceback.print_exc()
        row.update(status="raised", error=f"{type(err).__name__}: {err}")
    row["wall_s"] = time.perf_counter() - start
    row["off_device"] = returned[-1][:10] if returned else None
    row["on_device"] = not returned[-1] if returned else None
    # A model at chance after the minimal options (GKT's re-initialised student) is a result the runner records with
    # every metric; it counts only while the original is above chance (else the evaluation itself is suspect).
    completed = row["status"] == "ok" or (row["status"] == "collapsed" and not row["original_collapsed"])
    row["passed"] = completed and row["on_device"] is not False
    cuda = f"{row['peak_cuda_mb']:7.0f} MB" if row.get("peak_cuda_mb") is not None else "        -"
    where = {True: "on device", False: f"OFF DEVICE: {row['off_device']}", None: "no model"}[row["on_device"]]
    print(f"end_to_end {label:28s} {row['status']:8s} {row['wall_s']:6.1f} s {cuda}  {where}"
          + (f"  {row['error']}" if row["error"] and not row["passed"] else ""), flush=True)
    return row


def check_end_to_end(device: torch.device, smoke: bool, deadline: float, save: Callable[[dict], None]) -> dict:
    per_file, n_test = (60, 60) if smoke else (400, 400)
    model = ["model=small_cnn", "model.width=8"] if smoke else []  # ResNet-18 (cifar10's default) on the GPU
    rows: list[dict] = []
    result = {"runs": rows, "train_images": 5 * per_file, "test_images": n_test}
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        data = ImageData(*_cifar_like(5 * per_file, seed=3), *_cifar_like(n_test, seed=4), [f"c{i}" for i in range(10)])
        write_cifar10(data, Path(tmp) / "data")
        common = ["data=cifar10", f"data.root={Path(tmp) / 'data'}", "data.verify_files=false", *model,
                  "scenario=classwise", "train.epochs=2", "train.batch_size=32", "seed=0", "progress=false",
                  f"device={device}", f"cache_dir={Path(tmp) / 'cache'}"]
        for label, overrides in end_to_end_runs(smoke):
            if time.perf_counter() > deadline:
                rows.append({"run": label, "status": "skipped", "passed": False, "error": "time limit"})
                continue
            rows.append(one_run(label, minimal(compose_config([*common, *overrides])), Path(tmp) / "out", device))
            save(result)
    failed = [row["run"] for row in rows if not row["passed"]]
    statuses = Counter(row["status"] for row in rows)
    result.update(passed=len(rows) - len(failed), failed=failed, statuses=dict(statuses))
    print(f"end_to_end: {len(rows) - len(failed)} of {len(rows)} runs passed ("
          + ", ".join(f"{status} {count}" for status, count in statuses.items()) + ")"
          + (f"; not passed: {', '.join(failed)}" if failed else ""), flush=True)
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(rows)} runs did not pass: {', '.join(failed)}")
    return result


# --- paper_recipe -------------------------------------------------------------------------------------------------


def epoch_seconds(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, recipe: DictConfig,
                  device: torch.device) -> list[float]:
    """Wall seconds of each epoch of ``train_from_scratch`` (the first includes compiling and cuDNN's tuning)."""
    marks = [time.perf_counter()]

    def mark(_model: torch.nn.Module, _epoch: int) -> None:
        _sync(device)
        marks.append(time.perf_counter())

    generator = seed_everything(0)
    with observe_epochs(mark):
        train_from_scratch(model, lambda: iterate_batches(x, y, recipe.batch_size, True, recipe.crop_padding,
                                                          recipe.hflip, generator), recipe, "paper_recipe", False)
    return [b - a for a, b in zip(marks, marks[1:])]


def check_paper_recipe(device: torch.device, smoke: bool, compile_cpu: bool, save: Callable[[dict], None]) -> dict:
    n = 32 if smoke else round(CIFAR10_TRAIN * 0.9)  # SalUn's CIFAR-10 train split: 10% held out
    x, y = (t.to(device) for t in _cifar_like(n, seed=1))
    cuda = device.type == "cuda"
    batch = 1024 if cuda else 256  # runtime.resolve_eval_batch_size's default
    rows: list[dict] = []
    result = {"rows": rows}
    for knobs in (False, True):
        recipe = compose_config(["experiment=salun_table1"]).train
        recipe.epochs, recipe.amp = 2, knobs and cuda
        compile = knobs and (cuda or compile_cpu)
        model = _resnet(device, knobs, compile)
        epochs = epoch_seconds(model, x, y, recipe, device)
        predict(model, x[:batch + n % batch], batch, recipe.amp)  # both batch shapes compiled and tuned untimed
        _sync(device)
        start = time.perf_counter()
        predict(model, x, batch, recipe.amp)
        _sync(device)
        forward_s = time.perf_counter() - start
        rows.append({"knobs": "on" if knobs else "off", "amp_bf16": recipe.amp, "channels_last": knobs,
                     "compile": compile, "n": n, "batch_size": int(recipe.batch_size), "first_epoch_s": epochs[0],
                     "epoch_s": epochs[-1], "forward_s": forward_s})
        print(f"paper_recipe knobs {rows[-1]['knobs']:3s} (bf16={recipe.amp}, channels_last={knobs}, "
              f"compile={compile}): {epochs[-1]:.1f} s/epoch ({epochs[0]:.1f} s first), forward {forward_s:.1f} s "
              f"for {n} images", flush=True)
        save(result)
    result["projection"] = {row["knobs"]: salun_table1_projection(row["epoch_s"] / n, row["forward_s"] / n,
                                                                  row["knobs"]) for row in rows}
    return result


def salun_table1_projection(train_s: float, forward_s: float, label: str) -> dict:
    """SalUn Table 1's wall time (``experiment=salun_table1``: its methods x seeds, each seed with its original and
    Retrain) from the seconds per training image ``train_s`` and per evaluated image ``forward_s``. A model's cost is
    its training passes: epochs x the images of the splits it trains on (D_f, D_r; one pass for a training-free
    method), and each model is evaluated once on the train and test splits; CPU work (the MIA's SVC) is left out."""
    sweep = OmegaConf.load(CONF_DIR / "experiment" / "salun_table1.yaml").hydra.sweeper.params
    methods, seeds = str(sweep.method).split(","), str(sweep.seed).split(",")
    cfg = compose_config(["experiment=salun_table1"])
    n_train = round(CIFAR10_TRAIN * (1 - cfg.data.val_ratio))
    sizes = {"forget": round(cfg.scenario.ratio * n_train)}
    sizes["retain"] = n_train - sizes["forget"]
    images = {"original": cfg.train.epochs * n_train, "retrain": cfg.train.epochs * sizes["retain"]}
    for name in methods:
        if name != "retrain":
            method = compose_config(["experiment=salun_table1", f"method={name}"]).method
            images[name] = method.get("epochs", 1) * sum(sizes.get(split, 0) for split in method_class(name).needs)
    minutes = {name: count * train_s / 60 for name, count in images.items()}
    evaluation_s = (1 + len(methods)) * (n_train + CIFAR10_TEST) * forward_s  # the original, then each run's model
    table_h = len(seeds) * (sum(minutes.values()) * 60 + evaluation_s) / 3600
    reference = load_reference()
    paper = reference[(reference.paper == "salun") & (reference.table == "1") & (reference.scenario == "random10")
                      & (reference.metric == "rte_min")].set_index("method")["mean"].to_dict()
    print(f"  knobs {label}: SalUn Table 1 ({len(methods)} methods x {len(seeds)} seeds) {table_h:.1f} h; Retrain "
          f"{minutes['retrain']:.2f} min a model (paper: {paper.get('retrain', float('nan')):.2f} min); per model, "
          "projected (paper): " + ", ".join(f"{name} {minutes[name]:.2f} ({paper.get(name, float('nan')):.2f})"
                                            for name in methods if name != "retrain"), flush=True)
    return {"table_h": table_h, "seeds": len(seeds), "minutes_per_model": minutes,
            "paper_minutes_per_model": {name: paper[name] for name in methods if name in paper}}


# --- jit_fp32, loader, ensemble -----------------------------------------------------------------------------------


def check_jit_fp32(device: torch.device, smoke: bool) -> dict:
    from unlearn_bench.methods import jit

    model = _resnet(device, True, False).eval()
    x = _cifar_like(4 if smoke else 256, seed=2)[0].to(device).float().div(255)
    std = torch.tensor(CIFAR_STD, device=device).view(1, 3, 1, 1)
    params = inspect.signature(jit.lipschitz_loss).parameters
    flag = next((name for name in ("fp32", "loss_fp32") if name in params), None)
    out = {"api_flag": flag}
    values = {}
    for fp32 in (True, False):
        kwargs = {flag: fp32} if flag else {}
        with torch.autocast(device.type, dtype=torch.bfloat16), torch.no_grad():
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
    optimizer = sgd(model, 0.1, SGDDefaults.momentum, SGDDefaults.weight_decay)
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


def check_loader(device: torch.device, smoke: bool) -> list[dict]:
    n, batch, steps, warmup = (32, 8, 2, 1) if smoke else (20000, 512, 30, 5)
    x, y = _cifar_like(n)
    xd, yd = x.to(device), y.to(device)
    rows = []
    amps = [False, True] if device.type == "cuda" else [False]
    for loader in ("ours", "dataloader_pil"):
        for amp in amps:
            for channels_last in (False, True):
                model = _resnet(device, channels_last, False)
                g = torch.Generator().manual_seed(0)

                def epochs(g=g):
                    while True:
                        yield from iterate_batches(xd, yd, batch, True, 4, True, g)

                source = epochs() if loader == "ours" else iter(_pil_loader(x, y, batch, 0 if smoke else 8))
                rate = _steps_per_s(model, source, device, amp, steps, warmup)
                rows.append({"loader": loader, "amp_bf16": amp, "channels_last": channels_last, "batch": batch,
                             "steps_per_s": rate, "images_per_s": rate * batch})
                print(f"loader {loader:15s} bf16={amp!s:5s} channels_last={channels_last!s:5s}: "
                      f"{rate * batch:9.0f} img/s", flush=True)
    return rows


def check_ensemble(device: torch.device, smoke: bool) -> list[dict]:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, runs on CPU (CI)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--compile-cpu", action="store_true", help="paper_recipe: also compile on CPU")
    parser.add_argument("--only", nargs="*", default=None, help=f"sections to run: {' '.join(BUDGET_S)}")
    parser.add_argument("--time-limit", type=float, default=TIME_LIMIT_S,
                        help="seconds the whole check may take, start-up included (the shell's timeout)")
    parser.add_argument("--out", default="gpu_check.json")
    args = parser.parse_args()
    deadline = time.perf_counter() + args.time_limit - STARTUP_S
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)
    configure_backends(device)
    report = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
              "torch": torch.__version__, "git_rev": git_rev(), "smoke": args.smoke, "threads": torch.get_num_threads(),
              "budgets_s": {"startup": STARTUP_S, **BUDGET_S}, "time_limit_s": args.time_limit, "errors": {},
              "skipped": {}}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        out.write_text(json.dumps(report, indent=2, default=float))

    def keep(name: str) -> Callable[[dict], None]:
        """Stores section ``name``'s result so far and rewrites the report, so a killed check keeps it."""
        def store(partial: dict) -> None:
            report[name] = partial
            save()
        return store

    print(provenance(), flush=True)
    checks: dict[str, Callable] = {
        "end_to_end": lambda: check_end_to_end(device, args.smoke, deadline, keep("end_to_end")),
        "jit_fp32": lambda: check_jit_fp32(device, args.smoke),
        "ensemble": lambda: check_ensemble(device, args.smoke),
        "loader": lambda: check_loader(device, args.smoke),
        "paper_recipe": lambda: check_paper_recipe(device, args.smoke, args.compile_cpu, keep("paper_recipe"))}
    assert list(checks) == list(BUDGET_S)
    pending = [name for name in checks if not args.only or name in args.only]
    start = time.perf_counter()
    while pending:
        name, left = pending[0], deadline - time.perf_counter()
        if name not in affordable(pending, left):
            report["skipped"][name] = f"{left:.0f} s left; budget {BUDGET_S[name]} s (slowest first)"
            print(f"gpu_check: skipping {name}: {report['skipped'][name]}", flush=True)
            pending.pop(0)
            continue
        pending.pop(0)
        t0 = time.perf_counter()
        try:
            report[name] = checks[name]()
        except Exception as err:  # recorded: the other sections still run
            report["errors"][name] = f"{type(err).__name__}: {err}"
            traceback.print_exc()
        report[f"{name}_s"] = time.perf_counter() - t0
        save()
    report["memory"] = peak_memory_mb(device)
    report["total_s"] = time.perf_counter() - start
    save()
    print(json.dumps({k: report[k] for k in ("device", "memory", "total_s", "skipped", "errors")}, default=float))
    print(f"gpu_check: report in {out}", flush=True)
    if report["errors"]:
        raise SystemExit(f"gpu_check: failed sections {sorted(report['errors'])}")


if __name__ == "__main__":
    main()
