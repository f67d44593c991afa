"""CIFAR-10 and CIFAR-100: readers of the python pickle batches (``cifar-10-batches-py``, ``cifar-100-python``)."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from aebnas.datasets._base import DatasetInfo, DatasetSource, RawData
from aebnas.datasets._registry import register_dataset
from aebnas.exceptions import AebnasError


def _get(batch: dict[Any, Any], key: str, path: Path) -> Any:
    for k in (key.encode(), key):
        if k in batch:
            return batch[k]
    raise AebnasError(f"CIFAR batch {path} has no {key!r} entry; keys: {sorted(map(str, batch))}")


def read_cifar_batch(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """Reads one pickled CIFAR batch: ``n x 3 x 32 x 32`` uint8 images and ``n`` int64 labels."""
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
    except (OSError, pickle.UnpicklingError, EOFError) as exc:
        raise AebnasError(f"cannot read CIFAR batch {path}: {exc}") from exc
    data = np.asarray(_get(batch, "data", path), dtype=np.uint8)
    labels = np.asarray(_get(batch, label_key, path), dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
        raise AebnasError(
            f"CIFAR batch {path}: data of shape {data.shape} and {len(labels)} labels; "
            f"expected n x 3072 and n labels"
        )
    return data.reshape(-1, 3, 32, 32), labels


class CifarSource(DatasetSource):
    """A CIFAR dataset: pickled batches in one folder under the root, 3 x 32 x 32 colour images."""

    default_val_size = 5000

    def __init__(self, info: DatasetInfo, folder: str, train_files: tuple[str, ...], test_file: str,
                 label_key: str, torchvision_class: str) -> None:
        self.info = info
        self.folder = folder
        self.train_files = train_files
        self.test_file = test_file
        self.label_key = label_key
        self.torchvision_class = torchvision_class

    def find_files(self, root: Path) -> dict[str, Path] | None:
        files = {name: root / self.folder / name for name in (*self.train_files, self.test_file)}
        return files if all(p.is_file() for p in files.values()) else None

    def expected(self, root: Path) -> str:
        return f"{', '.join((*self.train_files, self.test_file))} in {root / self.folder}"

    def download(self, root: Path) -> None:
        self._download_with(root, self.torchvision_class, [{"train": True}])

    def read(self, files: dict[str, Path]) -> RawData:
        train = [read_cifar_batch(files[name], self.label_key) for name in self.train_files]
        x_test, y_test = read_cifar_batch(files[self.test_file], self.label_key)
        if len(train) == 1:
            x_train, y_train = train[0]
        else:
            x_train = np.concatenate([x for x, _ in train])
            y_train = np.concatenate([y for _, y in train])
        return RawData(x_train, y_train, x_test, y_test)


CIFAR10 = register_dataset(
    CifarSource(
        DatasetInfo(name="cifar10", num_classes=10, input_shape=(3, 32, 32), crop_padding=4,
                    horizontal_flip=True),
        folder="cifar-10-batches-py",
        train_files=tuple(f"data_batch_{i}" for i in range(1, 6)),
        test_file="test_batch",
        label_key="labels",
        torchvision_class="CIFAR10",
    )
)
CIFAR100 = register_dataset(
    CifarSource(
        DatasetInfo(name="cifar100", num_classes=100, input_shape=(3, 32, 32), crop_padding=4,
                    horizontal_flip=True),
        folder="cifar-100-python",
        train_files=("train",),
        test_file="test",
        label_key="fine_labels",
        torchvision_class="CIFAR100",
    )
)
