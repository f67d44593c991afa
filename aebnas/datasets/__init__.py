"""Datasets: a registry of image datasets loaded into normalised in-memory train / val / test tensors."""

# isort: off
# importing the implementations registers them, in this order (the order of list_datasets())
from aebnas.datasets import _digits, _mnist, _cifar, _svhn  # noqa: F401
# isort: on
from aebnas.datasets._base import DatasetInfo, DatasetSource, DatasetSplits, RawData, Split
from aebnas.datasets._load import dataset_available, default_data_dir, list_datasets, load_dataset
from aebnas.datasets._registry import DATASETS, register_dataset

__all__ = [
    "DATASETS",
    "DatasetInfo",
    "DatasetSource",
    "DatasetSplits",
    "RawData",
    "Split",
    "augment_batch",
    "dataset_available",
    "default_data_dir",
    "list_datasets",
    "load_dataset",
    "register_dataset",
]


def __getattr__(name: str):
    # augmentation needs torch; listing and finding datasets does not, so it is imported when asked for
    if name == "augment_batch":
        from aebnas.datasets._augment import augment_batch  # noqa: PLC0415

        return augment_batch
    raise AttributeError(f"module 'aebnas.datasets' has no attribute {name!r}")
