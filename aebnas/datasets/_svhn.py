"""SVHN (cropped digits): reader of ``train_32x32.mat`` / ``test_32x32.mat``, label 10 mapped to 0."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aebnas.datasets._base import DatasetInfo, DatasetSource, RawData
from aebnas.datasets._registry import register_dataset
from aebnas.exceptions import AebnasError

SVHN_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat"}


def read_svhn_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Reads one SVHN .mat file: ``n x 3 x 32 x 32`` uint8 images and ``n`` int64 labels in 0..9."""
    import scipy.io

    try:
        mat = scipy.io.loadmat(str(path))
    except (OSError, ValueError, NotImplementedError) as exc:
        raise AebnasError(f"cannot read SVHN file {path}: {exc}") from exc
    if "X" not in mat or "y" not in mat:
        raise AebnasError(f"SVHN file {path} lacks the 'X' or 'y' variable")
    x, y = mat["X"], np.asarray(mat["y"]).reshape(-1).astype(np.int64)
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3) or x.shape[3] != len(y):
        raise AebnasError(
            f"SVHN file {path}: X of shape {x.shape} and {len(y)} labels; expected 32 x 32 x 3 x n and n labels"
        )
    x = np.ascontiguousarray(x.transpose(3, 2, 0, 1), dtype=np.uint8)  # n x 3 x 32 x 32
    return x, y % 10  # SVHN stores digit 0 as label 10


class SvhnSource(DatasetSource):
    """SVHN: two MATLAB files directly under the root (torchvision's layout)."""

    info = DatasetInfo(name="svhn", num_classes=10, input_shape=(3, 32, 32), crop_padding=4,
                       horizontal_flip=False)  # flipped digits are other symbols
    default_val_size = 7325

    def find_files(self, root: Path) -> dict[str, Path] | None:
        files = {key: root / name for key, name in SVHN_FILES.items()}
        return files if all(p.is_file() for p in files.values()) else None

    def expected(self, root: Path) -> str:
        return f"{', '.join(SVHN_FILES.values())} in {root}"

    def download(self, root: Path) -> None:
        self._download_with(root, "SVHN", [{"split": "train"}, {"split": "test"}])

    def read(self, files: dict[str, Path]) -> RawData:
        x_train, y_train = read_svhn_mat(files["train"])
        x_test, y_test = read_svhn_mat(files["test"])
        return RawData(x_train, y_train, x_test, y_test)


SVHN = register_dataset(SvhnSource())
