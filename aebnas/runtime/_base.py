"""The backend contract of the runtime: load one exported segment and run it on a batch, with the batch held
in the backend's own array type between segments (no copy back to NumPy for backbone features)."""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Any, Callable, ClassVar, Sequence

import numpy as np

from aebnas.registry import Registry

SegmentFn = Callable[[Any], Sequence[Any]]
"""A loaded segment: a `batch x ...` native array in, its outputs (native arrays) out."""


class Backend(abc.ABC):
    """One model format: how its files are named, loaded and run, and its arrays converted.

    Args:
        device: ``cpu`` or ``cuda``.
        threads: intra-op threads (None: the library's default).
    """

    name: ClassVar[str]
    suffix: ClassVar[str]

    def __init__(self, device: str = "cpu", threads: int | None = None) -> None:
        self.device = device
        self.threads = threads

    @abc.abstractmethod
    def load(self, path: Path) -> SegmentFn:
        """The segment stored at ``path``, ready to run."""

    @abc.abstractmethod
    def asarray(self, x: np.ndarray) -> Any:
        """`batch x C x H x W` float32 NumPy input as this backend's array."""

    @abc.abstractmethod
    def numpy(self, y: Any) -> np.ndarray:
        """A segment output as a NumPy array."""

    @abc.abstractmethod
    def take(self, x: Any, keep: np.ndarray) -> Any:
        """The rows of ``x`` where the `batch` bool mask ``keep`` holds."""


BACKENDS: Registry[type[Backend]] = Registry("export format")
