"""Loaders on small fake copies written in each dataset's real on-disk format, and real Fashion-MNIST."""

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import compose_config
from unlearn_bench.config import DataConfig
from unlearn_bench.data.datasets import (
    DEBIAN_FASHION_MNIST,
    DatasetNotFoundError,
    ImageData,
    load_dataset,
    write_cifar10,
)
from unlearn_bench.data.task import make_task
from unlearn_bench.errors import ConfigError


def data_cfg(name: str, root: Path, **kw) -> DataConfig:
    cfg = compose_config([f"data={name}", f"data.root={root}", "data.verify_files=false"]).data
    for k, v in kw.items():
        cfg[k] = v
    return cfg


def write_cifar(root: Path, folder: str, n_per_file: int, label_key: str, num_classes: int, train_files):
    base = root / folder
    base.mkdir(parents=True)
    rng = np.random.RandomState(0)
    for name in [*train_files, "test_batch" if folder.startswith("cifar-10-") else "test"]:
        labels = (np.arange(n_per_file) % num_classes).tolist()
        data = rng.randint(0, 256, (n_per_file, 3072), dtype=np.uint8)
        data[:, 0] = labels  # first red pixel = label, to check image/label alignment after loading
        with open(base / name, "wb") as f:
            # CIFAR-100's files also carry the 20 super-class labels (here fine % 20)
            pickle.dump({"data": data, label_key: labels, "coarse_labels": [y % 20 for y in labels],
                         "batch_label": "x"}, f)
    if folder.startswith("cifar-10-"):
        meta_name, meta = "batches.meta", {"label_names": [f"c{i}" for i in range(num_classes)]}
    else:
        meta_name, meta = "meta", {"fine_label_names": [f"c{i}" for i in range(num_classes)],
                                   "coarse_label_names": [f"super{i}" for i in range(20)]}
    with open(base / meta_name, "wb") as f:
        pickle.dump(meta, f)


def test_cifar10_loader_on_fake_copy(tmp_path):
    write_cifar(tmp_path, "cifar-10-batches-py", 20, "labels", 10, [f"data_batch_{i}" for i in range(1, 6)])
    data = load_dataset(data_cfg("cifar10", tmp_path))
    assert data.train_x.shape == (100, 3, 32, 32) and data.train_x.dtype == torch.uint8
    assert data.test_x.shape == (20, 3, 32, 32)
    torch.testing.assert_close(data.train_x[:, 0, 0, 0].long(), data.train_y)  # HWC -> CHW kept pixels
    assert data.classes == [f"c{i}" for i in range(10)]
    # SalUn split: 10% of each class held out -> 90 train examples
    task = make_task(data_cfg("cifar10", tmp_path), compose_config(["scenario=random10"]).scenario,
                     compose_config(["train=salun"]).train, seed=0, device="cpu")
    assert len(task.train_y) == 90 and len(task.val_y) == 10
    assert len(task.forget_idx) == 9


def test_a_cifar10_copy_written_by_write_cifar10_loads_back_as_written(tmp_path):
    g = torch.Generator().manual_seed(0)
    data = ImageData(torch.randint(0, 256, (23, 3, 32, 32), generator=g, dtype=torch.uint8), torch.arange(23) % 10,
                     torch.randint(0, 256, (7, 3, 32, 32), generator=g, dtype=torch.uint8), torch.arange(7) % 10,
                     [f"c{i}" for i in range(10)])
    write_cifar10(data, tmp_path, files=5)
    assert sorted(p.name for p in (tmp_path / "cifar-10-batches-py").iterdir()) == [
        "batches.meta", *(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]
    loaded = load_dataset(data_cfg("cifar10", tmp_path))
    for name in ("train_x", "train_y", "test_x", "test_y"):
        torch.testing.assert_close(getattr(loaded, name), getattr(data, name))
    assert loaded.classes == data.classes


def test_cifar100_loader_on_fake_copy(tmp_path):
    write_cifar(tmp_path, "cifar-100-python", 200, "fine_labels", 100, ["train"])
    data = load_dataset(data_cfg("cifar100", tmp_path))
    assert data.train_x.shape == (200, 3, 32, 32) and int(data.train_y.max()) == 99
    torch.testing.assert_close(data.train_x[:, 0, 0, 0].long(), data.train_y)


def test_cifar20_reads_the_coarse_labels_of_the_cifar100_files(tmp_path):
    write_cifar(tmp_path, "cifar-100-python", 200, "fine_labels", 100, ["train"])
    data = load_dataset(data_cfg("cifar20", tmp_path))
    fine = data.train_x[:, 0, 0, 0].long()  # the fake files store the fine label in the first pixel
    torch.testing.assert_close(data.train_y, fine % 20)
    assert int(data.test_y.max()) == 19 and data.classes == [f"super{i}" for i in range(20)]
    assert data.sub_classes == [f"c{i}" for i in range(100)]
    torch.testing.assert_close(data.train_sub, fine)


def test_subclass_scenario_forgets_one_fine_class_of_cifar20(tmp_path):
    write_cifar(tmp_path, "cifar-100-python", 400, "fine_labels", 100, ["train"])
    scenario = compose_config(["scenario=subclass", "scenario.subclass=c23"]).scenario
    task = make_task(data_cfg("cifar20", tmp_path), scenario, compose_config(["train=salun"]).train, 0, "cpu")
    forget_x, forget_y = task.split("forget")
    assert len(forget_y) > 0 and set(forget_y.tolist()) == {3}  # fine 23 lies in super-class 23 % 20
    assert set(forget_x[:, 0, 0, 0].tolist()) == {23}  # exactly the fine class's images
    assert 3 in task.split("retain")[1].tolist() and 3 in task.split("test")[1].tolist()  # super-class stays
    typo = compose_config(["scenario=subclass", "scenario.subclass=rokcet"]).scenario
    with pytest.raises(ValueError, match="allowed: .*c99"):
        make_task(data_cfg("cifar20", tmp_path), typo, compose_config(["train=salun"]).train, 0, "cpu")
    with pytest.raises(ValueError, match="sub-class labels"):
        make_task(data_cfg("cifar100", tmp_path), scenario, compose_config(["train=salun"]).train, 0, "cpu")


def test_tiny_imagenet_loader_on_fake_copy(tmp_path):
    from PIL import Image

    base = tmp_path / "tiny-imagenet-200"
    wnids = ["n01443537", "n01629819", "n01641577"]
    (base / "val" / "images").mkdir(parents=True)
    (base / "wnids.txt").write_text("\n".join(wnids) + "\n")
    annotations = []
    for c, wnid in enumerate(wnids):
        (base / "train" / wnid / "images").mkdir(parents=True)
        for i in range(4):  # PNG-encoded content under the real .JPEG names: lossless, so pixels can be checked
            Image.new("RGB", (64, 64), (c * 50, i, 7)).save(base / "train" / wnid / "images" / f"{wnid}_{i}.JPEG",
                                                            format="PNG")
        name = f"val_{c}.JPEG"
        Image.new("RGB", (64, 64), (c * 50, 9, 7)).save(base / "val" / "images" / name, format="PNG")
        annotations.append(f"{name}\t{wnid}\t0\t0\t63\t63")
    (base / "val" / "val_annotations.txt").write_text("\n".join(annotations[::-1]) + "\n")
    data = load_dataset(data_cfg("tiny_imagenet", tmp_path))
    assert data.train_x.shape == (12, 3, 64, 64) and data.test_x.shape == (3, 3, 64, 64)
    torch.testing.assert_close(data.train_x[:, 0, 0, 0].long(), data.train_y * 50)  # image/label aligned
    torch.testing.assert_close(data.test_x[:, 0, 0, 0].long(), data.test_y * 50)
    assert data.classes == wnids


def test_tiny_imagenet_without_files_says_where_they_go(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="tiny-imagenet-200.zip"):
        load_dataset(data_cfg("tiny_imagenet", tmp_path))


@pytest.mark.parametrize("name,train_dir,test_dir", [("imagenette", "imagenette2/train", "imagenette2/val"),
                                                    ("imagenet10", "train", "validation")])
def test_image_folder_datasets_on_fake_copies(tmp_path, name, train_dir, test_dir):
    from PIL import Image

    wnids = [f"n0{i}" for i in range(10)]
    for folder, n in ((train_dir, 3), (test_dir, 1)):
        for c, wnid in enumerate(wnids):
            (tmp_path / folder / wnid).mkdir(parents=True)
            for i in range(n):
                image = Image.new("RGB", (40, 30), (0, 0, 0))
                image.paste((c * 20, 100, 200), (2, 2, 38, 28))  # class-coloured centre, thin black border
                image.save(tmp_path / folder / wnid / f"{wnid}_{i}.JPEG", format="PNG")
    data = load_dataset(data_cfg(name, tmp_path, img_size=16, resize=20))
    assert data.train_x.shape == (30, 3, 16, 16) and data.test_x.shape == (10, 3, 16, 16)
    assert data.classes == wnids
    # the centre crop keeps the class-coloured centre: the first channel encodes the label
    torch.testing.assert_close(data.train_x[:, 0, 8, 8].long(), data.train_y * 20)
    assert int(data.train_x[:, 1].float().mean()) == 100  # no black border left after the centre crop


def test_image_folder_without_files_says_where_they_go(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="imagenette2/train"):
        load_dataset(data_cfg("imagenette", tmp_path))


def test_svhn_loader_on_fake_copy(tmp_path):
    from scipy.io import savemat

    for split, n in (("train", 30), ("test", 10)):
        labels = (np.arange(n) % 10) + 1  # SVHN stores digit 0 as label 10
        x = np.random.RandomState(0).randint(0, 256, (32, 32, 3, n), dtype=np.uint8)
        savemat(tmp_path / f"{split}_32x32.mat", {"X": x, "y": labels[:, None]})
    data = load_dataset(data_cfg("svhn", tmp_path))
    assert data.train_x.shape == (30, 3, 32, 32) and data.test_x.shape == (10, 3, 32, 32)
    assert set(data.train_y.tolist()) == set(range(10))


def test_missing_cifar_fails_with_instructions(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="cifar-10-batches-py.*UNLEARN_BENCH_DATA"):
        load_dataset(data_cfg("cifar10", tmp_path))


def test_digits_is_bundled_and_uint8():
    data = load_dataset(compose_config(["data=digits"]).data)
    assert data.train_x.shape == (1437, 1, 8, 8) and data.test_x.shape == (360, 1, 8, 8)
    assert data.train_x.dtype == torch.uint8 and int(data.train_x.max()) == 255


@pytest.mark.skipif(not Path(DEBIAN_FASHION_MNIST).exists(), reason="apt-get install dataset-fashion-mnist")
def test_real_fashion_mnist_from_debian(tmp_path):
    data = load_dataset(data_cfg("fashion_mnist", tmp_path))
    assert data.train_x.shape == (60000, 1, 28, 28) and data.test_x.shape == (10000, 1, 28, 28)
    assert torch.bincount(data.train_y).tolist() == [6000] * 10


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file (MNIST format: zero bytes, uint8 type code 0x08, ndim, big-endian dims, raw bytes)."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist5_groups_the_ten_classes_into_garment_super_classes(tmp_path):
    rng = np.random.RandomState(0)
    for split, n in (("train", 200), ("t10k", 50)):
        labels = np.arange(n) % 10
        images = rng.randint(0, 256, (n, 28, 28))
        images[:, 0, 0] = labels  # the label in the first pixel, to check the images follow their labels
        write_idx(tmp_path / f"{split}-images-idx3-ubyte", images)
        write_idx(tmp_path / f"{split}-labels-idx1-ubyte", labels)
    data = load_dataset(data_cfg("fashion_mnist5", tmp_path))
    assert data.classes == ["tops", "trousers", "dresses", "footwear", "bags"]
    fine = data.train_x[:, 0, 0, 0].long()
    torch.testing.assert_close(data.train_sub, fine)
    # T-shirt 0, pullover 2, coat 4, shirt 6 -> tops; trouser 1; dress 3; sandal 5, sneaker 7, ankle boot 9 ->
    # footwear; bag 8
    coarse = torch.tensor([0, 1, 0, 2, 0, 3, 0, 3, 4, 3])
    torch.testing.assert_close(data.train_y, coarse[fine])
    torch.testing.assert_close(data.test_y, coarse[data.test_sub])
    assert data.sub_classes[7] == "sneaker" and data.sub_classes[9] == "ankle_boot"
    scenario = compose_config(["scenario=subclass", "scenario.subclass=sneaker"]).scenario
    task = make_task(data_cfg("fashion_mnist5", tmp_path), scenario, compose_config(["train=fashion_mnist5"]).train,
                     0, "cpu")
    forget_x, forget_y = task.split("forget")
    assert set(forget_x[:, 0, 0, 0].tolist()) == {7} and set(forget_y.tolist()) == {3}
    assert 3 in task.split("retain")[1].tolist()  # sandals and ankle boots keep the footwear class


def test_pins_on_fake_copy_of_the_kaggle_layout(tmp_path):
    from PIL import Image

    names = ["Adriana Lima", "Alex Lawther", "Alexandra Daddario"]
    for c, name in enumerate(names):  # the archive's layout: pins_<Name>/<Name><i>_<j>.jpg, names with spaces
        folder = tmp_path / "105_classes_pins_dataset" / f"pins_{name}"
        folder.mkdir(parents=True)
        for i in range(10):
            Image.new("RGB", (48, 60), (c * 80, i * 10, 5)).save(folder / f"{name}{i}_{i}.jpg", format="PNG")
    data = load_dataset(data_cfg("pins", tmp_path, num_classes=3))
    assert data.classes == names  # sorted folder order (ImageFolder indices), without the pins_ prefix
    assert data.train_x.shape == (24, 3, 32, 32) and data.test_x.shape == (6, 3, 32, 32)
    assert torch.bincount(data.test_y).tolist() == [2, 2, 2]  # stratified 20% of each identity
    torch.testing.assert_close(data.train_x[:, 0, 16, 16].long(), data.train_y * 80)  # image/label aligned
    torch.testing.assert_close(data.test_x[:, 0, 16, 16].long(), data.test_y * 80)
    # no image in both splits (the green channel tells images of one identity apart), and the split is fixed
    seen = {(int(y), int(g)) for y, g in zip(data.train_y, data.train_x[:, 1, 0, 0])}
    assert not seen & {(int(y), int(g)) for y, g in zip(data.test_y, data.test_x[:, 1, 0, 0])}
    torch.testing.assert_close(load_dataset(data_cfg("pins", tmp_path, num_classes=3)).test_x, data.test_x)
    with pytest.raises(DatasetNotFoundError, match="3 identity folders, data.num_classes=105"):
        load_dataset(data_cfg("pins", tmp_path))


def test_pins_without_files_says_where_they_go(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="105_classes_pins_dataset/pins_<Name>.*pins-face-recognition"):
        load_dataset(data_cfg("pins", tmp_path))


def test_oxford_pets_on_fake_copy_read_by_torchvision(tmp_path):
    from PIL import Image

    base = tmp_path / "oxford-iiit-pet"
    (base / "images").mkdir(parents=True)
    (base / "annotations").mkdir()
    breeds = ["Abyssinian", "american_bulldog", "Bengal"]  # cats are capitalised, dogs not, in the real file names
    lines = {"trainval": [], "test": []}
    for c, breed in enumerate(breeds):
        for i in range(1, 6):
            split = "test" if i == 5 else "trainval"
            image = Image.new("RGB", (50, 40), (0, 0, 0))
            image.paste((c * 60, 30 * i, 9), (2, 2, 48, 38))  # label-coloured centre, thin black border
            image.save(base / "images" / f"{breed}_{i}.jpg", format="PNG")
            lines[split].append(f"{breed}_{i} {c + 1} {1 if breed[0].isupper() else 2} {i}")
    for split, rows in lines.items():
        (base / "annotations" / f"{split}.txt").write_text("\n".join(rows) + "\n")
    data = load_dataset(data_cfg("oxford_pets", tmp_path, num_classes=3, img_size=16, resize=20))
    assert data.classes == ["Abyssinian", "American Bulldog", "Bengal"]  # torchvision's class names
    assert data.train_x.shape == (12, 3, 16, 16) and data.test_x.shape == (3, 3, 16, 16)
    assert data.test_y.tolist() == [0, 1, 2] and data.train_x.dtype == torch.uint8
    torch.testing.assert_close(data.train_x[:, 0, 8, 8].long(), data.train_y * 60)  # image/label aligned
    assert data.test_x[:, 1, 8, 8].tolist() == [150, 150, 150]  # test = the images listed in test.txt
    assert int(data.train_x[:, 2].float().mean()) == 9  # centre crop removed the black border


def test_oxford_pets_without_files_says_where_they_go(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="oxford-iiit-pet/images.*robots.ox.ac.uk"):
        load_dataset(data_cfg("oxford_pets", tmp_path))


def test_train_subset_is_stratified_fixed_and_checked(tmp_path):
    full = load_dataset(data_cfg("digits", tmp_path))
    cfg = data_cfg("digits", tmp_path, train_subset=300)
    first, again = load_dataset(cfg), load_dataset(cfg)
    assert len(first.train_y) == 300 and torch.equal(first.train_x, again.train_x)  # one subset for every run
    assert torch.equal(first.test_y, full.test_y)  # the test split is kept whole
    share = np.bincount(first.train_y.numpy(), minlength=10) / 300
    assert np.allclose(share, np.bincount(full.train_y.numpy(), minlength=10) / len(full.train_y), atol=0.01)
    rows = {tuple(x.flatten().tolist()) for x in full.train_x}
    assert all(tuple(x.flatten().tolist()) in rows for x in first.train_x)  # real images of the data, not copies
    task_a = make_task(cfg, compose_config(["scenario=random10"]).scenario, compose_config([]).train, 1, "cpu")
    task_b = make_task(cfg, compose_config(["scenario=random10"]).scenario, compose_config([]).train, 2, "cpu")
    for task in (task_a, task_b):  # each seed's train + validation split is the one subset
        held = torch.cat([task.train_x, task.val_x])
        assert len(held) == 300 and len(task.forget_idx) == round(0.1 * len(task.train_x))
        assert sorted(map(bytes, held.numpy())) == sorted(map(bytes, first.train_x.numpy()))
    with pytest.raises(ConfigError, match="data.train_subset"):
        load_dataset(data_cfg("digits", tmp_path, train_subset=10**6))
