"""MNIST and Fashion-MNIST: readers of the IDX files in torchvision's layout, ``.gz`` or not."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from aebnas.datasets._base import DatasetInfo, DatasetSource, RawData
from aebnas.datasets._registry import register_dataset
from aebnas.exceptions import AebnasError

#: IDX type codes -> numpy dtypes (big-endian where it matters)
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

#: key -> IDX file name, as distributed by LeCun / Zalando
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def read_idx(path: Path) -> np.ndarray:
    """Reads one IDX file (optionally gzip-compressed) into an array of its declared shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise AebnasError(f"cannot read IDX file {path}: {exc}") from exc
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise AebnasError(f"{path} is not an IDX file (bad magic number {data[:4].hex()})")
    dtype, ndim = _IDX_DTYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise AebnasError(
            f"IDX file {path} is truncated or corrupt: header says shape {shape} "
            f"({expected} bytes), file holds {len(data) - header}"
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)


class IdxSource(DatasetSource):
    """An MNIST-like dataset: four IDX files of 28 x 28 grey images.

    Each file is looked for, in order, as ``<root>/<folder>/raw/<file>``, the same with
    ``.gz``, ``<root>/<file>`` and ``<root>/<file>.gz`` (torchvision's layout first).
    """

    default_val_size = 5000

    def __init__(self, info: DatasetInfo, folder: str, torchvision_class: str,
                 system_dirs: tuple[Path, ...] = ()) -> None:
        self.info = info
        self.folder = folder
        self.torchvision_class = torchvision_class
        self.system_dirs = system_dirs

    def _candidates(self, root: Path, filename: str) -> list[Path]:
        raw = root / self.folder / "raw"
        return [raw / filename, raw / f"{filename}.gz", root / filename, root / f"{filename}.gz"]

    def find_files(self, root: Path) -> dict[str, Path] | None:
        files = {}
        for key, filename in IDX_FILES.items():
            found = next((p for p in self._candidates(root, filename) if p.is_file()), None)
            if found is None:
                return None
            files[key] = found
        return files

    def expected(self, root: Path) -> str:
        names = ", ".join(IDX_FILES.values())
        return f"{names} (optionally .gz) in {root / self.folder / 'raw'} or {root}"

    def download(self, root: Path) -> None:
        # torchvision fetches all four files whichever split is asked for
        self._download_with(root, self.torchvision_class, [{"train": True}])

    def read(self, files: dict[str, Path]) -> RawData:
        arrays = {key: read_idx(path) for key, path in files.items()}
        for split in ("train", "test"):
            images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
            if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
                raise AebnasError(
                    f"{self.name}: {split} images {files[f'{split}_images']} of shape {images.shape} "
                    f"do not match labels {files[f'{split}_labels']} of shape {labels.shape}; "
                    f"expected n x H x W images and n labels"
                )
        return RawData(
            x_train=arrays["train_images"][:, None],
            y_train=arrays["train_labels"].astype(np.int64),
            x_test=arrays["test_images"][:, None],
            y_test=arrays["test_labels"].astype(np.int64),
        )


MNIST = register_dataset(
    IdxSource(DatasetInfo(name="mnist", num_classes=10, input_shape=(1, 28, 28)), "MNIST", "MNIST")
)
FASHION_MNIST = register_dataset(
    IdxSource(
        DatasetInfo(name="fashion_mnist", num_classes=10, input_shape=(1, 28, 28)),
        "FashionMNIST",
        "FashionMNIST",
        # Debian / Ubuntu package ``dataset-fashion-mnist``
        system_dirs=(Path("/usr/share/datasets/fashion-mnist"),),
    )
)
