"""Tests of aebnas.datasets loading: the embedded digits, tiny files in each real on-disk format, errors, download."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import scipy.io
import torch
import torchvision.datasets
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from aebnas.datasets import (
    DATASETS,
    DatasetInfo,
    DatasetSplits,
    Split,
    dataset_available,
    default_data_dir,
    list_datasets,
    load_dataset,
)
from aebnas.datasets._mnist import read_idx
from aebnas.exceptions import AebnasError, DatasetNotFoundError, UnknownNameError

# ---------------------------------------------------------------------------
# writers of tiny files in the real on-disk formats; each returns the raw arrays
# (x_train, y_train, x_test, y_test) with x as n x C x H x W uint8 and y as labels in 0..K-1
# ---------------------------------------------------------------------------

Raw = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _images(rng: np.random.Generator, n: int, shape: tuple[int, int, int]) -> np.ndarray:
    return rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)


def _labels(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    return rng.permutation(np.arange(n) % k).astype(np.int64)


def _write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        with gzip.open(f"{path}.gz", "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


def _idx_writer(folder: str, layout: str = "raw") -> Callable[[Path, np.random.Generator], Raw]:
    """layout: 'raw' (<root>/<folder>/raw), 'raw_gz', 'root', 'root_gz'."""

    def write(root: Path, rng: np.random.Generator) -> Raw:
        directory = root / folder / "raw" if layout.startswith("raw") else root
        directory.mkdir(parents=True, exist_ok=True)
        x_train, x_test = _images(rng, 40, (1, 28, 28)), _images(rng, 12, (1, 28, 28))
        y_train, y_test = _labels(rng, 40, 10), _labels(rng, 12, 10)
        compress = layout.endswith("gz")
        _write_idx(directory / "train-images-idx3-ubyte", x_train[:, 0], compress)
        _write_idx(directory / "train-labels-idx1-ubyte", y_train, compress)
        _write_idx(directory / "t10k-images-idx3-ubyte", x_test[:, 0], compress)
        _write_idx(directory / "t10k-labels-idx1-ubyte", y_test, compress)
        return x_train, y_train, x_test, y_test

    return write


def _write_cifar_batch(path: Path, x: np.ndarray, y: np.ndarray, label_key: bytes) -> None:
    batch = {b"batch_label": b"tiny", b"data": x.reshape(len(x), -1), label_key: [int(v) for v in y]}
    with open(path, "wb") as f:
        pickle.dump(batch, f)


def write_cifar10(root: Path, rng: np.random.Generator) -> Raw:
    directory = root / "cifar-10-batches-py"
    directory.mkdir(parents=True, exist_ok=True)
    x_train, y_train = _images(rng, 40, (3, 32, 32)), _labels(rng, 40, 10)
    for i in range(5):
        part = slice(8 * i, 8 * (i + 1))
        _write_cifar_batch(directory / f"data_batch_{i + 1}", x_train[part], y_train[part], b"labels")
    x_test, y_test = _images(rng, 12, (3, 32, 32)), _labels(rng, 12, 10)
    _write_cifar_batch(directory / "test_batch", x_test, y_test, b"labels")
    return x_train, y_train, x_test, y_test


def write_cifar100(root: Path, rng: np.random.Generator) -> Raw:
    directory = root / "cifar-100-python"
    directory.mkdir(parents=True, exist_ok=True)
    # fewer samples than classes: stratification is impossible and must fall back
    x_train, y_train = _images(rng, 50, (3, 32, 32)), rng.integers(0, 100, 50)
    x_test, y_test = _images(rng, 12, (3, 32, 32)), rng.integers(0, 100, 12)
    _write_cifar_batch(directory / "train", x_train, y_train, b"fine_labels")
    _write_cifar_batch(directory / "test", x_test, y_test, b"fine_labels")
    return x_train, y_train, x_test, y_test


def write_svhn(root: Path, rng: np.random.Generator) -> Raw:
    root.mkdir(parents=True, exist_ok=True)
    raw = []
    for name, n in (("train_32x32.mat", 40), ("test_32x32.mat", 12)):
        x, y = _images(rng, n, (3, 32, 32)), _labels(rng, n, 10)
        on_disk = np.where(y == 0, 10, y).reshape(-1, 1).astype(np.uint8)  # SVHN: digit 0 is label 10
        scipy.io.savemat(root / name, {"X": x.transpose(2, 3, 1, 0), "y": on_disk})  # 32 x 32 x 3 x n
        raw += [x, y]
    return raw[0], raw[1], raw[2], raw[3]


#: every registered dataset that needs files must have a writer here (checked below)
WRITERS: dict[str, Callable[[Path, np.random.Generator], Raw]] = {
    "mnist": _idx_writer("MNIST", "raw"),
    "fashion_mnist": _idx_writer("FashionMNIST", "root_gz"),
    "cifar10": write_cifar10,
    "cifar100": write_cifar100,
    "svhn": write_svhn,
}
FILE_DATASETS = [name for name in list_datasets() if DATASETS.get(name).needs_files]
TINY_VAL = 10


def write_tiny(name: str, root: Path, seed: int = 0) -> Raw:
    return WRITERS[name](root, np.random.default_rng(seed))


def fit_affine(x: torch.Tensor, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (scale, offset) with x[:, c] == scale_c * raw[:, c] + offset_c, asserting the fit is exact.

    An exact fit with scale > 0 means the pixels kept their layout and order up to normalisation.
    """
    assert x.shape == raw.shape
    scales, offsets = [], []
    for c in range(x.shape[1]):
        target = x[:, c].double().reshape(-1).numpy()
        design = np.stack([raw[:, c].reshape(-1).astype(np.float64), np.ones(target.size)], axis=1)
        (scale, offset), *_ = np.linalg.lstsq(design, target, rcond=None)
        assert scale > 0
        np.testing.assert_allclose(design @ [scale, offset], target, atol=1e-4)
        scales.append(scale)
        offsets.append(offset)
    return np.array(scales).reshape(1, -1, 1, 1), np.array(offsets).reshape(1, -1, 1, 1)


def assert_normalised(splits: DatasetSplits) -> None:
    x = splits.train.x
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3), unbiased=False)
    torch.testing.assert_close(mean, torch.zeros_like(mean), atol=1e-4, rtol=0)
    torch.testing.assert_close(std, torch.ones_like(std), atol=1e-4, rtol=0)


def row_hashes(split: Split) -> list[bytes]:
    return [row.tobytes() for row in split.x.reshape(len(split), -1).numpy()]


def check_splits(splits: DatasetSplits, name: str, n_train_raw: int, n_test: int, val_size: int) -> None:
    info = splits.info
    assert info is DATASETS.get(name).info
    assert len(splits.val) == val_size
    assert len(splits.train) == n_train_raw - val_size
    assert len(splits.test) == n_test
    for split in (splits.train, splits.val, splits.test):
        assert split.x.dtype == torch.float32 and split.y.dtype == torch.int64
        assert tuple(split.x.shape[1:]) == info.input_shape
        assert split.y.min() >= 0 and split.y.max() < info.num_classes
        assert torch.isfinite(split.x).all()
    assert_normalised(splits)
    train, val = row_hashes(splits.train), row_hashes(splits.val)
    assert len(set(train) | set(val)) == n_train_raw  # disjoint, and together the whole train set


# ---------------------------------------------------------------------------
# registry-wide checks
# ---------------------------------------------------------------------------


def test_the_datasets_command_lists_every_registered_dataset(tmp_path: Path, capsys) -> None:
    from aebnas.cli import main

    assert main(["datasets", "--data-dir", str(tmp_path)]) == 0
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()[2:]}
    assert list(rows) == list_datasets() and list_datasets()[0] == "digits"
    for name, (classes, shape, available) in rows.items():
        info = DATASETS.get(name).info
        assert (int(classes), shape) == (info.num_classes, "x".join(map(str, info.input_shape)))
        assert available == ("no" if DATASETS.get(name).needs_files else "yes")  # the data dir is empty


@pytest.mark.parametrize("name", list_datasets())
def test_entry_is_consistent(name: str) -> None:
    source = DATASETS.get(name)
    info = source.info
    assert info.name == name == source.name
    assert info.num_classes >= 2
    assert len(info.input_shape) == 3 and all(v > 0 for v in info.input_shape)
    assert info.crop_padding >= 0
    assert source.val_size_for(60000) >= 1
    assert DatasetInfo.from_dict(info.to_dict()) == info
    if source.needs_files:
        assert name in WRITERS, f"registered dataset {name!r} needs a tiny-file writer in WRITERS"


@pytest.mark.parametrize("name", FILE_DATASETS)
def test_tiny_files_load(name: str, tmp_path: Path) -> None:
    assert not dataset_available(name, tmp_path)
    x_train, _, x_test, y_test = write_tiny(name, tmp_path)
    assert dataset_available(name, tmp_path)
    splits = load_dataset(name, data_dir=tmp_path, val_size=TINY_VAL)
    check_splits(splits, name, len(x_train), len(x_test), TINY_VAL)
    # the test split keeps the file's order: its labels and pixels (up to normalisation) match
    np.testing.assert_array_equal(splits.test.y.numpy(), y_test)
    fit_affine(splits.test.x, x_test)


@pytest.mark.parametrize("name", FILE_DATASETS)
def test_train_and_val_partition_the_train_files(name: str, tmp_path: Path) -> None:
    x_train, y_train, x_test, _ = write_tiny(name, tmp_path)
    splits = load_dataset(name, data_dir=tmp_path, val_size=TINY_VAL, seed=3)
    scale, offset = fit_affine(splits.test.x, x_test)  # the normalisation, learnt from the test split
    label_of = {row.tobytes(): int(label) for row, label in zip(x_train, y_train)}
    seen = []
    for split in (splits.train, splits.val):
        raw = np.rint((split.x.double().numpy() - offset) / scale).astype(np.uint8)
        labels = [label_of[row.tobytes()] for row in raw]  # KeyError: a row not in the train files
        assert labels == split.y.tolist()
        seen += [row.tobytes() for row in raw]
    assert sorted(seen) == sorted(label_of)  # each train row exactly once across train and val


@pytest.mark.parametrize("layout", ["raw", "raw_gz", "root", "root_gz"])
def test_mnist_file_layouts(layout: str, tmp_path: Path) -> None:
    _, _, x_test, y_test = _idx_writer("MNIST", layout)(tmp_path, np.random.default_rng(1))
    splits = load_dataset("mnist", data_dir=tmp_path, val_size=TINY_VAL)
    np.testing.assert_array_equal(splits.test.y.numpy(), y_test)
    fit_affine(splits.test.x, x_test)


def test_svhn_label_10_is_digit_0(tmp_path: Path) -> None:
    _, y_train, _, _ = write_svhn(tmp_path, np.random.default_rng(0))
    assert (y_train == 0).any()
    splits = load_dataset("svhn", data_dir=tmp_path, val_size=TINY_VAL)
    labels = torch.cat([splits.train.y, splits.val.y])
    assert labels.max() == 9 and (labels == 0).sum() == (y_train == 0).sum()


# ---------------------------------------------------------------------------
# missing files, download
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", FILE_DATASETS)
def test_missing_files_raise_with_directory_and_remedy(name: str, tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as excinfo:
        load_dataset(name, data_dir=tmp_path)
    message = str(excinfo.value)
    assert "\n" not in message
    assert name in message and str(tmp_path) in message
    assert "--download" in message and "download=True" in message and "--data-dir" in message


def test_missing_files_name_the_default_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AEBNAS_DATA_DIR", str(tmp_path / "data"))
    assert default_data_dir() == tmp_path / "data"
    with pytest.raises(DatasetNotFoundError, match="cifar-10-batches-py"):
        load_dataset("cifar10")


def test_default_data_dir_without_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AEBNAS_DATA_DIR", raising=False)
    assert default_data_dir() == Path.home() / ".cache" / "aebnas" / "data"


TORCHVISION_CLASSES = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR10",
                       "cifar100": "CIFAR100", "svhn": "SVHN"}


@pytest.mark.parametrize("name", FILE_DATASETS)
def test_download_goes_through_torchvision(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, dict]] = []

    class FakeDataset:
        def __init__(self, root: str, download: bool = False, **kwargs: object) -> None:
            calls.append((root, {"download": download, **kwargs}))
            assert download
            if len(calls) == 1:
                write_tiny(name, Path(root))

    monkeypatch.setattr(torchvision.datasets, TORCHVISION_CLASSES[name], FakeDataset)
    target = tmp_path / "new"
    splits = load_dataset(name, data_dir=target, download=True, val_size=TINY_VAL)
    assert calls and all(root == str(target) for root, _ in calls)
    assert len(splits.test) == 12
    # files now present: a second download=True reads them without calling torchvision
    n_calls = len(calls)
    load_dataset(name, data_dir=target, download=True, val_size=TINY_VAL)
    assert len(calls) == n_calls


def test_svhn_download_fetches_both_splits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    splits_asked: list[str] = []

    class FakeSVHN:
        def __init__(self, root: str, split: str = "train", download: bool = False) -> None:
            splits_asked.append(split)
            write_svhn(Path(root), np.random.default_rng(0))

    monkeypatch.setattr(torchvision.datasets, "SVHN", FakeSVHN)
    load_dataset("svhn", data_dir=tmp_path, download=True, val_size=TINY_VAL)
    assert sorted(splits_asked) == ["test", "train"]


def test_failed_download_is_a_dataset_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Offline:
        def __init__(self, *args: object, **kwargs: object) -> None:
            raise RuntimeError("no network")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", Offline)
    with pytest.raises(DatasetNotFoundError, match="no network"):
        load_dataset("cifar10", data_dir=tmp_path, download=True)


# ---------------------------------------------------------------------------
# digits, options and bad input
# ---------------------------------------------------------------------------


def test_digits_loads() -> None:
    splits = load_dataset("digits")
    assert splits.info.input_shape == (1, 8, 8) and splits.info.num_classes == 10
    n_train_part = 1797 - 360  # fixed 20% test split
    check_splits(splits, "digits", n_train_part, 360, DATASETS.get("digits").val_size_for(n_train_part))
    assert 0.1 * n_train_part <= len(splits.val) <= 0.2 * n_train_part
    test = set(row_hashes(splits.test))
    assert not test & (set(row_hashes(splits.train)) | set(row_hashes(splits.val)))
    # stratified: every class in every split, validation within one sample of proportional
    counts = torch.bincount(splits.val.y, minlength=10)
    assert counts.min() >= len(splits.val) // 10 - 1 and counts.max() <= len(splits.val) // 10 + 2


def test_digits_is_deterministic_and_seeded() -> None:
    a, b, c = load_dataset("digits", seed=0), load_dataset("digits", seed=0), load_dataset("digits", seed=1)
    for split in ("train", "val", "test"):
        assert torch.equal(getattr(a, split).x, getattr(b, split).x)
        assert torch.equal(getattr(a, split).y, getattr(b, split).y)
    assert not torch.equal(a.val.y, c.val.y)  # another seed carves another validation set
    # the test split is sklearn's fixed stratified 20% (random_state 0) whatever the seed
    digits = load_digits()
    _, test_idx = train_test_split(np.arange(1797), test_size=0.2, stratify=digits.target, random_state=0)
    test_idx = np.sort(test_idx)
    for splits in (a, c):
        np.testing.assert_array_equal(splits.test.y.numpy(), digits.target[test_idx])
        fit_affine(splits.test.x, digits.images[test_idx][:, None])


def test_digits_always_available(tmp_path: Path) -> None:
    assert dataset_available("digits") and dataset_available("digits", tmp_path / "nowhere")


def test_val_size_and_max_train() -> None:
    full = load_dataset("digits", val_size=100)
    small = load_dataset("digits", val_size=100, max_train=200)
    assert len(full.val) == len(small.val) == 100 and len(small.train) == 200
    assert torch.equal(full.val.y, small.val.y)  # max_train leaves validation alone
    assert set(row_hashes(small.train)).isdisjoint(row_hashes(small.val))
    assert torch.bincount(small.train.y, minlength=10).min() >= 19  # stratified subsample
    assert_normalised(small)  # statistics of the final (subsampled) train split
    assert len(load_dataset("digits", max_train=10**6).train) == len(load_dataset("digits").train)


def test_a_holdout_comes_from_the_images_max_train_leaves_over() -> None:
    plain = load_dataset("digits", max_train=900)
    held = load_dataset("digits", max_train=900, holdout_size=200)
    for split in ("train", "val", "test"):  # asking for a holdout changes no other split
        assert torch.equal(getattr(plain, split).x, getattr(held, split).x)
    assert plain.holdout is None and len(held.holdout) == 200
    seen = set(row_hashes(held.train)) | set(row_hashes(held.val)) | set(row_hashes(held.test))
    assert seen.isdisjoint(row_hashes(held.holdout))
    assert torch.bincount(held.holdout.y, minlength=10).min() >= 19  # stratified
    every_spare = load_dataset("digits", max_train=900, holdout_size=321)  # 1437 - 216 validation - 900 train
    assert len(every_spare.holdout) == 321
    with pytest.raises(AebnasError, match="0 are left over by max_train=None"):
        load_dataset("digits", holdout_size=1)


@pytest.mark.parametrize("val_size", [1437, 5000])
def test_val_size_too_large(val_size: int) -> None:
    with pytest.raises(AebnasError, match="must be smaller than the 1437 training samples"):
        load_dataset("digits", val_size=val_size)


def test_default_val_size_larger_than_tiny_files(tmp_path: Path) -> None:
    write_cifar10(tmp_path, np.random.default_rng(0))
    with pytest.raises(AebnasError, match="default validation size of cifar10 .5000."):
        load_dataset("cifar10", data_dir=tmp_path)


@pytest.mark.parametrize("kwargs", [{"val_size": 0}, {"val_size": -3}, {"val_size": True},
                                    {"val_size": 1.5}, {"max_train": 0}])
def test_bad_sizes(kwargs: dict) -> None:
    with pytest.raises(AebnasError, match="must be a positive integer"):
        load_dataset("digits", **kwargs)


def test_unknown_name_lists_allowed() -> None:
    with pytest.raises(UnknownNameError, match="allowed: digits, mnist"):
        load_dataset("imagenet")
    with pytest.raises(UnknownNameError):
        dataset_available("imagenet")


def test_corrupt_idx_file(tmp_path: Path) -> None:
    path = tmp_path / "bad-idx3-ubyte"
    _write_idx(path, np.zeros((3, 4, 4), dtype=np.uint8), compress=False)
    assert read_idx(path).shape == (3, 4, 4)
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(AebnasError, match="truncated"):
        read_idx(path)
    path.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(AebnasError, match="not an IDX file"):
        read_idx(path)


def test_wrong_image_shape_in_files(tmp_path: Path) -> None:
    directory = tmp_path / "cifar-100-python"
    directory.mkdir()
    for name in ("train", "test"):
        with open(directory / name, "wb") as f:
            pickle.dump({b"data": np.zeros((4, 100), np.uint8), b"fine_labels": [0, 1, 2, 3]}, f)
    with pytest.raises(AebnasError, match="expected n x 3072"):
        load_dataset("cifar100", data_dir=tmp_path, val_size=1)


DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not (DEBIAN_FASHION_MNIST / "train-images-idx3-ubyte.gz").is_file(),
                    reason="Debian package dataset-fashion-mnist not installed")
def test_fashion_mnist_from_debian_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AEBNAS_DATA_DIR", str(tmp_path))  # an empty default directory
    assert dataset_available("fashion_mnist")
    assert not dataset_available("fashion_mnist", tmp_path)  # an explicit data_dir is the only place
    splits = load_dataset("fashion_mnist", max_train=1000)
    assert len(splits.val) == 5000 and len(splits.train) == 1000 and len(splits.test) == 10000
    assert torch.equal(torch.bincount(splits.test.y), torch.full((10,), 1000))
