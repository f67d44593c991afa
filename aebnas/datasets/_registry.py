"""The dataset registry: every dataset aebnas can load, by name."""

from __future__ import annotations

from aebnas.datasets._base import DatasetSource
from aebnas.registry import Registry

DATASETS: Registry[DatasetSource] = Registry("dataset")


def register_dataset(source: DatasetSource) -> DatasetSource:
    """Registers ``source`` under ``source.info.name`` and returns it."""
    return DATASETS.register(source.info.name)(source)
