"""Training throughput: our device-resident loader vs. a torchvision DataLoader + PIL transforms pipeline.

Both pipelines train the same model (same initial weights, SGD, cross-entropy) for the same number of steps
at the same batch size, in one process, with the SalUn repo's augmentation where the data uses it
(RandomCrop(padding 4) + RandomHorizontalFlip on CIFAR-shaped data):

  ours:   uint8 images resident on the device, batch gathered by index, crop/flip as whole-batch tensor ops;
  theirs: a Dataset of PIL images, torchvision transforms per sample, ``DataLoader(num_workers=...)``. The SalUn
          repo's ``cifar10_dataloaders`` (Classification/dataset.py, used by its unlearning and retraining scripts)
          hard-codes ``num_workers=0, pin_memory=False``: the default ``--workers 0`` is that pipeline; ``--workers
          0,2`` also times a 2-worker DataLoader (the usual tuned setting; its workers share the CPU with compute).

Each pipeline is timed ``--repeats`` times in alternating order and its best run kept. For each it prints
images/s and where the time goes: waiting for the next batch (data) vs. forward,
backward and the optimiser step (compute), then ``ratio: <ours/theirs>`` for each worker count. Run:

    python scripts/bench_train.py                       # all three settings, on cuda if available
    python scripts/bench_train.py --setting cifar_resnet18 --steps 50 --device cpu

Settings: ``digits`` (the default run: real 8x8 digits, small CNN, batch 64, no augmentation),
``fashion_small_cnn`` (Fashion-MNIST-shaped 28x28 random images, small CNN, batch 256, no augmentation),
``cifar_resnet18`` (CIFAR-shaped 32x32x3 random images, ResNet-18, batch 256, crop + flip). Image content does
not change the cost, so random pixels stand in for data that may not be on the machine.
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from unlearn_bench.config import DataConfig
from unlearn_bench.data.datasets import digits
from unlearn_bench.data.loader import iterate_batches
from unlearn_bench.models import create_model
from unlearn_bench.runtime import autocast, configure_backends, prepare_model, select_device


@dataclass
class Setting:
    model: str
    shape: tuple[int, int, int]  # C, H, W
    batch_size: int
    augment: bool
    n_images: int = 10_000


SETTINGS = {
    "digits": Setting("small_cnn", (1, 8, 8), 64, augment=False),
    "fashion_small_cnn": Setting("small_cnn", (1, 28, 28), 256, augment=False),
    "cifar_resnet18": Setting("resnet18", (3, 32, 32), 256, augment=True),
}


def make_images(setting: Setting, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 N x C x H x W images and int64 labels (real digits for ``digits``, random pixels otherwise)."""
    if setting.shape == (1, 8, 8):
        data = digits(DataConfig(name="digits"))
        return data.train_x.numpy(), data.train_y.numpy()
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (setting.n_images, *setting.shape), dtype=np.uint8)
    return images, rng.integers(0, 10, setting.n_images).astype(np.int64)


class PILDataset(Dataset):
    """What torchvision's CIFAR10 does per sample: uint8 HWC array -> PIL image -> transforms."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform: transforms.Compose):
        self.images = images.transpose(0, 2, 3, 1)  # N x H x W x C, as torchvision stores CIFAR
        self.labels, self.transform = labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = self.images[i]
        pil = Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image)
        return self.transform(pil), int(self.labels[i])


def forever(epoch: callable) -> Iterator:
    while True:
        yield from epoch()


def ours(images: np.ndarray, labels: np.ndarray, setting: Setting, device: torch.device) -> Iterator:
    x, y = torch.from_numpy(images).to(device), torch.from_numpy(labels).to(device)
    gen = torch.Generator().manual_seed(0)
    pad = 4 if setting.augment else 0
    return forever(lambda: iterate_batches(x, y, setting.batch_size, shuffle=True, crop_padding=pad,
                                           hflip=setting.augment, generator=gen))


def theirs(images: np.ndarray, labels: np.ndarray, setting: Setting, device: torch.device,
           workers: int) -> Iterator:
    size = setting.shape[1]
    augment = [transforms.RandomCrop(size, padding=4), transforms.RandomHorizontalFlip()] if setting.augment else []
    dataset = PILDataset(images, labels, transforms.Compose([*augment, transforms.ToTensor()]))
    loader = DataLoader(dataset, setting.batch_size, shuffle=True, num_workers=workers, drop_last=False,
                        pin_memory=False, persistent_workers=workers > 0)  # the SalUn repo: no pinning

    def epoch() -> Iterator:
        for xb, yb in loader:
            yield xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)

    return forever(epoch)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train(model: torch.nn.Module, batches: Iterable, steps: int, warmup: int, device: torch.device,
          amp: bool) -> dict[str, float]:
    """Time ``steps`` SGD steps after ``warmup`` untimed ones; data time = waiting for the next batch."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    model.train()
    batches = iter(batches)
    data_s = compute_s = 0.0
    images = 0
    for step in range(warmup + steps):
        sync(device)
        t0 = time.perf_counter()
        xb, yb = next(batches)
        sync(device)
        t1 = time.perf_counter()
        with autocast(device, amp):
            loss = F.cross_entropy(model(xb), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        sync(device)
        t2 = time.perf_counter()
        if step >= warmup:
            data_s, compute_s, images = data_s + t1 - t0, compute_s + t2 - t1, images + len(yb)
    total = data_s + compute_s
    return {"images_per_s": images / total, "data_share": data_s / total, "data_s": data_s,
            "compute_s": compute_s}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setting", choices=[*SETTINGS, "all"], default="all")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per pipeline")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (worker start, cudnn tuning)")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per pipeline, alternating; best kept")
    parser.add_argument("--workers", default="0",
                        help="comma-separated DataLoader worker counts of the torchvision pipeline (the SalUn repo: 0)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True,
                        help="bf16 autocast on CUDA (both pipelines); CPU always runs fp32")
    args = parser.parse_args(argv)
    workers = [int(w) for w in args.workers.split(",")]
    device = select_device(args.device)
    configure_backends(device)
    print(f"device: {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}), "
          f"torch {torch.__version__}, threads {torch.get_num_threads()}, steps {args.steps}, "
          f"workers {args.workers}, repeats {args.repeats}")
    for name in SETTINGS if args.setting == "all" else [args.setting]:
        setting = SETTINGS[name]
        images, labels = make_images(setting, seed=0)
        c, h, _ = setting.shape
        torch.manual_seed(0)
        model = create_model(setting.model, 10, c, h, [0.5] * c, [0.25] * c)
        results: dict[str, dict] = {}
        pipelines = ["ours", *(f"theirs-w{w}" for w in workers)]
        # Alternate the pipelines and keep each one's best repeat: the first timed run in a process is
        # slower (allocator and kernel warm-up) whichever pipeline it is.
        for repeat in range(args.repeats):
            for label in pipelines if repeat % 2 else pipelines[::-1]:
                batches = (ours(images, labels, setting, device) if label == "ours"
                           else theirs(images, labels, setting, device, int(label.removeprefix("theirs-w"))))
                net = prepare_model(copy.deepcopy(model), device, channels_last=True)
                r = train(net, batches, args.steps, args.warmup, device, args.amp)
                if label not in results or r["images_per_s"] > results[label]["images_per_s"]:
                    results[label] = r
        for label in pipelines:
            r = results[label]
            print(f"{name:18s} {label:10s} {r['images_per_s']:9.0f} images/s  data {100 * r['data_share']:5.1f}%  "
                  f"(data {r['data_s']:.2f} s, forward+backward+step {r['compute_s']:.2f} s, batch "
                  f"{setting.batch_size}, {setting.model})")
        for label in pipelines[1:]:
            ratio = results["ours"]["images_per_s"] / results[label]["images_per_s"]
            print(f"{name:18s} ratio vs {label}: {ratio:.2f}")


if __name__ == "__main__":
    main()
