"""Loading a registered dataset into normalised in-memory train / validation / test tensors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from aebnas.datasets._base import DatasetSource, DatasetSplits, RawData, Split
from aebnas.datasets._registry import DATASETS
from aebnas.exceptions import AebnasError, DatasetNotFoundError

if TYPE_CHECKING:  # pragma: no cover
    import torch

#: environment variable overriding the default data directory
DATA_DIR_ENV = "AEBNAS_DATA_DIR"


def default_data_dir() -> Path:
    """``$AEBNAS_DATA_DIR`` if set (and non-empty), else ``~/.cache/aebnas/data``."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "aebnas" / "data"


def list_datasets() -> list[str]:
    """Names of all registered datasets, in registration order."""
    return DATASETS.names()


def _search_dirs(source: DatasetSource, data_dir: str | Path | None) -> list[Path]:
    """The directories searched for ``source``: the given one only, or the default then system ones."""
    if data_dir is not None:
        return [Path(data_dir).expanduser()]
    return [default_data_dir(), *source.system_dirs]


def _find(source: DatasetSource, dirs: list[Path]) -> dict[str, Path] | None:
    for root in dirs:
        files = source.find_files(root)
        if files is not None:
            return files
    return None


def dataset_available(name: str, data_dir: str | Path | None = None) -> bool:
    """Whether ``name``'s files are present locally (always True for embedded data such as digits).

    Raises:
        UnknownNameError: ``name`` is not a registered dataset.
    """
    source = DATASETS.get(name)
    return _find(source, _search_dirs(source, data_dir)) is not None


def _not_found(source: DatasetSource, dirs: list[Path]) -> DatasetNotFoundError:
    where = "; or ".join(source.expected(d) for d in dirs)
    return DatasetNotFoundError(
        f"dataset {source.name!r} not found: expected {where}; pass --download (CLI) / download=True "
        f"to fetch it into {dirs[0]}, or --data-dir / data_dir pointing to an existing copy"
    )


def _read_files(source: DatasetSource, data_dir: str | Path | None, download: bool) -> RawData:
    dirs = _search_dirs(source, data_dir)
    files = _find(source, dirs)
    if files is None and download:
        source.download(dirs[0])
        files = source.find_files(dirs[0])
    if files is None:
        raise _not_found(source, dirs)
    return source.read(files)


def _split_indices(y: np.ndarray, take: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Splits ``range(len(y))`` into (rest, taken) with ``take`` taken, stratified where possible."""
    from sklearn.model_selection import train_test_split

    index = np.arange(len(y))
    counts = np.bincount(y)
    counts = counts[counts > 0]
    can_stratify = counts.min() >= 2 and len(counts) <= take <= len(y) - len(counts)
    rest, taken = train_test_split(
        index, test_size=take, random_state=seed, stratify=y if can_stratify else None
    )
    return np.sort(rest), np.sort(taken)


def _check_size(label: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
        raise AebnasError(f"{label} must be a positive integer or None; got {value!r}")


def _check_raw(source: DatasetSource, raw: RawData) -> None:
    info = source.info
    for split, x, y in (("train", raw.x_train, raw.y_train), ("test", raw.x_test, raw.y_test)):
        if tuple(x.shape[1:]) != info.input_shape:
            raise AebnasError(
                f"{info.name} {split} images have shape {tuple(x.shape[1:])}; expected {info.input_shape}"
            )
        if len(y) == 0:
            raise AebnasError(f"{info.name} {split} split is empty")
        if y.min() < 0 or y.max() >= info.num_classes:
            raise AebnasError(
                f"{info.name} {split} labels range over {int(y.min())}..{int(y.max())}; "
                f"expected 0..{info.num_classes - 1}"
            )


def _to_float(a: np.ndarray) -> "torch.Tensor":
    """A float32 tensor of ``a`` (any real dtype; read-only arrays are fine)."""
    import torch  # noqa: PLC0415  (imported where tensors are made: `aebnas datasets` needs no torch)

    if not a.flags.writeable or not a.flags.c_contiguous:
        a = np.array(a, order="C")  # small next to the float32 result; torch wants writable memory
    return torch.from_numpy(a).float()


def load_dataset(
    name: str = "digits",
    data_dir: str | Path | None = None,
    download: bool = False,
    val_size: int | None = None,
    seed: int = 0,
    max_train: int | None = None,
    holdout_size: int | None = None,
) -> DatasetSplits:
    """Loads a registered dataset as normalised float32 tensors split into train / val / test.

    The validation split is carved from the official train set (stratified, seeded by ``seed``);
    ``max_train`` then subsamples what remains of train (stratified, seeded). A holdout split (for the
    confirmation's thresholds and re-ranking: images a search never trains or selects on) is drawn from
    the official train images left over by ``max_train``, so asking for one never changes the train and
    validation splits. Every split is normalised with the per-channel mean and std of the final train split.

    Args:
        name: a registered dataset (see ``list_datasets()``).
        data_dir: directory holding the files; None = ``default_data_dir()`` (then system
            copies, e.g. Debian's ``dataset-fashion-mnist``).
        download: fetch missing files into the data directory through torchvision.
        val_size: validation samples; None = the dataset's default (5,000; SVHN 7,325; digits 15%).
        seed: seed of the validation carve-out and of the ``max_train`` subsample.
        max_train: if set, keep at most this many training samples.
        holdout_size: if set, the size of the holdout split (needs that many images left over by
            ``max_train``).

    Returns:
        The splits (``holdout`` None unless asked for); ``x`` tensors are ``n x C x H x W`` float32, ``y``
        tensors ``n`` int64.

    Raises:
        UnknownNameError: ``name`` is not registered.
        DatasetNotFoundError: files missing and ``download`` is False (or the download failed).
        AebnasError: ``val_size`` / ``max_train`` / ``holdout_size`` invalid (a holdout larger than the
            images ``max_train`` leaves over), or the files hold unexpected content.
    """
    import torch  # noqa: PLC0415

    source = DATASETS.get(name)
    _check_size("val_size", val_size)
    _check_size("max_train", max_train)
    _check_size("holdout_size", holdout_size)
    raw = _read_files(source, data_dir, download)
    _check_raw(source, raw)

    y_all = np.asarray(raw.y_train, dtype=np.int64)
    n_val = source.val_size_for(len(y_all)) if val_size is None else int(val_size)
    if n_val >= len(y_all):
        origin = "val_size" if val_size is not None else f"the default validation size of {name}"
        raise AebnasError(
            f"{origin} ({n_val}) must be smaller than the {len(y_all)} training samples of {name}; "
            f"pass a smaller val_size (--val-size)"
        )
    train_idx, val_idx = _split_indices(y_all, n_val, seed)
    spare_idx = train_idx[:0]
    if max_train is not None and max_train < len(train_idx):
        spare, keep = _split_indices(y_all[train_idx], int(max_train), seed)
        train_idx, spare_idx = train_idx[keep], train_idx[spare]
    holdout_idx = None
    if holdout_size is not None:
        if holdout_size > len(spare_idx):
            raise AebnasError(
                f"holdout_size ({holdout_size}) needs that many of {name}'s official train images outside the "
                f"train and validation splits; {len(spare_idx)} are left over by max_train={max_train}. Give a "
                f"max_train of at most {len(y_all) - n_val - holdout_size} (--max-train) or a smaller holdout")
        taken = np.arange(len(spare_idx)) if holdout_size == len(spare_idx) else \
            _split_indices(y_all[spare_idx], int(holdout_size), seed)[1]
        holdout_idx = spare_idx[taken]

    # gather on the raw (uint8) arrays, then convert each split to float32 once
    x_train = _to_float(raw.x_train[train_idx])
    x_val = _to_float(raw.x_train[val_idx])
    x_test = _to_float(raw.x_test)
    x_holdout = None if holdout_idx is None else _to_float(raw.x_train[holdout_idx])
    var, mean = torch.var_mean(x_train, dim=(0, 2, 3), keepdim=True, correction=0)
    std = var.sqrt().clamp_min(1e-6)
    for x in (x_train, x_val, x_test, x_holdout):
        if x is not None:
            x.sub_(mean).div_(std)

    def split(x: torch.Tensor, y: np.ndarray) -> Split:
        return Split(x=x, y=torch.as_tensor(np.asarray(y, dtype=np.int64)))

    return DatasetSplits(
        info=source.info,
        train=split(x_train, y_all[train_idx]),
        val=split(x_val, y_all[val_idx]),
        test=split(x_test, raw.y_test),
        mean=tuple(mean.flatten().tolist()),
        std=tuple(std.flatten().tolist()),
        holdout=None if holdout_idx is None else split(x_holdout, y_all[holdout_idx]),
    )
