"""The dataset contract: public result dataclasses and the base class every registered dataset implements."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aebnas.exceptions import AebnasError, DatasetNotFoundError

if TYPE_CHECKING:  # pragma: no cover  (torch is imported where splits are made: listing datasets needs none)
    from torch import Tensor


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset is: its classes, image shape and the augmentation that suits it.

    Attributes:
        name: registry name, e.g. ``"cifar10"``.
        num_classes: number of classes; labels are ``0 .. num_classes - 1``.
        input_shape: ``C x H x W`` of one image.
        crop_padding: zero padding of the random-crop augmentation; 0 = no crop.
        horizontal_flip: whether random horizontal flips keep labels valid.
        pixel_max: the brightest raw pixel value (255 for 8-bit images); a pretrained backbone maps raw
            pixels to its weights' [0, 1] normalisation with it.
    """

    name: str
    num_classes: int
    input_shape: tuple[int, int, int]
    crop_padding: int = 0
    horizontal_flip: bool = False
    pixel_max: float = 255.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "num_classes": self.num_classes,
            "input_shape": list(self.input_shape),
            "crop_padding": self.crop_padding,
            "horizontal_flip": self.horizontal_flip,
            "pixel_max": self.pixel_max,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DatasetInfo":
        return cls(
            name=str(data["name"]),
            num_classes=int(data["num_classes"]),
            input_shape=tuple(int(v) for v in data["input_shape"]),  # type: ignore[arg-type]
            crop_padding=int(data.get("crop_padding", 0)),
            horizontal_flip=bool(data.get("horizontal_flip", False)),
            pixel_max=float(data.get("pixel_max", 255.0)),
        )


@dataclass(frozen=True)
class Split:
    """One split held in memory.

    Attributes:
        x: ``n x C x H x W`` float32 images, normalised with the train split's per-channel mean/std.
        y: ``n`` int64 labels.
    """

    x: Tensor
    y: Tensor

    def __post_init__(self) -> None:
        if self.x.dim() != 4 or self.y.dim() != 1 or self.x.shape[0] != self.y.shape[0]:
            raise AebnasError(
                f"Split needs x of shape n x C x H x W and y of shape n; got {tuple(self.x.shape)} "
                f"and {tuple(self.y.shape)}"
            )

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass(frozen=True)
class DatasetSplits:
    """A loaded dataset: its info and the train / validation / test splits.

    Attributes:
        mean, std: `C` per-channel mean and standard deviation of the train split's raw images; every
            split holds ``(raw - mean) / std`` (an exported network's runtime applies the same).
        holdout: images outside train and validation that a search never trains or selects on (the
            confirmation tunes its thresholds on them), or None.
    """

    info: DatasetInfo
    train: Split
    val: Split
    test: Split
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    holdout: Split | None = None


@dataclass(frozen=True)
class RawData:
    """Arrays as read from disk, before splitting and normalisation.

    Attributes:
        x_train: ``N x C x H x W`` uint8 (or any real dtype) images of the official train set.
        y_train: ``N`` integer labels.
        x_test: ``M x C x H x W`` images of the official test set.
        y_test: ``M`` integer labels.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


class DatasetSource(abc.ABC):
    """One registered dataset: its info, default validation size, and how to find, read and fetch it.

    Subclasses locate their files under a root directory (``find_files``), read them
    (``read``) and fetch them (``download``); ``aebnas.datasets.load_dataset`` does the
    splitting and normalisation common to all.
    """

    #: the dataset's description
    info: DatasetInfo
    #: default validation size: an int is a number of samples, a float in (0, 1) a fraction of train
    default_val_size: int | float
    #: extra directories searched when the user gives no data directory (e.g. system packages)
    system_dirs: tuple[Path, ...] = ()
    #: whether the dataset needs files on disk at all (False for embedded data)
    needs_files: bool = True

    @property
    def name(self) -> str:
        return self.info.name

    def val_size_for(self, n_train: int) -> int:
        """Default validation size for an official train set of ``n_train`` samples."""
        if isinstance(self.default_val_size, float):
            return max(1, int(round(self.default_val_size * n_train)))
        return int(self.default_val_size)

    @abc.abstractmethod
    def find_files(self, root: Path) -> dict[str, Path] | None:
        """The dataset's files under ``root`` (key -> path), or None when any is missing."""

    @abc.abstractmethod
    def expected(self, root: Path) -> str:
        """Human-readable description of the files expected under ``root``, for error messages."""

    @abc.abstractmethod
    def read(self, files: dict[str, Path]) -> RawData:
        """Reads the files found by ``find_files``."""

    @abc.abstractmethod
    def download(self, root: Path) -> None:
        """Fetches the dataset into ``root`` (through torchvision)."""

    def _download_with(self, root: Path, class_name: str, calls: list[dict[str, Any]]) -> None:
        """Calls ``torchvision.datasets.<class_name>(root, download=True, **kw)`` for each kw in ``calls``."""
        import torchvision.datasets

        cls = getattr(torchvision.datasets, class_name)
        root.mkdir(parents=True, exist_ok=True)
        try:
            for kwargs in calls:
                cls(str(root), download=True, **kwargs)
        except Exception as exc:  # network errors, bad archives: report as missing data
            raise DatasetNotFoundError(
                f"downloading dataset {self.name!r} into {root} failed ({type(exc).__name__}: {exc}); "
                f"check the network, or pass --data-dir / data_dir pointing to an existing copy"
            ) from exc
