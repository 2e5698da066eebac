"""Dataset registry: name -> loader returning uint8 NCHW image tensors, int64 labels and class names.

Real data only comes from local files (torchvision's on-disk formats, Debian's Fashion-MNIST package,
scikit-learn's bundled digits); nothing is downloaded at run time. A missing dataset fails at once with
the path that was searched and how to get the files.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import os
import pickle
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from unlearn_bench.config import DataConfig
from unlearn_bench.errors import ConfigError, DatasetNotFoundError


@dataclass
class ImageData:
    train_x: torch.Tensor  # uint8, N x C x H x W
    train_y: torch.Tensor  # int64, N
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: list[str]
    # Sub-class labels where the dataset has them (CIFAR-20: the 100 fine classes).
    train_sub: torch.Tensor | None = None
    sub_classes: list[str] | None = None
    test_sub: torch.Tensor | None = None


DATASETS: dict[str, Callable[[DataConfig], ImageData]] = {}


def register_dataset(fn: Callable[[DataConfig], ImageData]) -> Callable[[DataConfig], ImageData]:
    DATASETS[fn.__name__] = fn
    return fn


def load_dataset(cfg: DataConfig) -> ImageData:
    if cfg.name not in DATASETS:
        raise ConfigError(f"data={cfg.name!r} is not registered; allowed: {sorted(DATASETS)}")
    data = DATASETS[cfg.name](cfg)
    shape = tuple(data.train_x.shape[1:])
    expected = (cfg.in_chans, cfg.img_size, cfg.img_size)
    if shape != expected:
        raise ConfigError(f"data={cfg.name}: images are {shape} but the config says {expected}")
    return data if cfg.train_subset is None else train_subset(data, cfg.train_subset)


def train_subset(data: ImageData, size: int) -> ImageData:
    """``data`` with exactly ``size`` training images, each class keeping its share (largest-remainder rounding),
    drawn with a fixed RNG (seed 0) so the subset does not depend on the run's seed. The test split is kept whole."""
    labels = data.train_y.numpy()
    if not 0 < size <= len(labels):
        raise ConfigError(f"data.train_subset={size} must be in [1, {len(labels)}] (the training images of the data)")
    classes, counts = np.unique(labels, return_counts=True)
    quota = size * counts / len(labels)
    take = np.floor(quota).astype(int)
    take[np.argsort(take - quota, kind="stable")[:size - take.sum()]] += 1
    rng = np.random.RandomState(0)
    keep = np.sort(np.concatenate([rng.choice(np.flatnonzero(labels == c), n, replace=False)
                                   for c, n in zip(classes, take)]))
    keep_t = torch.from_numpy(keep)
    return dataclasses.replace(data, train_x=data.train_x[keep_t], train_y=data.train_y[keep_t],
                               train_sub=None if data.train_sub is None else data.train_sub[keep_t])


def _nhwc_to_nchw(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array)).permute(0, 3, 1, 2).contiguous()


def _torchvision_root(cfg: DataConfig, marker: str, how_to_get: str) -> str:
    root = os.path.expanduser(cfg.root)
    if not (Path(root) / marker).exists():
        raise DatasetNotFoundError(
            f"data={cfg.name}: expected {Path(root) / marker} (torchvision layout) under data.root={root!r}. "
            f"{how_to_get} Set data.root=<dir> or the environment variable UNLEARN_BENCH_DATA."
        )
    return root


def _open_torchvision(cls: type, cfg: DataConfig, root: str, **kwargs):
    """Instantiate a torchvision dataset from local files; with ``data.verify_files=false`` the MD5
    comparison is replaced by a presence check (tests write small copies in the real format)."""
    if not cfg.verify_files:
        overrides = {}
        for attr in ("train_list", "test_list"):
            if hasattr(cls, attr):
                overrides[attr] = [[name, None] for name, _ in getattr(cls, attr)]
        if hasattr(cls, "meta"):
            overrides["meta"] = {**cls.meta, "md5": None}
        if hasattr(cls, "split_list"):
            overrides["split_list"] = {k: [url, name, None] for k, (url, name, _) in cls.split_list.items()}
        cls = type(cls.__name__, (cls,), overrides)
    try:
        return cls(root, download=False, **kwargs)
    except (RuntimeError, OSError, EOFError, ValueError, pickle.UnpicklingError) as err:
        damaged = ", ".join(_damaged_files(cls, root)) or f"a file under {root}"
        # A deliberate copy (a subset, a re-pickled file) differs from torchvision's MD5 but reads fine without it.
        copy = (" or, for a deliberate copy of the files (a subset, re-pickled), set data.verify_files=false to skip "
                "the MD5 check") if cfg.verify_files else ""
        raise DatasetNotFoundError(f"data={cfg.name}: cannot read {damaged} (missing, truncated, corrupt or not the "
                                   f"released file: {type(err).__name__}: {err}); extract the dataset's archive "
                                   f"again{copy}") from err


def _damaged_files(cls: type, root: str) -> list[str]:
    """The files of a torchvision dataset class (CIFAR's pickled batches, SVHN's .mat files) that are missing, differ
    from their MD5 (where the class holds one) or, for CIFAR's batches, cannot be unpickled."""
    from torchvision.datasets.utils import check_integrity

    folder = Path(root) / getattr(cls, "base_folder", "")
    entries = [*getattr(cls, "train_list", []), *getattr(cls, "test_list", [])]
    if hasattr(cls, "meta"):
        entries.append([cls.meta["filename"], cls.meta["md5"]])
    entries += [[name, md5] for _, name, md5 in getattr(cls, "split_list", {}).values()]
    damaged = []
    for name, md5 in entries:
        path = folder / name
        if not check_integrity(str(path), md5) or (path.suffix != ".mat" and not _unpickles(path)):
            damaged.append(str(path))
    return damaged


def _unpickles(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            pickle.load(f, encoding="latin1")
    except (OSError, EOFError, ValueError, pickle.UnpicklingError):
        return False
    return True


@register_dataset
def digits(cfg: DataConfig) -> ImageData:
    """scikit-learn's bundled 8x8 digits (1,797 images, 17 grey levels), a fixed stratified 80/20 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None]  # N x 1 x 8 x 8
    idx_train, idx_test = train_test_split(
        np.arange(len(images)), test_size=0.2, stratify=bunch.target, random_state=0
    )
    x, y = torch.from_numpy(images), torch.from_numpy(bunch.target.astype(np.int64))
    return ImageData(x[idx_train], y[idx_train], x[idx_test], y[idx_test], [str(i) for i in range(10)])


FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]
DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (MNIST format), gzipped or not; read-only, decoded once per process and file version (a
    benchmark worker runs hundreds of runs on the same files: decompressing them took ~0.3 s a run)."""
    stat = path.stat()
    return _read_idx(path.resolve(), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _read_idx(path: Path, mtime_ns: int, size: int) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fashion_mnist_folders(root: str) -> list[Path]:
    """Where Fashion-MNIST's IDX files are looked for, in order."""
    base = Path(os.path.expanduser(root))
    return [base, base / "FashionMNIST" / "raw", base / "fashion-mnist", Path(DEBIAN_FASHION_MNIST)]


def fashion_mnist_files(root: str) -> list[Path] | None:
    """The four IDX files (train images, labels, test images, labels; each plain or .gz) of the first folder of
    ``fashion_mnist_folders`` that holds all four, or None."""

    def find(stem: str, folder: Path) -> Path | None:
        return next((folder / (stem + s) for s in ("", ".gz") if (folder / (stem + s)).exists()), None)

    for folder in fashion_mnist_folders(root):
        files = [find(s, folder) for s in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                           "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")]
        if all(files):
            return files
    return None


@register_dataset
def fashion_mnist(cfg: DataConfig) -> ImageData:
    """Fashion-MNIST from IDX files: in data.root, data.root/FashionMNIST/raw (torchvision) or Debian's
    dataset-fashion-mnist package (/usr/share/datasets/fashion-mnist)."""
    if files := fashion_mnist_files(cfg.root):
        tx, ty, vx, vy = (torch.from_numpy(read_idx(f).copy()) for f in files)
        return ImageData(tx[:, None], ty.long(), vx[:, None], vy.long(), FASHION_CLASSES)
    candidates = fashion_mnist_folders(cfg.root)
    raise DatasetNotFoundError(
        f"data=fashion_mnist: IDX files not found in any of {[str(c) for c in candidates]}. "
        "Install them with `apt-get install dataset-fashion-mnist` (Debian) or put the four "
        "train-/t10k- IDX files under data.root (env UNLEARN_BENCH_DATA)."
    )


# Fashion-MNIST's ten classes grouped by garment type: a CPU-scale stand-in for CIFAR-20's sub-class forgetting
# (JiT, Unlink). Names are snake_case so they can be typed as scenario.subclass=<name>, as CIFAR-100's.
FASHION_SUPER_CLASSES = {"tops": ["t_shirt_top", "pullover", "coat", "shirt"], "trousers": ["trouser"],
                         "dresses": ["dress"], "footwear": ["sandal", "sneaker", "ankle_boot"], "bags": ["bag"]}
# FASHION_CLASSES in label order, snake_case ("T-shirt/top" -> t_shirt_top)
FASHION_SUB_CLASSES = [re.sub(r"[^a-z]+", "_", name.lower()) for name in FASHION_CLASSES]


@register_dataset
def fashion_mnist5(cfg: DataConfig) -> ImageData:
    """Fashion-MNIST with 5 super-class labels (FASHION_SUPER_CLASSES: tops, trousers, dresses, footwear, bags);
    the 10 original classes are kept as sub-classes (``scenario=subclass scenario.subclass=sneaker``). Our own
    grouping, for sub-class forgetting on CPU: only tops (4 sub-classes) and footwear (3) have siblings."""
    data = fashion_mnist(cfg)
    super_of = {sub: k for k, subs in enumerate(FASHION_SUPER_CLASSES.values()) for sub in subs}
    coarse = torch.tensor([super_of[sub] for sub in FASHION_SUB_CLASSES])
    return ImageData(data.train_x, coarse[data.train_y], data.test_x, coarse[data.test_y],
                     list(FASHION_SUPER_CLASSES), train_sub=data.train_y, sub_classes=list(FASHION_SUB_CLASSES),
                     test_sub=data.test_y)


_CIFAR_HOW = "Download {url} and extract it into data.root."


@register_dataset
def cifar10(cfg: DataConfig) -> ImageData:
    from torchvision.datasets import CIFAR10

    root = _torchvision_root(cfg, "cifar-10-batches-py", _CIFAR_HOW.format(
        url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"))
    train, test = _open_torchvision(CIFAR10, cfg, root, train=True), _open_torchvision(CIFAR10, cfg, root, train=False)
    return ImageData(_nhwc_to_nchw(train.data), torch.tensor(train.targets), _nhwc_to_nchw(test.data),
                     torch.tensor(test.targets), list(train.classes))


def write_cifar10(data: ImageData, root: str | Path, files: int = 5) -> Path:
    """``data`` (32x32 RGB, 10 classes) as a CIFAR-10 copy in the real on-disk format, which ``data=cifar10`` then
    reads like the real one (with ``data.verify_files=false``: the MD5s are the real files'): the python pickle batches
    ``data_batch_1..files`` and ``test_batch`` (rows of 3,072 bytes, channel planes in R, G, B order) and
    ``batches.meta``. For checks that must run the real loader without the real data (scripts/gpu_check.py)."""
    base = Path(root) / "cifar-10-batches-py"
    base.mkdir(parents=True, exist_ok=True)
    chunks = zip(torch.tensor_split(data.train_x, files), torch.tensor_split(data.train_y, files), strict=True)
    named = [(f"data_batch_{i}", x, y) for i, (x, y) in enumerate(chunks, 1)]
    for name, x, y in [*named, ("test_batch", data.test_x, data.test_y)]:
        with open(base / name, "wb") as f:
            pickle.dump({"batch_label": name, "data": x.reshape(len(x), -1).numpy(), "labels": y.tolist()}, f)
    with open(base / "batches.meta", "wb") as f:
        pickle.dump({"label_names": list(data.classes)}, f)
    return base


@register_dataset
def cifar100(cfg: DataConfig) -> ImageData:
    from torchvision.datasets import CIFAR100

    root = _torchvision_root(cfg, "cifar-100-python", _CIFAR_HOW.format(
        url="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"))
    train, test = (_open_torchvision(CIFAR100, cfg, root, train=True),
                   _open_torchvision(CIFAR100, cfg, root, train=False))
    return ImageData(_nhwc_to_nchw(train.data), torch.tensor(train.targets), _nhwc_to_nchw(test.data),
                     torch.tensor(test.targets), list(train.classes))


@register_dataset
def cifar20(cfg: DataConfig) -> ImageData:
    """CIFAR-100 images with the 20 super-class ("coarse") labels stored in the same files (JiT, Unlink); the
    100 fine classes are kept as sub-classes (``scenario=subclass``)."""
    data = cifar100(cfg)
    base = Path(os.path.expanduser(cfg.root)) / "cifar-100-python"

    def read(name: str) -> dict:
        with open(base / name, "rb") as f:
            return pickle.load(f, encoding="latin1")

    train_y, test_y = (torch.tensor(read(name)["coarse_labels"]) for name in ("train", "test"))
    return ImageData(data.train_x, train_y, data.test_x, test_y, list(read("meta")["coarse_label_names"]),
                     train_sub=data.train_y, sub_classes=data.classes, test_sub=data.test_y)


@register_dataset
def svhn(cfg: DataConfig) -> ImageData:
    from torchvision.datasets import SVHN

    how = "Download train_32x32.mat and test_32x32.mat from http://ufldl.stanford.edu/housenumbers/ into data.root."
    root = _torchvision_root(cfg, "train_32x32.mat", how)
    _torchvision_root(cfg, "test_32x32.mat", how)
    train, test = _open_torchvision(SVHN, cfg, root, split="train"), _open_torchvision(SVHN, cfg, root, split="test")
    return ImageData(torch.from_numpy(train.data), torch.from_numpy(train.labels).long(),
                     torch.from_numpy(test.data), torch.from_numpy(test.labels).long(), [str(i) for i in range(10)])


def _fit_rgb(image, size: int, resize: int | None = None) -> np.ndarray:
    """uint8 size x size x 3 array of a PIL image converted to RGB: resized to ``resize`` x ``resize`` and
    center-cropped to ``size`` (the Forget Vector code's Resize((256, 256)) + CenterCrop(224)), or resized
    straight to ``size`` when ``resize`` is None; images already at the target size are not resampled."""
    from PIL import Image

    resize = resize or size
    lo = (resize - size) // 2
    image = image.convert("RGB")
    if image.size != (resize, resize):
        image = image.resize((resize, resize), Image.BILINEAR)
    return np.asarray(image)[lo:lo + size, lo:lo + size]


def _read_rgb(paths: list[Path], size: int, resize: int | None = None) -> torch.Tensor:
    """uint8 N x 3 x size x size from image files (``_fit_rgb`` of each)."""
    from PIL import Image

    out = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    for i, path in enumerate(paths):
        with Image.open(path) as image:
            out[i] = _fit_rgb(image, size, resize)
    return _nhwc_to_nchw(out)


IMAGE_SUFFIXES = {".jpeg", ".jpg", ".png"}


def _read_class_folders(folder: Path, classes: list[str], cfg: DataConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Images and labels of ``folder/<class>/*`` (label = position in ``classes``; files in name order)."""
    items = [(p, c) for c, name in enumerate(classes) for p in sorted((folder / name).iterdir())
             if p.suffix.lower() in IMAGE_SUFFIXES]
    return _read_rgb([p for p, _ in items], cfg.img_size, cfg.resize), torch.tensor([c for _, c in items])


def image_folder(cfg: DataConfig) -> ImageData:
    """``<root>/<train_dir>/<class>/*`` and ``<root>/<test_dir>/<class>/*`` (torchvision ImageFolder layout;
    classes = the train folder's sub-folders, sorted)."""
    root = Path(os.path.expanduser(cfg.root))
    train_dir, test_dir = root / cfg.train_dir, root / cfg.test_dir
    if not (train_dir.is_dir() and test_dir.is_dir()):
        raise DatasetNotFoundError(
            f"data={cfg.name}: expected {train_dir}/<class>/<images> and {test_dir}/<class>/<images> under "
            f"data.root={cfg.root!r} (see conf/data/{cfg.name}.yaml for where to get them). "
            "Set data.root=<dir> or the environment variable UNLEARN_BENCH_DATA.")
    classes = sorted(d.name for d in train_dir.iterdir() if d.is_dir())
    if len(classes) != cfg.num_classes:
        raise DatasetNotFoundError(f"data={cfg.name}: {train_dir} has {len(classes)} class folders, "
                                   f"data.num_classes={cfg.num_classes}")

    def load(folder: Path) -> tuple[torch.Tensor, torch.Tensor]:
        return _read_class_folders(folder, classes, cfg)

    (train_x, train_y), (test_x, test_y) = load(train_dir), load(test_dir)
    return ImageData(train_x, train_y, test_x, test_y, classes)


DATASETS.update(imagenette=image_folder, imagenet10=image_folder)

HELD_OUT_TEST_RATIO = 0.2  # share of each class held out as test where a dataset has no official split


@register_dataset
def pins(cfg: DataConfig) -> ImageData:
    """PinsFaceRecognition (JiT §5; 105 identities, 17,534 face crops) in the layout of its Kaggle archive
    (kaggle.com/datasets/hereisburak/pins-face-recognition): ``<root>/<train_dir>/pins_<Name>/*.jpg`` with
    ``train_dir`` = ``105_classes_pins_dataset``. Classes are the identity folders in sorted order (ImageFolder's,
    as JiT's class indices 1, 10, 20, ... are) named without the ``pins_`` prefix. The dataset has no split and the
    JiT code trains and tests on the whole folder; here a fixed stratified 20% of each identity is the test set
    (scikit-learn ``train_test_split``, random_state 0, the same for every seed). Images are resized straight to
    ``img_size`` (JiT: Resize((36, 36)) then Resize(32))."""
    from sklearn.model_selection import train_test_split

    folder = Path(os.path.expanduser(cfg.root)) / cfg.train_dir
    classes = sorted(d.name for d in folder.iterdir() if d.is_dir()) if folder.is_dir() else []
    if not classes:
        raise DatasetNotFoundError(
            f"data={cfg.name}: expected {folder}/pins_<Name>/*.jpg under data.root={cfg.root!r}. Download the "
            "Kaggle archive hereisburak/pins-face-recognition and extract it into data.root. Set data.root=<dir> or "
            "the environment variable UNLEARN_BENCH_DATA.")
    if len(classes) != cfg.num_classes:
        raise DatasetNotFoundError(f"data={cfg.name}: {folder} has {len(classes)} identity folders, "
                                   f"data.num_classes={cfg.num_classes}")
    x, y = _read_class_folders(folder, classes, cfg)
    train_idx, test_idx = train_test_split(np.arange(len(y)), test_size=HELD_OUT_TEST_RATIO, stratify=y.numpy(),
                                           random_state=0)
    train_idx, test_idx = np.sort(train_idx), np.sort(test_idx)
    return ImageData(x[train_idx], y[train_idx], x[test_idx], y[test_idx], [c.removeprefix("pins_") for c in classes])


@register_dataset
def oxford_pets(cfg: DataConfig) -> ImageData:
    """Oxford-IIIT Pet (Parkhi et al. 2012; Unlink Table 12), 37 breeds, read by torchvision's ``OxfordIIITPet``
    with ``download=False`` from its layout ``<root>/oxford-iiit-pet/images/*.jpg`` and
    ``<root>/oxford-iiit-pet/annotations/{trainval,test}.txt``: the official ``trainval`` split (3,680 images) is
    the train split, ``test`` (3,669) the test set (Unlink does not state its split). Each image is resized to
    ``resize`` x ``resize`` and center-cropped to ``img_size``."""
    from functools import partial

    from torchvision.datasets import OxfordIIITPet

    how = ("Download images.tar.gz and annotations.tar.gz from https://www.robots.ox.ac.uk/~vgg/data/pets/ and "
           "extract both into data.root/oxford-iiit-pet.")
    root = _torchvision_root(cfg, "oxford-iiit-pet/images", how)
    _torchvision_root(cfg, "oxford-iiit-pet/annotations", how)
    fit = partial(_fit_rgb, size=cfg.img_size, resize=cfg.resize)

    def load(split: str) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
        dataset = OxfordIIITPet(root, split=split, target_types="category", transform=fit, download=False)
        pairs = [dataset[i] for i in range(len(dataset))]
        x = np.stack([image for image, _ in pairs]) if pairs else np.zeros((0, cfg.img_size, cfg.img_size, 3))
        return _nhwc_to_nchw(x.astype(np.uint8)), torch.tensor([label for _, label in pairs]), dataset.classes

    (train_x, train_y, classes), (test_x, test_y, _) = load("trainval"), load("test")
    if len(classes) != cfg.num_classes:
        raise DatasetNotFoundError(f"data={cfg.name}: {root}/oxford-iiit-pet/annotations/trainval.txt lists "
                                   f"{len(classes)} breeds, data.num_classes={cfg.num_classes}")
    return ImageData(train_x, train_y, test_x, test_y, classes)


@register_dataset
def tiny_imagenet(cfg: DataConfig) -> ImageData:
    """Tiny-ImageNet-200 in its official layout; the labelled ``val`` split is the test set (the official
    ``test`` split has no labels). Class order: ``wnids.txt``."""
    base = Path(os.path.expanduser(cfg.root)) / "tiny-imagenet-200"
    needed = [base / "wnids.txt", base / "train", base / "val" / "val_annotations.txt"]
    if not all(p.exists() for p in needed):
        raise DatasetNotFoundError(
            f"data={cfg.name}: expected {base} with wnids.txt, train/<wnid>/images/*.JPEG and "
            f"val/images + val/val_annotations.txt under data.root={cfg.root!r}. Download "
            "http://cs231n.stanford.edu/tiny-imagenet-200.zip and unzip it into data.root. "
            "Set data.root=<dir> or the environment variable UNLEARN_BENCH_DATA.")
    wnids = (base / "wnids.txt").read_text().split()
    index = {w: i for i, w in enumerate(wnids)}
    train = [(p, index[w]) for w in wnids for p in sorted((base / "train" / w / "images").glob("*.JPEG"))]
    rows = [line.split("\t") for line in (base / "val" / "val_annotations.txt").read_text().splitlines() if line]
    val = [(base / "val" / "images" / name, index[w]) for name, w, *_ in rows]
    size = cfg.img_size

    def load(items: list[tuple[Path, int]]) -> tuple[torch.Tensor, torch.Tensor]:
        return _read_rgb([p for p, _ in items], size), torch.tensor([y for _, y in items])

    (train_x, train_y), (test_x, test_y) = load(train), load(val)
    return ImageData(train_x, train_y, test_x, test_y, wnids)


@register_dataset
def fake(cfg: DataConfig) -> ImageData:
    """Synthetic, learnable data for tests: each class is a fixed random template plus noise."""
    gen = torch.Generator().manual_seed(1234)
    shape = (cfg.in_chans, cfg.img_size, cfg.img_size)
    templates = torch.rand((cfg.num_classes, *shape), generator=gen)

    def sample(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.arange(n) % cfg.num_classes
        x = templates[y] + 0.35 * torch.randn((n, *shape), generator=gen)
        return (x.clamp(0, 1) * 255).round().to(torch.uint8), y

    (tx, ty), (vx, vy) = sample(cfg.n_train), sample(cfg.n_test)
    return ImageData(tx, ty, vx, vy, [f"class{i}" for i in range(cfg.num_classes)])
